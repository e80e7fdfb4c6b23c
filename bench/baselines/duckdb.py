"""duckdb on its own: an Arrow table built column by column from the records, inserted with
one ``INSERT INTO ... SELECT`` per batch (each statement its own transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from bench.baselines.common import (
    EPOCH,
    ONE_US,
    PAGE_LIMIT,
    SPAN_JSON_COLUMNS,
    SPAN_TEXT_COLUMNS,
    batches,
    dumps,
)
from obsstore import MetricRecord

_TEXT_COLUMNS = ("organization_id", "environment", "service_name", "trace_id", "span_id")


# The columns of METRIC_COLUMNS (the OpenTelemetry ones stay NULL).
_INSERT = (
    "INSERT INTO obsstore_metrics (id, timestamp, name, type, value, labels, organization_id, "
    "environment, service_name, trace_id, span_id, bucket_boundaries, bucket_counts) "
    "SELECT * FROM batch"
)


def connect(path: str) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(path)


def _arrow(batch: Sequence[MetricRecord]) -> pa.Table:
    """Labels and buckets become JSON text; timestamps epoch microseconds cast to TIMESTAMP."""
    columns: dict[str, pa.Array] = {
        "id": pa.array([r.id for r in batch], pa.string()),
        "timestamp": pa.array([(r.timestamp - EPOCH) // ONE_US for r in batch], pa.int64()).cast(
            pa.timestamp("us")
        ),
        "name": pa.array([r.name for r in batch], pa.string()),
        "type": pa.array([r.type.value for r in batch], pa.string()),
        "value": pa.array([r.value for r in batch], pa.float64()),
        "labels": pa.array([dumps(r.labels) for r in batch], pa.string()),
    }
    for column in _TEXT_COLUMNS:
        columns[column] = pa.array([getattr(r, column) for r in batch], pa.string())
    columns["bucket_boundaries"] = pa.array(
        [None if r.bucket_boundaries is None else dumps(r.bucket_boundaries) for r in batch],
        pa.string(),
    )
    columns["bucket_counts"] = pa.array(
        [None if r.bucket_counts is None else dumps(r.bucket_counts) for r in batch], pa.string()
    )
    return pa.table(columns)


def ingest(
    connection: duckdb.DuckDBPyConnection, records: Sequence[MetricRecord], batch_size: int
) -> None:
    for batch in batches(records, batch_size):
        table = _arrow(batch)
        connection.register("batch", table)
        connection.execute(_INSERT)
        connection.unregister("batch")


class Queries:
    """Hand-written DuckDB SQL for the dashboard queries."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def close(self) -> None:
        pass

    def list_page(self, name: str, route: str) -> tuple[list[Any], int]:
        where = "name = ? AND labels->>'$.route' = ?"
        rows = self.connection.execute(
            f"SELECT * FROM obsstore_metrics WHERE {where} "  # noqa: S608
            f"ORDER BY timestamp DESC, id DESC LIMIT {PAGE_LIMIT}",
            [name, route],
        ).fetchall()
        total = self.connection.execute(
            f"SELECT count(*) FROM obsstore_metrics WHERE {where}",  # noqa: S608
            [name, route],
        ).fetchone()
        assert total is not None
        return rows, total[0]

    def avg_by_route(self, name: str, start: datetime, end: datetime) -> list[Any]:
        return self.connection.execute(
            "SELECT name, time_bucket(INTERVAL 1 HOUR, timestamp, TIMESTAMP '1970-01-01') AS bucket,"
            " labels->>'$.route' AS route, avg(value), count(*) FROM obsstore_metrics"
            " WHERE name = ? AND timestamp >= ? AND timestamp <= ? GROUP BY ALL"
            " ORDER BY name, route NULLS FIRST, bucket",
            [name, _naive(start), _naive(end)],
        ).fetchall()

    def avg_by_service(self, start: datetime, end: datetime) -> list[Any]:
        return self.connection.execute(
            "SELECT name, time_bucket(INTERVAL 1 HOUR, timestamp, TIMESTAMP '1970-01-01') AS bucket,"
            " service_name, avg(value), count(*) FROM obsstore_metrics"
            " WHERE timestamp >= ? AND timestamp <= ? GROUP BY ALL"
            " ORDER BY name, service_name NULLS FIRST, bucket",
            [_naive(start), _naive(end)],
        ).fetchall()

    def p95_by_service(self, start: datetime, end: datetime) -> list[Any]:
        return self.connection.execute(
            "SELECT name, service_name, quantile_cont(value, 0.95), count(*)"
            " FROM obsstore_metrics WHERE timestamp >= ? AND timestamp <= ? GROUP BY ALL"
            " ORDER BY name, service_name NULLS FIRST",
            [_naive(start), _naive(end)],
        ).fetchall()


def _naive(value: datetime) -> datetime:
    # DuckDB's TIMESTAMP column holds UTC wall time (see obsstore.sqltypes).
    return value.replace(tzinfo=None)


def ingest_spans(
    connection: duckdb.DuckDBPyConnection, spans: Sequence[Any], batch_size: int
) -> None:
    """An Arrow table per batch (JSON fields as text, timestamps as epoch microseconds cast to
    TIMESTAMP), then ``INSERT INTO obsstore_spans SELECT * FROM`` it."""
    for batch in batches(spans, batch_size):
        now = (datetime.now(EPOCH.tzinfo) - EPOCH) // ONE_US

        def micros(values: list[Any]) -> pa.Array:
            return pa.array(
                [None if v is None else (v - EPOCH) // ONE_US for v in values], pa.int64()
            ).cast(pa.timestamp("us"))

        columns: dict[str, pa.Array] = {
            name: pa.array([getattr(s, name) for s in batch], pa.string())
            for name in ("trace_id", "span_id", "parent_span_id", "name", "span_type")
        }
        columns["started_at"] = micros([s.started_at for s in batch])
        columns["ended_at"] = micros([s.ended_at for s in batch])
        columns["is_event"] = pa.array([s.is_event for s in batch], pa.bool_())
        for name in SPAN_JSON_COLUMNS:
            columns[name] = pa.array(
                [None if (v := getattr(s, name)) is None else dumps(v) for s in batch], pa.string()
            )
        for name in SPAN_TEXT_COLUMNS:
            columns[name] = pa.array([getattr(s, name) for s in batch], pa.string())
        columns["created_at"] = columns["updated_at"] = pa.array(
            [now] * len(batch), pa.int64()
        ).cast(pa.timestamp("us"))
        connection.register("span_batch", pa.table(columns))
        connection.execute("INSERT INTO obsstore_spans SELECT * FROM span_batch")
        connection.unregister("span_batch")


def open_queries(path: str) -> Queries:
    return Queries(connect(path))
