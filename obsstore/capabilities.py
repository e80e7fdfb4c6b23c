"""What a backend can do, as data. Callers and tests ask these, never a backend's name."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


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
    # Several statements of one call apply together or not at all. False where only one
    # insert is atomic (a batch, up to atomic_batch_rows): a call that runs several statements
    # (a prune in slices, an update written as a delete and an insert) may stop half-way.
    transactions: bool = True
    # Rows one batch_record_metrics/batch_create_spans call writes all-or-nothing (None: any).
    atomic_batch_rows: int | None = None
    # "exact": an id already stored (or written concurrently) is never stored twice.
    # "single-writer": exact for one writer at a time, and a retried batch is dropped whole;
    # two writers storing the same new id at the same moment may both store it.
    first_write_wins: Literal["exact", "single-writer"] = "exact"
    # A process forked from one using the database, that never uses it itself, leaves the
    # database to other processes (false for chdb: the child inherits the engine's lock).
    fork_releases_database: bool = True
    # CREATE INDEX makes a secondary (B-tree) index on any columns (false for ClickHouse: a
    # table's sort key orders it, and its data-skipping indexes need a type and their own DDL).
    secondary_indexes: bool = True
    # The years a stored instant may fall in (a write outside them is an InvalidArgumentError).
    timestamp_years: tuple[int, int] = (1, 9999)

    def in_memory(self) -> Capabilities:
        """The same backend on an in-memory database: gone with the process, and private to it."""
        return dataclasses.replace(self, durable=False, multi_process=False)
