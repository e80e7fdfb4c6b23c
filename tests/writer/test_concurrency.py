"""Many threads through one writer: every accepted record is stored exactly once, and every
stats snapshot adds up, on all four backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from obsstore import MetricRecord, MetricsStorage, MetricsWriter
from tests.writer.helpers import points

THREADS = 8
PER_THREAD = 10_000


def test_eight_threads_times_ten_thousand_records(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    writer = make_writer(
        storage,
        batch_size=1000,
        flush_interval=20,
        max_pending=THREADS * PER_THREAD,
        spool_dir=spool,
    )
    batches = [points(PER_THREAD, prefix=f"t{t}") for t in range(THREADS)]
    start = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []

    def produce(records: list[MetricRecord]) -> None:
        try:
            start.wait()
            for n, record in enumerate(records):
                writer.record(record)
                if n % 2500 == 2499:
                    writer.flush(timeout=0.01)  # concurrent flushes must not disturb anything
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    start.wait()
    snapshots = 0
    while any(thread.is_alive() for thread in threads) or snapshots == 0:
        stats = writer.stats()
        assert stats.accepted == stats.stored + stats.pending + stats.dropped
        assert stats.spooled == stats.pending
        snapshots += 1
        time.sleep(0.001)  # sampling pace, leaving the GIL to the producers
    for thread in threads:
        thread.join()
    assert errors == []
    assert writer.flush(timeout=60)
    stats = writer.stats()
    total = THREADS * PER_THREAD
    assert (stats.accepted, stats.stored, stats.pending, stats.dropped) == (total, total, 0, 0)
    assert (stats.spooled, stats.failed_flushes, stats.healthy) == (0, 0, True)
    assert storage.count_metrics() == total  # ids are primary keys: each stored exactly once
    writer.close()
    assert list(spool.iterdir()) == []  # everything stored: nothing left to replay
