"""The lifecycle rows, side by side per backend in one run:

1. the dashboard panel "avg by route, 1 h buckets, last 30 days" from rollups vs from raw
   points (``source="rollup"`` vs ``source="raw"``), medians of repeats, and the same panel
   as p95 (from rollups: the rows' sketch bins merged);
2. ``rollup()`` of every stored point (1 h and 1 d levels);
3. ``prune()`` keeping 7 days of the 90: points deleted, seconds, and the longest a concurrent
   ``batch_record_metrics`` call (100 points, in a loop) waited meanwhile.

``python -m bench.lifecycle [--points N] [--backends sqlite,duckdb,postgresql,memory,clickhouse]
[--histograms]`` (default 1,000,000 points over 90 days; ClickHouse on its embedded engine).
``--histograms`` records the panel's metric as histogram points (8 bucket bounds, as an
OpenTelemetry SDK exports request durations), so ``rollup()`` also sums bucket counts.
Prints a Markdown table."""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from typing import Any

from bench import places
from bench.postgres import find_server, scratch_database
from obsstore import (
    Aggregation,
    MetricFilters,
    MetricsStorage,
    RetentionPolicy,
    RollupLevel,
    create_storage,
)

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
DAYS = 90
# A service's request metrics: two names, 12 routes, one service (24 series, about 19 points
# per series and hour at 1,000,000 points over 90 days, like a service doing 0.13 requests/s).
NAMES = ["http.server.duration", "http.server.request_size"]
PANEL_NAME = "http.server.duration"
ROUTES = [f"/route/{i}" for i in range(12)]
POLICY = RetentionPolicy(
    raw="7d",
    rollups=[RollupLevel(interval="1h", keep="400d"), RollupLevel(interval="1d", keep="1825d")],
    traces=None,
)
PANEL = Aggregation(type="avg", interval="1h", group_by=["route"])
LAST_30_DAYS = MetricFilters(
    name=PANEL_NAME, start_time=NOW - timedelta(days=30), end_time=NOW - timedelta(microseconds=1)
)


BOUNDS = [5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0]


def _histogram(value: float) -> dict[str, Any]:
    """One observation as a histogram point's fields: its bucket counted once."""
    counts = [0] * (len(BOUNDS) + 1)
    counts[bisect.bisect_left(BOUNDS, value)] = 1
    return {"type": "histogram", "bucket_boundaries": BOUNDS, "bucket_counts": counts}


def points(
    count: int, seed: int = 10, *, histograms: bool = False
) -> Iterator[list[dict[str, Any]]]:
    """``count`` points spread evenly over the 90 days before NOW, in chunks of 10,000; with
    ``histograms`` the panel's metric as histogram points."""
    rng = random.Random(seed)
    step = timedelta(days=DAYS) / count
    start = NOW - timedelta(days=DAYS)
    chunk: list[dict[str, Any]] = []
    for i in range(count):
        point = {
            "id": f"p{i:09d}",
            "timestamp": start + i * step,
            "name": rng.choice(NAMES),
            "value": rng.lognormvariate(3, 1),
            "labels": {"route": rng.choice(ROUTES)},
            "service_name": "api",
        }
        if histograms and point["name"] == PANEL_NAME:
            point.update(_histogram(point["value"]))
        chunk.append(point)
        if len(chunk) == 10_000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _median_seconds(action: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(
    storage: MetricsStorage, count: int, repeats: int, *, histograms: bool = False
) -> dict[str, Any]:
    for chunk in points(count, histograms=histograms):
        storage.batch_record_metrics(chunk)
    started = time.perf_counter()
    written = storage.rollup(until=NOW, policy=POLICY)
    rollup_seconds = time.perf_counter() - started
    raw = Aggregation(**{**PANEL.model_dump(), "source": "raw"})
    rolled = Aggregation(**{**PANEL.model_dump(), "source": "rollup"})
    # Same answer from both sources (avg: within float rounding).
    a = storage.aggregate_metrics(raw, LAST_30_DAYS)
    b = storage.aggregate_metrics(rolled, LAST_30_DAYS)
    assert len(a) == len(b) and all(
        abs(x.value - y.value) < 1e-6 * abs(x.value) for x, y in zip(a, b, strict=True)
    )
    raw_seconds = _median_seconds(lambda: storage.aggregate_metrics(raw, LAST_30_DAYS), repeats)
    rollup_query = _median_seconds(lambda: storage.aggregate_metrics(rolled, LAST_30_DAYS), repeats)
    # The same panel as p95: from rollups it merges every row's sketch bins.
    p95 = {"type": "percentile", "percentile": 0.95}
    p95_raw = Aggregation(**{**raw.model_dump(), **p95})
    p95_rolled = Aggregation(**{**rolled.model_dump(), **p95})
    p95_raw_seconds = _median_seconds(
        lambda: storage.aggregate_metrics(p95_raw, LAST_30_DAYS), repeats
    )
    p95_rollup_seconds = _median_seconds(
        lambda: storage.aggregate_metrics(p95_rolled, LAST_30_DAYS), repeats
    )
    waits: list[float] = []
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            batch = [
                {"id": f"w{i}-{k}", "timestamp": NOW, "name": PANEL_NAME, "value": 1.0}
                for k in range(100)
            ]
            started = time.perf_counter()
            storage.batch_record_metrics(batch)
            waits.append(time.perf_counter() - started)
            i += 1
            stop.wait(0.01)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        report = storage.prune(POLICY, now=NOW)
    finally:
        stop.set()
        writer.join()
    return {
        "panel_raw": raw_seconds,
        "panel_rollup": rollup_query,
        "speedup": raw_seconds / rollup_query,
        "p95_raw": p95_raw_seconds,
        "p95_rollup": p95_rollup_seconds,
        "rollup_seconds": rollup_seconds,
        "rollup_rows": written,
        "prune_seconds": report.seconds,
        "pruned_points": report.points_deleted,
        "longest_write_wait": max(waits, default=0.0),
        "writes_during_prune": len(waits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,duckdb,postgresql")
    parser.add_argument("--histograms", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        server = None
        for kind in args.backends.split(","):
            embedded = places.embedded_url(kind, directory, "lifecycle")
            if embedded is not None:
                url = embedded
            elif places.is_server(kind):
                server = server or find_server()
                if server is None:
                    print(f"{kind}: no server, skipped", file=sys.stderr)
                    continue
                url = stack.enter_context(scratch_database(server[0]))
            else:
                url = places.file_url(kind, directory, "lifecycle")
            print(f"{kind}: {args.points} points ...", file=sys.stderr)
            with create_storage(url) as storage:
                storage.init()
                results[kind] = measure(
                    storage, args.points, args.repeats, histograms=args.histograms
                )
    shape = f"; {PANEL_NAME} as histograms" if args.histograms else ""
    print(f"{args.points:,} points over {DAYS} days{shape}; prune keeps 7 days\n")
    print(
        "| backend | panel raw (s) | panel rollup (s) | speed-up | rollup() (s) | rollup rows "
        "| p95 panel raw / rollup (s) | prune() (s) | points pruned "
        "| longest concurrent write (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        print(
            f"| {kind} | {r['panel_raw']:.4f} | {r['panel_rollup']:.4f} | {r['speedup']:.1f}x "
            f"| {r['rollup_seconds']:.2f} | {r['rollup_rows']:,} "
            f"| {r['p95_raw']:.4f} / {r['p95_rollup']:.4f} | {r['prune_seconds']:.2f} "
            f"| {r['pruned_points']:,} | {r['longest_write_wait']:.3f} |"
        )


if __name__ == "__main__":
    main()
