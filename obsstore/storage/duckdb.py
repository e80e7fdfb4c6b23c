"""DuckDB: a file or ``:memory:``. A process holds one database instance and hands every pooled
connection a cursor of it; another process opening a locked file gets
``StorageUnavailableError`` naming the path. Bulk writes hand DuckDB an Arrow table."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime
from operator import add
from typing import Any

import duckdb
import duckdb_engine
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import QueuePool

from obsstore.duckdb_dialect import DRIVERNAME
from obsstore.models import SpanRecord
from obsstore.schema import metrics, spans
from obsstore.sqltypes import UTCTimestamp, dump_json
from obsstore.storage.bulk import span_columns
from obsstore.storage.sql import SQLStorage

_ARROW_BATCH = "obsstore_arrow_batch"
# Characters of text one INSERT statement takes at most (one row may exceed it alone).
SLICE_TEXT = 32 * 1024 * 1024
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _database(url: URL) -> str:
    return url.database or ":memory:"


def _is_memory(url: URL) -> bool:
    return _database(url) == ":memory:"


class _Database:
    """The process's one DuckDB instance for a path, opened on first use (and again after a
    failed open: a file another process holds becomes usable once it lets go). Every pooled
    connection is a cursor of it, so in-memory databases are shared by the whole pool."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._root: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def connect(self) -> Any:
        with self._lock:
            if self._root is None:
                self._root = duckdb.connect(self.path)
            return duckdb_engine.ConnectionWrapper(self._root.cursor())

    def close(self) -> None:
        with self._lock:
            if self._root is not None:
                self._root.close()
                self._root = None


class DuckDBStorage(SQLStorage):
    kind = "duckdb"
    bulk_epoch_timestamps = True  # Arrow int64 microseconds, cast to TIMESTAMP in DuckDB
    bulk_counts_as_json = False
    # Deleting a row cost about 0.2 ms here while the id column was compressed (its key is
    # fetched row by row for the primary-key index); 0006_row_key_storage stores it
    # uncompressed (see registry.DialectProfile.row_key_compression), so prune deletes in
    # batches of the usual size.
    # Rollup transactions stay at the shared 50,000 points although a commit costs about 50 ms
    # here whatever its size (rollup() of 1M points: 18.5 s at 20,000 points, 11.1 s at
    # 100,000): a transaction writes about 1.4 rows per point, and the lifecycle keeps each
    # near 50,000 rows so that concurrent writers are not held for long.

    @classmethod
    def is_in_memory(cls, url: URL) -> bool:
        return _is_memory(url)

    @classmethod
    def build_engine(cls, url: URL) -> tuple[Engine, Any]:
        database = _Database(_database(url))
        engine = sa.create_engine(
            url.set(drivername=DRIVERNAME, database=database.path),
            creator=database.connect,
            json_serializer=dump_json,
            poolclass=QueuePool,
            pool_size=4,
            max_overflow=8,
        )
        return engine, database.close

    @classmethod
    def write_lock(cls, url: URL) -> Any:
        # DuckDB admits one writer at a time per table without conflicts; queue them here.
        if _is_memory(url):
            return threading.Lock()
        with _write_locks_guard:
            return _write_locks.setdefault(_database(url), threading.Lock())

    @classmethod
    def is_unavailable(cls, error: BaseException) -> bool:
        return isinstance(error, (duckdb.IOException, duckdb.ConnectionException))

    @classmethod
    def is_missing_schema(cls, error: BaseException) -> bool:
        return isinstance(error, duckdb.CatalogException) and "does not exist" in str(error)

    @classmethod
    def is_misconfigured(cls, error: BaseException) -> bool:
        # The URL names a file that is not a DuckDB database (or one of another format version).
        message = str(error)
        return isinstance(error, duckdb.IOException) and (
            "not a valid DuckDB database file" in message
            or "database file with version number" in message
        )

    def _write_metric_table_columns(self, connection: Connection, columns: dict[str, Any]) -> int:
        # Bucket counts travel as list<int64> and DuckDB writes their JSON text itself.
        return _arrow_insert(connection, metrics, columns, {"bucket_counts": _COUNTS})

    def _bulk_insert(
        self, connection: Connection, table: sa.Table, columns: dict[str, list[Any]]
    ) -> int:
        return _arrow_insert(connection, table, columns, {})

    def _write_span_updates(
        self, connection: Connection, changed: list[SpanRecord], columns: list[str], now: datetime
    ) -> None:
        # One UPDATE ... FROM the rows as an Arrow table: DuckDB runs executemany's statements
        # one by one, and each finds its row anew (40,000 updates took two minutes).
        built = span_columns(changed, now, epoch_us=True)
        keyed = {name: built[name] for name in ("trace_id", "span_id", *columns)}
        with _registered(connection, spans, keyed, {}) as source:
            statement = (
                sa.update(spans)
                .values({name: source.c[name] for name in columns})
                .where(spans.c.trace_id == source.c.trace_id)
                .where(spans.c.span_id == source.c.span_id)
            )
            connection.execute(statement)

    def _reclaim_space(self) -> None:
        # A checkpoint writes the WAL into the file and frees the blocks deleted rows held.
        with self._translate_errors(), self._write_lock, self.engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            raw.execute("CHECKPOINT")


