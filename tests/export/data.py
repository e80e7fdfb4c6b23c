"""A varied data set for export tests: every type, OpenTelemetry fields, awkward labels."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from obsstore.models import MetricRecord, SpanRecord
from tests.contract.helpers import T0


def sample_points(n: int = 60) -> list[MetricRecord]:
    points = []
    for i in range(n):
        at = T0 + timedelta(seconds=10 * (i // 3), microseconds=i)
        route = ["/a", "/b", 'q"uote\\', "ü/ß"][i % 4]
        common: dict[str, Any] = {
            "id": f"p{i:04d}",
            "timestamp": at,
            "labels": {"route": route, "http.method": "GET"},
            "service_name": "api" if i % 2 else "worker",
            "environment": "prod",
        }
        if i % 3 == 0:
            points.append(
                MetricRecord(
                    name="http.requests",
                    type="counter",
                    value=float(i % 5),
                    unit="1",
                    start_timestamp=at - timedelta(seconds=10),
                    **common,
                )
            )
        elif i % 3 == 1:
            points.append(
                MetricRecord(name="queue.depth", type="gauge", value=i * 0.5 - 7, **common)
            )
        else:
            points.append(
                MetricRecord(
                    name="http.duration",
                    type="histogram",
                    value=12.5 + i,
                    unit="ms",
                    bucket_boundaries=[5.0, 10.0, 50.0],
                    bucket_counts=[1, i % 3, 2, 0],
                    histogram_count=3 + i % 3,
                    histogram_min=0.5,
                    histogram_max=40.0,
                    start_timestamp=at - timedelta(seconds=10),
                    **common,
                )
            )
    return points


def sample_spans() -> list[SpanRecord]:
    root = SpanRecord(
        trace_id="t" * 32,
        span_id="a" * 16,
        name="GET /",
        span_type="server",
        started_at=T0,
        ended_at=T0 + timedelta(seconds=1),
        service_name="api",
        attributes={"http.status": 200, "ok": True, "list": [1, 2]},
        metadata={"events": [{"name": "e", "timestamp": T0.isoformat(), "attributes": {}}]},
        scope={"name": "lib", "version": "1"},
    )
    child = SpanRecord(
        trace_id="t" * 32,
        span_id="b" * 16,
        parent_span_id="a" * 16,
        name="db",
        started_at=T0 + timedelta(milliseconds=5),
        ended_at=T0 + timedelta(milliseconds=50),
        error={"message": "boom", "exceptions": []},
    )
    orphan = SpanRecord(
        trace_id="native-trace",
        span_id="x",
        parent_span_id="remote-parent",
        name="orphan",
        started_at=T0,
    )
    return [root, child, orphan]
