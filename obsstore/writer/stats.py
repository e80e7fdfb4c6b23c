"""What a :class:`~obsstore.writer.MetricsWriter` has done so far, as one consistent snapshot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WriterStats:
    """Counts since the writer was created (or, in a forked child, since the fork).

    ``accepted == stored + pending + dropped`` holds in every snapshot: a record accepted by
    ``record()`` (or replayed from the spool) is in exactly one of those states."""

    accepted: int  # taken by record()/record_many(), plus records replayed from the spool
    stored: int  # in batches the storage has committed (ids already stored count too)
    pending: int  # accepted, neither stored nor dropped yet (the batch being written included)
    spooled: int  # pending records that are also in the spool, so they survive a crash
    dropped: int  # oldest pending records discarded because max_pending was exceeded
    failed_flushes: int  # batch writes that raised (each is retried)
    last_error: str | None  # the most recent flush error ("Type: message"), kept after recovery
    healthy: bool  # false from a failed flush until the next successful one
    replayed: int = 0  # records replayed from spool files left by writers that are gone
