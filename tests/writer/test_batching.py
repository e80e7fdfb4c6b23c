"""When the writer writes: full batches at once, partial ones after the interval, nothing while
idle, everything on close. Validation happens in the caller. Runs on all four backends."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from obsstore import MetricsStorage, MetricsWriter, MetricType, ObsstoreError, ValidationError
from obsstore.storage.sql import SQLStorage
from tests.writer.helpers import REPO_ROOT, count_calls, points, stored_ids, wait_until

HOUR_MS = 3_600_000


def test_bad_input_raises_in_the_caller_and_nothing_is_accepted(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter]
) -> None:
    writer = make_writer(storage, batch_size=2, flush_interval=20)
    with pytest.raises(ValidationError):
        writer.record({"name": "", "value": 1.0})
    with pytest.raises(ValidationError):
        writer.record({"name": "ok", "value": float("nan")})
    good = {"id": "good", "name": "ok", "value": 1.0}
    with pytest.raises(ValidationError) as info:
        writer.record_many([good, {"id": "bad", "name": "ok", "value": "x"}])
    assert info.value.errors()[0]["loc"][0] == 1  # names the item
    assert writer.stats().accepted == 0
    assert writer.flush(timeout=5)
    assert storage.count_metrics() == 0


def test_a_full_batch_is_written_without_waiting_for_the_interval(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter]
) -> None:
    calls = count_calls(storage)
    writer = make_writer(storage, batch_size=10, flush_interval=HOUR_MS)
    writer.record_many(points(25))
    wait_until(lambda: writer.stats().stored == 20, what="two full batches")
    stats = writer.stats()
    assert (stats.accepted, stats.pending) == (25, 5)
    assert calls == [10, 10]
    assert storage.count_metrics() == 20
    assert writer.flush(timeout=10)
    assert calls == [10, 10, 5]
    assert stored_ids(storage) == [r.id for r in points(25)]


def test_a_partial_batch_is_written_once_the_interval_has_passed(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter]
) -> None:
    calls = count_calls(storage)
    writer = make_writer(storage, batch_size=1000, flush_interval=50)
    started = time.monotonic()
    for record in points(3):
        writer.record(record)
    wait_until(lambda: writer.stats().stored == 3, what="the interval flush")
    assert time.monotonic() - started >= 0.05  # not before the interval
    assert calls == [3]
    assert storage.count_metrics() == 3


def test_an_idle_writer_writes_nothing(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter]
) -> None:
    calls = count_calls(storage)
    transactions: list[object] = []

    def on_begin(connection: object) -> None:
        transactions.append(connection)

    if isinstance(storage, SQLStorage):  # also count every transaction on the engine
        sa.event.listen(storage.engine, "begin", on_begin)
    try:
        writer = make_writer(storage, batch_size=100, flush_interval=20)
        time.sleep(0.3)  # an observation window of 15 intervals, not a synchronisation
        assert writer.flush(timeout=5)  # nothing pending: returns without writing
        assert calls == [] and transactions == []
        writer.record_many(points(3))
        wait_until(lambda: writer.stats().stored == 3)
        assert calls == [3]
        seen = len(transactions)
        time.sleep(0.3)
        assert calls == [3] and len(transactions) == seen
    finally:
        if isinstance(storage, SQLStorage):
            sa.event.remove(storage.engine, "begin", on_begin)


def test_close_writes_what_is_pending_and_the_writer_refuses_more(
    storage: MetricsStorage,
) -> None:
    with MetricsWriter(storage, batch_size=1000, flush_interval=HOUR_MS) as writer:
        writer.record_many(points(7))
        assert writer.stats().stored == 0
    assert storage.count_metrics() == 7
    stats = writer.stats()
    assert (stats.accepted, stats.stored, stats.pending, stats.healthy) == (7, 7, 0, True)
    writer.close()  # idempotent
    with pytest.raises(ObsstoreError, match="closed"):
        writer.record(points(1)[0])


def test_the_realtime_path_stays_and_both_strategies_are_listed(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter]
) -> None:
    assert {"realtime", "batch"} <= set(storage.capabilities.metrics_strategy.supported)
    make_writer(storage, flush_interval=HOUR_MS)
    assert storage.batch_record_metrics(points(2)) == 2  # written at once, no writer involved


def test_retried_ids_are_stored_once(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter]
) -> None:
    writer = make_writer(storage, batch_size=4, flush_interval=20)
    batch = points(10)
    writer.record_many(batch)
    writer.record_many(batch[3:6])  # the same ids again (a caller's retry)
    assert writer.flush(timeout=10)
    assert writer.stats().stored == 13
    assert stored_ids(storage) == [r.id for r in batch]


def test_histograms_without_explicit_bounds_are_stored(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter]
) -> None:
    # The shape OpenTelemetry sends for a histogram without bounds: one bucket, no boundaries.
    unbounded = [
        record.model_copy(
            update={"type": MetricType.HISTOGRAM, "bucket_boundaries": [], "bucket_counts": [3]}
        )
        for record in points(5, prefix="h")
    ]
    writer = make_writer(storage, batch_size=100, flush_interval=20)
    writer.record_many(unbounded)
    assert writer.flush(timeout=10)
    stats = writer.stats()
    assert (stats.stored, stats.rejected, stats.failed_flushes) == (5, 0, 0)
    assert sorted(storage.list_metrics().data, key=lambda r: r.id) == unbounded


_EXITING_PROCESS = """
import atexit, sys
from obsstore import MetricsWriter, create_storage
from tests.writer.helpers import points

storage = create_storage(sys.argv[1])
# atexit runs handlers last-in first-out: this one runs after the writer's own.
atexit.register(lambda: print("stored at exit:", storage.count_metrics(), flush=True))
writer = MetricsWriter(storage, batch_size=1000, flush_interval=3_600_000)
writer.record_many(points(42))
print("pending:", writer.stats().pending, flush=True)
"""  # ...and the process just ends, without close()


def test_interpreter_exit_writes_what_is_pending(prepared_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _EXITING_PROCESS, prepared_url],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["pending: 42", "stored at exit: 42"]
