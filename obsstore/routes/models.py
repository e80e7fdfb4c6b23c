"""What ``route_metrics`` and ``operation_metrics`` return: one row per period and key."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _PeriodStats(BaseModel):
    """Requests (or operations) of one key in one aligned period ``[period_start,
    period_end)``. Durations are milliseconds; ``p95_duration_ms`` and ``p99_duration_ms``
    are read from the merged histogram buckets (linear within a bucket, as Prometheus'
    ``histogram_quantile``), ``None`` where no point carried buckets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period_start: datetime
    period_end: datetime
    total_requests: int
    successful: int
    failed: int
    total_duration_ms: float
    avg_duration_ms: float
    last_request_time: datetime
    p95_duration_ms: float | None
    p99_duration_ms: float | None

    @property
    def success_rate(self) -> float:
        """``successful / total_requests`` (1.0 when there were none)."""
        return self.successful / self.total_requests if self.total_requests else 1.0


class RouteMetrics(_PeriodStats):
    """One HTTP route and method (``None`` where points lacked the attribute) in one period."""

    route: str | None
    method: str | None


class OperationMetrics(_PeriodStats):
    """One named operation in one period."""

    operation: str | None


__all__ = ["OperationMetrics", "RouteMetrics"]
