"""prune() on every backend: it rolls up before it deletes, deletes raw points, rollup rows and
whole traces older than their horizons, keeps aggregates over pruned time answering as before,
is idempotent, changes nothing in a dry run, and loses nothing a concurrent writer adds."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from obsstore import (
    MetricsStorage,
    MetricsWriter,
    ObservabilityStorage,
    RetentionJob,
    RetentionPolicy,
    RollupLevel,
    SpanRecord,
)
from tests.contract.helpers import T0

DAY, HOUR = timedelta(days=1), timedelta(hours=1)
START = T0.replace(hour=0)
NOW = START + 20 * DAY
POLICY = RetentionPolicy(
    raw="7d",
    rollups=[RollupLevel(interval="1h", keep="10d"), RollupLevel(interval="1d", keep="400d")],
    traces="5d",
)


def hourly_points(days: int, per_hour: int = 2) -> list[dict[str, Any]]:
    return [
        {
            "id": f"p{d}-{h}-{k}",
            "timestamp": START + d * DAY + h * HOUR + timedelta(minutes=7 * k),
            "name": "http.duration",
            "value": float((d * 24 + h) % 17 + k),
            "labels": {"route": "/a" if k % 2 else "/b"},
        }
        for d in range(days)
        for h in range(24)
        for k in range(per_hour)
    ]


def daily(storage: MetricsStorage, kind: str = "avg", source: str = "auto") -> list[Any]:
    points = storage.aggregate_metrics(
        {"type": kind, "interval": "1d", "group_by": ["route"], "source": source}
    )
    return [(p.timestamp, p.group, round(p.value, 9), p.count) for p in points]


def test_prune_deletes_old_raw_points_and_keeps_answers(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(hourly_points(20))
    before = {kind: daily(storage, kind, "raw") for kind in ("avg", "max", "count", "last")}
    report = storage.prune(POLICY, now=NOW)
    # Raw points go in whole days (the coarsest level) before NOW - 7 days.
    horizon = START + 13 * DAY
    assert report.points_deleted == 13 * 24 * 2
    assert report.rollup_rows_written > 0
    assert storage.count_metrics() == 7 * 24 * 2
    assert storage.count_metrics({"end_time": horizon - timedelta(microseconds=1)}) == 0
    for kind, expected in before.items():
        assert daily(storage, kind) == expected
    # Hourly rollups before NOW - 10 days are gone; the daily ones still answer there.
    hourly = storage.aggregate_metrics({"type": "count", "interval": "1h"})
    assert min(p.timestamp for p in hourly if p.timestamp is not None) == NOW - 10 * DAY
    assert report.rollup_rows_deleted == 10 * 24 * 2


def test_prune_is_idempotent(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(hourly_points(20, per_hour=1))
    storage.prune(POLICY, now=NOW)
    first = daily(storage)
    again = storage.prune(POLICY, now=NOW)
    assert (again.points_deleted, again.rollup_rows_deleted, again.traces_deleted) == (0, 0, 0)
    assert daily(storage) == first


def test_dry_run_counts_and_changes_nothing(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(hourly_points(20, per_hour=1))
    dry = storage.prune(POLICY, now=NOW, dry_run=True)
    assert dry.dry_run and dry.points_deleted == 13 * 24
    assert storage.count_metrics() == 20 * 24
    assert storage.aggregate_metrics({"type": "count", "source": "raw"})[0].count == 20 * 24
    real = storage.prune(POLICY, now=NOW)
    assert real.points_deleted == dry.points_deleted


def test_nothing_is_deleted_without_a_raw_horizon(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(hourly_points(3, per_hour=1))
    forever = RetentionPolicy(raw=None, rollups=[RollupLevel(interval="1h")], traces=None)
    report = storage.prune(forever, now=NOW)
    assert report.points_deleted == 0 and storage.count_metrics() == 3 * 24


def span(trace: str, span_id: str, parent: str | None, at: datetime) -> SpanRecord:
    return SpanRecord(
        trace_id=trace,
        span_id=span_id,
        parent_span_id=parent,
        name=f"{trace}/{span_id}",
        span_type="agent_run",
        started_at=at,
    )


def test_prune_deletes_whole_traces_by_their_root(storage: ObservabilityStorage) -> None:
    old, recent = NOW - 6 * DAY, NOW - DAY
    storage.batch_create_spans(
        [
            # Old root: every span goes, even one that started within retention.
            span("old", "root", None, old),
            span("old", "child", "root", old + HOUR),
            span("old", "late", "child", recent),
            # Recent root: every span stays, even one that started before the horizon.
            span("new", "root", None, recent),
            span("new", "early", "root", old),
            # No root (yet): kept, it is not a whole trace.
            span("orphan", "child", "missing", old),
        ]
    )
    dry = storage.prune(POLICY, now=NOW, dry_run=True)
    assert (dry.traces_deleted, dry.spans_deleted) == (1, 3)
    report = storage.prune(POLICY, now=NOW)
    assert (report.traces_deleted, report.spans_deleted) == (1, 3)
    assert storage.get_trace("old") is None
    new = storage.get_trace("new")
    assert new is not None and len(new.spans) == 2
    assert storage.get_trace("orphan") is not None


def test_prune_loses_nothing_a_concurrent_writer_adds(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(hourly_points(20, per_hour=4))
    written: list[str] = []
    stop = threading.Event()
    writer = MetricsWriter(storage, batch_size=50, flush_interval=20)

    def write() -> None:
        i = 0
        while not stop.is_set() or i < 200:
            record = {
                "id": f"w{i}",
                "timestamp": NOW - timedelta(minutes=i % 600),  # inside retention
                "name": "http.duration",
                "value": 1.0,
            }
            writer.record(record)
            written.append(record["id"])
            i += 1
            if i % 50 == 0:
                stop.wait(0.005)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        report = storage.prune(POLICY, now=NOW)
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert report.points_deleted == 13 * 24 * 4
    # Every stored point, not one page: a slow prune lets the writer pass 10,000 points.
    stored = {
        r.id for r in storage.iter_metrics({"name": "http.duration", "start_time": NOW - DAY})
    }
    assert set(written) <= stored
    assert storage.count_metrics({"end_time": START + 13 * DAY - timedelta(microseconds=1)}) == 0


def test_retention_job_runs_prune(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(
        [{"id": "old", "timestamp": T0 - 400 * DAY, "name": "m", "value": 1.0}]
    )
    job = RetentionJob(storage, POLICY, every="1h")
    job.start()
    report = job.run_once()
    job.close()
    assert report.points_deleted == 1 and job.last_report is report
    assert storage.count_metrics() == 0
