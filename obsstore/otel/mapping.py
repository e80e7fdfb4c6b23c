"""OpenTelemetry points and spans as obsstore records: the mapping, field by field.

Metrics (see README "OpenTelemetry"):
- a monotonic Sum is a ``counter`` point holding the delta of its interval; a Gauge or a
  non-monotonic Sum is a ``gauge`` point holding the current value; an explicit-bounds
  Histogram is a ``histogram`` point (``value`` = sum, bounds and counts as they are, count,
  min and max in ``histogram_count``/``histogram_min``/``histogram_max``); an exponential
  histogram is converted to explicit bounds exactly (each exponential bucket becomes one
  explicit bucket, with its upper edge as boundary);
- point attributes become labels (non-string values as text); the resource's
  ``service.name`` becomes ``service_name`` and ``deployment.environment.name`` (or the older
  ``deployment.environment``) ``environment``;
- ``timestamp`` is the end of the point's interval, ``start_timestamp`` its start, ``unit``
  the instrument's unit;
- the id is a hash of the stream (resource, scope, name, attributes) and the interval, so
  the same interval exported twice is stored once."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from obsstore.models import MetricRecord, MetricType
from obsstore.models._fields import (
    EPOCH,
    MAX_KEY_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_LABELS,
    from_epoch_us,
)
from obsstore.otel.model import Buckets, Point, Stream

SERVICE_NAME = "service.name"
ENVIRONMENT_KEYS = ("deployment.environment.name", "deployment.environment")


def ns_to_datetime(ns: int) -> datetime:
    """A UTC datetime of nanoseconds since the epoch, truncated to microseconds."""
    return from_epoch_us(ns // 1000) if ns > 0 else EPOCH


def attribute_text(value: Any) -> str:
    """An attribute value as label text: strings as they are, booleans as true/false, numbers
    as Python writes them, sequences as JSON arrays."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return json.dumps([_json_scalar(v) for v in value], separators=(",", ":"))
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def labels_of(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Point attributes as labels; keys past the label limits are cut to fit (sorted, first
    64), values to 4096 characters, so a point is never refused for its attributes."""
    labels: dict[str, str] = {}
    for key in sorted(attributes):
        if not key or len(key) > MAX_KEY_LENGTH or len(labels) >= MAX_LABELS:
            continue
        labels[key] = _printable(attribute_text(attributes[key]))[:MAX_LABEL_VALUE_LENGTH]
    return labels


_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _printable(text: str) -> str:
    # Control characters are not storable: replaced with U+FFFD, as the text is a label.
    return _UNSTORABLE.sub("\ufffd", text)


def resource_fields(resource: Mapping[str, Any]) -> dict[str, str | None]:
    """``service_name`` and ``environment`` from resource attributes."""
    service = resource.get(SERVICE_NAME)
    environment = next((resource[k] for k in ENVIRONMENT_KEYS if k in resource), None)
    return {
        "service_name": None if service is None else attribute_text(service)[:255],
        "environment": None if environment is None else attribute_text(environment)[:255],
    }


def point_id(stream: Stream, point: Point) -> str:
    """The same stream and interval always give the same id (a UUID-shaped SHA-256 prefix)."""
    identity = [
        sorted((k, attribute_text(v)) for k, v in point.attributes.items()),
        point.start_ns,
        point.time_ns,
    ]
    digest_of = stream.identity_hash.copy()
    digest_of.update(json.dumps(identity, separators=(",", ":")).encode())
    digest = digest_of.hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def metric_type(stream: Stream) -> MetricType:
    if stream.kind in ("histogram", "exponential_histogram"):
        return MetricType.HISTOGRAM
    if stream.kind == "sum" and stream.monotonic:
        return MetricType.COUNTER
    return MetricType.GAUGE


def to_record(stream: Stream, point: Point) -> MetricRecord:
    """One obsstore point of an OpenTelemetry point (deltas already, for counters)."""
    kind = metric_type(stream)
    fields: dict[str, Any] = {
        "id": point_id(stream, point),
        "timestamp": ns_to_datetime(point.time_ns),
        "name": stream.name,
        "type": kind,
        "value": _finite(point.value),
        "labels": labels_of(point.attributes),
        "unit": stream.unit[:255] or None,
        **stream.resource_fields,
    }
    if point.start_ns > 0 and point.start_ns <= point.time_ns and stream.kind != "gauge":
        fields["start_timestamp"] = ns_to_datetime(point.start_ns)
    if kind is MetricType.HISTOGRAM:
        if stream.kind == "exponential_histogram":
            bounds, counts = exponential_to_explicit(point)
        else:
            bounds, counts = list(point.bounds), list(point.bucket_counts)
        if counts and len(counts) == len(bounds) + 1:
            fields["bucket_boundaries"], fields["bucket_counts"] = bounds, counts
        fields["histogram_count"] = point.count
        if point.count > 0:
            fields["histogram_min"] = _finite_or_none(point.min)
            fields["histogram_max"] = _finite_or_none(point.max)
    return MetricRecord.model_validate(fields)


def _finite(value: float) -> float:
    # NaN and infinities cannot be stored; OpenTelemetry sends them rarely (a NaN gauge).
    return float(value) if math.isfinite(value) else 0.0


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def exponential_to_explicit(point: Point) -> tuple[list[float], list[int]]:
    """Explicit bounds and counts holding an exponential histogram's buckets exactly: bucket
    ``i`` of scale ``s`` is (base**i, base**(i+1)] with base = 2**(2**-s); each becomes the
    explicit bucket ending at its upper edge (negative buckets mirrored, the zero bucket
    ending at the zero threshold). Empty edges at both ends are not emitted."""
    base_exp = 2.0**-point.scale

    def edge(index: int) -> float:
        return float(2.0 ** (index * base_exp))

    uppers: list[tuple[float, int]] = []
    negative = point.negative
    for i in reversed(range(len(negative.counts))):
        index = negative.offset + i
        uppers.append((-edge(index), negative.counts[i]))
    if point.zero_count or point.zero_threshold > 0:
        uppers.append((point.zero_threshold, point.zero_count))
    positive = point.positive
    for i, count in enumerate(positive.counts):
        uppers.append((edge(positive.offset + i + 1), count))
    if not uppers:
        return [], [point.count]
    lowest = _lower_edge(point, negative, positive)
    bounds = [lowest]
    counts = [0]
    for upper, count in uppers:
        if upper <= bounds[-1]:  # degenerate edges (rounding): fold into the bucket before
            counts[-1] += count
            continue
        bounds.append(upper)
        counts.append(count)
    counts.append(0)  # nothing above the last upper edge
    return bounds, counts


def _lower_edge(point: Point, negative: Buckets, positive: Buckets) -> float:
    base_exp = 2.0**-point.scale
    if negative.counts:
        return -float(2.0 ** ((negative.offset + len(negative.counts)) * base_exp))
    if point.zero_count or point.zero_threshold > 0:
        return -point.zero_threshold if point.zero_threshold > 0 else -math.ulp(0.0)
    return float(2.0 ** (positive.offset * base_exp))
