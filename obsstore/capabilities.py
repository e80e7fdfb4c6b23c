"""What a backend can do, as data. Callers and tests ask these, never a backend's name."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StrategyInfo:
    """How a backend prefers to receive writes, and which ways it supports."""

    preferred: str
    supported: tuple[str, ...]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, as data: callers and tests ask these, never the backend's name."""

    metrics_strategy: StrategyInfo
    tracing_strategy: StrategyInfo
    # Data outlives the process (false for the memory backend and in-memory databases).
    durable: bool
    # Several processes can use the same database at once (false for DuckDB files).
    multi_process: bool
    extras: Mapping[str, Any] = field(default_factory=dict)

    def in_memory(self) -> Capabilities:
        """The same backend on an in-memory database: gone with the process, and private to it."""
        return dataclasses.replace(self, durable=False, multi_process=False)
