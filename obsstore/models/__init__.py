"""Records, query arguments and results: plain pydantic models, shared by every backend."""

from obsstore.models.metrics import MetricRecord, MetricType
from obsstore.models.queries import (
    AggregatePoint,
    Aggregation,
    MetricFilters,
    MetricsPage,
    OrderBy,
    Pagination,
)

__all__ = [
    "AggregatePoint",
    "Aggregation",
    "MetricFilters",
    "MetricRecord",
    "MetricType",
    "MetricsPage",
    "OrderBy",
    "Pagination",
]
