"""The OpenTelemetry Python SDK's exporter interfaces, writing into obsstore."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.metrics.export import ExponentialHistogram as SdkExponentialHistogram
from opentelemetry.sdk.metrics.export import Gauge as SdkGauge
from opentelemetry.sdk.metrics.export import Histogram as SdkHistogram
from opentelemetry.sdk.metrics.export import Sum as SdkSum
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from obsstore.models import MetricRecord
from obsstore.otel.mapping import to_record
from obsstore.otel.model import Buckets, Kind, Point, Stream, Temporality
from obsstore.otel.spans import SpanParts, to_span
from obsstore.otel.temporality import DeltaConverter
from obsstore.storage.base import ObservabilityStorage
from obsstore.writer import MetricsWriter

log = logging.getLogger("obsstore.otel")

# Deltas for every instrument that sums or counts: a counter point holds its interval's
# delta. Up-down counters arrive as deltas too and are added up into their level (a gauge).
DELTA_TEMPORALITY: dict[type, AggregationTemporality] = {
    Counter: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    ObservableUpDownCounter: AggregationTemporality.DELTA,
    ObservableGauge: AggregationTemporality.CUMULATIVE,
}

_TEMPORALITY: dict[Any, Temporality] = {
    AggregationTemporality.DELTA: "delta",
    AggregationTemporality.CUMULATIVE: "cumulative",
}


class ObsstoreMetricExporter(MetricExporter):
    """An OpenTelemetry ``MetricExporter`` writing points into an obsstore storage (one
    ``batch_record_metrics`` per export) or a ``MetricsWriter`` (buffered, never blocking the
    reader on a slow database). Re-exporting the same interval never duplicates a point."""

    def __init__(self, target: ObservabilityStorage | MetricsWriter | Any) -> None:
        super().__init__(preferred_temporality=dict(DELTA_TEMPORALITY))
        if not hasattr(target, "batch_record_metrics") and not hasattr(target, "record_many"):
            raise TypeError("target must be an obsstore storage or a MetricsWriter")
        self.target = target
        self._converter = DeltaConverter()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            records = list(self._records(metrics_data))
            if not records:
                return MetricExportResult.SUCCESS
            if isinstance(self.target, MetricsWriter):
                self.target.record_many(records)
            else:
                self.target.batch_record_metrics(records)
        except Exception:
            log.exception("obsstore: exporting metric points failed")
            return MetricExportResult.FAILURE
        return MetricExportResult.SUCCESS

    def _records(self, data: MetricsData) -> Iterator[MetricRecord]:
        skipped = 0
        for stream, point in sdk_points(data):
            converted = self._converter.convert(stream, point)
            if converted is None:
                continue
            try:
                yield to_record(stream, converted)
            except ValueError as exc:  # pydantic's ValidationError included
                skipped += 1
                reason = str(exc).splitlines()[0]
        if skipped:
            # One point obsstore cannot store (a name too long, say) must not cost the rest.
            log.warning(
                "obsstore: skipped %d metric points that cannot be stored: %s", skipped, reason
            )

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        if isinstance(self.target, MetricsWriter):
            return self.target.flush(timeout=timeout_millis / 1000)
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        # The target belongs to the caller, who closes it; only buffered points are written.
        self.force_flush(timeout_millis)


def sdk_points(data: MetricsData) -> Iterator[tuple[Stream, Point]]:
    """Every data point of an SDK export, with its stream, in the neutral shape."""
    for resource_metrics in data.resource_metrics:
        resource = dict(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                stream_data = metric.data
                kind: Kind
                monotonic = False
                temporality: Temporality = "unspecified"
                if isinstance(stream_data, SdkSum):
                    kind, monotonic = "sum", stream_data.is_monotonic
                    temporality = _TEMPORALITY[stream_data.aggregation_temporality]
                elif isinstance(stream_data, SdkGauge):
                    kind = "gauge"
                elif isinstance(stream_data, SdkHistogram):
                    kind = "histogram"
                    temporality = _TEMPORALITY[stream_data.aggregation_temporality]
                elif isinstance(stream_data, SdkExponentialHistogram):
                    kind = "exponential_histogram"
                    temporality = _TEMPORALITY[stream_data.aggregation_temporality]
                else:
                    continue
                stream = Stream(
                    name=metric.name,
                    unit=metric.unit or "",
                    kind=kind,
                    temporality=temporality,
                    monotonic=monotonic,
                    resource=resource,
                    scope_name=scope.name or "",
                    scope_version=scope.version or "",
                )
                for point in stream_data.data_points:
                    yield stream, _sdk_point(kind, point)


def _sdk_point(kind: Kind, point: Any) -> Point:
    common: dict[str, Any] = {
        "attributes": dict(point.attributes or {}),
        "start_ns": point.start_time_unix_nano or 0,
        "time_ns": point.time_unix_nano,
    }
    if kind in ("sum", "gauge"):
        return Point(value=float(point.value), **common)
    if kind == "histogram":
        return Point(
            value=float(point.sum),
            count=int(point.count),
            bounds=tuple(float(b) for b in point.explicit_bounds),
            bucket_counts=tuple(int(c) for c in point.bucket_counts),
            min=point.min,
            max=point.max,
            **common,
        )
    return Point(
        value=float(point.sum),
        count=int(point.count),
        min=point.min,
        max=point.max,
        scale=int(point.scale),
        zero_count=int(point.zero_count),
        positive=Buckets(point.positive.offset, tuple(point.positive.bucket_counts)),
        negative=Buckets(point.negative.offset, tuple(point.negative.bucket_counts)),
        **common,
    )


class ObsstoreSpanExporter(SpanExporter):
    """An OpenTelemetry ``SpanExporter`` writing finished spans into an obsstore storage
    (mapping: ``obsstore.otel.spans``). A span exported twice is stored once."""

    def __init__(self, storage: ObservabilityStorage) -> None:
        self.storage = storage

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        records = []
        for span in spans:
            try:
                records.append(to_span(sdk_span_parts(span)))
            except ValueError as exc:  # one span that cannot be stored must not cost the rest
                log.warning("obsstore: skipped span %r: %s", span.name, str(exc).splitlines()[0])
        try:
            self.storage.batch_create_spans(records)
        except Exception:
            log.exception("obsstore: exporting %d spans failed", len(spans))
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def sdk_span_parts(span: ReadableSpan) -> SpanParts:
    context = span.context
    assert context is not None
    scope = span.instrumentation_scope
    return SpanParts(
        trace_id=context.trace_id,
        span_id=context.span_id,
        parent_span_id=span.parent.span_id if span.parent is not None else None,
        name=span.name,
        kind=span.kind.name.lower(),
        start_ns=span.start_time or 0,
        end_ns=span.end_time,
        status_code=span.status.status_code.name,
        status_description=span.status.description,
        attributes=dict(span.attributes or {}),
        events=[
            (event.name, event.timestamp, dict(event.attributes or {})) for event in span.events
        ],
        links=[
            (link.context.trace_id, link.context.span_id, dict(link.attributes or {}))
            for link in span.links
        ],
        resource=dict(span.resource.attributes),
        scope_name=scope.name if scope is not None else "",
        scope_version=(scope.version or "") if scope is not None else "",
        trace_state=str(context.trace_state.to_header()) if context.trace_state else "",
    )
