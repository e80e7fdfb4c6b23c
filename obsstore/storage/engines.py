"""One SQLAlchemy engine per database per process, shared by every storage opened on it.

Storages on the same file or server share a pool (and, for DuckDB, the one database instance
the process may hold). In-memory databases are never shared: each storage gets its own. After
``os.fork()`` the child drops the pooled connections it inherited without closing them, so the
parent's connections stay intact and the child opens fresh ones."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine


@dataclass
class _Entry:
    engine: Engine
    users: int
    on_dispose: Callable[[], None] | None


_lock = threading.Lock()
_shared: dict[str, _Entry] = {}
_all: dict[int, Engine] = {}


def acquire(
    key: str | None,
    factory: Callable[[], tuple[Engine, Callable[[], None] | None]],
) -> Engine:
    """The engine for ``key`` (built by ``factory`` on first use); ``None`` means unshared."""
    with _lock:
        entry = _shared.get(key) if key is not None else None
        if entry is None:
            engine, on_dispose = factory()
            entry = _Entry(engine, 0, on_dispose)
            _shared[key if key is not None else f"unshared:{id(engine)}"] = entry
            _all[id(engine)] = engine
        entry.users += 1
        return entry.engine


def release(engine: Engine) -> None:
    with _lock:
        for key, entry in list(_shared.items()):
            if entry.engine is engine:
                entry.users -= 1
                if entry.users <= 0:
                    del _shared[key]
                    _all.pop(id(engine), None)
                    engine.dispose()
                    if entry.on_dispose is not None:
                        entry.on_dispose()
                return


def _forget_connections_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    for engine in list(_all.values()):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections_in_child)
