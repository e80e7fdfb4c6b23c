"""``route_metrics`` and ``operation_metrics``: per aligned period and key, from the database."""

from __future__ import annotations

from datetime import datetime, timedelta

from obsstore.routes.models import OperationMetrics, RouteMetrics
from obsstore.storage.base import MetricsStorage


def route_metrics(
    storage: MetricsStorage,
    route: str | None = None,
    method: str | None = None,
    *,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    period: str | timedelta = "1h",
) -> list[RouteMetrics]:
    raise NotImplementedError


def operation_metrics(
    storage: MetricsStorage,
    operation: str | None = None,
    *,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    period: str | timedelta = "1h",
) -> list[OperationMetrics]:
    raise NotImplementedError
