"""A small, fixed workload the command tests read back: routes, operations, a gauge with
labels, and two traces (one with a failed child span)."""

from __future__ import annotations

from datetime import datetime, timedelta

from obsstore import ObservabilityStorage
from obsstore.models._fields import utc_now
from obsstore.routes import record_operation, record_route

ROUTES = [
    # route, method, success, duration ms, status
    ("/items", "GET", True, 12.0, 200),
    ("/items", "GET", True, 30.0, 200),
    ("/items", "GET", False, 900.0, 500),
    ("/items/{id}", "GET", True, 8.0, 200),
    ("/orders", "POST", True, 240.0, 201),
    ("/orders", "POST", False, 7200.0, 503),
    ("/orders", "POST", True, 180.0, 201),
    ("/search", "GET", True, 60.0, 200),
]


def seed(storage: ObservabilityStorage, now: datetime | None = None) -> datetime:
    """Write the workload (points a few minutes before ``now``); returns ``now``."""
    now = now or utc_now()
    for route, method, success, duration, status in ROUTES:
        record_route(storage, route, method, success, duration, status_code=status)
    for operation, success, duration in (("reindex", True, 500.0), ("reindex", False, 90.0)):
        record_operation(storage, operation, success, duration)
    storage.batch_record_metrics(
        [
            {
                "id": f"cpu-{host}-{i}",
                "name": "cpu.usage",
                "value": 10.0 * i + (5 if host == "b" else 0),
                "timestamp": now - timedelta(minutes=30 - i),
                "labels": {"host": host, "region": "eu"},
                "service_name": "api",
            }
            for host in ("a", "b")
            for i in range(6)
        ]
    )
    start = now - timedelta(minutes=10)
    storage.batch_create_spans(
        [
            {
                "trace_id": "t-ok",
                "span_id": "root",
                "name": "checkout",
                "started_at": start,
                "ended_at": start + timedelta(milliseconds=420),
                "service_name": "api",
            },
            {
                "trace_id": "t-ok",
                "span_id": "db",
                "parent_span_id": "root",
                "name": "db.query",
                "started_at": start + timedelta(milliseconds=10),
                "ended_at": start + timedelta(milliseconds=110),
            },
            {
                "trace_id": "t-bad",
                "span_id": "root",
                "name": "pay",
                "started_at": start + timedelta(minutes=1),
                "ended_at": start + timedelta(minutes=1, seconds=3),
                "service_name": "api",
            },
            {
                "trace_id": "t-bad",
                "span_id": "card",
                "parent_span_id": "root",
                "name": "card.charge",
                "started_at": start + timedelta(minutes=1),
                "ended_at": start + timedelta(minutes=1, seconds=2),
                "error": {"message": "card declined"},
            },
        ]
    )
    return now
