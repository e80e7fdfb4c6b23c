"""obsstore demo: migrate an embedded database, record a day of realistic service metrics,
and answer the questions a dashboard asks.

By default it uses a SQLite file of its own, demo-data/obsstore-demo.db, deleted and created
afresh on every run. It touches another database only when given one explicitly, e.g.
``.venv/bin/python examples/demo.py --url duckdb:///demo-data/demo.duckdb``; the
OBSERVABILITY_METRICS_* variables are ignored. Points and spans have fixed ids, so running it
again on the same database adds nothing."""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from obsstore import (
    Aggregation,
    MetricFilters,
    MetricRecord,
    OrderBy,
    Pagination,
    SpanRecord,
    SpanUpdate,
    TraceFilters,
    create_storage,
    migrate,
)
from obsstore.cli.dashboard import print_report
from obsstore.routes import ROUTE_METRIC, duration_point, record_operation

SERVICES = {
    "api": [
        "/v1/items",
        "/v1/items/{id}",
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/search",
        "/v1/users/{id}",
        "/v1/cart",
        "/v1/checkout",
        "/healthz",
        "/metrics",
    ],
    "billing": ["/invoices", "/invoices/{id}", "/payments", "/refunds", "/webhooks/stripe"],
    "worker": [],
}
METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]
JOBS = ["thumbnail", "reindex", "send_email", "sync_inventory"]
MODELS = ["small-llm", "large-llm"]
BOUNDS = [5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0]


def workload(now: datetime, rng: random.Random) -> list[MetricRecord]:
    start = now - timedelta(hours=24)
    points: list[MetricRecord] = []

    def at() -> datetime:
        return start + timedelta(microseconds=rng.randrange(24 * 3600 * 10**6))

    for service, routes in SERVICES.items():
        for _ in range(40_000 if service == "api" else 20_000 if routes else 0):
            route = rng.choice(routes)
            slow = 4.0 if route in ("/v1/search", "/payments") else 1.0
            latency = rng.lognormvariate(3.0, 0.6) * slow
            status = 500 if rng.random() < 0.01 else 404 if rng.random() < 0.03 else 200
            points.append(
                MetricRecord(
                    timestamp=at(),
                    name="http.server.duration",
                    type="gauge",
                    value=latency,
                    labels={"route": route, "method": rng.choice(METHODS), "status": status},
                    service_name=service,
                    environment="prod",
                )
            )
    for _ in range(25_000):
        job = rng.choice(JOBS)
        points.append(
            MetricRecord(
                timestamp=at(),
                name="job.duration",
                value=rng.expovariate(1 / 800),
                labels={"job": job, "success": rng.random() > 0.02},
                service_name="worker",
                environment="prod",
            )
        )
    for _ in range(15_000):
        points.append(
            MetricRecord(
                timestamp=at(),
                name="llm.tokens",
                type="counter",
                value=rng.randint(50, 4000),
                labels={"model": rng.choice(MODELS), "kind": rng.choice(["prompt", "completion"])},
                service_name="api",
                environment="prod",
            )
        )
    for minute in range(24 * 60):  # one pre-aggregated histogram per route per minute
        for route in SERVICES["api"][:5]:
            counts = [rng.randint(0, 40) for _ in range(len(BOUNDS) + 1)]
            points.append(
                MetricRecord(
                    timestamp=start + timedelta(minutes=minute),
                    name="http.server.duration.hist",
                    type="histogram",
                    value=sum(c * b for c, b in zip(counts, [*BOUNDS, 2000.0], strict=True)),
                    labels={"route": route},
                    service_name="api",
                    environment="prod",
                    bucket_boundaries=BOUNDS,
                    bucket_counts=counts,
                )
            )
    return points


