"""The database goes away and comes back: nothing accepted is lost or doubled, memory stays
bounded, and stats tell the story. The generic cases run on all four backends through the
``outage`` fixture (see conftest.py for how each backend is made unavailable)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from obsstore import MetricsWriter, create_storage
from obsstore.writer.retry import backoff_delay
from obsstore.writer.spool import decode
from tests.writer.helpers import Outage, points, segments_unlocked, stored_ids, wait_until


def test_records_stay_pending_and_land_once_the_database_is_back(
    outage: Outage, make_writer: Callable[..., MetricsWriter]
) -> None:
    outage.begin()
    writer = make_writer(outage.storage, batch_size=50, flush_interval=20)
    writer.record_many(points(200))
    wait_until(lambda: writer.stats().failed_flushes >= 1, what="a failed flush")
    first_failure = time.monotonic()
    wait_until(lambda: writer.stats().failed_flushes >= 3, what="two retries")
    # Backoff, not a spin: retry n waits at least half of 0.1 s * 2**(n-1), so retries 2 and
    # 3 take 0.15 s or more (less 50 ms for noticing the first failure late).
    assert time.monotonic() - first_failure >= 0.1
    stats = writer.stats()
    assert (stats.stored, stats.pending, stats.healthy) == (0, 200, False)
    assert stats.last_error is not None and "StorageUnavailableError" in stats.last_error
    outage.end()
    wait_until(lambda: writer.stats().pending == 0, what="the retries to succeed")
    stats = writer.stats()
    assert (stats.stored, stats.dropped, stats.healthy) == (200, 0, True)
    assert stored_ids(outage.storage) == [r.id for r in points(200)]


def test_overflow_drops_the_oldest_exactly_and_keeps_the_newest(
    outage: Outage, make_writer: Callable[..., MetricsWriter], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="obsstore.writer")
    outage.begin()
    writer = make_writer(outage.storage, batch_size=100, flush_interval=20, max_pending=1000)
    records = points(5000)
    for start in range(0, len(records), 50):
        for record in records[start : start + 50]:
            writer.record(record)
        assert writer.stats().pending <= 1000 + 100  # at most one batch in flight on top
    failures = writer.stats().failed_flushes
    # After a failure that follows the last record, exactly the newest 1000 are pending.
    wait_until(lambda: writer.stats().failed_flushes > failures, what="a failed retry")
    stats = writer.stats()
    assert (stats.accepted, stats.stored, stats.pending, stats.dropped) == (5000, 0, 1000, 4000)
    outage.end()
    assert writer.flush(timeout=15)
    stats = writer.stats()
    assert (stats.stored, stats.pending, stats.dropped) == (1000, 0, 4000)
    assert stored_ids(outage.storage) == [r.id for r in records[4000:]]
    warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1  # rate limited: 4000 drops in a few calls, one warning
    assert "max_pending=1000" in warnings[0].getMessage()


def test_close_with_a_dead_database_returns_in_time_and_keeps_the_spool(
    outage: Outage, make_writer: Callable[..., MetricsWriter], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    outage.begin()
    writer = make_writer(outage.storage, batch_size=10, flush_interval=20, spool_dir=spool)
    writer.record_many(points(50))
    wait_until(lambda: writer.stats().failed_flushes >= 1)
    started = time.monotonic()
    writer.close(timeout=1.0)
    assert time.monotonic() - started < 1.0 + 0.5  # an attempt under way may finish first
    assert writer.stats().spooled == 50
    segments = list(spool.glob("*.spool"))
    assert len(segments) == 1
    assert len(decode(segments[0].read_bytes(), "test")) == 50
    # An attempt under way at the deadline finishes in the background, then lets go.
    wait_until(lambda: segments_unlocked(spool), what="the closed writer to release its spool")
    outage.end()
    replaying = make_writer(outage.storage, flush_interval=20, spool_dir=spool)
    assert replaying.stats().replayed == 50
    assert replaying.flush(timeout=10)
    assert stored_ids(outage.storage) == [r.id for r in points(50)]
    replaying.close()
    assert list(spool.iterdir()) == []


def test_a_missing_schema_is_counted_logged_and_retried(
    sql_url: str, make_writer: Callable[..., MetricsWriter], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="obsstore.writer")
    with create_storage(sql_url) as storage:
        writer = make_writer(storage, batch_size=5, flush_interval=20)
        writer.record_many(points(10))
        wait_until(lambda: writer.stats().failed_flushes >= 2, what="failed flushes")
        stats = writer.stats()
        assert (stats.pending, stats.stored, stats.healthy) == (10, 0, False)
        assert stats.last_error is not None and stats.last_error.startswith("SchemaError")
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert errors and errors[0].exc_info is not None  # with its traceback, once
        assert len(errors) == 1
        storage.init()
        assert writer.flush(timeout=10)
        assert writer.stats().healthy
        assert storage.count_metrics() == 10


def test_postgresql_stopped_mid_stream_and_started_again(
    make_writer: Callable[..., MetricsWriter], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    outage = Outage("postgresql", tmp_path, request)
    try:
        writer = make_writer(outage.storage, batch_size=100, flush_interval=20)
        stop = threading.Event()
        produced: list[int] = []

        def produce() -> None:
            n = 0
            while not stop.is_set():
                writer.record_many(points(10, prefix="s", start=n))
                n += 10
                time.sleep(0.001)  # a steady stream, not a flood
            produced.append(n)

        producer = threading.Thread(target=produce)
        producer.start()
        try:
            wait_until(lambda: writer.stats().stored >= 500, what="writes before the stop")
            outage.begin()
            wait_until(lambda: not writer.stats().healthy, what="the writer to notice")
            accepted_while_down = writer.stats().accepted
            wait_until(lambda: writer.stats().accepted >= accepted_while_down + 300)
            outage.end()
            wait_until(lambda: writer.stats().healthy, timeout=15, what="recovery")
            stored = writer.stats().stored
            wait_until(lambda: writer.stats().stored >= stored + 300, what="writes after")
        finally:
            stop.set()
            producer.join()
        assert writer.flush(timeout=15)
        stats = writer.stats()
        assert stats.accepted == produced[0] and stats.dropped == 0
        assert stats.stored == stats.accepted and stats.failed_flushes >= 1
        assert outage.storage.count_metrics() == produced[0]  # nothing lost, nothing doubled
    finally:
        outage.cleanup()


def test_postgresql_backends_terminated_while_writing(
    fresh_postgres_url: str, make_writer: Callable[..., MetricsWriter]
) -> None:
    """Connections killed mid-transaction (commits may be lost in flight): retries are
    idempotent, so the count is exact."""
    database = fresh_postgres_url.rsplit("/", 1)[1]
    admin_url = fresh_postgres_url.rsplit("/", 1)[0] + "/postgres"
    with create_storage(fresh_postgres_url) as storage:
        storage.init()
        writer = make_writer(storage, batch_size=200, flush_interval=20)
        stop = threading.Event()

        def terminate() -> None:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                while not stop.is_set():
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()",
                        (database,),
                    )
                    time.sleep(0.003)

        killer = threading.Thread(target=terminate)
        killer.start()
        n = 0
        try:
            deadline = time.monotonic() + 20
            while writer.stats().failed_flushes < 3 and time.monotonic() < deadline:
                writer.record_many(points(200, prefix="k", start=n))
                n += 200
                time.sleep(0.002)
        finally:
            stop.set()
            killer.join()
        assert writer.stats().failed_flushes >= 3
        assert writer.flush(timeout=30)
        stats = writer.stats()
        assert (stats.accepted, stats.stored, stats.dropped) == (n, n, 0)
        assert storage.count_metrics() == n


def test_backoff_is_exponential_capped_and_jittered() -> None:
    import random

    rng = random.Random(7)
    for failures in range(1, 40):
        ceiling = min(30.0, 0.1 * 2 ** (failures - 1))
        delays = {backoff_delay(failures, rng) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered
    assert backoff_delay(1000, rng, base=1.0, cap=5.0) <= 5.0
