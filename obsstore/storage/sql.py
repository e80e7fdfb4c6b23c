"""Every SQL query obsstore runs, written once on SQLAlchemy Core.

Backends subclass :class:`SQLStorage` and supply only engine setup, the bulk-write hook and a
few small hooks (error classification, migration lock). Expressions that differ by dialect are
the constructs in :mod:`obsstore.sqlfuncs`."""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from functools import partial
from itertools import repeat
from operator import truediv
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from obsstore import migrate, registry
from obsstore.config import Settings, load_settings
from obsstore.errors import (
    ConfigurationError,
    ObsstoreError,
    SchemaError,
    StorageUnavailableError,
)
from obsstore.models import (
    AggregatePoint,
    Aggregation,
    MetricFilters,
    MetricRecord,
    MetricType,
    OrderBy,
    Pagination,
)
from obsstore.models._trusted import trusted_builder
from obsstore.models.dict_columns import MetricColumns
from obsstore.models.queries import COLUMN_GROUP_KEYS
from obsstore.schema import metric_rollup_bins, metric_rollups, metrics, rollup_state, spans
from obsstore.sqlfuncs import (
    any_of,
    code_point,
    float_sum,
    label_entries,
    label_value,
    labels_match,
    labels_match_in_window,
    last_value,
    percentile_cont,
    time_bucket,
)
from obsstore.sqltypes import from_database_timestamp
from obsstore.storage import engines
from obsstore.storage.base import ObservabilityStorage, prefix_upper_bound
from obsstore.storage.bulk import metric_columns, validated_dict_columns
from obsstore.storage.paging import fetch_page
from obsstore.storage.sql_health import SQLHealth
from obsstore.storage.sql_histograms import SQLHistograms
from obsstore.storage.sql_ranking import ranked_query
from obsstore.storage.sql_rollups import SQLRollups
from obsstore.storage.sql_traces import SQLTraces

m = metrics.c
_ORDER_COLUMNS = {"timestamp": m.timestamp, "name": m.name, "value": m.value}


