"""Recording one HTTP request or one named operation as an OpenTelemetry-shaped histogram point.

Routes follow OpenTelemetry's HTTP semantic conventions, so points that an instrumented web
framework exports (through obsstore's OTLP receiver or SDK exporter) and points recorded here
are the same series: ``http.server.request.duration`` in seconds, a histogram with the
conventions' advised bucket boundaries, labelled ``http.route``, ``http.request.method``,
``http.response.status_code`` and, for a failed request, ``error.type``.

Operations have no OpenTelemetry convention; they are ``obsstore.operation.duration`` in
seconds, the same histogram shape, labelled ``operation.name`` and ``error.type`` on failure."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from obsstore.errors import InvalidArgumentError
from obsstore.models import MetricRecord
from obsstore.storage.base import MetricsStorage
from obsstore.writer import MetricsWriter

ROUTE_METRIC = "http.server.request.duration"
OPERATION_METRIC = "obsstore.operation.duration"
ROUTE_LABEL = "http.route"
METHOD_LABEL = "http.request.method"
STATUS_LABEL = "http.response.status_code"
ERROR_LABEL = "error.type"
OPERATION_LABEL = "operation.name"
# The bucket boundaries OpenTelemetry's HTTP conventions advise for request durations (seconds).
DURATION_BOUNDARIES = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
]  # fmt: skip
# Methods the conventions name; any other is recorded as "_OTHER", as they ask.
KNOWN_METHODS = frozenset(
    ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"]
)


def record_route(
    target: MetricsStorage | MetricsWriter,
    route: str,
    method: str,
    success: bool,
    duration_ms: float,
    *,
    status_code: int | None = None,
    service_name: str | None = None,
) -> None:
    """Record one HTTP request to ``route`` (the route template, e.g. ``/items/{id}``).
    A request is failed when ``success`` is false (it then gets ``error.type``: the status
    code when one is given, else ``_OTHER``); ``success=True`` with a 5xx status is refused,
    since the conventions count every 5xx as a server error."""
    if not isinstance(success, bool):
        raise InvalidArgumentError("success must be a bool")
    labels = {ROUTE_LABEL: _text("route", route), METHOD_LABEL: _method(method)}
    if status_code is not None:
        if isinstance(status_code, bool) or not isinstance(status_code, int):
            raise InvalidArgumentError("status_code must be an int")
        if not 100 <= status_code <= 599:
            raise InvalidArgumentError("status_code must be between 100 and 599")
        if success and status_code >= 500:
            raise InvalidArgumentError("success must be False for a 5xx status_code")
        labels[STATUS_LABEL] = str(status_code)
    if not success:
        labels[ERROR_LABEL] = str(status_code) if status_code is not None else "_OTHER"
    _write(target, ROUTE_METRIC, labels, duration_ms, service_name)


def record_operation(
    target: MetricsStorage | MetricsWriter,
    operation: str,
    success: bool,
    duration_ms: float,
    *,
    service_name: str | None = None,
) -> None:
    """Record one run of ``operation``; a failed run gets ``error.type="_OTHER"``."""
    if not isinstance(success, bool):
        raise InvalidArgumentError("success must be a bool")
    labels = {OPERATION_LABEL: _text("operation", operation)}
    if not success:
        labels[ERROR_LABEL] = "_OTHER"
    _write(target, OPERATION_METRIC, labels, duration_ms, service_name)


def duration_point(
    name: str,
    labels: dict[str, str],
    seconds: float,
    *,
    service_name: str | None = None,
    timestamp: datetime | None = None,
    id: str | None = None,
) -> MetricRecord:
    """One observed duration as a single-observation histogram point in the conventions'
    buckets: the point record_route and record_operation write (generators build it too)."""
    counts = [0] * (len(DURATION_BOUNDARIES) + 1)
    # OpenTelemetry's explicit buckets are upper-inclusive: (previous, bound].
    counts[sum(1 for bound in DURATION_BOUNDARIES if bound < seconds)] = 1
    optional: dict[str, Any] = {"timestamp": timestamp, "id": id}
    return MetricRecord(
        name=name,
        type="histogram",
        value=seconds,
        unit="s",
        labels=labels,
        service_name=service_name,
        bucket_boundaries=DURATION_BOUNDARIES,
        bucket_counts=counts,
        histogram_count=1,
        histogram_min=seconds,
        histogram_max=seconds,
        **{key: value for key, value in optional.items() if value is not None},
    )


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{field} must be a non-empty string")
    return value


def _method(method: Any) -> str:
    upper = _text("method", method).upper()
    return upper if upper in KNOWN_METHODS else "_OTHER"


def _write(
    target: MetricsStorage | MetricsWriter,
    name: str,
    labels: dict[str, str],
    duration_ms: float,
    service_name: str | None,
) -> None:
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, (int, float)):
        raise InvalidArgumentError("duration_ms must be a number")
    if not math.isfinite(duration_ms) or duration_ms < 0:
        raise InvalidArgumentError("duration_ms must be finite and not negative")
    record = duration_point(name, labels, float(duration_ms) / 1000.0, service_name=service_name)
    if isinstance(target, MetricsWriter):
        target.record(record)
    elif isinstance(target, MetricsStorage):
        target.batch_record_metrics([record])
    else:
        raise InvalidArgumentError("target must be a storage or a MetricsWriter")


__all__ = [
    "DURATION_BOUNDARIES",
    "OPERATION_METRIC",
    "ROUTE_METRIC",
    "duration_point",
    "record_operation",
    "record_route",
]
