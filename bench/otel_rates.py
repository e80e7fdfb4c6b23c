"""Points per second of the ecosystem paths beside ``batch_record_metrics``: export to JSON
lines, CSV and OpenMetrics, and OTLP/HTTP ingest through ``obsstore serve otlp``.

    .venv/bin/python -m bench.otel_rates [POINTS] [--backends memory,sqlite,duckdb,postgresql]

Prints a Markdown table. OTLP ingest: protobuf requests of 1,000 gauge points each (built
beforehand), posted one after another over one HTTP connection; timed until the receiver's
writer has stored every point."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from bench import places
from bench.postgres import find_server, scratch_database
from bench.workload import chunks
from obsstore import create_storage
from obsstore.export import export_metrics
from obsstore.models import MetricRecord
from obsstore.models._fields import to_epoch_us
from obsstore.serve.otlp import OtlpReceiver, RunningServer, create_app
from obsstore.writer import MetricsWriter


@contextlib.contextmanager
def _url(kind: str, directory: str, stem: str) -> Iterator[str]:
    if not places.is_server(kind):
        yield places.file_url(kind, directory, stem)
        return
    server = find_server()
    if server is None:
        raise SystemExit("no PostgreSQL server found")
    with scratch_database(server[0]) as url:
        yield url


def _otlp_requests(records: list[MetricRecord], per_request: int = 1000) -> list[bytes]:
    bodies = []
    for start in range(0, len(records), per_request):
        request = ExportMetricsServiceRequest()
        rm = request.resource_metrics.add()
        attr = rm.resource.attributes.add()
        attr.key, attr.value.string_value = "service.name", "bench"
        sm = rm.scope_metrics.add()
        by_name: dict[str, Any] = {}
        for record in records[start : start + per_request]:
            metric = by_name.get(record.name)
            if metric is None:  # one metric per name, holding its points, as SDKs send them
                metric = by_name[record.name] = sm.metrics.add()
                metric.name = record.name
            point = metric.gauge.data_points.add()
            point.time_unix_nano = to_epoch_us(record.timestamp) * 1000
            point.as_double = record.value
            for key, value in record.labels.items():
                kv = point.attributes.add()
                kv.key, kv.value.string_value = key, value
        bodies.append(request.SerializeToString())
    return bodies


def measure(kind: str, points: int, directory: str) -> dict[str, float]:
    records = [r for chunk in chunks(points, 10_000) for r in chunk]
    rates: dict[str, float] = {}
    with _url(kind, directory, f"{kind}-rates") as url, create_storage(url) as storage:
        storage.init()
        started = time.perf_counter()
        for start in range(0, len(records), 10_000):
            storage.batch_record_metrics(records[start : start + 10_000])
        rates["batch_record_metrics"] = points / (time.perf_counter() - started)
        for fmt in ("jsonl", "csv", "openmetrics"):
            stats = export_metrics(storage, Path(directory) / f"{kind}.{fmt}", format=fmt)
            rates[f"export {fmt}"] = stats.points_per_second
        storage.dangerously_clear_all()
        bodies = _otlp_requests(records)
        writer = MetricsWriter(storage, batch_size=10_000, max_pending=10 * points)
        server = RunningServer(create_app(OtlpReceiver(storage, writer=writer)), "127.0.0.1", 0)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
                started = time.perf_counter()
                for body in bodies:
                    response = client.post(
                        "/v1/metrics",
                        content=body,
                        headers={"content-type": "application/x-protobuf"},
                    )
                    response.raise_for_status()
                assert writer.flush(timeout=600)
                rates["OTLP/HTTP ingest"] = points / (time.perf_counter() - started)
        finally:
            server.stop()
            writer.close()
        assert storage.count_metrics() == points
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("points", nargs="?", type=int, default=100_000)
    parser.add_argument("--backends", default="memory,sqlite,duckdb,postgresql")
    args = parser.parse_args()
    kinds = args.backends.split(",")
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for kind in kinds:
            print(f"{kind}...", file=sys.stderr)
            results[kind] = measure(kind, args.points, directory)
    rows = list(next(iter(results.values())))
    print(f"| points per second ({args.points:,} points) | " + " | ".join(kinds) + " |")
    print("|---|" + "---:|" * len(kinds))
    for row in rows:
        print(f"| {row} | " + " | ".join(f"{results[k][row]:,.0f}" for k in kinds) + " |")


if __name__ == "__main__":
    main()
