"""What one dashboard refresh reads: a handful of aggregate queries answered by the database
(route metrics per period and over the whole window, operation metrics, two percentiles, the
newest failed traces), never raw points fetched into Python. Everything below ranks and adds
up those result rows: one per route (or operation) and period."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from obsstore.models._fields import utc_now
from obsstore.routes import ROUTE_METRIC, operation_metrics, route_metrics

WHOLE_WINDOW = timedelta(days=36_500)  # the widest period route_metrics takes
PERIOD_CHOICES = (60, 300, 900, 3600, 6 * 3600, 86_400, 7 * 86_400)


def period_for(window: timedelta, most: int = 30) -> timedelta:
    """The narrowest aligned period that cuts ``window`` into at most ``most`` pieces."""
    for seconds in PERIOD_CHOICES:
        if window.total_seconds() / seconds <= most:
            return timedelta(seconds=seconds)
    return timedelta(seconds=PERIOD_CHOICES[-1])


@dataclass
class RouteLine:
    key: str  # "GET /items"
    requests: int = 0
    failed: int = 0
    duration_ms: float = 0.0
    value_ms: float | None = None  # for the slowest table: p95 over the window
    trend: list[float | None] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        return None if not self.requests else (self.requests - self.failed) / self.requests

    @property
    def avg_ms(self) -> float | None:
        return None if not self.requests else self.duration_ms / self.requests


@dataclass
class Snapshot:
    taken_at: datetime
    start: datetime
    period: timedelta
    requests: int = 0
    failed: int = 0
    duration_ms: float = 0.0
    p95_ms: float | None = None
    p99_ms: float | None = None
    requests_trend: list[float | None] = field(default_factory=list)
    errors_trend: list[float | None] = field(default_factory=list)
    busiest: list[RouteLine] = field(default_factory=list)
    slowest: list[RouteLine] = field(default_factory=list)
    operations: list[RouteLine] = field(default_factory=list)
    failed_traces: list[Any] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        return None if not self.requests else (self.requests - self.failed) / self.requests

    @property
    def avg_ms(self) -> float | None:
        return None if not self.requests else self.duration_ms / self.requests

    def statistic(self, name: str) -> float | None:
        """A value an alert can test (see alerts.py)."""
        rate = self.success_rate
        return {
            "success_rate": rate,
            "error_rate": None if rate is None else 1 - rate,
            "requests": float(self.requests),
            "avg": self.avg_ms,
            "p95": self.p95_ms,
            "p99": self.p99_ms,
        }[name]


def take_snapshot(storage: Any, window: timedelta, period: timedelta, top: int = 5) -> Snapshot:
    now = utc_now()
    start = now - window
    snap = Snapshot(taken_at=now, start=start, period=period)
    starts = _period_starts(start, now, period)
    rows = route_metrics(storage, start_time=start, end_time=now, period=period)
    per_period = {s: [0, 0] for s in starts}
    lines: dict[str, RouteLine] = {}
    counts: dict[str, dict[datetime, float]] = {}
    for row in rows:
        snap.requests += row.total_requests
        snap.failed += row.failed
        snap.duration_ms += row.total_duration_ms
        bucket = per_period.setdefault(row.period_start, [0, 0])
        bucket[0] += row.total_requests
        bucket[1] += row.failed
        key = f"{row.method or '-'} {row.route or '-'}"
        line = lines.setdefault(key, RouteLine(key))
        line.requests += row.total_requests
        line.failed += row.failed
        line.duration_ms += row.total_duration_ms
        counts.setdefault(key, {})[row.period_start] = float(row.total_requests)
    ordered = sorted(per_period)
    snap.requests_trend = [float(per_period[s][0]) for s in ordered]
    snap.errors_trend = [
        per_period[s][1] / per_period[s][0] if per_period[s][0] else None for s in ordered
    ]
    for key, line in lines.items():
        line.trend = [counts[key].get(s, 0.0) for s in ordered]
    snap.busiest = sorted(lines.values(), key=lambda x: (-x.requests, x.key))[:top]

    filters = {"name": ROUTE_METRIC, "start_time": start, "end_time": now}
    snap.p95_ms = _percentile_ms(storage, filters, 0.95)
    snap.p99_ms = _percentile_ms(storage, filters, 0.99)
    snap.slowest = _slowest(storage, start, now, ordered, rows, top)
    snap.operations = _operations(storage, start, now, period, top)
    snap.failed_traces = _failed_traces(storage, start, top)
    return snap


def _percentile_ms(storage: Any, filters: dict[str, Any], fraction: float) -> float | None:
    """One percentile of the window's request durations (``summarize_metrics``' percentile:
    of the points' values), in milliseconds."""
    points = storage.aggregate_metrics({"type": "percentile", "percentile": fraction}, filters)
    return _ms(points[0].value) if points else None


