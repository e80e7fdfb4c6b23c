"""A record the database refuses for good does not jam the writer: the batch is split until the
refused records are found, the rest is stored, the refused ones are counted, logged and kept in
the dead-letter file beside the spool, and never replayed. Outages are still retried. Runs on
all four backends (the database's refusal comes from ``reject_marked``)."""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import psycopg
import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from obsstore import (
    MetricRecord,
    MetricsStorage,
    MetricsWriter,
    ObsstoreError,
    SchemaError,
    StorageUnavailableError,
    WriterStats,
)
from obsstore.writer import deadletter
from obsstore.writer.retry import is_rejection
from tests.writer.helpers import (
    count_calls,
    points,
    reject_marked,
    segments_unlocked,
    stored_ids,
    wait_until,
)

HOUR_MS = 3_600_000


def balanced(stats: WriterStats) -> bool:
    return stats.accepted == stats.stored + stats.pending + stats.dropped + stats.rejected


def with_poison(count: int, at: list[int]) -> list[MetricRecord]:
    """``count`` records, those at the positions ``at`` refused by ``reject_marked``."""
    records = points(count)
    for position in at:
        records[position] = records[position].model_copy(update={"id": f"poison-{position:06d}"})
    return records


def test_one_refused_record_among_many_costs_a_few_writes_and_the_rest_is_stored(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    reject_marked(storage)
    calls = count_calls(storage)
    n = 1000
    records = with_poison(n, at=[637])
    writer = make_writer(storage, batch_size=n, flush_interval=HOUR_MS, spool_dir=spool)
    writer.record_many(records)
    assert not writer.flush(timeout=10)  # resolved, but not all of it stored
    stats = writer.stats()
    assert (stats.stored, stats.pending, stats.rejected, stats.dropped) == (n - 1, 0, 1, 0)
    assert balanced(stats) and stats.spooled == 0
    assert stats.healthy and stats.failed_flushes == 0
    assert stats.last_error is not None
    assert (
        stats.last_error.startswith("rejected: IntegrityError") and "no poison" in stats.last_error
    )
    # Bisection: the whole batch, then two halves per level down to the one record.
    assert len(calls) <= 1 + 2 * math.ceil(math.log2(n))
    assert stored_ids(storage) == sorted(r.id for r in records if r.id != "poison-000637")

    (entry,) = deadletter.read(spool)
    assert MetricRecord.model_validate(entry["record"]) == records[637]
    assert "IntegrityError" in str(entry["error"]) and "no poison" in str(entry["error"])
    assert str(entry["rejected_at"]).endswith("+00:00")

    # The writer goes on as before.
    later = points(20, prefix="later")
    writer.record_many(later)
    assert writer.flush(timeout=10)
    assert writer.stats().stored == n - 1 + 20 and balanced(writer.stats())
    assert set(stored_ids(storage)) >= {r.id for r in later}


def test_several_refused_records_across_batches_and_every_snapshot_balances(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter]
) -> None:
    reject_marked(storage)
    positions = [0, 1, 2, 150, 299, 300, 599]
    records = with_poison(600, at=positions)
    writer = make_writer(storage, batch_size=64, flush_interval=20)
    snapshots: list[WriterStats] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            snapshots.append(writer.stats())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for start in range(0, len(records), 50):
            writer.record_many(records[start : start + 50])
        assert not writer.flush(timeout=20)
    finally:
        done.set()
        watcher.join()
    stats = writer.stats()
    assert (stats.stored, stats.rejected, stats.pending) == (
        600 - len(positions),
        len(positions),
        0,
    )
    assert all(balanced(s) for s in [*snapshots, stats])
    assert storage.count_metrics() == 600 - len(positions)
    assert "poison" not in " ".join(stored_ids(storage))


def test_refused_records_are_logged_rate_limited_with_the_error(
    storage: MetricsStorage,
    make_writer: Callable[..., MetricsWriter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="obsstore.writer")
    reject_marked(storage)
    writer = make_writer(storage, batch_size=10, flush_interval=20)
    for round_ in range(5):
        writer.record_many([*points(3, prefix=f"ok{round_}"), *points(1, prefix=f"poison{round_}")])
        assert not writer.flush(timeout=10)
    assert writer.stats().rejected == 5
    errors = [r for r in caplog.records if "rejected" in r.getMessage()]
    assert len(errors) == 1  # five rejections in quick succession, one message
    message = errors[0].getMessage()
    assert "poison0-000000" in message and "no poison allowed" in message
    assert "without a spool directory they are not kept" in message


def test_a_dead_letter_file_that_cannot_be_written_is_logged_and_the_writer_goes_on(
    storage: MetricsStorage,
    make_writer: Callable[..., MetricsWriter],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="obsstore.writer")
    spool = tmp_path / "spool"
    (spool / deadletter.FILE_NAME).mkdir(parents=True)  # appending to it fails
    reject_marked(storage)
    writer = make_writer(storage, batch_size=20, flush_interval=HOUR_MS, spool_dir=spool)
    writer.record_many(with_poison(20, at=[7]))
    assert not writer.flush(timeout=10)
    stats = writer.stats()
    assert (stats.stored, stats.rejected, stats.spooled) == (19, 1, 0) and balanced(stats)
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith(f"could not append to {spool / deadletter.FILE_NAME}") for m in messages
    )
    writer.record_many(points(5, prefix="later"))
    assert writer.flush(timeout=10)


