"""obsstore: observability data (metrics, then traces) behind one contract, on memory, SQLite,
DuckDB and PostgreSQL. Everything public is importable from here."""

from obsstore.errors import (
    ConfigurationError,
    InvalidArgumentError,
    NotFoundError,
    ObsstoreError,
    SchemaError,
    StorageUnavailableError,
    ValidationError,
)
from obsstore.models import (
    AggregatePoint,
    Aggregation,
    MetricFilters,
    MetricRecord,
    MetricsPage,
    MetricType,
    OrderBy,
    Pagination,
)
from obsstore.storage import Capabilities, MetricsStorage, StrategyInfo, create_storage
from obsstore.writer import MetricsWriter, WriterStats

__version__ = "0.1.0"

__all__ = [
    "AggregatePoint",
    "Aggregation",
    "Capabilities",
    "ConfigurationError",
    "InvalidArgumentError",
    "MetricFilters",
    "MetricRecord",
    "MetricType",
    "MetricsPage",
    "MetricsStorage",
    "MetricsWriter",
    "NotFoundError",
    "ObsstoreError",
    "OrderBy",
    "Pagination",
    "SchemaError",
    "StorageUnavailableError",
    "StrategyInfo",
    "ValidationError",
    "WriterStats",
    "__version__",
    "create_storage",
]
