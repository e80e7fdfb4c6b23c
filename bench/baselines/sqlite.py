"""sqlite3 on its own: ``executemany`` of a plain INSERT, one ``BEGIN IMMEDIATE`` transaction
per batch, with the pragmas obsstore sets (WAL, synchronous=FULL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bench.baselines.common import (
    EPOCH,
    HOUR_US,
    ONE_US,
    PAGE_LIMIT,
    SPAN_JSON_COLUMNS,
    SPAN_TEXT_COLUMNS,
    batches,
    dumps,
)
from obsstore import MetricRecord

# The columns of METRIC_COLUMNS (the OpenTelemetry ones stay NULL).
_INSERT = (
    "INSERT INTO obsstore_metrics (id, timestamp, name, type, value, labels, organization_id, "
    "environment, service_name, trace_id, span_id, bucket_boundaries, bucket_counts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def ingest(
    connection: sqlite3.Connection, records: Sequence[MetricRecord], batch_size: int
) -> None:
    """Tuples built from the records (timestamp to epoch microseconds, labels and buckets to
    JSON text), then executemany per batch."""
    for batch in batches(records, batch_size):
        rows = [
            (
                r.id,
                (r.timestamp - EPOCH) // ONE_US,
                r.name,
                r.type.value,
                r.value,
                dumps(r.labels),
                r.organization_id,
                r.environment,
                r.service_name,
                r.trace_id,
                r.span_id,
                None if r.bucket_boundaries is None else dumps(r.bucket_boundaries),
                None if r.bucket_counts is None else dumps(r.bucket_counts),
            )
            for r in batch
        ]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(_INSERT, rows)
        connection.execute("COMMIT")


def _us(value: datetime) -> int:
    return (value - EPOCH) // ONE_US


class Queries:
    """Hand-written SQLite SQL for the dashboard queries."""

    def __init__(self, path: str) -> None:
        self.connection = connect(path)

    def close(self) -> None:
        self.connection.close()

    def list_page(self, name: str, route: str) -> tuple[list[Any], int]:
        where = "name = ? AND json_extract(labels, '$.route') = ?"
        rows = self.connection.execute(
            f"SELECT * FROM obsstore_metrics WHERE {where} "  # noqa: S608
            f"ORDER BY timestamp DESC, id DESC LIMIT {PAGE_LIMIT}",
            (name, route),
        ).fetchall()
        total = self.connection.execute(
            f"SELECT count(*) FROM obsstore_metrics WHERE {where}",  # noqa: S608
            (name, route),
        ).fetchone()[0]
        return rows, total

    def avg_by_route(self, name: str, start: datetime, end: datetime) -> list[Any]:
        return self.connection.execute(
            "SELECT name, timestamp - timestamp % ? AS bucket, json_extract(labels, '$.route') AS route,"
            " avg(value), count(*) FROM obsstore_metrics"
            " WHERE name = ? AND timestamp >= ? AND timestamp <= ? GROUP BY name, bucket, route"
            " ORDER BY name, route NULLS FIRST, bucket",
            (HOUR_US, name, _us(start), _us(end)),
        ).fetchall()

    def avg_by_service(self, start: datetime, end: datetime) -> list[Any]:
        return self.connection.execute(
            "SELECT name, timestamp - timestamp % ? AS bucket, service_name, avg(value), count(*)"
            " FROM obsstore_metrics WHERE timestamp >= ? AND timestamp <= ?"
            " GROUP BY name, bucket, service_name ORDER BY name, service_name NULLS FIRST, bucket",
            (HOUR_US, _us(start), _us(end)),
        ).fetchall()

    def p95_by_service(self, start: datetime, end: datetime) -> list[Any]:
        # SQLite has no percentile function: rank the values per group with window functions
        # and interpolate between the two closest ranks (percentile_cont).
        return self.connection.execute(
            """
            WITH ranked AS (
              SELECT name, service_name, value,
                     row_number() OVER (PARTITION BY name, service_name ORDER BY value) - 1 AS rank,
                     (count(*) OVER (PARTITION BY name, service_name) - 1) * 0.95 AS position,
                     count(*) OVER (PARTITION BY name, service_name) AS n
              FROM obsstore_metrics WHERE timestamp >= ? AND timestamp <= ?
            )
            SELECT name, service_name,
                   min(value) + (max(position) - CAST(max(position) AS INTEGER)) * (max(value) - min(value)),
                   max(n)
            FROM ranked
            WHERE rank IN (CAST(position AS INTEGER), CAST(position AS INTEGER) + (position > CAST(position AS INTEGER)))
            GROUP BY name, service_name ORDER BY name, service_name NULLS FIRST
            """,
            (_us(start), _us(end)),
        ).fetchall()


_INSERT_SPAN = "INSERT INTO obsstore_spans VALUES (" + ", ".join(["?"] * 30) + ")"  # noqa: S608


def ingest_spans(connection: sqlite3.Connection, spans: Sequence[Any], batch_size: int) -> None:
    """Tuples built from the spans (timestamps to epoch microseconds, JSON fields to text),
    then executemany per batch."""
    for batch in batches(spans, batch_size):
        now = (datetime.now(EPOCH.tzinfo) - EPOCH) // ONE_US
        rows = [
            (
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                s.name,
                s.span_type,
                (s.started_at - EPOCH) // ONE_US,
                None if s.ended_at is None else (s.ended_at - EPOCH) // ONE_US,
                s.is_event,
                *(None if (v := getattr(s, f)) is None else dumps(v) for f in SPAN_JSON_COLUMNS),
                *(getattr(s, f) for f in SPAN_TEXT_COLUMNS),
                now,
                now,
            )
            for s in batch
        ]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(_INSERT_SPAN, rows)
        connection.execute("COMMIT")


open_queries = Queries