def test_an_outage_during_bisection_is_retried_and_nothing_is_lost(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter]
) -> None:
    refused = reject_marked(storage)
    refusing = storage.batch_record_metrics
    failures = iter([False, False, True, True])  # the third and fourth writes find it down

    def flaky(records: list[MetricRecord]) -> int:
        if next(failures, False):
            raise StorageUnavailableError("simulated outage")
        return refusing(records)

    storage.batch_record_metrics = flaky  # type: ignore[method-assign]
    records = with_poison(100, at=[10, 90])
    writer = make_writer(storage, batch_size=100, flush_interval=HOUR_MS)
    writer.record_many(records)
    assert not writer.flush(timeout=10)
    stats = writer.stats()
    assert (stats.stored, stats.rejected, stats.pending) == (98, 2, 0) and balanced(stats)
    assert stats.failed_flushes == 2 and stats.healthy
    assert refused[0] == [r.id for r in records]  # the first write was refused as a whole
    assert storage.count_metrics() == 98


def test_refused_records_are_not_replayed_from_the_spool(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    reject_marked(storage)
    records = with_poison(50, at=[25])
    writer = make_writer(storage, batch_size=50, flush_interval=HOUR_MS, spool_dir=spool)
    writer.record_many(records)
    assert not writer.flush(timeout=10)
    assert writer.stats().spooled == 0
    writer.close()
    assert sorted(p.name for p in spool.iterdir()) == [deadletter.FILE_NAME]
    again = make_writer(storage, flush_interval=20, spool_dir=spool)
    assert again.stats().replayed == 0
    assert again.flush(timeout=5)
    assert len(deadletter.read(spool)) == 1
    assert storage.count_metrics() == 49


def test_a_segment_left_with_pending_records_replays_a_rejected_one_which_is_rejected_again(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter], tmp_path: Path
) -> None:
    """A replay reads whole segments: one that still holds pending records brings back the
    stored ones (skipped by id) and the rejected ones (rejected, and dead-lettered, again)."""
    spool = tmp_path / "spool"
    reject_marked(storage)
    writer = make_writer(storage, batch_size=30, flush_interval=HOUR_MS, spool_dir=spool)
    # A full batch written at once, and 5 records left pending (the interval is an hour), all
    # in one segment.
    writer.record_many([*with_poison(30, at=[5]), *points(5, prefix="late")])
    wait_until(lambda: writer.stats().pending == 5, what="the full batch")
    assert writer.stats().rejected == 1
    writer.close(timeout=0)  # the 5 stay in the spool, as after a crash
    wait_until(lambda: segments_unlocked(spool), what="the closed writer to let go")
    again = make_writer(storage, batch_size=100, flush_interval=20, spool_dir=spool)
    assert again.stats().replayed == 35
    assert not again.flush(timeout=10)
    stats = again.stats()
    assert (stats.stored, stats.rejected, stats.pending) == (34, 1, 0)
    assert storage.count_metrics() == 29 + 5
    assert [entry["record"]["id"] for entry in deadletter.read(spool)] == ["poison-000005"] * 2


@pytest.mark.parametrize(
    ("error", "rejected"),
    [
        (sa.exc.IntegrityError("INSERT", None, Exception("constraint")), True),
        (sa.exc.DataError("INSERT", None, Exception("out of range")), True),
        (sa.exc.ProgrammingError("INSERT", None, Exception("bad parameter")), True),
        (TypeError("Expected bytes, got a 'list' object"), True),
        (ValueError("bad value"), True),
        (StorageUnavailableError("down"), False),
        (sa.exc.OperationalError("INSERT", None, Exception("database is locked")), False),
        (ConnectionResetError(), False),
        (sqlite3.OperationalError("database is locked"), False),
        (duckdb.TransactionException("write-write conflict"), False),
        (duckdb.ConstraintException("constraint violated"), True),
        (psycopg.errors.NotNullViolation("null value"), True),
        (SchemaError("no obsstore schema"), False),
        (ObsstoreError("this storage is closed"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_which_errors_reject_records_and_which_are_retried(
    error: Exception, rejected: bool
) -> None:
    assert is_rejection(error) is rejected


def test_a_validation_error_from_the_storage_rejects() -> None:
    with pytest.raises(ValidationError) as info:
        MetricRecord.model_validate({"name": "", "value": 1.0})
    assert is_rejection(info.value)
