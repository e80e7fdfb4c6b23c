"""route_metrics answers the same for requests an OpenTelemetry-instrumented server records
(the real SDK's http.server.request.duration histogram, exported by ObsstoreMetricExporter)
as for the same requests recorded one by one with record_route, on every backend."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from obsstore import ObservabilityStorage, create_storage
from obsstore.otel import ObsstoreMetricExporter
from obsstore.routes import record_route, route_metrics
from obsstore.routes.recording import DURATION_BOUNDARIES

# (route, method, status, milliseconds): what a server handled.
REQUESTS = [
    ("/items/{id}", "GET", 200, 12.0),
    ("/items/{id}", "GET", 200, 48.0),
    ("/items/{id}", "GET", 404, 3.0),
    ("/items/{id}", "GET", 500, 900.0),
    ("/items/{id}", "GET", 200, 130.0),
    ("/items", "POST", 201, 75.0),
    ("/items", "POST", 503, 6000.0),
]


def record_with_the_sdk(storage: ObservabilityStorage) -> None:
    exporter = ObsstoreMetricExporter(storage)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=10**9)
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": "shop"})
    )
    # As OpenTelemetry's HTTP server instrumentations declare it.
    histogram = provider.get_meter("tests.server").create_histogram(
        "http.server.request.duration",
        unit="s",
        explicit_bucket_boundaries_advisory=DURATION_BOUNDARIES,
    )
    for route, method, status, ms in REQUESTS:
        attributes: dict[str, str | int] = {
            "http.route": route,
            "http.request.method": method,
            "http.response.status_code": status,
        }
        if status >= 500:
            attributes["error.type"] = str(status)
        histogram.record(ms / 1000, attributes)
    assert reader.force_flush()
    provider.shutdown()


def test_sdk_data_and_record_route_answer_alike(storage: ObservabilityStorage) -> None:
    record_with_the_sdk(storage)
    recorded = create_storage("memory")
    for route, method, status, ms in REQUESTS:
        record_route(recorded, route, method, status < 500, ms, status_code=status)

    def comparable(found: list) -> list[tuple]:  # type: ignore[type-arg]
        # The SDK stamps its export time, record_route each request's: those differ.
        return [
            (
                m.route,
                m.method,
                m.total_requests,
                m.successful,
                m.failed,
                round(m.total_duration_ms, 6),
                round(m.p95_duration_ms, 6),
                round(m.p99_duration_ms, 6),
            )
            for m in found
        ]

    from_sdk = route_metrics(storage, period="1d")
    assert comparable(from_sdk) == comparable(route_metrics(recorded, period="1d"))
    assert [(m.route, m.total_requests, m.failed) for m in from_sdk] == [
        ("/items", 2, 1),
        ("/items/{id}", 5, 1),
    ]
