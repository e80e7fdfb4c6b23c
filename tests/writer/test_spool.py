"""The spool: records accepted by a process that is killed are replayed by the next writer,
exactly once; torn entries are skipped; live writers never share or replay each other's files;
the spool stays small while the database keeps up. Runs on all four backends."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from obsstore import MetricRecord, MetricsWriter, create_storage
from obsstore.writer import spool as spool_module
from obsstore.writer.spool import FRAME_HEADER, MAGIC, decode, encode
from tests.writer.helpers import K, points, stored_ids, wait_until, writer_process


def kill_after_accepting(url: str, spool: Path, *, partly_stored: bool) -> dict[str, Any]:
    # batch_size 30 and an hour's interval: full batches are stored, the last K % 30 never are.
    batch_size, wait_stored = (30, K - K % 30) if partly_stored else (K + 1, 0)
    with writer_process(url, spool, batch_size, wait_stored) as stats:
        assert stats["accepted"] == K and stats["spooled"] == K - stats["stored"]
        assert stats["stored"] == wait_stored
    return stats


def the_segment(spool: Path) -> Path:
    (segment,) = spool.glob("*.spool")
    return segment


@pytest.mark.parametrize("partly_stored", [False, True], ids=["nothing-stored", "partly-stored"])
def test_sigkill_then_replay_stores_exactly_k(
    prepared_url: str,
    make_writer: Callable[..., MetricsWriter],
    tmp_path: Path,
    partly_stored: bool,
) -> None:
    spool = tmp_path / "spool"
    kill_after_accepting(prepared_url, spool, partly_stored=partly_stored)
    with create_storage(prepared_url) as storage:
        writer = make_writer(storage, batch_size=10_000, flush_interval=3_600_000, spool_dir=spool)
        assert writer.stats().replayed == K  # the live segment still holds all K
        # Replayed records are overdue: written without waiting for a full batch or the hour.
        wait_until(lambda: writer.stats().stored == K, what="the replayed records")
        assert storage.count_metrics() == K  # exactly K: stored ones are not doubled
        assert stored_ids(storage) == [r.id for r in points(K, prefix="k")]
        writer.close()
        assert list(spool.iterdir()) == []
        again = make_writer(storage, flush_interval=20, spool_dir=spool)
        assert again.stats().replayed == 0  # replayed once, never again


@pytest.mark.parametrize("damage", ["partial-frame-appended", "last-frame-cut"])
def test_a_torn_last_entry_is_skipped_with_a_warning(
    prepared_url: str,
    make_writer: Callable[..., MetricsWriter],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    spool = tmp_path / "spool"
    kill_after_accepting(prepared_url, spool, partly_stored=False)
    segment = the_segment(spool)
    if damage == "partial-frame-appended":  # died while appending one more record
        with segment.open("ab") as file:
            file.write(FRAME_HEADER.pack(300, 12345) + b'{"id": "torn", "na')
        expected = points(K, prefix="k")
    else:  # died while appending the last one
        os.truncate(segment, segment.stat().st_size - 10)
        expected = points(K - 1, prefix="k")
    caplog.set_level(logging.WARNING, logger="obsstore.writer")
    with create_storage(prepared_url) as storage:
        writer = make_writer(storage, flush_interval=20, spool_dir=spool)
        assert writer.stats().replayed == len(expected)
        assert writer.flush(timeout=20)
        assert stored_ids(storage) == [r.id for r in expected]
    (warning,) = [r for r in caplog.records if "torn" in r.getMessage()]
    assert segment.name in warning.getMessage()


def test_live_writers_never_replay_each_other(
    prepared_url: str, make_writer: Callable[..., MetricsWriter], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    # Another process, alive: its segment is locked, so nobody here replays it.
    with writer_process(prepared_url, spool, batch_size=K + 1, wait_stored=0):
        with create_storage("memory") as elsewhere:
            first = make_writer(elsewhere, flush_interval=3_600_000, spool_dir=spool)
            first.record_many(points(5, prefix="a"))
            second = make_writer(elsewhere, flush_interval=3_600_000, spool_dir=spool)
            second.record_many(points(5, prefix="b"))
            assert first.stats().replayed == 0 and second.stats().replayed == 0
            assert len(list(spool.glob("*.spool"))) == 3  # one file per live writer
            assert first.flush(timeout=5) and second.flush(timeout=5)
            first.close()
            second.close()
            assert len(list(spool.glob("*.spool"))) == 1  # only the other process's
    # Killed now: its K records replay into the backend under test.
    with create_storage(prepared_url) as storage:
        writer = make_writer(storage, flush_interval=20, spool_dir=spool)
        assert writer.stats().replayed == K
        assert writer.flush(timeout=20)
        assert storage.count_metrics() == K


def test_two_writers_starting_together_replay_an_orphan_once(
    prepared_url: str, make_writer: Callable[..., MetricsWriter], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    kill_after_accepting(prepared_url, spool, partly_stored=False)
    with create_storage(prepared_url) as storage:
        writers = [make_writer(storage, flush_interval=20, spool_dir=spool) for _ in range(3)]
        assert sorted(w.stats().replayed for w in writers) == [0, 0, K]
        assert all(w.flush(timeout=20) for w in writers)
        assert storage.count_metrics() == K


def test_the_spool_stays_small_while_the_database_keeps_up(
    storage: Any,
    make_writer: Callable[..., MetricsWriter],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spool_module, "SEGMENT_BYTES", 64 << 10)  # about 250 records each
    spool = tmp_path / "spool"
    writer = make_writer(storage, batch_size=100, flush_interval=3_600_000, spool_dir=spool)
    largest = 0
    # Chunks of 101 against batches of 100: full batches are stored at once and 1..99 records
    # always wait, so the segment being appended to is never empty and must be rotated.
    for chunk in range(99):
        writer.record_many(points(101, start=chunk * 101))
        accepted = (chunk + 1) * 101
        wait_until(lambda a=accepted: writer.stats().stored == a - a % 100)
        largest = max(largest, sum(p.stat().st_size for p in spool.iterdir()))
    assert largest < 256 << 10  # not the ~2.6 MB of the whole stream
    assert writer.flush(timeout=20)
    assert writer.stats().spooled == 0
    assert [p.stat().st_size for p in spool.iterdir()] == [len(MAGIC)]  # emptied, kept open
    assert storage.count_metrics() == 99 * 101
    writer.close()
    assert list(spool.iterdir()) == []


def test_files_that_are_not_segments_are_left_alone(
    storage: Any,
    make_writer: Callable[..., MetricsWriter],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    stranger = spool / "notes.spool"
    stranger.write_bytes(b"not a spool segment at all")
    writer = make_writer(storage, flush_interval=20, spool_dir=spool)
    assert writer.stats().replayed == 0
    assert stranger.read_bytes() == b"not a spool segment at all"
    assert any("not an obsstore spool segment" in r.getMessage() for r in caplog.records)


def test_frames_round_trip_every_field() -> None:
    record = MetricRecord(
        id="full",
        timestamp=datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=timezone.utc),
        name="job.duration",
        type="histogram",
        value=0.1 + 0.2,
        labels={"route": "/x", "ünïcode": "✓ 😀", "status": 200},
        organization_id="o",
        environment="e",
        service_name="s",
        trace_id="t",
        span_id="sp",
        bucket_boundaries=[0.005, 2.5],
        bucket_counts=[0, 3, 2**63 - 1],
    )
    data = MAGIC + encode([record, points(1)[0]])
    assert decode(data, "test") == [record, points(1)[0]]
    corrupt = bytearray(data)
    corrupt[len(MAGIC) + FRAME_HEADER.size + 3] ^= 0xFF  # a flipped bit in the first payload
    assert decode(bytes(corrupt), "test") == []
