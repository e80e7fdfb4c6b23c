"""Every SQL query on spans, written once on Core for all dialects (see sql.py for metrics)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from obsstore.models._fields import utc_now
from obsstore.models._trusted import trusted_builder
from obsstore.models.queries import Pagination
from obsstore.models.traces import (
    SPAN_JSON_FIELDS,
    TRACE_EQUALITY_FILTERS,
    SpanRecord,
    SpanUpdate,
    TraceFilters,
    TraceOrderBy,
    TraceStatus,
    TraceSummary,
)
from obsstore.schema import spans
from obsstore.sqlfuncs import (
    any_of,
    any_pair_of,
    elapsed,
    json_array_contains_all,
    json_scalar_equals,
)
from obsstore.storage.bulk import span_columns
from obsstore.storage.paging import fetch_page
from obsstore.storage.traces_base import SpanKey, TraceStorage, apply_updates

s = spans.c
_SPAN_FIELDS = [c.name for c in spans.columns]
# Columns an update may set: everything but the key and the creation time.
_UPDATABLE = [c for c in _SPAN_FIELDS if c not in ("trace_id", "span_id", "created_at")]
_stored_span = trusted_builder(SpanRecord)  # rows obsstore wrote are valid spans
# JSON columns, which a span's validation does not need when an update leaves them alone.
_PAYLOADS = frozenset((*SPAN_JSON_FIELDS, "tags"))
# Span keys looked up per statement, at two bound parameters each: far below every driver's
# limit on parameters (32,766 on SQLite, 65,535 on PostgreSQL).
_KEYS_PER_STATEMENT = 2000


def span_from_row(row: sa.Row[Any], model: type[SpanRecord] = SpanRecord, **extra: Any) -> Any:
    fields = {name: getattr(row, name) for name in _SPAN_FIELDS}
    return model.model_construct(**fields, **extra)


def status_clause(table: sa.FromClause, status: TraceStatus) -> sa.ColumnElement[bool]:
    if status is TraceStatus.ERROR:
        return table.c.error.is_not(None)
    if status is TraceStatus.RUNNING:
        return sa.and_(table.c.error.is_(None), table.c.ended_at.is_(None))
    return sa.and_(table.c.error.is_(None), table.c.ended_at.is_not(None))


def child_error_exists(root: sa.FromClause) -> sa.Exists:
    """Whether any non-root span of ``root``'s trace carries an error."""
    child = spans.alias("child")
    return sa.exists().where(
        child.c.trace_id == root.c.trace_id,
        child.c.parent_span_id.is_not(None),
        child.c.error.is_not(None),
    )


def trace_filter_clauses(root: sa.FromClause, filters: TraceFilters) -> list[Any]:
    clauses: list[Any] = [root.c.parent_span_id.is_(None)]
    for field in TRACE_EQUALITY_FILTERS:
        value = getattr(filters, field)
        if value is not None:
            clauses.append(root.c[field] == value)
    if filters.status is not None:
        clauses.append(status_clause(root, filters.status))
    if filters.has_child_error is not None:
        exists = child_error_exists(root)
        clauses.append(exists if filters.has_child_error else ~exists)
    if filters.start_time is not None:
        clauses.append(root.c.started_at >= filters.start_time)
    if filters.end_time is not None:
        clauses.append(root.c.started_at <= filters.end_time)
    if filters.tags:
        clauses.append(json_array_contains_all(root.c.tags, filters.tags))
    for key, value in (filters.metadata or {}).items():
        clauses.append(json_scalar_equals(root.c.metadata, key, value))
    return clauses


def trace_ordering(root: Any, order_by: TraceOrderBy) -> list[Any]:
    """ORDER BY of list_traces: by a moment, running spans (NULL ended_at) first on desc and
    last on asc; by duration, running spans last either way."""
    if order_by.field == "duration":
        moment: Any = elapsed(root.c.started_at, root.c.ended_at)
        running_first = False
    else:
        moment = root.c[order_by.field]
        running_first = order_by.direction == "desc"
    if order_by.direction == "desc":
        keys = [moment.desc(), root.c.span_id.desc(), root.c.trace_id.desc()]
    else:
        keys = [moment.asc(), root.c.span_id.asc(), root.c.trace_id.asc()]
    keys[0] = keys[0].nulls_first() if running_first else keys[0].nulls_last()
    return keys