def route_requests(now: datetime, rng: random.Random) -> list[MetricRecord]:
    """The last hour of HTTP requests to the api, shaped as OpenTelemetry's HTTP conventions
    (what record_route() writes, and what an instrumented web framework sends)."""
    points = []
    for _ in range(3_000):
        route = rng.choice(SERVICES["api"])
        slow = 6.0 if route == "/v1/search" else 1.0
        seconds = rng.lognormvariate(-3.5, 0.8) * slow
        failed = rng.random() < (0.12 if route == "/v1/checkout" else 0.01)
        status = 503 if failed else 200
        labels = {
            "http.route": route,
            "http.request.method": "POST" if route == "/v1/checkout" else "GET",
            "http.response.status_code": str(status),
            **({"error.type": str(status)} if failed else {}),
        }
        points.append(
            duration_point(
                ROUTE_METRIC,
                labels,
                seconds,
                service_name="api",
                timestamp=now - timedelta(microseconds=rng.randrange(3600 * 10**6)),
            )
        )
    return points


def agent_traces(now: datetime, rng: random.Random) -> tuple[list[SpanRecord], list[SpanUpdate]]:
    """200 agent runs of 6 spans each, sent when they start; the updates close them."""
    spans, updates = [], []
    for run in range(200):
        started = now - timedelta(minutes=rng.randint(1, 24 * 60))
        trace = f"run-{run:04d}"
        spans.append(
            SpanRecord(
                trace_id=trace,
                span_id="root",
                name="answer question",
                span_type="agent_run",
                started_at=started,
                input={"question": f"question {run}"},
                tags=["prod"],
                metadata={"model": rng.choice(MODELS)},
                service_name="api",
            )
        )
        at = started
        for step in range(1, 6):
            kind = "model_generation" if step % 2 else "tool_call"
            took = timedelta(milliseconds=rng.randint(20, 2000))
            spans.append(
                SpanRecord(
                    trace_id=trace,
                    span_id=f"s{step}",
                    parent_span_id="root",
                    span_type=kind,
                    name=kind if step % 2 else rng.choice(["search", "calculator"]),
                    started_at=at,
                )
            )
            failed = kind == "tool_call" and rng.random() < 0.05
            updates.append(
                SpanUpdate(
                    trace_id=trace,
                    span_id=f"s{step}",
                    ended_at=at + took,
                    **({"error": {"message": "tool timed out"}} if failed else {"output": "ok"}),
                )
            )
            at += took
        updates.append(SpanUpdate(trace_id=trace, span_id="root", ended_at=at, output="done"))
    return spans, updates


DEMO_FILE = Path("demo-data") / "obsstore-demo.db"


def _target(argv: list[str] | None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--url",
        help=f"a SQLAlchemy URL, or memory (default: a fresh SQLite file at {DEMO_FILE})",
    )
    url = parser.parse_args(argv).url
    if url is not None:
        if url != "memory" and "://" not in url:
            parser.error("--url takes a SQLAlchemy URL (e.g. duckdb:///demo.duckdb) or memory")
        print(f"database: {url} (given with --url)")
        return str(url)
    DEMO_FILE.parent.mkdir(exist_ok=True)
    for leftover in DEMO_FILE.parent.glob(DEMO_FILE.name + "*"):  # the file, -wal and -shm
        leftover.unlink()
    print(f"database: {DEMO_FILE.resolve()} (the demo's own, re-created on every run)")
    return f"sqlite:///{DEMO_FILE}"


