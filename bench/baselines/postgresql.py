"""psycopg on its own: binary ``COPY`` into the table with the column types declared
(``set_types``), one transaction per batch. psycopg itself dumps the labels and buckets to
JSONB and the datetimes to timestamptz."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.baselines.common import (
    PAGE_LIMIT,
    SPAN_JSON_COLUMNS,
    SPAN_TEXT_COLUMNS,
    batches,
    dumps,
)
from obsstore import MetricRecord

_TYPES = (
    ["varchar", "timestamptz", "varchar", "varchar", "float8", "jsonb"]
    + ["varchar"] * 5
    + [
        "jsonb",
        "jsonb",
    ]
)
# The columns of METRIC_COLUMNS (the OpenTelemetry ones stay NULL).
_COPY = (
    "COPY obsstore_metrics (id, timestamp, name, type, value, labels, organization_id, "
    "environment, service_name, trace_id, span_id, bucket_boundaries, bucket_counts) "
    "FROM STDIN (FORMAT BINARY)"
)


def connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def ingest(
    connection: psycopg.Connection[Any], records: Sequence[MetricRecord], batch_size: int
) -> None:
    for batch in batches(records, batch_size):
        with connection.transaction(), connection.cursor() as cursor:
            with cursor.copy(_COPY) as copy:
                copy.set_types(_TYPES)
                for r in batch:
                    copy.write_row(
                        (
                            r.id,
                            r.timestamp,
                            r.name,
                            r.type.value,
                            r.value,
                            r.labels,
                            r.organization_id,
                            r.environment,
                            r.service_name,
                            r.trace_id,
                            r.span_id,
                            r.bucket_boundaries,
                            r.bucket_counts,
                        )
                    )


class Queries:
    """Hand-written PostgreSQL SQL for the dashboard queries."""

    def __init__(self, url: str) -> None:
        self.connection = connect(url)
        self.connection.autocommit = True

    def close(self) -> None:
        self.connection.close()

    def list_page(self, name: str, route: str) -> tuple[list[Any], int]:
        where = "name = %s AND labels @> %s"
        arguments = (name, Jsonb({"route": route}, dumps))
        rows = self.connection.execute(
            f"SELECT * FROM obsstore_metrics WHERE {where} "  # noqa: S608
            f"ORDER BY timestamp DESC, id DESC LIMIT {PAGE_LIMIT}",
            arguments,
        ).fetchall()
        total = self.connection.execute(
            f"SELECT count(*) FROM obsstore_metrics WHERE {where}",  # noqa: S608
            arguments,
        ).fetchone()
        assert total is not None
        return rows, total[0]

    def avg_by_route(self, name: str, start: datetime, end: datetime) -> list[Any]:
        return self.connection.execute(
            "SELECT name, date_bin('1 hour', timestamp, TIMESTAMPTZ '1970-01-01 00:00:00+00'),"
            """ (labels->>'route') COLLATE "C", avg(value), count(*) FROM obsstore_metrics"""
            " WHERE name = %s AND timestamp >= %s AND timestamp <= %s GROUP BY 1, 2, 3"
            " ORDER BY 1, 3 NULLS FIRST, 2",
            (name, start, end),
        ).fetchall()

    def avg_by_service(self, start: datetime, end: datetime) -> list[Any]:
        return self.connection.execute(
            "SELECT name, date_bin('1 hour', timestamp, TIMESTAMPTZ '1970-01-01 00:00:00+00'),"
            " service_name, avg(value), count(*) FROM obsstore_metrics"
            " WHERE timestamp >= %s AND timestamp <= %s GROUP BY 1, 2, 3"
            " ORDER BY 1, 3 NULLS FIRST, 2",
            (start, end),
        ).fetchall()

    def p95_by_service(self, start: datetime, end: datetime) -> list[Any]:
        return self.connection.execute(
            "SELECT name, service_name, percentile_cont(0.95) WITHIN GROUP (ORDER BY value),"
            " count(*) FROM obsstore_metrics WHERE timestamp >= %s AND timestamp <= %s"
            " GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST",
            (start, end),
        ).fetchall()


_SPAN_TYPES = ["varchar"] * 5 + ["timestamptz", "timestamptz", "bool"] + ["jsonb"] * 7
_SPAN_TYPES += ["varchar"] * 13 + ["timestamptz", "timestamptz"]
_COPY_SPANS = "COPY obsstore_spans FROM STDIN (FORMAT BINARY)"


def ingest_spans(
    connection: psycopg.Connection[Any], spans: Sequence[Any], batch_size: int
) -> None:
    """Binary COPY per batch with the column types declared; psycopg dumps the JSON fields (as
    JSONB) and the datetimes itself."""
    for batch in batches(spans, batch_size):
        now = datetime.now(timezone.utc)
        with connection.transaction(), connection.cursor() as cursor:
            with cursor.copy(_COPY_SPANS) as copy:
                copy.set_types(_SPAN_TYPES)
                for s in batch:
                    copy.write_row(
                        (
                            s.trace_id,
                            s.span_id,
                            s.parent_span_id,
                            s.name,
                            s.span_type,
                            s.started_at,
                            s.ended_at,
                            s.is_event,
                            *(getattr(s, f) for f in SPAN_JSON_COLUMNS),
                            *(getattr(s, f) for f in SPAN_TEXT_COLUMNS),
                            now,
                            now,
                        )
                    )


open_queries = Queries
