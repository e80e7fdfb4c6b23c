"""ObsstoreMetricExporter under the real OpenTelemetry SDK, on every backend: what obsstore
stores adds up to what the SDK's own InMemoryMetricReader (cumulative) reports."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

import itertools

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from obsstore import ObservabilityStorage
from obsstore.models import MetricRecord
from obsstore.otel import ObsstoreMetricExporter
from obsstore.otel.sdk import DELTA_TEMPORALITY
from obsstore.writer import MetricsWriter

RESOURCE = Resource.create(
    {"service.name": "checkout", "deployment.environment.name": "prod", "host.name": "h1"}
)


class _Sdk:
    def __init__(self, target: Any, views: list[View] | None = None) -> None:
        self.exporter = ObsstoreMetricExporter(target)
        self.reader = PeriodicExportingMetricReader(self.exporter, export_interval_millis=10**9)
        self.reference = InMemoryMetricReader()  # cumulative, the SDK's default
        self.provider = MeterProvider(
            metric_readers=[self.reader, self.reference], resource=RESOURCE, views=views or ()
        )
        self.meter = self.provider.get_meter("tests.shop", "1.2")

    def export(self) -> None:
        assert self.reader.force_flush()

    def reference_points(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], Any]:
        data = self.reference.get_metrics_data()
        assert data is not None
        found = {}
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for p in metric.data.data_points:
                        key = (
                            metric.name,
                            tuple(
                                sorted(
                                    (k, str(v).lower() if isinstance(v, bool) else str(v))
                                    for k, v in p.attributes.items()
                                )
                            ),
                        )
                        found[key] = p
        return found


@pytest.fixture
def sdk(storage: ObservabilityStorage) -> Iterator[_Sdk]:
    harness = _Sdk(storage)
    yield harness
    harness.provider.shutdown()


def _by_stream(
    storage: ObservabilityStorage,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[MetricRecord]]:
    streams: dict[tuple[str, tuple[tuple[str, str], ...]], list[MetricRecord]] = {}
    for record in storage.iter_metrics():
        streams.setdefault((record.name, tuple(sorted(record.labels.items()))), []).append(record)
    return streams


def _workload(sdk: _Sdk, rounds: int) -> None:
    counter = sdk.meter.create_counter("http.requests", unit="1")
    updown = sdk.meter.create_up_down_counter("queue.depth", unit="{item}")
    histogram = sdk.meter.create_histogram("http.duration", unit="ms")
    gauge_values = {"value": 0.0}
    sdk.meter.create_observable_gauge(
        "cpu.temp",
        callbacks=[
            lambda options: [
                __import__("opentelemetry.metrics").metrics.Observation(
                    gauge_values["value"], {"core": 0}
                )
            ]
        ],
        unit="Cel",
    )
    for r in range(rounds):
        for i in range(5):
            counter.add(i + r, {"route": f"/r{i % 2}", "ok": i % 3 != 0, "code": 200 + i % 2})
            updown.add(3 if i % 2 else -1, {"queue": "q"})
            histogram.record(0.5 * i * (r + 1), {"route": f"/r{i % 2}"})
        gauge_values["value"] = 40.0 + r
        sdk.export()


def test_exporter_asks_for_delta_temporality() -> None:
    exporter = ObsstoreMetricExporter(__import__("obsstore").create_storage("memory"))
    for instrument, temporality in DELTA_TEMPORALITY.items():
        assert exporter._preferred_temporality[instrument] is temporality
    assert {t for t in DELTA_TEMPORALITY.values()} >= {AggregationTemporality.DELTA}


def test_stored_points_add_up_to_the_sdk_reference(
    storage: ObservabilityStorage, sdk: _Sdk
) -> None:
    _workload(sdk, rounds=3)
    reference = sdk.reference_points()
    stored = _by_stream(storage)
    assert set(stored) == set(reference)
    for key, points in stored.items():
        want = reference[key]
        points.sort(key=lambda r: r.timestamp)
        first = points[0]
        assert first.service_name == "checkout" and first.environment == "prod"
        if key[0] == "http.requests":
            assert {p.type.value for p in points} == {"counter"}
            assert math.fsum(p.value for p in points) == pytest.approx(want.value)
            assert first.unit == "1" and all(p.start_timestamp is not None for p in points)
            # Deltas: consecutive intervals meet end to start.
            for a, b in itertools.pairwise(points):
                assert b.start_timestamp == a.timestamp
        elif key[0] == "queue.depth":
            assert {p.type.value for p in points} == {"gauge"}
            assert points[-1].value == pytest.approx(want.value)
        elif key[0] == "cpu.temp":
            assert points[-1].type.value == "gauge" and points[-1].value == want.value
            assert points[-1].unit == "Cel"
        else:
            assert {p.type.value for p in points} == {"histogram"}
            assert math.fsum(p.value for p in points) == pytest.approx(want.sum)
            assert sum(p.histogram_count or 0 for p in points) == want.count
            assert [sum(c) for c in zip(*(p.bucket_counts for p in points), strict=False)] == list(
                want.bucket_counts
            )
            assert points[0].bucket_boundaries == list(want.explicit_bounds)
            assert min(p.histogram_min for p in points if p.histogram_min is not None) == want.min
            assert max(p.histogram_max for p in points if p.histogram_max is not None) == want.max
    labels = next(k[1] for k in stored if k[0] == "http.requests")
    assert dict(labels).keys() == {"route", "ok", "code"}
    assert dict(labels)["ok"] in ("true", "false") and dict(labels)["code"] in ("200", "201")


def test_exporting_the_same_interval_again_stores_nothing_new(
    storage: ObservabilityStorage, sdk: _Sdk
) -> None:
    captured: list[Any] = []
    original = sdk.exporter.export

    def capture(data: Any, *args: Any, **kwargs: Any) -> MetricExportResult:
        captured.append(data)
        return original(data, *args, **kwargs)

    sdk.exporter.export = capture  # type: ignore[method-assign]
    counter = sdk.meter.create_counter("jobs")
    histogram = sdk.meter.create_histogram("size")
    counter.add(5, {"k": "v"})
    histogram.record(3.0)
    sdk.export()
    before = storage.count_metrics()
    assert before == 2
    # A retry of the same export (same intervals) from a fresh exporter: same ids.
    again = ObsstoreMetricExporter(storage)
    assert again.export(captured[0]) is MetricExportResult.SUCCESS
    assert storage.count_metrics() == before


def test_exporter_writes_through_a_metrics_writer(storage: ObservabilityStorage) -> None:
    writer = MetricsWriter(storage, batch_size=10, flush_interval=50)
    harness = _Sdk(writer)
    try:
        harness.meter.create_counter("events").add(7, {"kind": "a"})
        harness.export()
        assert writer.flush(timeout=10)
        (record,) = list(storage.iter_metrics())
        assert (record.name, record.value, record.labels) == ("events", 7.0, {"kind": "a"})
    finally:
        harness.provider.shutdown()
        writer.close()


def test_exponential_histograms_become_exact_explicit_buckets(
    storage: ObservabilityStorage,
) -> None:
    harness = _Sdk(
        storage,
        views=[
            View(
                instrument_name="latency",
                aggregation=ExponentialBucketHistogramAggregation(max_size=20),
            )
        ],
    )
    values = [0.0, 0.001, 0.2, 1.0, 3.0, 3.0, 250.0]
    try:
        histogram = harness.meter.create_histogram("latency")
        for v in values:
            histogram.record(v)
        harness.export()
    finally:
        harness.provider.shutdown()
    (record,) = list(storage.iter_metrics())
    assert record.type.value == "histogram"
    assert record.value == pytest.approx(sum(values))
    assert record.histogram_count == len(values) == sum(record.bucket_counts or [])
    assert (record.histogram_min, record.histogram_max) == (0.0, 250.0)
    bounds, counts = record.bucket_boundaries or [], record.bucket_counts or []
    # Every value lies in a bucket (lower, upper] that counted it.
    for v in values:
        i = next((i for i, b in enumerate(bounds) if v <= b), len(bounds))
        assert counts[i] > 0, (v, bounds, counts)


def test_exponential_conversion_keeps_negative_zero_and_positive_buckets() -> None:
    from obsstore.otel.mapping import exponential_to_explicit
    from obsstore.otel.model import Buckets, Point

    # scale 0: base 2; negative buckets 1..2 cover [-8, -2), zero bucket, positive 0..1 (1, 4].
    point = Point(
        attributes={},
        start_ns=1,
        time_ns=2,
        count=10,
        scale=0,
        zero_count=1,
        zero_threshold=0.0,
        negative=Buckets(1, (2, 3)),
        positive=Buckets(0, (1, 3)),
    )
    bounds, counts = exponential_to_explicit(point)
    assert sum(counts) == 10 and len(counts) == len(bounds) + 1
    assert bounds[0] == -8.0 and bounds[-1] == 4.0
    assert dict(zip(bounds, counts, strict=False)) == {
        -8.0: 0,
        -4.0: 3,
        -2.0: 2,
        0.0: 1,
        2.0: 1,
        4.0: 3,
    }
    assert counts[-1] == 0