def main(argv: list[str] | None = None) -> None:
    target = _target(argv)
    rng = random.Random(2026)
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    # Fixed ids: a second run on the same database stores nothing twice.
    points = [
        p.model_copy(update={"id": f"demo-{i:06d}"}) for i, p in enumerate(workload(now, rng))
    ]
    # The last hour's requests, up to this minute (the dashboard's window ends now).
    this_minute = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    points += [
        p.model_copy(update={"id": f"demo-route-{i:05d}"})
        for i, p in enumerate(route_requests(this_minute, rng))
    ]

    with create_storage(target) as storage:
        print(f"backend: {storage.kind}")
        storage.init()
        if storage.kind != "memory":
            print(f"schema migrated to revision {migrate.head_revision()}")
        began = time.perf_counter()
        added = 0
        for i in range(0, len(points), 10_000):
            added += storage.batch_record_metrics(points[i : i + 10_000])
        elapsed = time.perf_counter() - began
        print(
            f"recorded {len(points):,} points ({added:,} new) in {elapsed:.2f}s "
            f"({len(points) / elapsed:,.0f}/s)"
        )
        again = storage.batch_record_metrics(points[:10_000])
        print(f"re-sent a batch of 10,000: {again} new (ids are idempotent)")
        print(f"stored points: {storage.count_metrics():,}")
        print(f"metric names: {', '.join(storage.list_metric_names())}")
        print(
            f"label keys of http.server.duration: "
            f"{storage.list_label_keys(name='http.server.duration')}"
        )

        http = MetricFilters(name="http.server.duration")
        print("\np95 latency per service, last 24h (ms):")
        for p in storage.aggregate_metrics(
            Aggregation(type="percentile", percentile=0.95, group_by=["service_name"]), http
        ):
            print(f"  {p.group['service_name']:<8} {p.value:8.1f}  ({p.count:,} requests)")

        print("\nserver errors (status 500) per service:")
        errors = MetricFilters(name="http.server.duration", labels={"status": "500"})
        for p in storage.aggregate_metrics(
            Aggregation(type="count", group_by=["service_name"]), errors
        ):
            print(f"  {p.group['service_name']:<8} 500: {p.count:,}")

        print("\naverage latency of /v1/search by hour (first 6 hours):")
        search = MetricFilters(name="http.server.duration", labels={"route": "/v1/search"})
        for p in storage.aggregate_metrics(Aggregation(type="avg", interval="1h"), search)[:6]:
            assert p.timestamp is not None
            print(f"  {p.timestamp:%Y-%m-%d %H:%M}  {p.value:7.1f} ms  ({p.count} requests)")

        print("\ntokens by model:")
        for p in storage.aggregate_metrics(
            Aggregation(type="sum", group_by=["model"]), MetricFilters(name="llm.tokens")
        ):
            print(f"  {p.group['model']:<10} {p.value:12,.0f}")

        print("\nslowest 3 requests:")
        slowest = storage.list_metrics(
            filters=http, pagination=Pagination(limit=3), order_by=OrderBy(field="value")
        )
        for r in slowest.data:
            print(
                f"  {r.value:8.1f} ms  {r.service_name} {r.labels['method']} {r.labels['route']}"
                f"  at {r.timestamp:%H:%M:%S.%f}"
            )
        print(f"  (of {slowest.total:,} requests)")

        spans, updates = agent_traces(now, rng)
        storage.batch_create_spans(spans)  # sent as the spans start ...
        storage.batch_update_spans(updates)  # ... and updated as they end
        failing = storage.list_traces(
            filters=TraceFilters(has_child_error=True), pagination=Pagination(limit=3)
        )
        print(
            f"\ntraces: {len(spans):,} spans in 200 agent runs; "
            f"{failing.total} runs had a failing step, the latest:"
        )
        for root in failing.data:
            trace = storage.get_trace(root.trace_id)
            assert trace is not None
            failed = [s.name for s in trace.spans if s.error is not None]
            print(
                f"  {root.trace_id} at {root.started_at:%H:%M}  status={root.status.value}"
                f"  failed steps: {', '.join(failed)}"
            )

        for _ in range(40):  # background jobs, as record_operation() stores them
            record_operation(
                storage, rng.choice(JOBS), rng.random() > 0.1, rng.expovariate(1 / 300)
            )
        print("\nthe last hour, as `obsstore dashboard --once` shows it:\n")
        print_report(storage, since="1h")


if __name__ == "__main__":
    sys.exit(main())