_COUNTS = pa.list_(pa.int64())


def _arrow_type(column: sa.Column[Any]) -> Any:
    if isinstance(column.type, UTCTimestamp):
        return pa.int64()  # microseconds since the epoch; cast to TIMESTAMP below
    if isinstance(column.type, sa.Double):
        return pa.float64()
    if isinstance(column.type, sa.Boolean):
        return pa.bool_()
    if isinstance(column.type, sa.BigInteger):
        return pa.int64()
    return pa.string()  # text, and JSON as text


@contextlib.contextmanager
def _registered(
    connection: Connection,
    table: sa.Table,
    columns: dict[str, list[Any]],
    json_lists: dict[str, Any],
    rows: slice = slice(None),
) -> Iterator[sa.TableClause]:
    """``columns`` (of ``table``, any subset; only ``rows`` of them) as an Arrow table
    registered on the connection, for the statement run inside; ``json_lists`` as in
    ``_arrow_insert``."""
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.register(_ARROW_BATCH, _arrow_table(table, columns, json_lists, rows))
    try:
        yield sa.table(_ARROW_BATCH, *(sa.column(c) for c in columns))
    finally:
        # In a transaction the error aborted, unregister fails too; that must not hide the
        # error itself (a missing table is a SchemaError). The next register replaces it.
        with contextlib.suppress(duckdb.TransactionException):
            raw.unregister(_ARROW_BATCH)


def _arrow_table(
    table: sa.Table, columns: dict[str, list[Any]], json_lists: dict[str, Any], rows: slice
) -> pa.Table:
    arrays = []
    for name, values in columns.items():
        column = table.c[name]
        array = pa.array(values[rows], json_lists.get(name) or _arrow_type(column))
        if isinstance(column.type, UTCTimestamp):
            array = array.cast(pa.timestamp("us"))
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=list(columns))


def _arrow_insert(
    connection: Connection,
    table: sa.Table,
    columns: dict[str, list[Any]],
    json_lists: dict[str, Any],
) -> int:
    """``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` from the columns as a registered Arrow
    table; DuckDB answers with the number of rows it added (conflicts excluded).
    ``json_lists`` names JSON columns passed as Arrow lists (with their type), which DuckDB
    turns into JSON text itself. A batch with much text goes in slices (see ``_slices``), all
    in the caller's transaction, so it stays atomic."""
    text_columns = [
        columns[c.name]
        for c in table.columns
        if c.name not in json_lists and _arrow_type(c) == pa.string()
    ]
    source = sa.table(_ARROW_BATCH, *(sa.column(c) for c in columns))
    selected = [
        sa.cast(source.c[name], sa.JSON()) if name in json_lists else source.c[name]
        for name in columns
    ]
    keys = [c.name for c in table.primary_key.columns]
    statement = (
        pg_insert(table)
        .from_select(list(columns), sa.select(*selected))
        .on_conflict_do_nothing(index_elements=keys)
    )
    sql = str(statement.compile(dialect=connection.dialect))
    added = 0
    for rows in _slices(text_columns, len(next(iter(columns.values())))):
        with _registered(connection, table, columns, json_lists, rows):
            added += int(connection.exec_driver_sql(sql).scalar_one())
    return added


def _slices(text_columns: list[list[str | None]], count: int) -> list[slice]:
    """Consecutive row slices, each holding at most ``SLICE_TEXT`` characters of text (or a
    single row): the Arrow copy of a slice, and what DuckDB builds from it per statement, stay
    bounded however big the batch. A batch under the bound is one slice, found without a pass
    per row."""
    total = sum(sum(map(len, filter(None, values))) for values in text_columns)
    if total <= SLICE_TEXT:
        return [slice(0, count)]
    sizes = [0] * count
    for values in text_columns:
        sizes = list(map(add, sizes, (len(v) if v else 0 for v in values)))
    slices, start, held = [], 0, 0
    for row, size in enumerate(sizes):
        if held + size > SLICE_TEXT and row > start:
            slices.append(slice(start, row))
            start, held = row, 0
        held += size
    slices.append(slice(start, count))
    return slices
