"""DuckDB: a file or ``:memory:``. A process holds one database instance and hands every pooled
connection a cursor of it; another process opening a locked file gets
``StorageUnavailableError`` naming the path. Bulk writes hand DuckDB an Arrow table."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import duckdb
import duckdb_engine
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import QueuePool

from obsstore.duckdb_dialect import DRIVERNAME
from obsstore.models import MetricRecord
from obsstore.schema import metrics
from obsstore.sqltypes import UTCTimestamp, dump_json
from obsstore.storage.bulk import metric_columns
from obsstore.storage.sql import SQLStorage

_ARROW_BATCH = "obsstore_arrow_batch"
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
    # Deleting a row costs about 0.1 ms here (its primary-key index entry): prune deletes in
    # small transactions so a writer waiting for the write lock waits for a short one.
    delete_batch_rows = 2_000

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

    def _write_metric_rows(self, connection: Connection, records: list[MetricRecord]) -> int:
        # Bucket counts travel as list<int64> and DuckDB writes their JSON text itself.
        columns = metric_columns(records, epoch_us=True, counts_as_json=False)
        return _arrow_insert(connection, metrics, columns, {"bucket_counts": _COUNTS})

    def _bulk_insert(
        self, connection: Connection, table: sa.Table, columns: dict[str, list[Any]]
    ) -> int:
        return _arrow_insert(connection, table, columns, {})

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
    return pa.string()  # text, and JSON as text


def _arrow_insert(
    connection: Connection,
    table: sa.Table,
    columns: dict[str, list[Any]],
    json_lists: dict[str, Any],
) -> int:
    """``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` from the columns as a registered Arrow
    table; DuckDB answers with the number of rows it added (conflicts excluded).
    ``json_lists`` names JSON columns passed as Arrow lists (with their type), which DuckDB
    turns into JSON text itself."""
    arrays = []
    for column in table.columns:
        array = pa.array(columns[column.name], json_lists.get(column.name) or _arrow_type(column))
        if isinstance(column.type, UTCTimestamp):
            array = array.cast(pa.timestamp("us"))
        arrays.append(array)
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.register(_ARROW_BATCH, pa.Table.from_arrays(arrays, names=list(columns)))
    try:
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
        return int(connection.exec_driver_sql(sql).scalar_one())
    finally:
        # In a transaction the error aborted, unregister fails too; that must not hide the
        # error itself (a missing table is a SchemaError). The next register replaces it.
        with contextlib.suppress(duckdb.TransactionException):
            raw.unregister(_ARROW_BATCH)