class SQLTraces(TraceStorage):
    """The traces half of SQLStorage. Needs the connection helpers SQLStorage provides."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Connection]: ...

    @abstractmethod
    def _writing(self) -> AbstractContextManager[Connection]: ...

    bulk_epoch_timestamps: ClassVar[bool]

    @abstractmethod
    def _bulk_insert(
        self, connection: Connection, table: sa.Table, columns: dict[str, list[Any]]
    ) -> int: ...

    def _stored_spans(
        self, connection: Connection, keys: list[SpanKey], columns: list[str]
    ) -> dict[SpanKey, SpanRecord]:
        """The stored spans among ``keys``, looked up by key (never a whole trace), with only
        ``columns`` read (the others are None)."""
        unread = {name: None for name in _SPAN_FIELDS if name not in columns}
        found: dict[SpanKey, SpanRecord] = {}
        for start in range(0, len(keys), _KEYS_PER_STATEMENT):
            query = self._spans_by_key(keys[start : start + _KEYS_PER_STATEMENT], columns)
            for row in connection.execute(query):
                span = _stored_span({**unread, **row._mapping})
                found[span.key] = span
        return found

    def _spans_by_key(self, keys: list[SpanKey], columns: list[str]) -> sa.Select[Any]:
        """A query of ``columns`` of the stored spans among ``keys`` (a chunk of them)."""
        selected = [s[name] for name in columns]
        return sa.select(*selected).where(any_pair_of(s.trace_id, s.span_id, keys))

    def _create_spans(self, batch: list[SpanRecord]) -> int:
        columns = span_columns(batch, utc_now(), epoch_us=self.bulk_epoch_timestamps)
        with self._writing() as connection:
            return self._bulk_insert(connection, spans, columns)

    def _update_spans(self, updates: list[SpanUpdate]) -> int:
        now = utc_now()
        # Only the columns some update sets are written; they, and every column a span's
        # validation needs (all but the JSON payloads), are read.
        fields = {field for update in updates for field in update.changes()}
        written = [name for name in _UPDATABLE if name in fields or name == "updated_at"]
        read = [name for name in _SPAN_FIELDS if name not in _PAYLOADS or name in fields]
        with self._writing() as connection:
            keys = sorted({update.key for update in updates})
            changed = apply_updates(self._stored_spans(connection, keys, read), updates)
            self._write_span_updates(connection, list(changed.values()), written, now)
            return len(changed)

    def _write_span_updates(
        self, connection: Connection, changed: list[SpanRecord], columns: list[str], now: datetime
    ) -> None:
        """Write ``columns`` of the ``changed`` spans by key, ``updated_at`` set to ``now``."""
        statement = (
            sa.update(spans)
            .where(s.trace_id == sa.bindparam("key_trace"))
            .where(s.span_id == sa.bindparam("key_span"))
            .values({name: sa.bindparam(name, type_=s[name].type) for name in columns})
        )
        rows = []
        for span in changed:
            values = {name: getattr(span, name) for name in columns}
            values.update(updated_at=now, key_trace=span.trace_id, key_span=span.span_id)
            rows.append(values)
        connection.execute(statement, rows)

    def _get_span(self, trace_id: str, span_id: str) -> SpanRecord | None:
        query = sa.select(spans).where(s.trace_id == trace_id, s.span_id == span_id)
        with self._reading() as connection:
            row = connection.execute(query).first()
        return None if row is None else span_from_row(row)

    def _get_trace_spans(self, trace_id: str, *, roots_only: bool) -> list[SpanRecord]:
        query = sa.select(spans).where(s.trace_id == trace_id)
        if roots_only:
            query = query.where(s.parent_span_id.is_(None))
        query = query.order_by(s.started_at, s.span_id)
        with self._reading() as connection:
            return [span_from_row(row) for row in connection.execute(query)]

    def _list_traces(
        self, filters: TraceFilters, pagination: Pagination, order_by: TraceOrderBy
    ) -> tuple[list[TraceSummary], int]:
        root: Any = spans.alias("root")  # a second name: child_error_exists aliases spans
        clauses = trace_filter_clauses(root, filters)
        ordering = trace_ordering(root, order_by)
        query = (
            sa.select(root, child_error_exists(root).label("has_child_error"))
            .where(*clauses)
            .order_by(*ordering)
        )
        with self._reading() as connection:
            rows, total = fetch_page(connection, query, root, clauses, pagination)
        data = [
            span_from_row(row, TraceSummary, has_child_error=bool(row.has_child_error))
            for row in rows
        ]
        return data, total

    def _delete_traces(self, trace_ids: list[str]) -> int:
        doomed = any_of(s.trace_id, trace_ids)
        with self._writing() as connection:
            count = connection.execute(
                sa.select(sa.func.count()).select_from(spans).where(doomed)
            ).scalar_one()
            if count:
                connection.execute(sa.delete(spans).where(doomed))
            return int(count)

    def _iter_spans(self, batch_size: int) -> Iterator[SpanRecord]:
        # Keyset pagination on the primary key, one short read per batch.
        query = sa.select(spans).order_by(s.trace_id, s.span_id).limit(batch_size)
        after: list[sa.ColumnElement[bool]] = []
        while True:
            with self._reading() as connection:
                batch = [span_from_row(row) for row in connection.execute(query.where(*after))]
            yield from batch
            if len(batch) < batch_size:
                return
            last = batch[-1]
            after = [
                sa.or_(
                    s.trace_id > last.trace_id,
                    sa.and_(s.trace_id == last.trace_id, s.span_id > last.span_id),
                )
            ]