def metric_filter_clauses(filters: MetricFilters) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    # One value compares with "=": planners treat it best, and it needs no expanding IN.
    if filters.names is not None:
        clauses.append(_equal_or_in(m.name, filters.names))
    if filters.types is not None:
        clauses.append(_equal_or_in(m.type, [t.value for t in filters.types]))
    if filters.start_time is not None:
        clauses.append(m.timestamp >= filters.start_time)
    if filters.end_time is not None:
        clauses.append(m.timestamp <= filters.end_time)
    if filters.labels:
        # With a start time the (name, timestamp) range leads and labels filter its rows: the
        # cost of a recent window then stays that of the window, however long the history.
        match = labels_match if filters.start_time is None else labels_match_in_window
        clauses.append(match(m.labels, filters.labels))
    for column in ("organization_id", "environment", "service_name", "trace_id"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(m[column] == value)
    return clauses


def _equal_or_in(column: sa.ColumnElement[Any], values: list[Any]) -> sa.ColumnElement[bool]:
    return column == values[0] if len(values) == 1 else any_of(column, values)


def prefix_clauses(expression: sa.ColumnElement[Any], prefix: str | None) -> list[Any]:
    if not prefix:
        return []
    upper = prefix_upper_bound(prefix)
    clauses = [expression >= prefix]
    if upper is not None:
        clauses.append(expression < upper)
    return clauses


_record = trusted_builder(MetricRecord)
_point = partial(tuple.__new__, AggregatePoint)  # from a 7-tuple, with no Python call


def record_from_row(row: sa.Row[Any]) -> MetricRecord:
    values = row._asdict()
    values["type"] = MetricType(values["type"])
    return _record(values)


class SQLStorage(SQLHealth, SQLHistograms, SQLTraces, SQLRollups, ObservabilityStorage):
    """The shared SQL implementation. Subclasses set the class attributes and hooks below."""

    # Whether bulk paths take timestamps as integer microseconds since the epoch (or aware
    # datetimes).
    bulk_epoch_timestamps: ClassVar[bool] = False
    # Whether bucket counts go to the bulk paths as JSON text (or lists of ints, for a
    # database that writes their JSON itself).
    bulk_counts_as_json: ClassVar[bool] = True
    aggregates_sorted = True  # see _aggregate_metrics' ORDER BY

    def __init__(self, url: URL, settings: Settings | None = None) -> None:
        self.url = url
        self._settings = settings if settings is not None else load_settings()
        backend = registry.get(self.kind)
        assert backend.profile is not None
        self.profile = backend.profile
        in_memory = self.is_in_memory(url)
        self.capabilities = backend.capabilities.in_memory() if in_memory else backend.capabilities
        self._engine: Engine | None = engines.acquire(
            self.engine_key(url), lambda: self.build_engine(url)
        )
        # Set by backends whose connections cannot run concurrently (one shared connection).
        self._serialize: threading.RLock | None = None
        self._shared_read = threading.local()  # .connection: the one _one_read() opened
        self._write_lock = self.write_lock(url)
        self._revision_checked = False  # see _check_revision_once

    # --- hooks ---------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def build_engine(cls, url: URL) -> tuple[Engine, Any]:
        """A configured engine for ``url`` and a callable run after it is disposed (or None)."""

    @classmethod
    def is_in_memory(cls, url: URL) -> bool:
        """Whether ``url`` names a database that lives only in this process."""
        return False

    @classmethod
    def engine_key(cls, url: URL) -> str | None:
        """Storages with the same key share one engine; ``None`` (in-memory) shares nothing."""
        return None if cls.is_in_memory(url) else url.render_as_string(hide_password=False)

    @classmethod
    def write_lock(cls, url: URL) -> Any:
        """A lock writers in this process take before writing (none by default)."""
        return nullcontext()

    @classmethod
    def lock_for_migration(cls, connection: Connection) -> None:
        """Serialise concurrent migrations (the write transaction already does on SQLite)."""

    @classmethod
    @abstractmethod
    def is_unavailable(cls, error: BaseException) -> bool:
        """Whether a driver error means the database is unreachable, locked or restarting."""

    @classmethod
    def is_missing_schema(cls, error: BaseException) -> bool:
        return False

    @classmethod
    def is_misconfigured(cls, error: BaseException) -> bool:
        """Whether a driver error means the URL names something that is not there or not a
        database (a missing database or role, a file of another kind): retrying cannot help."""
        return False

    @abstractmethod
    def _bulk_insert(
        self, connection: Connection, table: sa.Table, columns: dict[str, list[Any]]
    ) -> int:
        """Insert rows given column by column (every column of ``table``, in table order, as
        the builders in ``bulk.py`` make them), skipping rows whose primary key is already
        stored; return the number of rows added."""

    def _result_columns(self, connection: Connection, query: sa.Select[Any]) -> list[Sequence[Any]]:
        """The result of ``query`` column by column, raw database values (the columns must
        carry no result processing): an empty list when it has no rows. Read from the driver's
        own tuples, not a SQLAlchemy Row per result row: building those cost ~30 ms for a
        panel's 8,400 groups (DuckDB), and their allocations set off garbage collections that
        doubled a SQLite rollup panel's median."""
        result = connection.execute(query)
        try:
            rows = result.cursor.fetchall()
        finally:
            result.close()
        return list(zip(*rows, strict=True))

    def _write_metric_rows(self, connection: Connection, records: list[MetricRecord]) -> int:
        """Insert ``records`` (unique ids), skipping ids already stored; return rows added."""
        columns = metric_columns(
            records,
            epoch_us=self.bulk_epoch_timestamps,
            counts_as_json=self.bulk_counts_as_json,
        )
        return self._write_metric_table_columns(connection, columns)

    def _write_metric_table_columns(self, connection: Connection, columns: dict[str, Any]) -> int:
        """Insert the columns ``bulk.py`` built (unique ids), skipping ids already stored."""
        return self._bulk_insert(connection, metrics, columns)

    # --- connections ---------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise ObsstoreError("this storage is closed")
        return self._engine

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.DBAPIError as exc:
            cause: BaseException = exc.orig if exc.orig is not None else exc
            self._raise_typed(cause, exc, invalidated=exc.connection_invalidated)
            raise
        except Exception as exc:
            # Bulk-write hooks use the driver directly, so driver errors arrive unwrapped too.
            self._raise_typed(exc, exc, invalidated=False)
            raise

    def _raise_typed(self, cause: BaseException, error: Exception, *, invalidated: bool) -> None:
        where = self.url.render_as_string(hide_password=True)
        if self.is_misconfigured(cause):
            raise ConfigurationError(
                f"{self.kind} database {where}: {cause} (check the database URL)"
            ) from error
        if invalidated or self.is_unavailable(cause):
            raise StorageUnavailableError(f"{self.kind} database {where}: {cause}") from error
        if self.is_missing_schema(cause):
            raise SchemaError(
                f"{self.kind} database {where} has no obsstore schema; call storage.init() "
                "or run `alembic upgrade head`"
            ) from error

    def _check_revision_once(self, connection: Connection) -> None:
        """Refuse a database a newer obsstore migrated on this storage's first use, as init()
        does, so calls without init() cannot corrupt it: one version-table read per storage."""
        if not self._revision_checked:
            migrate.check_known_revision(connection)
            self._revision_checked = True

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        shared: Connection | None = getattr(self._shared_read, "connection", None)
        if shared is not None:  # inside _one_read() on this thread
            yield shared
            return
        with self._translate_errors(), self._serialize or nullcontext():
            with self.engine.connect() as connection, connection.begin():
                self._check_revision_once(connection)
                yield connection

    @contextmanager
    def _one_read(self) -> Iterator[None]:
        if getattr(self._shared_read, "connection", None) is not None:
            yield  # an enclosing _one_read() holds the connection
            return
        with self._reading() as connection:
            self._shared_read.connection = connection
            try:
                yield
            finally:
                self._shared_read.connection = None

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self._translate_errors(), self._serialize or nullcontext(), self._write_lock:
            connection = self.engine.connect().execution_options(obsstore_write=True)
            with connection, connection.begin():
                self._check_revision_once(connection)
                yield connection

    # --- lifecycle -----------------------------------------------------------------------
    def init(self) -> None:
        # Embedded databases always migrate; a server's schema follows the setting.
        auto = self.profile.embedded or self._settings.auto_migrate
        with self._writing() as connection:
            self.lock_for_migration(connection)
            migrate.ensure_schema(connection, upgrade=auto)

    def close(self) -> None:
        if self._engine is not None:
            engines.release(self._engine)
            self._engine = None

    def dangerously_clear_all(self) -> None:
        with self._writing() as connection:
            connection.execute(sa.delete(metrics))
            connection.execute(sa.delete(spans))
            for table in (metric_rollups, metric_rollup_bins, rollup_state):
                connection.execute(sa.delete(table))

    # --- writes --------------------------------------------------------------------------
    def _insert_metrics(self, records: list[MetricRecord]) -> int:
        with self._writing() as connection:
            return self._write_metric_rows(connection, records)

    def _insert_metric_columns(self, columns: MetricColumns) -> int:
        built = validated_dict_columns(
            columns, epoch_us=self.bulk_epoch_timestamps, counts_as_json=self.bulk_counts_as_json
        )
        with self._writing() as connection:
            return self._write_metric_table_columns(connection, built)

    def _delete_metrics(self, filters: MetricFilters) -> int:
        clauses = metric_filter_clauses(filters)
        with self._writing() as connection:
            doomed = connection.execute(
                sa.select(sa.func.count()).select_from(metrics).where(*clauses)
            ).scalar_one()
            if doomed:
                connection.execute(sa.delete(metrics).where(*clauses))
            return int(doomed)

    # --- reads ---------------------------------------------------------------------------
    def _list_metrics(
        self, filters: MetricFilters, pagination: Pagination, order_by: OrderBy
    ) -> tuple[list[MetricRecord], int]:
        clauses = metric_filter_clauses(filters)
        column = _ORDER_COLUMNS[order_by.field]
        if order_by.direction == "desc":
            ordering = [column.desc(), m.id.desc()]
        else:
            ordering = [column.asc(), m.id.asc()]
        query = sa.select(metrics).where(*clauses).order_by(*ordering)
        with self._reading() as connection:
            rows, total = fetch_page(connection, query, metrics, clauses, pagination)
        return [record_from_row(row) for row in rows], total

    def _iter_metrics(self, filters: MetricFilters, batch_size: int) -> Iterator[MetricRecord]:
        # Keyset pagination on (timestamp, id): each batch is its own short read, so no
        # transaction or server cursor stays open while the caller works through the points.
        clauses = metric_filter_clauses(filters)
        query = sa.select(metrics).order_by(m.timestamp, m.id).limit(batch_size)
        after: list[sa.ColumnElement[bool]] = []
        while True:
            with self._reading() as connection:
                batch = [
                    record_from_row(row)
                    for row in connection.execute(query.where(*clauses, *after))
                ]
            yield from batch
            if len(batch) < batch_size:
                return
            last = batch[-1]
            after = [
                sa.or_(
                    m.timestamp > last.timestamp,
                    sa.and_(m.timestamp == last.timestamp, m.id > last.id),
                )
            ]

    def _count_metrics(self, filters: MetricFilters) -> int:
        query = (
            sa.select(sa.func.count()).select_from(metrics).where(*metric_filter_clauses(filters))
        )
        with self._reading() as connection:
            return int(connection.execute(query).scalar_one())

    def _aggregate_metrics(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        query = _grouped_points(aggregation, filters)
        if aggregation.ranked:
            totals = None
            if aggregation.interval is not None:
                totals = _grouped_points(aggregation.totals(), filters)
            query = ranked_query(aggregation, query, totals)
        else:
            query = query.order_by(*_key_order(aggregation, query))
        with self._reading() as connection:
            columns = self._result_columns(connection, query)
            to_datetime = from_database_timestamp(connection.dialect.name)
        return _aggregate_columns(columns, aggregation, to_datetime)

    def _list_metric_names(self, prefix: str | None, limit: int | None) -> list[str]:
        query = (
            sa.select(m.name)
            .distinct()
            .where(*prefix_clauses(m.name, prefix))
            .order_by(m.name)
            .limit(limit)
        )
        with self._reading() as connection:
            return list(connection.execute(query).scalars())

    def _list_label_keys(self, name: str | None) -> list[str]:
        query = (
            self._label_keys_query()
            .where(*([m.name == name] if name is not None else []))
            .distinct()
            .order_by(sa.literal_column("key"))
        )
        with self._reading() as connection:
            return list(connection.execute(query).scalars())

    def _label_keys_query(self) -> sa.Select[Any]:
        """One row per (point, label key), the key labelled ``key`` (a hook: a database whose
        labels are a map, not a document to join with, lists its keys its own way)."""
        entries = label_entries(m.labels).table_valued("key", name="entries")
        key = code_point(entries.c.key).label("key")
        return sa.select(key).select_from(metrics).join(entries, sa.true())

    def _list_label_values(
        self, key: str, name: str | None, prefix: str | None, limit: int | None
    ) -> list[str]:
        value = code_point(label_value(m.labels, key))
        labelled = value.label("value")
        query = (
            sa.select(labelled)
            .where(value.is_not(None), *prefix_clauses(value, prefix))
            .where(*([m.name == name] if name is not None else []))
            .distinct()
            .order_by(labelled)
            .limit(limit)
        )
        with self._reading() as connection:
            return list(connection.execute(query).scalars())


def _grouped_points(aggregation: Aggregation, filters: MetricFilters) -> sa.Select[Any]:
    """Rows of (name, [bucket], g0.., value, count), unordered."""
    # Bucket and group expressions are computed in a subquery and grouped by name outside,
    # because a repeated expression with bound parameters is not "the same" to the planner.
    inner_columns: list[Any] = [m.name.label("name"), m.value, m.timestamp, m.id]
    if aggregation.interval is not None:
        inner_columns.append(time_bucket(m.timestamp, aggregation.interval).label("bucket"))
    for index, key in enumerate(aggregation.group_by):
        expression = m[key] if key in COLUMN_GROUP_KEYS else label_value(m.labels, key)
        inner_columns.append(expression.label(f"g{index}"))
    inner = sa.select(*inner_columns).where(*metric_filter_clauses(filters)).subquery()
    keys: list[Any] = [inner.c.name]
    if aggregation.interval is not None:
        # Raw database values: _aggregate_points converts each distinct bucket once.
        keys.append(sa.type_coerce(inner.c.bucket, sa.types.NullType()).label("bucket"))
    keys.extend(inner.c[f"g{i}"] for i in range(len(aggregation.group_by)))
    value = _aggregate_expression(aggregation, inner).label("value")
    return sa.select(*keys, value, sa.func.count().label("count")).group_by(*keys)


def _key_order(
    aggregation: Aggregation, query: sa.Select[Any], *, code_points: bool = False
) -> list[Any]:
    """The contract's order (name, groups in code-point order with missing values first,
    bucket): the database sorts faster than Python, and MetricsStorage then need not.
    ``code_points``: the group columns are ``code_point`` expressions already."""
    columns = query.selected_columns
    ordering: list[Any] = [columns.name]
    groups = [columns[f"g{i}"] for i in range(len(aggregation.group_by))]
    ordering += [(g if code_points else code_point(g)).nulls_first() for g in groups]
    if aggregation.interval is not None:
        ordering.append(columns.bucket)
    return ordering


def _aggregate_points(
    rows: Sequence[Any], aggregation: Aggregation, to_datetime: Callable[[Any], datetime]
) -> list[AggregatePoint]:
    """Rows of (name, [bucket], group values..., value, count) as points."""
    return _aggregate_columns(list(zip(*rows, strict=True)), aggregation, to_datetime)


def _aggregate_columns(
    columns: list[Sequence[Any]], aggregation: Aggregation, to_datetime: Callable[[Any], datetime]
) -> list[AggregatePoint]:
    """Columns (name, [bucket], group values..., value, count) as points, column by column
    (indexing each Row in a Python loop cost more than the query on DuckDB). Buckets come
    raw from the database and repeat once per group: each distinct one is converted once."""
    if not columns or not columns[0]:
        return []
    has_bucket = aggregation.interval is not None
    buckets: Iterable[datetime | None] = repeat(None)
    if has_bucket:
        converted = {raw: to_datetime(raw) for raw in set(columns[1])}
        buckets = map(converted.__getitem__, columns[1])
    keys = aggregation.group_by
    groups = columns[2 if has_bucket else 1 : -2]
    counts = list(map(int, columns[-1]))
    values: Iterable[float] = map(float, columns[-2])
    if aggregation.type == "avg":
        values = map(truediv, values, counts)  # the query gives sums
    group_dicts = _group_dicts(keys, groups, len(counts))
    # zip without strict: buckets may repeat endlessly.
    return list(
        map(
            _point,
            zip(columns[0], buckets, group_dicts, values, counts, repeat(None), repeat(None)),
        )
    )


def _group_dicts(
    keys: list[str], columns: Sequence[Sequence[Any]], size: int
) -> list[dict[str, Any]]:
    """Each row's group as a dict of ``keys`` to its values in ``columns``. A dict display per
    row where the keys are few: ``dict(zip(keys, values))`` costs about 2 µs a row here, ten
    times the display, and an aggregate returns thousands of rows."""
    if not keys:
        return [{} for _ in range(size)]
    if len(keys) == 1:
        (key,) = keys
        return [{key: value} for value in columns[0]]
    return [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]


def _aggregate_expression(aggregation: Aggregation, inner: sa.Subquery) -> Any:
    value = inner.c.value
    kind = aggregation.type
    if kind == "count":
        return sa.func.count()
    if kind == "last":
        return last_value(value, inner.c.timestamp, inner.c.id)
    if kind == "percentile":
        assert aggregation.percentile is not None
        return percentile_cont(value, aggregation.percentile)
    if kind == "sum":
        return float_sum(value)
    if kind == "avg":
        # The sum, which _aggregate_points divides by the count: one rule on every backend
        # (infinite where the sum is), no "underflow" error from PostgreSQL's division, and
        # unlike PostgreSQL's avg, no sum of squares (which overflows from about 1e154).
        return float_sum(value)
    return sa.func.min(value) if kind == "min" else sa.func.max(value)
