"""`obsstore serve otlp` on 127.0.0.1 with the real OTLP/HTTP exporters of the OpenTelemetry
SDK (cumulative and delta, gzip), on every backend; JSON bodies, resets, partial success and
body limits through plain HTTP."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from obsstore import ObservabilityStorage
from obsstore.serve.otlp import OtlpReceiver, RunningServer, create_app
from obsstore.writer import MetricsWriter


class _Receiver:
    def __init__(self, storage: ObservabilityStorage, **kwargs: Any) -> None:
        self.writer = MetricsWriter(storage, batch_size=500, flush_interval=20)
        self.receiver = OtlpReceiver(storage, writer=self.writer, **kwargs)
        self.server = RunningServer(create_app(self.receiver), "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.port}"

    def close(self) -> None:
        self.server.stop()
        self.writer.close()


@pytest.fixture
def receiver(storage: ObservabilityStorage) -> Iterator[_Receiver]:
    running = _Receiver(storage)
    yield running
    running.close()


@pytest.mark.parametrize("temporality", ["cumulative", "delta"])
def test_sdk_otlp_exporter_metrics_add_up_to_the_sdk_reference(
    storage: ObservabilityStorage, receiver: _Receiver, temporality: str
) -> None:
    chosen = (
        AggregationTemporality.CUMULATIVE
        if temporality == "cumulative"
        else AggregationTemporality.DELTA
    )
    exporter = OTLPMetricExporter(
        endpoint=f"{receiver.url}/v1/metrics",
        compression=Compression.Gzip,
        preferred_temporality={Counter: chosen, UpDownCounter: chosen, Histogram: chosen},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=10**9)
    reference = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader, reference],
        resource=Resource.create({"service.name": "billing", "deployment.environment.name": "qa"}),
    )
    meter = provider.get_meter("billing")
    counter = meter.create_counter("invoices", unit="1")
    updown = meter.create_up_down_counter("open.sessions")
    histogram = meter.create_histogram("amount", unit="USD")
    try:
        for r in range(4):
            for i in range(6):
                counter.add(i + 1, {"plan": f"p{i % 2}"})
                updown.add(2 if i % 3 else -1, {"plan": "all"})
                histogram.record(10.0 * i + r, {"plan": f"p{i % 2}"})
            assert reader.force_flush()
        assert receiver.writer.flush(timeout=30)
        data = reference.get_metrics_data()
    finally:
        provider.shutdown()
    assert receiver.receiver.stats.points_rejected == 0
    want = {
        (m.name, tuple(sorted(p.attributes.items()))): p
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        for p in m.data.data_points
    }
    stored: dict[Any, list[Any]] = {}
    for record in storage.iter_metrics():
        stored.setdefault((record.name, tuple(sorted(record.labels.items()))), []).append(record)
    assert set(stored) == set(want)
    for key, points in stored.items():
        ref = want[key]
        assert points[0].service_name == "billing" and points[0].environment == "qa"
        if key[0] == "invoices":
            assert {p.type.value for p in points} == {"counter"}
            assert math.fsum(p.value for p in points) == ref.value
        elif key[0] == "open.sessions":
            assert points[-1].type.value == "gauge" and points[-1].value == ref.value
        else:
            assert math.fsum(p.value for p in points) == pytest.approx(ref.sum)
            assert sum(p.histogram_count for p in points) == ref.count
            assert [sum(c) for c in zip(*(p.bucket_counts for p in points), strict=True)] == list(
                ref.bucket_counts
            )


def test_sdk_otlp_span_exporter_spans_are_stored(
    storage: ObservabilityStorage, receiver: _Receiver
) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "billing"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces"))
    )
    tracer = provider.get_tracer("billing")
    with tracer.start_as_current_span("pay") as root:
        with tracer.start_as_current_span("charge card") as child:
            child.add_event("sent", {"bytes": 12})
        try:
            with tracer.start_as_current_span("notify"):
                raise RuntimeError("smtp down")
        except RuntimeError:
            pass
    provider.shutdown()
    trace = storage.get_trace(format(root.get_span_context().trace_id, "032x"))
    assert trace is not None
    by_name = {s.name: s for s in trace.spans}
    assert set(by_name) == {"pay", "charge card", "notify"}
    assert by_name["charge card"].parent_span_id == by_name["pay"].span_id
    assert by_name["charge card"].metadata["events"][0]["attributes"] == {"bytes": 12}
    assert by_name["notify"].error["exceptions"][0]["type"] == "RuntimeError"
    assert by_name["pay"].service_name == "billing"


def _sum_request(points: list[tuple[int, int, float]]) -> dict[str, Any]:
    return {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "cron"}}]
                },
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "jobs",
                                "sum": {
                                    "aggregationTemporality": 2,
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "startTimeUnixNano": str(s),
                                            "timeUnixNano": str(t),
                                            "asDouble": v,
                                        }
                                        for s, t, v in points
                                    ],
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    }


def test_json_cumulative_sums_become_deltas_with_resets(
    storage: ObservabilityStorage, receiver: _Receiver
) -> None:
    s1, s2, second = 1_700_000_000 * 10**9, 1_700_000_100 * 10**9, 10**9
    batches = [
        [(s1, s1 + second, 10.0)],
        [(s1, s1 + 2 * second, 15.0)],
        [(s1, s1 + 2 * second, 15.0)],  # a resend: nothing new
        [(s2, s2 + second, 3.0)],  # the process restarted: a new start time
        [(s2, s2 + 2 * second, 1.0)],  # the total fell: a reset too
    ]
    for batch in batches:
        response = httpx.post(f"{receiver.url}/v1/metrics", json=_sum_request(batch))
        assert (
            response.status_code == 200 and response.headers["content-type"] == "application/json"
        )
    assert receiver.writer.flush(timeout=30)
    assert [p.value for p in storage.iter_metrics()] == [10.0, 5.0, 3.0, 1.0]


def test_unsupported_points_are_answered_in_partial_success(
    storage: ObservabilityStorage, receiver: _Receiver
) -> None:
    request = _sum_request([(1, 2 * 10**9, 4.0)])
    metrics = request["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    metrics.append(
        {
            "name": "latency",
            "summary": {"dataPoints": [{"timeUnixNano": "5"}, {"timeUnixNano": "6"}]},
        }
    )
    metrics.append({"name": "", "gauge": {"dataPoints": [{"timeUnixNano": "5", "asInt": "1"}]}})
    body = gzip.compress(json.dumps(request).encode())
    response = httpx.post(
        f"{receiver.url}/v1/metrics",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedDataPoints"]) == 3
    assert "summary" in partial["errorMessage"]
    assert receiver.writer.flush(timeout=30)
    assert [p.name for p in storage.iter_metrics()] == ["jobs"]


def test_bodies_are_limited_and_bad_requests_refused(storage: ObservabilityStorage) -> None:
    small = _Receiver(storage, max_body_bytes=2000)
    try:
        big = json.dumps(_sum_request([(1, 2, 1.0)] * 200)).encode()
        assert len(big) > 2000
        plain = httpx.post(
            f"{small.url}/v1/metrics", content=big, headers={"content-type": "application/json"}
        )
        assert plain.status_code == 413
        bomb = gzip.compress(big)
        assert len(bomb) < 2000
        inflated = httpx.post(
            f"{small.url}/v1/metrics",
            content=bomb,
            headers={"content-type": "application/json", "content-encoding": "gzip"},
        )
        assert inflated.status_code == 413
        garbage = httpx.post(
            f"{small.url}/v1/metrics",
            content=b"\xff\x00garbage",
            headers={"content-type": "application/x-protobuf"},
        )
        assert garbage.status_code == 400
        wrong = httpx.post(
            f"{small.url}/v1/traces", content=b"{}", headers={"content-type": "text/plain"}
        )
        assert wrong.status_code == 415
    finally:
        small.close()
    assert storage.count_metrics() == 0
