"""``python -m bench.clickhouse``: obsstore's ``clickhouse`` backend on the embedded engine (chdb)
against the raw clickhouse-connect client on the same engine, side by side in one process.

Rows: ingest of prebuilt ``MetricRecord`` batches (``batch_record_metrics`` against one
``insert_arrow`` per batch into the same freshly migrated table); the dashboard panel (avg by
route, 1 h buckets) and p95 by service through ``aggregate_metrics`` against hand-written SQL
returning tuples; optionally the panel over 10M points generated with ``INSERT ... SELECT`` from
``numbers()``. Medians of interleaved repeats; every answer compared. See bench/README.md."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from bench import queries, workload
from bench.baselines.common import batches, dumps
from bench.timing import interleaved, median, timed
from obsstore import Aggregation, MetricRecord, create_storage

ROWS = ("avg_by_route", "p95_by_service")
_TEXT = ("organization_id", "environment", "service_name", "trace_id", "span_id")


def log(message: str) -> None:
    print(f"[bench.clickhouse {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _client(storage: Any) -> Any:
    """The clickhouse-connect client under one of the storage's pooled connections."""
    raw = storage.engine.raw_connection()
    return raw, raw.driver_connection.client


def _arrow(batch: Sequence[MetricRecord]) -> pa.Table:
    """The same rows obsstore writes: labels a Map, buckets JSON text, timestamps UTC."""
    columns: dict[str, pa.Array] = {
        "id": pa.array([r.id for r in batch], pa.string()),
        "timestamp": pa.array([r.timestamp for r in batch], pa.timestamp("us", tz="UTC")),
        "name": pa.array([r.name for r in batch], pa.string()),
        "type": pa.array([r.type.value for r in batch], pa.string()),
        "value": pa.array([r.value for r in batch], pa.float64()),
        "labels": pa.array([r.labels for r in batch], pa.map_(pa.string(), pa.string())),
    }
    for name in _TEXT:
        columns[name] = pa.array([getattr(r, name) for r in batch], pa.string())
    columns["bucket_boundaries"] = pa.array(
        [None if r.bucket_boundaries is None else dumps(r.bucket_boundaries) for r in batch],
        pa.string(),
    )
    columns["bucket_counts"] = pa.array(
        [None if r.bucket_counts is None else dumps(r.bucket_counts) for r in batch], pa.string()
    )
    return pa.table(columns)


def _count(client: Any, database: str) -> int:
    # The database names are this module's own (ingest_<who>_<trial>, big).
    return int(client.command(f"SELECT count() FROM `{database}`.obsstore_metrics"))  # noqa: S608


def ingest(url: str, records: list[MetricRecord], batch_size: int, repeats: int) -> dict[str, Any]:
    """Each trial into a new, migrated database on the same engine; rotating order."""
    times: dict[str, list[float]] = {"obsstore": [], "baseline": []}
    trial = 0
    for round_ in range(repeats):
        order = ["obsstore", "baseline"] if round_ % 2 == 0 else ["baseline", "obsstore"]
        for who in order:
            trial += 1
            database = f"ingest_{who}_{trial}"
            with create_storage(f"{url}?database={database}") as storage:
                storage.init()
                raw, client = _client(storage)
                try:
                    if who == "obsstore":

                        def action(storage: Any = storage) -> None:
                            for batch in batches(records, batch_size):
                                storage.batch_record_metrics(batch)
                    else:

                        def action(client: Any = client, database: str = database) -> None:
                            for batch in batches(records, batch_size):
                                client.insert_arrow("obsstore_metrics", _arrow(batch), database)

                    seconds, _ = timed(action)
                    stored = _count(client, database)
                    assert stored == len(records), f"{who}: {stored} rows, not {len(records)}"
                    client.command(f"DROP DATABASE `{database}`")
                finally:
                    raw.close()
            times[who].append(seconds)
            log(f"ingest {who} trial {trial}: {seconds:.2f} s")
    return _entry(times, len(records))


