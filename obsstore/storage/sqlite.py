"""SQLite: a file (WAL, busy timeout, writes that begin IMMEDIATE) or ``:memory:``."""

from __future__ import annotations

import functools
import math
import sqlite3
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

from obsstore.config import Settings
from obsstore.lifecycle.series import series_key
from obsstore.sqltypes import dump_json
from obsstore.storage.aggregate_math import percentile_cont
from obsstore.storage.sql import SQLStorage

BUSY_TIMEOUT_SECONDS = 5.0
_UNAVAILABLE_MESSAGES = ("locked", "busy", "unable to open", "disk i/o error")


class _PercentileCont:
    """percentile_cont as a SQLite aggregate: linear interpolation between closest ranks."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.0

    def step(self, value: float, fraction: float) -> None:
        self.values.append(value)
        self.fraction = fraction

    def finalize(self) -> float | None:
        if not self.values:
            return None
        return percentile_cont(self.values, self.fraction)


class _Last:
    """The value of the row with the greatest (timestamp, id)."""

    def __init__(self) -> None:
        self.best: tuple[int, str, float] | None = None

    def step(self, value: float, timestamp: int, id_: str) -> None:
        if self.best is None or (timestamp, id_) > self.best[:2]:
            self.best = (timestamp, id_, value)

    def finalize(self) -> float | None:
        return None if self.best is None else self.best[2]


# Rollups ask for the key of each (bucket, series, sketch bin) group, about one call per raw
# point, of a few distinct series: hashing each anew cost a quarter of a rollup.
_cached_series_key = functools.lru_cache(maxsize=4096)(series_key)


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


def _on_connect(dbapi_connection: sqlite3.Connection, *, memory: bool) -> None:
    dbapi_connection.isolation_level = None  # obsstore emits BEGIN itself (see _on_begin)
    if not memory:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=FULL")
    # typeshed's aggregate protocol is narrower than what sqlite3 accepts (floats, text).
    dbapi_connection.create_aggregate("obsstore_percentile_cont", 2, _PercentileCont)  # type: ignore[arg-type]
    dbapi_connection.create_aggregate("obsstore_last", 3, _Last)  # type: ignore[arg-type]
    # Rollups (obsstore/lifecycle): the series key and the quantile-sketch bin of a point.
    dbapi_connection.create_function(
        "obsstore_series_key", 6, _cached_series_key, deterministic=True
    )
    _ensure_math_functions(dbapi_connection)


def _ensure_math_functions(dbapi_connection: sqlite3.Connection) -> None:
    """ln() and ceil() (for sketch bins) exist in SQLite builds with math functions; on the
    others the same functions are registered from Python."""
    try:
        dbapi_connection.execute("SELECT ln(1.0), ceil(1.5)").fetchall()
    except sqlite3.OperationalError:
        dbapi_connection.create_function("ln", 1, math.log, deterministic=True)
        dbapi_connection.create_function("ceil", 1, math.ceil, deterministic=True)


def _on_begin(connection: Connection) -> None:
    # Writers take the write lock up front, so two writers queue on the busy timeout instead
    # of deadlocking when both try to upgrade a read lock.
    write = connection.get_execution_options().get("obsstore_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class SQLiteStorage(SQLStorage):
    kind = "sqlite"
    bulk_epoch_timestamps = True  # timestamps are integer microseconds here
    last_by_lookup = True  # obsstore_last is a Python callback per point

    def __init__(self, url: URL, settings: Settings | None = None) -> None:
        super().__init__(url, settings)
        self._insert_sql: dict[str, str] = {}  # see _bulk_insert
        if _is_memory(url):
            self._serialize = threading.RLock()  # one shared connection

    @classmethod
    def is_in_memory(cls, url: URL) -> bool:
        return _is_memory(url)

    @classmethod
    def build_engine(cls, url: URL) -> tuple[Engine, Any]:
        memory = _is_memory(url)
        options: dict[str, Any] = {"poolclass": StaticPool} if memory else {}
        connect_args: dict[str, Any] = {"check_same_thread": False}
        if "timeout" not in url.query:  # ?timeout=seconds in the URL wins
            connect_args["timeout"] = BUSY_TIMEOUT_SECONDS
        engine = sa.create_engine(
            url,
            connect_args=connect_args,
            json_serializer=dump_json,
            **options,
        )
        sa.event.listen(engine, "connect", lambda c, _: _on_connect(c, memory=memory))
        sa.event.listen(engine, "begin", _on_begin)
        return engine, None

    @classmethod
    def is_unavailable(cls, error: BaseException) -> bool:
        message = str(error).lower()
        return isinstance(error, sqlite3.OperationalError) and any(
            text in message for text in _UNAVAILABLE_MESSAGES
        )

    @classmethod
    def is_missing_schema(cls, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "no such table" in str(error)

    @classmethod
    def is_misconfigured(cls, error: BaseException) -> bool:
        # The URL names a file that is not a SQLite database (SQLITE_NOTADB).
        return isinstance(error, sqlite3.DatabaseError) and "file is not a database" in str(error)

    def _bulk_insert(
        self, connection: Connection, table: sa.Table, columns: dict[str, list[Any]]
    ) -> int:
        # One prepared statement run by the driver's executemany, inside BEGIN IMMEDIATE.
        # Its text is compiled once per table (about 0.5 ms a call, against a few ms of
        # SQLite work for a batch of 1,000).
        sql = self._insert_sql.get(table.name)
        if sql is None:
            keys = [c.name for c in table.primary_key.columns]
            statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)
            sql = self._insert_sql[table.name] = str(statement.compile(dialect=connection.dialect))
        rows = list(zip(*columns.values(), strict=True))
        return connection.exec_driver_sql(sql, rows).rowcount

    def _reclaim_space(self) -> None:
        # Freed pages stay in the file until a vacuum: incremental where the database was
        # created with auto_vacuum=INCREMENTAL, a full VACUUM otherwise. Neither runs inside a
        # transaction, so the driver connection runs it directly (it is in autocommit mode).
        with self._translate_errors(), self._write_lock, self.engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            (mode,) = raw.execute("PRAGMA auto_vacuum").fetchone()
            if mode == 2:
                raw.execute("PRAGMA incremental_vacuum").fetchall()
            else:
                raw.execute("VACUUM")
