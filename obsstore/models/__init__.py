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
from obsstore.models.traces import (
    SpanRecord,
    SpanUpdate,
    TraceFilters,
    TraceOrderBy,
    TraceRecord,
    TracesPage,
    TraceStatus,
    TraceSummary,
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
    "SpanRecord",
    "SpanUpdate",
    "TraceFilters",
    "TraceOrderBy",
    "TraceRecord",
    "TraceStatus",
    "TraceSummary",
    "TracesPage",
]
