"""The targets of issue 6 for this 2-core machine, as data the report checks results against."""

from __future__ import annotations

INGEST_RATIO_MIN = 0.8  # obsstore / raw driver, prebuilt records, SQL backends
INGEST_MIN_PER_S = {"memory": 1_000_000, "duckdb": 120_000, "postgresql": 70_000, "sqlite": 70_000}
QUERY_RATIO_MAX = 1.3  # obsstore / hand-written SQL, rows 3-5, SQL backends
# Aggregates over every stored point (1,000,000 at default size), seconds.
AGGREGATE_MAX_S = {"duckdb": 0.15, "postgresql": 1.5, "sqlite": 3.0, "memory": 2.0}
AGGREGATE_FULL_SCAN_ROWS = ("avg_by_service", "p95_by_service")
BYTES_PER_POINT_MAX = 250
SPANS_MIN_PER_S = {"duckdb": 20_000, "postgresql": 20_000}

# Issue 13: the paths users call, and growth with the store.
DICT_INGEST_RATIO_MIN = 0.8  # row 2, plain dicts with validation / raw driver, SQL backends
VALIDATION_MIN_PER_S = 300_000  # dict records validated per second, validation alone
RECORD_MEDIAN_US_MAX = 5.0  # MetricsWriter.record(), 100,000 calls, collector on
RECORD_P99_US_MAX = 50.0
RECORD_PAUSE_MS_MAX = 10.0
MLFLOW_RATIO_MIN = 10.0  # obsstore / MLflow log_batch, plain dicts, 1,000 per call
GROWTH_RATIO_MAX = 1.5  # fixed-window queries, 10M / 1M stored points
GROWTH_TARGET_BACKENDS = ("sqlite", "postgresql")
GROWTH_FIXED_WINDOW_ROWS = ("panel", "count_24h")
