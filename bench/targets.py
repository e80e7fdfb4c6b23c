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
