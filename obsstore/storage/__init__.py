"""``create_storage()``: from a kind, a URL or the environment to a backend, importing the
backend (and its driver) only when it is chosen."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from obsstore.config import Settings, load_settings, resolve_target
from obsstore.errors import ConfigurationError
from obsstore.storage.base import (
    Capabilities,
    MetricsStorage,
    ObservabilityStorage,
    StrategyInfo,
)
from obsstore.storage.traces_base import TraceStorage

if TYPE_CHECKING:
    from obsstore.storage.sql import SQLStorage

# kind -> (module, class, extra that installs its driver)
_BACKENDS = {
    "memory": ("obsstore.storage.memory", "MemoryStorage", None),
    "sqlite": ("obsstore.storage.sqlite", "SQLiteStorage", None),
    "duckdb": ("obsstore.storage.duckdb", "DuckDBStorage", "duckdb"),
    "postgresql": ("obsstore.storage.postgresql", "PostgreSQLStorage", "postgres"),
}


def backend_class_for(kind: str) -> type[SQLStorage]:
    """The SQL backend class for ``kind``; a missing driver names the extra to install."""
    module_name, class_name, extra = _BACKENDS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra is None or (exc.name or "").startswith("obsstore"):
            raise
        raise ConfigurationError(
            f"the {kind} backend needs its driver ({exc.name} is not installed): "
            f"pip install 'obsstore[{extra}]'"
        ) from exc
    backend: Any = getattr(module, class_name)
    return backend  # type: ignore[no-any-return]


def create_storage(
    target: str | None = None, *, settings: Settings | None = None
) -> MetricsStorage:
    """A storage from a kind ("memory", "sqlite", "duckdb", "postgresql"), a SQLAlchemy URL, or
    (with no argument) the ``OBSERVABILITY_METRICS_*`` environment variables."""
    settings = settings if settings is not None else load_settings()
    resolved = resolve_target(target, settings)
    if resolved.url is None:
        from obsstore.storage.memory import MemoryStorage

        return MemoryStorage()
    return backend_class_for(resolved.kind)(resolved.url, settings)


__all__ = [
    "Capabilities",
    "MetricsStorage",
    "ObservabilityStorage",
    "StrategyInfo",
    "TraceStorage",
    "backend_class_for",
    "create_storage",
]
