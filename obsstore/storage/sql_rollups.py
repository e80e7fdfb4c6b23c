"""Every SQL query of rollups and pruning, written once on Core for all dialects (see
rollups_base.py for the orchestration and its invariants).

Rollups are computed in the database: one ``INSERT ... SELECT ... GROUP BY`` per table and
chunk of buckets, with the series key and the sketch bin computed by the constructs in
``sqlfuncs``. Percentiles from rollups sum the sketch bins per requested group and bucket in
the database and read the quantile from those few rows in Python."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from obsstore.lifecycle import sketch
from obsstore.lifecycle.histograms import HistogramSum, bucket_of, group_of, histogram_point
from obsstore.lifecycle.planning import LevelState
from obsstore.models import AggregatePoint, Aggregation, MetricFilters, MetricType
from obsstore.models._fields import from_epoch_us, to_epoch_us
from obsstore.models.queries import COLUMN_GROUP_KEYS
from obsstore.schema import metric_rollup_bins, metric_rollups, metrics, rollup_state, spans
from obsstore.sqlfuncs import (
    code_point,
    float_sum,
    label_value,
    labels_match,
    last_value,
    series_key,
    sketch_bin,
    time_bucket,
)
from obsstore.sqltypes import from_database_timestamp
from obsstore.storage.rollups_base import BATCH_ROWS, RollupStorage, pause, stale_ranges
from obsstore.storage.sql_ranking import ranked_query

m = metrics.c
r = metric_rollups.c
b = metric_rollup_bins.c
st = rollup_state.c
s = spans.c
# Traces deleted per transaction (their ids are bound parameters, and each may have many spans).
TRACE_BATCH = 200
_HISTOGRAM_COLUMNS = ("bucket_boundaries", "bucket_counts")
# What INSERT ... SELECT computes; the histogram columns are filled after it (see
# _fill_histograms).
_ROLLUP_COLUMNS = [c.name for c in metric_rollups.columns if c.name not in _HISTOGRAM_COLUMNS]


def _at(micros: int) -> datetime:
    return from_epoch_us(micros)


# The series columns but type (histogram rows are of one type), on rollup rows and on points.
_SERIES_OF_ROWS = [r.name, r.labels, r.organization_id, r.environment, r.service_name]
_SERIES_OF_POINTS = [m.name, m.labels, m.organization_id, m.environment, m.service_name]


def _series_fields(fields: Any) -> tuple[Any, ...]:
    """A hashable form of (name, labels, organization_id, environment, service_name)."""
    name, labels, *rest = fields
    return (name, tuple(sorted(labels.items())), *rest)


# A rollup row's summed histogram: (bucket start in epoch µs, series key, bounds, counts).
HistogramRow = tuple[int, str, list[float], list[int]]


def _histogram_rows(sums: dict[tuple[int, str], HistogramSum]) -> list[HistogramRow]:
    """The sums whose bounds agreed (the others stay without buckets)."""
    rows = []
    for (bucket, series), total in sums.items():
        bounds, counts = total.result()
        if bounds is not None and counts is not None:
            rows.append((bucket, series, bounds, counts))
    return rows


def _look_up_last(connection: Connection, rows: list[sa.ColumnElement[bool]]) -> None:
    """Set the last value and id of the rollup rows matching ``rows`` from their series'
    point with the greatest id at their last timestamp (the latest point, ties to the
    greatest id, as ``last_value`` picks)."""
    p = metrics.alias("latest")
    same_point = [
        p.c.timestamp == r.last_timestamp,
        p.c.name == r.name,
        p.c.type == r.type,
        # The row's labels are its points' text, as GROUP BY found them equal.
        sa.type_coerce(p.c.labels, sa.Text()) == sa.type_coerce(r.labels, sa.Text()),
    ]
    for column in ("organization_id", "environment", "service_name"):
        same_point.append(p.c[column].is_not_distinct_from(r[column]))

    def latest(column: Any) -> Any:
        return (
            sa.select(column).where(*same_point).order_by(p.c.id.desc()).limit(1).scalar_subquery()
        )

    connection.execute(
        sa.update(metric_rollups)
        .where(*rows)
        .values(last_value=latest(p.c.value), last_id=latest(p.c.id))
    )


def rollup_filter_clauses(filters: MetricFilters) -> list[sa.ColumnElement[bool]]:
    """``filters`` on rollup rows: their time range selects bucket starts."""
    clauses: list[sa.ColumnElement[bool]] = []
    if filters.names is not None:
        clauses.append(r.name.in_(filters.names))
    if filters.types is not None:
        clauses.append(r.type.in_([t.value for t in filters.types]))
    if filters.start_time is not None:
        clauses.append(r.bucket >= filters.start_time)
    if filters.end_time is not None:
        clauses.append(r.bucket <= filters.end_time)
    if filters.labels:
        clauses.append(labels_match(r.labels, filters.labels))
    for column in ("organization_id", "environment", "service_name"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(r[column] == value)
    return clauses


def _total(counts: Any) -> Any:
    # A BIGINT as the raw path's count(*) is: PostgreSQL sums BIGINTs to NUMERIC, which its
    # driver hands out as Decimal objects, slower to read than the query was to run.
    return sa.cast(sa.func.sum(counts), sa.BigInteger())


def _grouped_rollups(
    aggregation: Aggregation, columns: list[Any], clauses: list[Any]
) -> sa.Select[Any]:
    """Rollup rows as (name, [bucket], g0.., value, count), unordered."""
    inner = (
        sa.select(*columns, r.count, r.sum, r.min, r.max, r.last_value, r.last_timestamp, r.last_id)
        .where(*clauses)
        .subquery()
    )
    i = inner.c
    keys = [i[c.name] for c in columns]
    if aggregation.interval is not None:
        keys[1] = sa.type_coerce(i.bucket, sa.types.NullType()).label("bucket")
    kind = aggregation.type
    value: Any
    if kind in ("sum", "avg"):
        # As on the raw path: the overflow-safe sum; _aggregate_points divides an avg by the
        # count.
        value = float_sum(i.sum)
    elif kind == "count":
        value = _total(i["count"])
    elif kind == "min":
        value = sa.func.min(i.min)
    elif kind == "max":
        value = sa.func.max(i.max)
    else:
        value = last_value(i.last_value, i.last_timestamp, i.last_id)
    total = _total(i["count"]).label("count")
    # Grouped in the order the answer sorts in (name, groups, bucket): a planner that groups
    # by sorting then needs no second sort for ORDER BY (SQLite's does).
    grouping = [keys[0], *keys[2:], keys[1]] if aggregation.interval is not None else keys
    return sa.select(*keys, value.label("value"), total).group_by(*grouping)


class SQLRollups(RollupStorage):
    """Rollups and pruning on SQL backends; SQLStorage supplies connections."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Connection]: ...

    @abstractmethod
    def _writing(self) -> AbstractContextManager[Connection]: ...

    @abstractmethod
    def _result_columns(
        self, connection: Connection, query: sa.Select[Any]
    ) -> list[Sequence[Any]]: ...

    # Raw points deleted per transaction, where a backend's deletes cost much more per row
    # than its other writes (None: BATCH_ROWS).
    delete_batch_rows: ClassVar[int | None] = None
    # Whether a recomputed rollup row's last value and id are looked up from its series'
    # points at its last timestamp (two indexed look-ups per row) instead of aggregated over
    # every point: for a backend whose last_value aggregate is a callback per point (SQLite's
    # is Python's, two calls per point: more than half of the rollup rows' GROUP BY).
    last_by_lookup: ClassVar[bool] = False
    # Raw points rolled up per transaction (None: BATCH_ROWS). Each writes about as many
    # sketch bins (at a few points per series and bucket nearly every point has a bin of its
    # own), so the usual 50,000 rows; a backend whose commits cost far more than rows takes
    # larger ones.
    rollup_batch_points: ClassVar[int | None] = 50_000

    def lock_for_lifecycle(self, connection: Connection) -> None:
        """Serialise rollups and prunes of one database (writes already do where the
        database admits one writer at a time)."""

    # --- state ---------------------------------------------------------------------------
    def _rollup_states(self) -> dict[int, LevelState]:
        with self._reading() as connection:
            rows = connection.execute(sa.select(rollup_state)).all()
        return {
            int(row.level_us): LevelState(
                None if row.complete_until is None else to_epoch_us(row.complete_until),
                None if row.pruned_before is None else to_epoch_us(row.pruned_before),
            )
            for row in rows
        }

    def _raise_state(self, connection: Connection, level: int, column: str, micros: int) -> None:
        """Set the level's ``column`` to ``micros`` unless it is later already."""
        current = connection.execute(
            sa.select(st[column]).where(st.level_us == level)
        ).one_or_none()
        if current is None:
            connection.execute(
                sa.insert(rollup_state).values(level_us=level, **{column: _at(micros)})
            )
        elif current[0] is None or to_epoch_us(current[0]) < micros:
            connection.execute(
                sa.update(rollup_state).where(st.level_us == level).values({column: _at(micros)})
            )

    def _set_state(self, level: int, *, pruned_before: int) -> None:
        with self._writing() as connection:
            self.lock_for_lifecycle(connection)
            self._raise_state(connection, level, "pruned_before", pruned_before)

    def _time_span(self, filters: MetricFilters) -> tuple[int, int] | None:
        from obsstore.storage.sql import metric_filter_clauses

        query = sa.select(sa.func.min(m.timestamp), sa.func.max(m.timestamp)).where(
            *metric_filter_clauses(filters)
        )
        with self._reading() as connection:
            low, high = connection.execute(query).one()
        return None if low is None else (to_epoch_us(low), to_epoch_us(high))

    def _oldest_point(self) -> int | None:
        with self._reading() as connection:
            oldest = connection.execute(sa.select(sa.func.min(m.timestamp))).scalar_one()
        return None if oldest is None else to_epoch_us(oldest)

    # --- rollups -------------------------------------------------------------------------
    def _rollup_level(self, level: int, start: int, end: int) -> int:
        written = 0
        for low, high in self._chunks(level, start, end):
            pause()
            with self._writing() as connection:
                self.lock_for_lifecycle(connection)
                written += self._recompute(connection, level, low, high)
                self._raise_state(connection, level, "complete_until", high)
        return written

    derives_levels = True

    def _derive_level(self, level: int, finer: int, start: int, end: int) -> int:
        written = 0
        for low, high in self._chunks(level, start, end, finer=finer):
            pause()
            with self._writing() as connection:
                self.lock_for_lifecycle(connection)
                written += self._recompute_from(connection, level, finer, low, high)
                self._raise_state(connection, level, "complete_until", high)
        return written

    def _recompute_from(
        self, connection: Connection, level: int, finer: int, start: int, end: int
    ) -> int:
        """Replace ``level``'s rows of the buckets in ``[start, end)`` with ones merged from
        ``finer``'s rows there: counts and sums add up, min and max of the mins and maxes, the
        latest last value, sketch bins add up; rows written."""
        in_range = [r.level_us == level, r.bucket >= _at(start), r.bucket < _at(end)]
        connection.execute(sa.delete(metric_rollups).where(*in_range))
        connection.execute(
            sa.delete(metric_rollup_bins).where(
                b.level_us == level, b.bucket >= _at(start), b.bucket < _at(end)
            )
        )
        width = timedelta(microseconds=level)
        level_value = sa.literal(level, sa.BigInteger()).label("level_us")
        # The coarse bucket is computed in a subquery and grouped by name (a bucket expression
        # repeated in GROUP BY binds its interval twice, which DuckDB takes for another one).
        finer_rows = (
            sa.select(metric_rollups, time_bucket(r.bucket, width).label("coarse"))
            .where(r.level_us == finer, r.bucket >= _at(start), r.bucket < _at(end))
            .subquery()
        )
        f = finer_rows.c
        series = [f.series, f.name, f.type, f.labels, f.organization_id, f.environment]
        series.append(f.service_name)
        rows = sa.select(
            level_value,
            f.coarse,
            *series,
            sa.func.sum(f["count"]),
            float_sum(f.sum),
            sa.func.min(f.min),
            sa.func.max(f.max),
            last_value(f.last_value, f.last_timestamp, f.last_id),
            sa.func.max(f.last_timestamp),
            sa.type_coerce(last_value(f.last_id, f.last_timestamp, f.last_id), sa.String()),
        ).group_by(f.coarse, *series)
        connection.execute(sa.insert(metric_rollups).from_select(_ROLLUP_COLUMNS, rows))
        finer_bins = (
            sa.select(b.series, b.bin, b["count"], time_bucket(b.bucket, width).label("coarse"))
            .where(b.level_us == finer, b.bucket >= _at(start), b.bucket < _at(end))
            .subquery()
        )
        c = finer_bins.c
        connection.execute(
            sa.insert(metric_rollup_bins).from_select(
                ["level_us", "bucket", "series", "bin", "count"],
                sa.select(level_value, c.coarse, c.series, c.bin, sa.func.sum(c["count"])).group_by(
                    c.coarse, c.series, c.bin
                ),
            )
        )
        sums: dict[tuple[int, str], HistogramSum] = {}
        for at, key, bounds, counts in connection.execute(
            sa.select(r.bucket, r.series, r.bucket_boundaries, r.bucket_counts).where(
                r.level_us == finer,
                r.bucket >= _at(start),
                r.bucket < _at(end),
                r.type == MetricType.HISTOGRAM.value,
            )
        ):
            micros = to_epoch_us(at)
            total = sums.setdefault((micros - micros % level, key), HistogramSum())
            total.add(bounds, counts)
        self._store_histograms(connection, level, _histogram_rows(sums))
        written = connection.execute(
            sa.select(sa.func.count()).select_from(metric_rollups).where(*in_range)
        ).scalar_one()
        return int(written)

    def _stale_ranges(self, level: int, start: int, end: int) -> list[tuple[int, int]]:
        width = timedelta(microseconds=level)
        bucket = time_bucket(m.timestamp, width).label("bucket")
        raw = (
            sa.select(bucket, sa.func.count())
            .where(m.timestamp >= _at(start), m.timestamp < _at(end))
            .group_by(bucket)
        )
        rolled = (
            sa.select(r.bucket, sa.func.sum(r["count"]))
            .where(r.level_us == level, r.bucket >= _at(start), r.bucket < _at(end))
            .group_by(r.bucket)
        )
        with self._reading() as connection:
            raw_counts = {to_epoch_us(at): int(n) for at, n in connection.execute(raw)}
            rolled_counts = {to_epoch_us(at): int(n) for at, n in connection.execute(rolled)}
        return stale_ranges(raw_counts, rolled_counts, level)

    def _chunks(
        self, level: int, start: int, end: int, *, finer: int | None = None
    ) -> Iterator[tuple[int, int]]:
        """``[start, end)`` cut at level buckets into pieces of about ``rollup_batch_points``
        raw points (a bucket is never cut), counted from ``finer``'s rows where given (a level
        derived from them has about as many sketch bins as they hold points)."""
        width = timedelta(microseconds=level)
        if finer is None:
            bucket = time_bucket(m.timestamp, width).label("bucket")
            query = (
                sa.select(bucket, sa.func.count())
                .where(m.timestamp >= _at(start), m.timestamp < _at(end))
                .group_by(bucket)
                .order_by(bucket)
            )
        else:
            bucket = time_bucket(r.bucket, width).label("bucket")
            query = (
                sa.select(bucket, sa.func.sum(r["count"]))
                .where(r.level_us == finer, r.bucket >= _at(start), r.bucket < _at(end))
                .group_by(bucket)
                .order_by(bucket)
            )
        with self._reading() as connection:
            rows = connection.execute(query).all()
        limit = self.rollup_batch_points or BATCH_ROWS
        low, pending = start, 0
        for bucket_start, count in rows:  # the bucket's type converts it to a datetime
            at = to_epoch_us(bucket_start)
            if pending and pending + count > limit:
                yield low, at
                low, pending = at, 0
            pending += int(count)
        yield low, end

    def _recompute(self, connection: Connection, level: int, start: int, end: int) -> int:
        """Replace ``level``'s rows of the buckets in ``[start, end)`` with ones computed from
        the raw points there; rows written."""
        in_range = [r.level_us == level, r.bucket >= _at(start), r.bucket < _at(end)]
        connection.execute(sa.delete(metric_rollups).where(*in_range))
        connection.execute(
            sa.delete(metric_rollup_bins).where(
                b.level_us == level, b.bucket >= _at(start), b.bucket < _at(end)
            )
        )
        width = timedelta(microseconds=level)
        points = [m.timestamp >= _at(start), m.timestamp < _at(end)]
        level_value = sa.literal(level, sa.BigInteger()).label("level_us")
        series_columns = [
            m.name,
            m.type,
            m.labels,
            m.organization_id,
            m.environment,
            m.service_name,
        ]
        # Points are grouped by their series columns; the series key is computed once per
        # group (a rollup row or a sketch bin), not once per point.
        inner = (
            sa.select(
                time_bucket(m.timestamp, width).label("bucket"),
                *series_columns,
                m.value,
                m.timestamp,
                m.id,
            )
            .where(*points)
            .subquery()
        )
        i = inner.c
        series = [i.name, i.type, i.labels, i.organization_id, i.environment, i.service_name]
        last: Any
        last_id: Any
        if self.last_by_lookup:  # placeholders, replaced by _look_up_last below
            last, last_id = sa.func.max(i.value), sa.func.max(i.id)
        else:
            last = last_value(i.value, i.timestamp, i.id)
            last_id = sa.type_coerce(last_value(i.id, i.timestamp, i.id), sa.String())
        rows = sa.select(
            level_value,
            i.bucket,
            series_key(*series),
            *series,
            sa.func.count(),
            float_sum(i.value),  # ±inf beyond the float range, as raw sums
            sa.func.min(i.value),
            sa.func.max(i.value),
            last,
            sa.func.max(i.timestamp),
            last_id,
        ).group_by(i.bucket, *series)
        connection.execute(sa.insert(metric_rollups).from_select(_ROLLUP_COLUMNS, rows))
        if self.last_by_lookup:
            _look_up_last(connection, in_range)
        self._fill_histograms(connection, level, start, end)
        binned = (
            sa.select(
                time_bucket(m.timestamp, width).label("bucket"),
                *series_columns,
                sketch_bin(m.value, sketch.LN_GAMMA, sketch.BIN_OFFSET).label("bin"),
            )
            .where(*points)
            .subquery()
        )
        c = binned.c
        bin_series = [c.name, c.type, c.labels, c.organization_id, c.environment, c.service_name]
        connection.execute(
            sa.insert(metric_rollup_bins).from_select(
                ["level_us", "bucket", "series", "bin", "count"],
                sa.select(
                    level_value, c.bucket, series_key(*bin_series), c.bin, sa.func.count()
                ).group_by(c.bucket, *bin_series, c.bin),
            )
        )
        written = connection.execute(
            sa.select(sa.func.count()).select_from(metric_rollups).where(*in_range)
        ).scalar_one()
        return int(written)

    def _fill_histograms(self, connection: Connection, level: int, start: int, end: int) -> None:
        """Set the summed bucket counts of the histogram rows of ``level``'s buckets in
        ``[start, end)`` from their raw points. Bucket counts are JSON documents, which no
        dialect sums element-wise, so this is summed in Python: it reads histogram points
        only, and writes one UPDATE per histogram row."""
        histogram = MetricType.HISTOGRAM.value
        series_rows = connection.execute(
            sa.select(r.bucket, r.series, *_SERIES_OF_ROWS).where(
                r.level_us == level,
                r.bucket >= _at(start),
                r.bucket < _at(end),
                r.type == histogram,
            )
        ).all()
        if not series_rows:
            return
        series_of = {(to_epoch_us(row[0]), *_series_fields(row[2:])): row[1] for row in series_rows}
        sums: dict[tuple[int, str], HistogramSum] = {}
        points = connection.execute(
            sa.select(m.timestamp, *_SERIES_OF_POINTS, m.bucket_boundaries, m.bucket_counts).where(
                m.timestamp >= _at(start), m.timestamp < _at(end), m.type == histogram
            )
        )
        for timestamp, *fields, bounds, counts in points:
            at = to_epoch_us(timestamp)
            bucket = at - at % level
            where = (bucket, *_series_fields(fields))
            series = series_of[where]
            key = (bucket, series)
            total = sums.get(key)
            if total is None:
                total = sums[key] = HistogramSum()
            total.add(bounds, counts)
        self._store_histograms(connection, level, _histogram_rows(sums))

    def _store_histograms(
        self, connection: Connection, level: int, rows: list[HistogramRow]
    ) -> None:
        """Set the bucket columns of ``level``'s rollup rows to their summed histograms: one
        UPDATE per row (a backend where each statement is costly writes them in one)."""
        if not rows:
            return
        connection.execute(
            sa.update(metric_rollups)
            .where(
                r.level_us == sa.bindparam("k_level"),
                r.bucket == sa.bindparam("k_bucket"),
                r.series == sa.bindparam("k_series"),
            )
            .values(
                bucket_boundaries=sa.bindparam("k_bounds", type_=r.bucket_boundaries.type),
                bucket_counts=sa.bindparam("k_counts", type_=r.bucket_counts.type),
            ),
            [
                {
                    "k_level": level,
                    "k_bucket": _at(bucket),
                    "k_series": series,
                    "k_bounds": bounds,
                    "k_counts": counts,
                }
                for bucket, series, bounds, counts in rows
            ],
        )

    # --- reads ---------------------------------------------------------------------------
    def _aggregate_rollups(
        self, level: int, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        from obsstore.storage.base import aggregate_sort_key
        from obsstore.storage.sql import (  # the raw path's readers
            _aggregate_columns,
            _aggregate_points,
        )

        columns: list[Any] = [r.name.label("name")]
        if aggregation.interval is not None:
            # The level's own buckets where the interval is the level's: no bucket to compute.
            same = aggregation.interval == timedelta(microseconds=level)
            bucket = r.bucket if same else time_bucket(r.bucket, aggregation.interval)
            columns.append(bucket.label("bucket"))
        for index, key in enumerate(aggregation.group_by):
            expression = r[key] if key in COLUMN_GROUP_KEYS else label_value(r.labels, key)
            # Grouped in the order the answer is sorted in (code points): a planner that groups
            # by sorting then sorts once (PostgreSQL sorted twice, by two collations).
            columns.append(code_point(expression).label(f"g{index}"))
        clauses = [r.level_us == level, *rollup_filter_clauses(filters)]
        if aggregation.type == "histogram":
            return self._rollup_histograms(aggregation, clauses)
        with self._reading() as connection:
            to_datetime = from_database_timestamp(connection.dialect.name)
            if aggregation.type == "percentile":
                rows = self._rollup_percentiles(connection, aggregation, columns, clauses)
                points = _aggregate_points(rows, aggregation, to_datetime)
                points.sort(key=aggregate_sort_key)
                return points
            values = self._rollup_values(connection, aggregation, columns, clauses)
        return _aggregate_columns(values, aggregation, to_datetime)

    def _rollup_histograms(
        self, aggregation: Aggregation, clauses: list[Any]
    ) -> list[AggregatePoint]:
        """``type="histogram"``: the rows' summed counts, merged per group in Python."""
        query = sa.select(
            r.name,
            r.bucket,
            r.type,
            r.labels,
            r.organization_id,
            r.environment,
            r.service_name,
            r["count"],
            r.bucket_boundaries,
            r.bucket_counts,
        ).where(*clauses)
        groups: dict[tuple[Any, ...], tuple[list[int], HistogramSum]] = {}
        with self._reading() as connection:
            for row in connection.execute(query):
                values = row._mapping
                key = (
                    row.name,
                    bucket_of(row.bucket, aggregation),
                    group_of(dict(values), row.labels, aggregation.group_by),
                )
                entry = groups.get(key)
                if entry is None:
                    entry = groups[key] = ([0], HistogramSum())
                entry[0][0] += int(values["count"])
                entry[1].add(row.bucket_boundaries, row.bucket_counts)
        return [
            histogram_point(
                name, at, dict(zip(aggregation.group_by, values, strict=True)), n[0], total
            )
            for (name, at, values), (n, total) in groups.items()
        ]

    def _rollup_values(
        self,
        connection: Connection,
        aggregation: Aggregation,
        columns: list[Any],
        clauses: list[Any],
    ) -> list[Sequence[Any]]:
        """The answer's columns, read as the raw path reads its own (``_result_columns``)."""
        from obsstore.storage.sql import _key_order  # the raw path's ordering

        query = _grouped_rollups(aggregation, columns, clauses)
        if aggregation.ranked:
            totals = None
            if aggregation.interval is not None:
                whole = [c for c in columns if c.name != "bucket"]
                totals = _grouped_rollups(aggregation.totals(), whole, clauses)
            query = ranked_query(aggregation, query, totals)
        else:  # in the contract's order, as the raw path returns it (see sql.py)
            query = query.order_by(*_key_order(aggregation, query, code_points=True))
        return self._result_columns(connection, query)

    def _rollup_percentiles(
        self,
        connection: Connection,
        aggregation: Aggregation,
        columns: list[Any],
        clauses: list[Any],
    ) -> list[tuple[Any, ...]]:
        assert aggregation.percentile is not None
        stats = sa.select(*columns, r.count, r.min, r.max).where(*clauses).subquery()
        keys = [stats.c[c.name] for c in columns]
        if aggregation.interval is not None:
            keys[1] = sa.type_coerce(stats.c.bucket, sa.types.NullType())
        totals = connection.execute(
            sa.select(
                *keys,
                sa.func.min(stats.c.min),
                sa.func.max(stats.c.max),
                sa.func.sum(stats.c["count"]),
            ).group_by(*keys)
        ).all()
        joined = (
            sa.select(*columns, b.bin, b["count"])
            .select_from(
                metric_rollups.join(
                    metric_rollup_bins,
                    sa.and_(b.level_us == r.level_us, b.bucket == r.bucket, b.series == r.series),
                )
            )
            .where(*clauses)
            .subquery()
        )
        bin_keys = [joined.c[c.name] for c in columns]
        if aggregation.interval is not None:
            bin_keys[1] = sa.type_coerce(joined.c.bucket, sa.types.NullType())
        # Read as columns from the driver's rows: a row per bin and group, often as many as
        # the points they count.
        binned = self._result_columns(
            connection,
            sa.select(*bin_keys, joined.c.bin, sa.func.sum(joined.c["count"])).group_by(
                *bin_keys, joined.c.bin
            ),
        )
        bins: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
        if binned:
            *group_columns, bin_column, count_column = binned
            for key, bin_, count in zip(
                zip(*group_columns, strict=True), bin_column, count_column, strict=True
            ):
                bins.setdefault(key, []).append((int(bin_), int(count)))
        rows = []
        for *group, low, high, count in totals:
            value = sketch.quantile(bins.get(tuple(group), []), aggregation.percentile, low, high)
            if value is not None:
                rows.append((*group, value, count))
        return rows

    # --- deletes -------------------------------------------------------------------------
    def _delete_points_before(self, before: int) -> int:
        """Delete in time slices of about BATCH_ROWS points, oldest first: a range delete,
        which every dialect runs from its timestamp index or zone maps."""
        total = 0
        while True:
            pause()
            with self._writing() as connection:
                older = m.timestamp < _at(before)
                first = connection.execute(sa.select(sa.func.min(m.timestamp)).where(older))
                oldest = first.scalar_one()
                if oldest is None:
                    return total
                cut = connection.execute(
                    sa.select(m.timestamp)
                    .where(older)
                    .order_by(m.timestamp)
                    .offset(self.delete_batch_rows or BATCH_ROWS)
                    .limit(1)
                ).scalar_one_or_none()
                if cut is None:
                    doomed = older
                elif cut == oldest:  # more than a batch at one instant: that instant whole
                    doomed = m.timestamp <= cut
                else:
                    doomed = m.timestamp < cut
                # Counted, not the DELETE's rowcount: some drivers (ClickHouse's) report none.
                total += int(
                    connection.execute(
                        sa.select(sa.func.count()).select_from(metrics).where(doomed)
                    ).scalar_one()
                )
                connection.execute(sa.delete(metrics).where(doomed))

    def _delete_rollups_before(self, level: int, before: int) -> int:
        """Delete in bucket ranges of about BATCH_ROWS sketch bins (the larger table)."""
        total = 0
        while True:
            pause()
            with self._writing() as connection:
                self.lock_for_lifecycle(connection)
                cut = self._bucket_cut(connection, level, before)
                if cut is None:
                    return total
                doomed = [r.level_us == level, r.bucket < _at(cut)]
                total += int(
                    connection.execute(
                        sa.select(sa.func.count()).select_from(metric_rollups).where(*doomed)
                    ).scalar_one()
                )
                connection.execute(sa.delete(metric_rollups).where(*doomed))
                connection.execute(
                    sa.delete(metric_rollup_bins).where(b.level_us == level, b.bucket < _at(cut))
                )

    def _bucket_cut(self, connection: Connection, level: int, before: int) -> int | None:
        """The bucket before which about BATCH_ROWS bins of ``level`` lie (at most ``before``;
        None when nothing is left before it)."""
        older = [r.level_us == level, r.bucket < _at(before)]
        first = connection.execute(sa.select(sa.func.min(r.bucket)).where(*older)).scalar_one()
        if first is None:
            return None
        cut = connection.execute(
            sa.select(b.bucket)
            .where(b.level_us == level, b.bucket < _at(before))
            .order_by(b.bucket)
            .offset(BATCH_ROWS)
            .limit(1)
        ).scalar_one_or_none()
        if cut is None:
            return before
        return max(to_epoch_us(cut), to_epoch_us(first) + level)

    def _old_roots(self, before: int) -> sa.Select[Any]:
        return sa.select(s.trace_id).where(s.parent_span_id.is_(None), s.started_at < _at(before))

    def _delete_traces_before(self, before: int) -> tuple[int, int]:
        traces = spans_deleted = 0
        while True:
            pause()
            with self._writing() as connection:
                ids = list(
                    connection.execute(
                        self._old_roots(before).distinct().limit(TRACE_BATCH)
                    ).scalars()
                )
                if not ids:
                    return traces, spans_deleted
                spans_deleted += int(
                    connection.execute(
                        sa.select(sa.func.count()).select_from(spans).where(s.trace_id.in_(ids))
                    ).scalar_one()
                )
                connection.execute(sa.delete(spans).where(s.trace_id.in_(ids)))
                traces += len(ids)

    def _count_points_before(self, before: int) -> int:
        query = sa.select(sa.func.count()).select_from(metrics).where(m.timestamp < _at(before))
        with self._reading() as connection:
            return int(connection.execute(query).scalar_one())

    def _count_rollups_before(self, level: int, before: int) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(metric_rollups)
            .where(r.level_us == level, r.bucket < _at(before))
        )
        with self._reading() as connection:
            return int(connection.execute(query).scalar_one())

    def _count_traces_before(self, before: int) -> tuple[int, int]:
        old = self._old_roots(before).distinct().subquery()
        with self._reading() as connection:
            traces = connection.execute(sa.select(sa.func.count()).select_from(old)).scalar_one()
            spans_in = connection.execute(
                sa.select(sa.func.count())
                .select_from(spans)
                .where(s.trace_id.in_(sa.select(old.c.trace_id)))
            ).scalar_one()
        return int(traces), int(spans_in)
