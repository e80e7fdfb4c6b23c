"""After os.fork(): the child starts with an empty buffer and its own spool segments, and the
parent's pending records are written once, by the parent. Runs on all four backends."""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from obsstore import MetricsStorage, MetricsWriter, create_storage
from tests.writer.helpers import (
    K,
    points,
    segments_unlocked,
    stored_ids,
    wait_until,
    writer_process,
)

HOUR_MS = 3_600_000


def _in_child(
    writer: MetricsWriter, storage: MetricsStorage, segment: Path, before: bytes
) -> dict[str, Any]:
    stats = writer.stats()
    report: dict[str, Any] = {
        "accepted": stats.accepted,
        "pending": stats.pending,
        "spooled": stats.spooled,
        "parent_lock_held": not segments_unlocked(segment.parent),
    }
    # A child can write only where another process may use the database at the same time.
    if storage.capabilities.multi_process:
        writer.record_many(points(5, prefix="child"))
        report["flushed"] = writer.flush(timeout=10)
        writer.close(timeout=10)
        report["stored"] = writer.stats().stored
    report["parent_segment_unchanged"] = segment.read_bytes() == before
    report["files"] = sorted(p.name for p in segment.parent.iterdir())
    return report


def _read_until_closed(fd: int, timeout: float) -> bytes:
    # poll, not select: select refuses descriptors past FD_SETSIZE (1024), and an embedded
    # ClickHouse engine keeps 3 open /proc files per pooled thread, thousands in a long run.
    chunks: list[bytes] = []
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        if poller.poll(remaining * 1000):
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    pytest.fail(f"the forked child did not report within {timeout}s")


# Forking while the writer's thread runs is the situation under test; Python 3.12+ warns of it.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_starts_empty_and_the_parent_writes_once(
    storage: MetricsStorage, make_writer: Callable[..., MetricsWriter], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    writer = make_writer(storage, batch_size=10_000, flush_interval=HOUR_MS, spool_dir=spool)
    writer.record_many(points(500, prefix="parent"))
    (segment,) = spool.glob("*.spool")
    before = segment.read_bytes()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running any of pytest's cleanup
        code = 1
        try:
            os.close(read_end)
            report = _in_child(writer, storage, segment, before)
            os.write(write_end, json.dumps(report).encode())
            code = 0
        except BaseException as exc:
            os.write(write_end, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        report = json.loads(_read_until_closed(read_end, timeout=20) or b"{}")
    finally:
        os.close(read_end)
        if os.waitpid(pid, os.WNOHANG) == (0, 0):  # stuck: fail rather than hang
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert "error" not in report, report["error"]
    multi_process = storage.capabilities.multi_process
    expected: dict[str, Any] = {
        "accepted": 0,
        "pending": 0,
        "spooled": 0,
        "parent_lock_held": True,
        "parent_segment_unchanged": True,
        "files": [segment.name],  # the child's own segment came and went
    }
    if multi_process:
        expected.update(flushed=True, stored=5)
    assert report == expected
    assert segment.read_bytes() == before
    assert not segments_unlocked(spool)  # the child's exit did not release the parent's lock
    stats = writer.stats()
    assert (stats.accepted, stats.pending, stats.spooled) == (500, 500, 500)
    assert writer.flush(timeout=10)
    ids = [r.id for r in points(5, prefix="child")] if multi_process else []
    assert stored_ids(storage) == sorted(ids + [r.id for r in points(500, prefix="parent")])


@pytest.mark.requires(
    "the forked sleeper must leave the database to the test process",
    fork_releases_database=True,
)
def test_a_forked_child_does_not_keep_the_parents_spool_locked(
    prepared_url: str, make_writer: Callable[..., MetricsWriter], tmp_path: Path
) -> None:
    """The writer process forks a child that outlives it; once the writer process is killed,
    its segment is free for replay even though the child still runs."""
    spool = tmp_path / "spool"
    with writer_process(prepared_url, spool, K + 1, 0, "fork") as stats:
        sleeper = int(stats["sleeper"])
    try:
        os.kill(sleeper, 0)  # still alive
        wait_until(lambda: segments_unlocked(spool), what="the dead writer's lock to go")
        with create_storage(prepared_url) as storage:
            writer = make_writer(storage, flush_interval=20, spool_dir=spool)
            assert writer.stats().replayed == K
            assert writer.flush(timeout=20)
            assert storage.count_metrics() == K
    finally:
        os.kill(sleeper, signal.SIGKILL)
