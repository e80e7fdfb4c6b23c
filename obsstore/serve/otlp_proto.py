"""OTLP protobuf messages in the neutral shapes of ``obsstore.otel`` (metric streams and
points, span parts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from obsstore.otel.model import Buckets, Kind, Point, Stream, Temporality
from obsstore.otel.spans import SPAN_KINDS, SpanParts

_TEMPORALITY: dict[int, Temporality] = {1: "delta", 2: "cumulative"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}
KINDS: dict[str, Kind] = {
    "gauge": "gauge",
    "sum": "sum",
    "histogram": "histogram",
    "exponential_histogram": "exponential_histogram",
}


def any_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return ""
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def attributes(key_values: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in key_values}


class Unsupported(Exception):
    """A metric whose kind obsstore does not store (OTLP summaries); counted as rejected."""


def metric_points(
    request: ExportMetricsServiceRequest,
) -> Iterator[tuple[Stream, Point] | tuple[str, int]]:
    """Every data point with its stream; for a metric obsstore cannot store, ``(reason,
    number of its points)`` instead."""
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                which = metric.WhichOneof("data")
                if which not in KINDS:
                    points = len(getattr(metric, which).data_points) if which else 0
                    yield (f"metric {metric.name!r}: {which or 'no data'} is not supported", points)
                    continue
                data = getattr(metric, which)
                stream = Stream(
                    name=metric.name,
                    unit=metric.unit,
                    kind=KINDS[which],
                    temporality=_TEMPORALITY.get(
                        getattr(data, "aggregation_temporality", 0), "unspecified"
                    ),
                    monotonic=bool(getattr(data, "is_monotonic", False)),
                    resource=resource,
                    scope_name=scope.name,
                    scope_version=scope.version,
                )
                for point in data.data_points:
                    yield stream, _point(stream.kind, point)


def _point(kind: Kind, point: Any) -> Point:
    common: dict[str, Any] = {
        "attributes": attributes(point.attributes),
        "start_ns": point.start_time_unix_nano,
        "time_ns": point.time_unix_nano,
    }
    if kind in ("sum", "gauge"):
        which = point.WhichOneof("value")
        value = float(getattr(point, which)) if which else 0.0
        return Point(value=value, **common)
    extremes: dict[str, Any] = {
        "min": point.min if point.HasField("min") else None,
        "max": point.max if point.HasField("max") else None,
    }
    total = float(point.sum) if point.HasField("sum") else 0.0
    if kind == "histogram":
        return Point(
            value=total,
            count=int(point.count),
            bounds=tuple(point.explicit_bounds),
            bucket_counts=tuple(int(c) for c in point.bucket_counts),
            **extremes,
            **common,
        )
    return Point(
        value=total,
        count=int(point.count),
        scale=int(point.scale),
        zero_count=int(point.zero_count),
        zero_threshold=float(point.zero_threshold),
        positive=Buckets(point.positive.offset, tuple(point.positive.bucket_counts)),
        negative=Buckets(point.negative.offset, tuple(point.negative.bucket_counts)),
        **extremes,
        **common,
    )


def span_parts(request: ExportTraceServiceRequest) -> Iterator[SpanParts]:
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for span in scope_spans.spans:
                kind = span.kind - 1
                yield SpanParts(
                    trace_id=bytes(span.trace_id),
                    span_id=bytes(span.span_id),
                    parent_span_id=bytes(span.parent_span_id) or None,
                    name=span.name,
                    kind=SPAN_KINDS[kind] if 0 <= kind < len(SPAN_KINDS) else "internal",
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano or None,
                    status_code=_STATUS.get(span.status.code, "UNSET"),
                    status_description=span.status.message or None,
                    attributes=attributes(span.attributes),
                    events=[
                        (e.name, e.time_unix_nano, attributes(e.attributes)) for e in span.events
                    ],
                    links=[
                        (bytes(link.trace_id), bytes(link.span_id), attributes(link.attributes))
                        for link in span.links
                    ],
                    resource=resource,
                    scope_name=scope.name,
                    scope_version=scope.version,
                    trace_state=span.trace_state,
                )
