"""Per-route and per-operation request metrics (see ``recording`` for how they are stored)."""

from obsstore.routes.models import OperationMetrics, RouteMetrics
from obsstore.routes.queries import operation_metrics, route_metrics
from obsstore.routes.recording import (
    OPERATION_METRIC,
    ROUTE_METRIC,
    duration_point,
    record_operation,
    record_route,
)

__all__ = [
    "OPERATION_METRIC",
    "ROUTE_METRIC",
    "OperationMetrics",
    "RouteMetrics",
    "duration_point",
    "operation_metrics",
    "record_operation",
    "record_route",
    "route_metrics",
]
