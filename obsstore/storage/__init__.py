"""``create_storage()``: from a kind, a URL or the environment to a backend, importing the
backend (and its driver) only when it is chosen (see ``obsstore.registry``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from obsstore import registry
from obsstore.capabilities import Capabilities, StrategyInfo
from obsstore.config import Settings, load_settings, resolve_target
from obsstore.storage.base import MetricsStorage, ObservabilityStorage
from obsstore.storage.traces_base import TraceStorage

if TYPE_CHECKING:
    from obsstore.storage.sql import SQLStorage


def backend_class_for(kind: str) -> type[SQLStorage]:
    """The SQL backend class for ``kind``; a missing driver names the extra to install."""
    backend: type[SQLStorage] = registry.get(kind).storage_class()  # type: ignore[assignment]
    return backend


def create_storage(
    target: str | None = None, *, settings: Settings | None = None
) -> ObservabilityStorage:
    """A storage (metrics and traces) from a kind ("memory", "sqlite", "duckdb", "postgresql"),
    a SQLAlchemy URL, or (with no argument) the ``OBSERVABILITY_METRICS_*`` environment
    variables."""
    settings = settings if settings is not None else load_settings()
    resolved = resolve_target(target, settings)
    storage_class = registry.get(resolved.kind).storage_class()
    if resolved.url is None:
        return storage_class()
    return storage_class(resolved.url, settings)  # type: ignore[call-arg]


__all__ = [
    "Capabilities",
    "MetricsStorage",
    "ObservabilityStorage",
    "StrategyInfo",
    "TraceStorage",
    "backend_class_for",
    "create_storage",
]
