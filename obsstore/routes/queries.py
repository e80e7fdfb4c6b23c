"""``route_metrics`` and ``operation_metrics``: per aligned period and key, from the database.

The storage sums the histogram points per period, key and outcome in two grouped queries
(see obsstore/storage/histograms.py); the rows here are those sums, one per period, key and
outcome (and boundary set), never raw points. Request metrics come from raw points only:
rollups keep no histogram buckets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError

from obsstore.errors import InvalidArgumentError
from obsstore.models import MetricFilters
from obsstore.models.queries import parse_interval
from obsstore.routes.models import OperationMetrics, RouteMetrics, _PeriodStats
from obsstore.routes.recording import (
    METHOD_LABEL,
    OPERATION_LABEL,
    OPERATION_METRIC,
    ROUTE_LABEL,
    ROUTE_METRIC,
)
from obsstore.storage.base import MetricsStorage
from obsstore.storage.histograms import HistogramBins, HistogramQuery, quantile

_Stats = TypeVar("_Stats", bound=_PeriodStats)


def route_metrics(
    storage: MetricsStorage,
    route: str | None = None,
    method: str | None = None,
    *,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    period: str | timedelta = "1h",
) -> list[RouteMetrics]:
    """Per ``period`` (aligned to the epoch, as ``Aggregation.interval``), route and method,
    the requests recorded as ``http.server.request.duration`` (by ``record_route`` or by an
    OpenTelemetry-instrumented server), ordered by period, route and method. ``route`` and
    ``method`` select one route or method; times are inclusive."""
    labels = {}
    if route is not None:
        labels[ROUTE_LABEL] = route
    if method is not None:
        labels[METHOD_LABEL] = method.upper() if isinstance(method, str) else method
    return _period_stats(
        storage,
        ROUTE_METRIC,
        (ROUTE_LABEL, METHOD_LABEL),
        labels,
        start_time,
        end_time,
        period,
        lambda group, fields: RouteMetrics(route=group[0], method=group[1], **fields),
    )


def operation_metrics(
    storage: MetricsStorage,
    operation: str | None = None,
    *,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    period: str | timedelta = "1h",
) -> list[OperationMetrics]:
    """Per ``period`` and operation, the runs recorded by ``record_operation`` (as
    ``obsstore.operation.duration``), ordered by period and operation."""
    labels = {} if operation is None else {OPERATION_LABEL: operation}
    return _period_stats(
        storage,
        OPERATION_METRIC,
        (OPERATION_LABEL,),
        labels,
        start_time,
        end_time,
        period,
        lambda group, fields: OperationMetrics(operation=group[0], **fields),
    )


def _query(
    name: str,
    keys: tuple[str, ...],
    labels: dict[str, Any],
    start_time: datetime | None,
    end_time: datetime | None,
    period: str | timedelta,
) -> HistogramQuery:
    try:
        width = parse_interval(period)
    except ValueError as error:
        raise InvalidArgumentError(f"period {error}") from None
    assert width is not None
    try:
        filters = MetricFilters(
            name=name, labels=labels or None, start_time=start_time, end_time=end_time
        )
    except ValidationError as error:
        raise InvalidArgumentError(str(error)) from None
    return HistogramQuery(filters=filters, keys=keys, period=width)


def _period_stats(
    storage: MetricsStorage,
    name: str,
    keys: tuple[str, ...],
    labels: dict[str, Any],
    start_time: datetime | None,
    end_time: datetime | None,
    period: str | timedelta,
    build: Callable[[tuple[str | None, ...], dict[str, Any]], _Stats],
) -> list[_Stats]:
    if period is None:
        raise InvalidArgumentError("period is required")
    query = _query(name, keys, labels, start_time, end_time, period)
    totals: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in storage._histogram_periods(query):
        entry = totals.setdefault(
            (row.bucket, row.group),
            {"ok": 0, "failed": 0, "duration": 0.0, "last": row.last, "low": [], "high": []},
        )
        entry["failed" if row.failed else "ok"] += row.requests
        entry["duration"] += row.duration
        entry["last"] = max(entry["last"], row.last)
        entry["low"] += [] if row.low is None else [row.low]
        entry["high"] += [] if row.high is None else [row.high]
    bins: dict[tuple[Any, ...], list[HistogramBins]] = {}
    for histogram in storage._histogram_bins(query):
        bins.setdefault((histogram.bucket, histogram.group), []).append(histogram)
    results = []
    for (bucket, group), entry in totals.items():
        low = min(entry["low"]) if entry["low"] else None
        high = max(entry["high"]) if entry["high"] else None
        counted = bins.get((bucket, group), [])
        requests = entry["ok"] + entry["failed"]
        seconds = {fraction: quantile(fraction, counted, low, high) for fraction in (0.95, 0.99)}
        fields = {
            "period_start": bucket,
            "period_end": bucket + query.period,
            "total_requests": requests,
            "successful": entry["ok"],
            "failed": entry["failed"],
            "total_duration_ms": entry["duration"] * 1000.0,
            "avg_duration_ms": entry["duration"] * 1000.0 / requests if requests else 0.0,
            "last_request_time": entry["last"],
            "p95_duration_ms": None if seconds[0.95] is None else seconds[0.95] * 1000.0,
            "p99_duration_ms": None if seconds[0.99] is None else seconds[0.99] * 1000.0,
        }
        results.append((bucket, group, build(group, fields)))
    results.sort(key=lambda r: (r[0], tuple((v is not None, v or "") for v in r[1])))
    return [stats for _, _, stats in results]


__all__ = ["operation_metrics", "route_metrics"]