def _failed_traces(storage: Any, start: datetime, top: int) -> list[Any]:
    """The newest traces whose root failed or that had a failing span: two pages of
    ``top``, merged."""
    failed = {
        root.trace_id: root
        for filters in ({"status": "error"}, {"has_child_error": True})
        for root in storage.list_traces({**filters, "start_time": start}, {"limit": top}).data
    }
    return sorted(failed.values(), key=lambda r: (r.started_at, r.trace_id), reverse=True)[:top]


def _slowest(
    storage: Any,
    start: datetime,
    now: datetime,
    ordered: list[datetime],
    periodic: list[Any],
    top: int,
) -> list[RouteLine]:
    """The routes with the highest p95 over the window, each with its p95 per period. The
    p95 comes from ``route_metrics``, which sums the histogram buckets in the database, so it
    holds for pre-aggregated OpenTelemetry histograms as for one point per request. One
    period spans the whole window: periods align to 1970 and the widest holds any window
    before 2069 (one that straddles that edge keeps the higher of its two values)."""
    lines: dict[str, RouteLine] = {}
    for row in route_metrics(storage, start_time=start, end_time=now, period=WHOLE_WINDOW):
        key = f"{row.method or '-'} {row.route or '-'}"
        line = lines.setdefault(key, RouteLine(key))
        line.requests += row.total_requests
        line.failed += row.failed
        line.duration_ms += row.total_duration_ms
        if row.p95_duration_ms is not None:
            line.value_ms = max(line.value_ms or 0.0, row.p95_duration_ms)
    trends: dict[str, dict[datetime, float | None]] = {}
    for row in periodic:
        key = f"{row.method or '-'} {row.route or '-'}"
        trends.setdefault(key, {})[row.period_start] = row.p95_duration_ms
    ranked = sorted(
        (line for line in lines.values() if line.value_ms is not None),
        key=lambda x: (-(x.value_ms or 0.0), x.key),
    )[:top]
    for line in ranked:
        line.trend = [trends.get(line.key, {}).get(s) for s in ordered]
    return ranked


def _operations(
    storage: Any, start: datetime, now: datetime, period: timedelta, top: int
) -> list[RouteLine]:
    lines: dict[str, RouteLine] = {}
    for row in operation_metrics(storage, start_time=start, end_time=now, period=period):
        line = lines.setdefault(row.operation or "-", RouteLine(row.operation or "-"))
        line.requests += row.total_requests
        line.failed += row.failed
        line.duration_ms += row.total_duration_ms
    return sorted(lines.values(), key=lambda x: (-x.requests, x.key))[:top]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _period_starts(start: datetime, end: datetime, period: timedelta) -> list[datetime]:
    """The aligned period starts (from 1970-01-01 UTC, like Aggregation.interval) covering
    ``[start, end]``."""
    epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
    first = epoch + period * ((start - epoch) // period)
    starts = []
    moment = first
    while moment <= end:
        starts.append(moment)
        moment += period
    return starts
