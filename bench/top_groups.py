"""Top-N groups ranked in the database against the same answer ranked in Python.

    .venv/bin/python -m bench.top_groups [POINTS] [--backends sqlite,duckdb,postgresql]

Row: the 5 routes of ``http.server.duration`` with the highest p95 over the 7 days, each with
its 1 h buckets (a "slowest routes" dashboard panel with a sparkline each).
- obsstore: ``aggregate_metrics(Aggregation(type="percentile", percentile=0.95, interval="1h",
  group_by=["route"], order="value_desc", limit=5))``;
- baseline: what a caller does without ``limit``: the per-route p95 over the range (one
  aggregate), the top 5 picked in Python, then every route's hourly p95 (a second aggregate)
  filtered to those 5 in Python.
Both answers are checked equal; medians of interleaved repeats, and their ratio."""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from typing import Any

from bench import workload
from bench.places import file_url, is_server
from bench.postgres import find_server, scratch_database
from bench.timing import interleaved, median
from obsstore import Aggregation, MetricFilters, create_storage

PANEL = MetricFilters(name=workload.PANEL_NAME, start_time=workload.START, end_time=workload.END)
P95 = {"type": "percentile", "percentile": 0.95, "group_by": ["route"]}


def ranked(storage: Any) -> list[Any]:
    asked = Aggregation(**P95, interval="1h", order="value_desc", limit=5)
    return storage.aggregate_metrics(asked, PANEL)  # type: ignore[no-any-return]


def in_python(storage: Any) -> list[Any]:
    totals = storage.aggregate_metrics(Aggregation(**P95), PANEL)
    totals.sort(key=lambda p: (-p.value, p.group["route"] or ""))
    top = [p.group["route"] for p in totals[:5]]
    hourly = storage.aggregate_metrics(Aggregation(**P95, interval="1h"), PANEL)
    rank = {route: i for i, route in enumerate(top)}
    kept = [p for p in hourly if p.group["route"] in rank]
    kept.sort(key=lambda p: (rank[p.group["route"]], p.timestamp))
    return kept


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("points", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,duckdb,postgresql")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| backend | points | obsstore ranked (s) | baseline (s) | ratio | same answer |")
    print("|---|---|---|---|---|---|")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as directory:
        server = None
        for kind in args.backends.split(","):
            if is_server(kind):
                if server is None:
                    found = find_server()
                    if found is None:
                        print(f"| {kind} | no server |", file=sys.stderr)
                        continue
                    server, stop = found
                    if stop is not None:
                        stack.callback(stop)
                url = stack.enter_context(scratch_database(server))
            else:
                url = file_url(kind, directory, "top")
            with create_storage(url) as storage:
                storage.init()
                for chunk in workload.chunks(args.points, 10_000):
                    storage.batch_record_metrics(chunk)
                print(f"{kind}: loaded {args.points} points", file=sys.stderr)
                times, answers = interleaved(
                    {"ranked": lambda: ranked(storage), "python": lambda: in_python(storage)},
                    args.repeats,
                )
                mine, theirs = median(times["ranked"]), median(times["python"])
                same = answers["ranked"] == answers["python"]
                print(
                    f"| {kind} | {args.points:,} | {mine:.3f} | {theirs:.3f} | "
                    f"{mine / theirs:.2f} | {same} |"
                )


if __name__ == "__main__":
    main()
