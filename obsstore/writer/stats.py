"""What a :class:`~obsstore.writer.MetricsWriter` has done so far, as one consistent snapshot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WriterStats:
    """Counts since the writer was created (or, in a forked child, since the fork).

    ``accepted == stored + pending + dropped + rejected`` holds in every snapshot: a record
    accepted by ``record()`` (or replayed from the spool) is in exactly one of those states."""

    accepted: int  # taken by record()/record_many(), plus records replayed from the spool
    stored: int  # in batches the storage has committed (ids already stored count too)
    pending: int  # accepted, not stored, dropped or rejected yet (the batch in flight included)
    spooled: int  # pending records that are also in the spool, so they survive a crash
    dropped: int  # oldest pending records discarded because max_pending was exceeded
    failed_flushes: int  # batch writes that failed and were retried later, with backoff
    # The most recent flush error ("Type: message", or "rejected: Type: message" for a record
    # the database refused), kept after recovery.
    last_error: str | None
    healthy: bool  # false from a failed flush until the next successful one (a rejection is not)
    replayed: int = 0  # records replayed from spool files left by writers that are gone
    # Records the database refused for good (a constraint or data error, not an outage): not
    # retried; logged, and appended to rejected.jsonl in the spool directory if there is one.
    rejected: int = 0