class Baseline:
    """Hand-written ClickHouse SQL returning tuples (``result_rows``)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def avg_by_route(self, name: str, start: datetime, end: datetime) -> list[Any]:
        return self.client.query(
            "SELECT name, toStartOfInterval(timestamp, INTERVAL 1 HOUR) AS bucket,"
            " labels['route'] AS route, avg(value), count() FROM obsstore_metrics"
            " WHERE name = {name:String} AND timestamp >= {start:DateTime64(6, 'UTC')}"
            " AND timestamp <= {end:DateTime64(6, 'UTC')}"
            " GROUP BY name, bucket, route ORDER BY name, route, bucket",
            parameters={"name": name, "start": start, "end": end},
        ).result_rows

    def p95_by_service(self, start: datetime, end: datetime) -> list[Any]:
        return self.client.query(
            "SELECT name, service_name, quantileExactInclusive(0.95)(value), count()"
            " FROM obsstore_metrics WHERE timestamp >= {start:DateTime64(6, 'UTC')}"
            " AND timestamp <= {end:DateTime64(6, 'UTC')}"
            " GROUP BY name, service_name ORDER BY name, service_name",
            parameters={"start": start, "end": end},
        ).result_rows


def compare(storage: Any, baseline: Baseline, repeats: int) -> dict[str, Any]:
    ours = queries.obsstore_calls(storage)
    theirs = queries.baseline_calls(baseline)
    results = {}
    for row in ROWS:
        times, answers = interleaved({"obsstore": ours[row], "baseline": theirs[row]}, repeats)
        entry = _entry(times)
        mine = queries.normalise_obsstore(row, answers["obsstore"])
        base = queries.normalise_baseline(row, answers["baseline"])
        entry["same_answer"] = queries.same_answer(mine, base)
        entry["groups"] = len(mine)
        results[row] = entry
        log(f"{row}: {entry['obsstore_s'] * 1e3:.1f} ms vs {entry['baseline_s'] * 1e3:.1f} ms")
    return results


# 10M points generated in the engine: the workload's shape (20 names, 3 services, 50 routes,
# 4 methods, 7 days in time order); ids unique strings; no buckets.
_GENERATE = (
    "INSERT INTO obsstore_metrics (id, timestamp, name, type, value, labels, organization_id,"
    " environment, service_name) SELECT toString(generateUUIDv7()),"
    " toDateTime64('{start}', 6, 'UTC') + toIntervalMicrosecond(intDiv(number * {span_us}, {n})),"
    " ['{names}'][number % 20 + 1], 'gauge', (number * 7919) % 1000 / 10.,"
    " map('route', ['{routes}'][intHash32(number) % 50 + 1],"
    " 'method', ['GET','POST','PUT','DELETE'][intHash32(number + 1) % 4 + 1]),"
    " 'default', 'prod', ['api','billing','worker'][intHash32(number + 2) % 3 + 1]"
    " FROM numbers({n})"
)


def big_panel(url: str, points: int, repeats: int) -> dict[str, Any]:
    names = "','".join(name for name, _ in workload.NAMES)
    routes = "','".join(workload.ROUTES)
    span_us = int(workload.SPAN.total_seconds() * 1_000_000)
    start = workload.START.strftime("%Y-%m-%d %H:%M:%S")
    with create_storage(f"{url}?database=big") as storage:
        storage.init()
        raw, client = _client(storage)
        try:
            statement = _GENERATE.format(
                start=start, span_us=span_us, n=points, names=names, routes=routes
            )
            seconds, _ = timed(lambda: client.command(statement))
            log(f"big: {points:,} points generated in {seconds:.1f} s")
            assert _count(client, "big") == points
            client.command("OPTIMIZE TABLE obsstore_metrics FINAL")
            by_route = Aggregation(type="avg", interval="1h", group_by=["route"])
            baseline = Baseline(client)
            times, answers = interleaved(
                {
                    "obsstore": lambda: storage.aggregate_metrics(by_route, queries.PANEL),
                    "baseline": lambda: baseline.avg_by_route(
                        queries.NAME, queries.START, queries.END
                    ),
                },
                repeats,
            )
            entry = _entry(times)
            entry["generate_s"] = seconds
            mine = queries.normalise_obsstore("avg_by_route", answers["obsstore"])
            base = queries.normalise_baseline("avg_by_route", answers["baseline"])
            entry["same_answer"] = queries.same_answer(mine, base)
            entry["groups"] = len(mine)
        finally:
            raw.close()
    return entry


def _entry(times: dict[str, list[float]], points: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "obsstore_s": median(times["obsstore"]),
        "baseline_s": median(times["baseline"]),
        "obsstore_all_s": times["obsstore"],
        "baseline_all_s": times["baseline"],
    }
    entry["ratio"] = entry["obsstore_s"] / entry["baseline_s"]
    if points is not None:  # throughput: higher is better, so the ratio is baseline / obsstore
        entry["ratio"] = entry["baseline_s"] / entry["obsstore_s"]
        entry["obsstore_points_per_s"] = points / entry["obsstore_s"]
        entry["baseline_points_per_s"] = points / entry["baseline_s"]
    return entry


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| row | obsstore | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    if "ingest" in results:
        e = results["ingest"]
        ratio = e["ratio"]
        lines.append(
            f"| ingest {results['settings']['ingest_points']:,} prebuilt records, batches of "
            f"{results['settings']['batch_size']:,} | {e['obsstore_points_per_s']:,.0f} pts/s | "
            f"{e['baseline_points_per_s']:,.0f} pts/s (insert_arrow) | {ratio:.2f} | >= 0.8 | "
            f"{'met' if ratio >= 0.8 else 'missed'} |"
        )
    labels = {
        "avg_by_route": "panel: avg by route, 1 h buckets, one name, 7 days",
        "p95_by_service": "p95 by service, every point, 7 days",
    }
    for row, entry in results.get("queries", {}).items():
        lines.append(_query_line(labels[row], entry, 1.3))
    if "big" in results:
        e = results["big"]
        line = _query_line(f"panel at {results['settings']['big_points']:,} points", e, 1.3)
        absolute = "met" if e["obsstore_s"] <= 0.3 else "missed"
        lines.append(line[:-2] + f"; <= 300 ms absolute: {absolute} |")
    return "\n".join(lines)


def _query_line(label: str, entry: dict[str, Any], target: float) -> str:
    same = "" if entry["same_answer"] else " answers differ!"
    met = "met" if entry["ratio"] <= target else "missed"
    return (
        f"| {label} | {entry['obsstore_s'] * 1e3:.1f} ms | {entry['baseline_s'] * 1e3:.1f} ms | "
        f"{entry['ratio']:.2f} | <= {target} | {met}{same} |"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clickhouse", description=__doc__)
    parser.add_argument("--ingest-points", type=int, default=200_000)
    parser.add_argument("--query-points", type=int, default=1_000_000)
    parser.add_argument("--big-points", type=int, default=10_000_000, help="0 to skip")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"settings": vars(args) | {"command": " ".join(sys.argv)}}
    with tempfile.TemporaryDirectory(prefix="obsstore-bench-ch-") as directory:
        url = f"chdb:///{directory}/engine"
        # A keeper storage holds the engine for the whole run (one chdb engine per process).
        with create_storage(f"{url}?database=queries") as storage:
            storage.init()
            records = workload.records(list(workload.point_dicts(args.ingest_points)))
            log(f"ingest: {len(records):,} records, {args.repeats} repeats each")
            results["ingest"] = ingest(url, records, args.batch_size, args.repeats)
            del records
            log(f"queries: storing {args.query_points:,} points")
            for chunk in workload.chunks(args.query_points, args.batch_size):
                storage.batch_record_metrics(chunk)
            raw, client = _client(storage)
            try:
                client.command("OPTIMIZE TABLE obsstore_metrics FINAL")
                results["queries"] = compare(storage, Baseline(client), args.repeats)
            finally:
                raw.close()
            if args.big_points:
                results["big"] = big_panel(url, args.big_points, args.repeats)
    print(json.dumps(results, indent=2, default=str), file=sys.stderr)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
