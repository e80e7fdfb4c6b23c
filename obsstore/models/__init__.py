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
from obsstore.models.summaries import Health, MetricSummary, SummaryChange, SummaryStats
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
    "Health",
    "MetricFilters",
    "MetricRecord",
    "MetricSummary",
    "MetricType",
    "MetricsPage",
    "OrderBy",
    "Pagination",
    "SpanRecord",
    "SpanUpdate",
    "SummaryChange",
    "SummaryStats",
    "TraceFilters",
    "TraceOrderBy",
    "TraceRecord",
    "TraceStatus",
    "TraceSummary",
    "TracesPage",
]
