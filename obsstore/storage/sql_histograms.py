"""Histogram series per period and group on SQL backends (see histograms.py): two grouped
queries; only their summed rows leave the database."""

from __future__ import annotations

from abc import abstractmethod
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from obsstore.schema import metrics
from obsstore.sqlfuncs import float_sum, json_item, json_length, label_value, time_bucket
from obsstore.sqltypes import from_database_timestamp
from obsstore.storage.histograms import (
    ERROR_LABEL,
    STATUS_LABEL,
    HistogramBins,
    HistogramPeriod,
    HistogramQuery,
)

m = metrics.c
# Bucket counts summed per index: at most this many indexes (OpenTelemetry's exponential
# histograms hold at most 160 buckets, explicit ones fewer).
MAX_BUCKETS = 512


def _failed() -> Any:
    error = label_value(m.labels, ERROR_LABEL)
    status = label_value(m.labels, STATUS_LABEL)
    failed = sa.or_(
        sa.and_(error.is_not(None), error != ""),
        sa.and_(status >= "500", status < "600"),
    )
    return sa.case((failed, 1), else_=0)


class SQLHistograms:
    """SQLStorage supplies connections."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Connection]: ...

    def _histogram_keys(self, query: HistogramQuery) -> list[Any]:
        from obsstore.storage.sql import metric_filter_clauses

        bucket = time_bucket(m.timestamp, query.period).label("bucket")
        groups = [label_value(m.labels, key).label(f"g{i}") for i, key in enumerate(query.keys)]
        return [metric_filter_clauses(query.filters), bucket, *groups]

    def _histogram_periods(self, query: HistogramQuery) -> list[HistogramPeriod]:
        clauses, *keys = self._histogram_keys(query)
        inner = sa.select(
            *keys,
            _failed().label("failed"),
            sa.func.coalesce(m.histogram_count, 1).label("requests"),
            m.value,
            m.timestamp,
            m.histogram_min,
            m.histogram_max,
        ).where(*clauses)
        i = inner.subquery().c
        groups = [i[f"g{n}"] for n in range(len(query.keys))]
        columns = [sa.type_coerce(i.bucket, sa.types.NullType()), *groups, i.failed]
        grouped = sa.select(
            *columns,
            sa.func.sum(i.requests),
            float_sum(i.value),
            sa.func.max(i.timestamp),
            sa.func.min(i.histogram_min),
            sa.func.max(i.histogram_max),
        ).group_by(*columns)
        with self._reading() as connection:
            rows = connection.execute(grouped).all()
            to_datetime = from_database_timestamp(connection.dialect.name)
        width = len(keys) - 1
        return [
            HistogramPeriod(
                bucket=to_datetime(row[0]),
                group=tuple(row[1 : 1 + width]),
                failed=bool(row[1 + width]),
                requests=int(row[2 + width]),
                duration=float(row[3 + width]),
                last=row[4 + width],
                low=None if row[5 + width] is None else float(row[5 + width]),
                high=None if row[6 + width] is None else float(row[6 + width]),
            )
            for row in rows
        ]

    def _histogram_bins(self, query: HistogramQuery) -> list[HistogramBins]:
        clauses, *keys = self._histogram_keys(query)
        has_bins = [*clauses, m.bucket_counts.is_not(None), m.bucket_boundaries.is_not(None)]
        longest_query = sa.select(sa.func.max(json_length(m.bucket_counts))).where(*has_bins)
        with self._reading() as connection:
            longest = connection.execute(longest_query).scalar_one()
            if not longest:
                return []
            size = min(int(longest), MAX_BUCKETS)
            inner = sa.select(
                *keys,
                m.bucket_boundaries.label("bounds"),
                *(json_item(m.bucket_counts, n).label(f"c{n}") for n in range(size)),
            ).where(*has_bins)
            i = inner.subquery().c
            groups = [i[f"g{n}"] for n in range(len(query.keys))]
            columns = [sa.type_coerce(i.bucket, sa.types.NullType()), *groups, i.bounds]
            sums = [sa.func.coalesce(sa.func.sum(i[f"c{n}"]), 0) for n in range(size)]
            rows = connection.execute(sa.select(*columns, *sums).group_by(*columns)).all()
            to_datetime = from_database_timestamp(connection.dialect.name)
        width = len(keys) - 1
        return [
            HistogramBins(
                bucket=to_datetime(row[0]),
                group=tuple(row[1 : 1 + width]),
                boundaries=tuple(float(b) for b in row[1 + width]),
                counts=tuple(int(c) for c in row[2 + width :]),
            )
            for row in rows
        ]
