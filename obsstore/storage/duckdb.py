"""DuckDB: a file or ``:memory:``. A process holds one database instance and hands every pooled
connection a cursor of it; another process opening a locked file gets
``StorageUnavailableError`` naming the path. Bulk writes go through Arrow when pyarrow is
installed."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import duckdb
import duckdb_engine
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import QueuePool

from obsstore.config import Settings
from obsstore.models import MetricRecord
from obsstore.schema import metrics
from obsstore.sqltypes import dump_json, to_database_timestamp
from obsstore.storage.bulk import COLUMNS, metric_columns
from obsstore.storage.sql import SQLStorage, sql_capabilities

try:
    import pyarrow as pa
except ImportError:  # pragma: no cover - exercised only without the duckdb extra's pyarrow
    pa = None

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

    def __init__(self, url: URL, settings: Settings | None = None) -> None:
        super().__init__(url, settings)
        self.capabilities = sql_capabilities(durable=not _is_memory(url), multi_process=False)

    @classmethod
    def engine_key(cls, url: URL) -> str | None:
        return None if _is_memory(url) else super().engine_key(url)

    @classmethod
    def build_engine(cls, url: URL) -> tuple[Engine, Any]:
        database = _Database(_database(url))
        engine = sa.create_engine(
            url.set(database=database.path),
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
        # With Arrow, bucket counts travel as list<int64> and DuckDB writes their JSON text.
        columns = metric_columns(records, epoch_us=pa is not None, counts_as_json=pa is None)
        if pa is None:
            columns["timestamp"] = list(map(to_database_timestamp("duckdb"), columns["timestamp"]))
            rows = list(zip(*columns.values(), strict=True))
            before = _count(connection)
            connection.exec_driver_sql(_insert_sql(connection, None), rows)
            return _count(connection) - before
        arrays = {
            name: pa.array(values, _ARROW_TYPES.get(name, pa.string()))
            for name, values in columns.items()
        }
        arrays["timestamp"] = arrays["timestamp"].cast(pa.timestamp("us"))
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.register(_ARROW_BATCH, pa.table(arrays))
        try:
            # DuckDB answers an INSERT with the number of rows it added (conflicts excluded).
            return int(
                connection.exec_driver_sql(_insert_sql(connection, _ARROW_BATCH)).scalar_one()
            )
        finally:
            # In a transaction the error aborted, unregister fails too; that must not hide the
            # error itself (a missing table is a SchemaError). The next register replaces it.
            with contextlib.suppress(duckdb.TransactionException):
                raw.unregister(_ARROW_BATCH)


_ARROW_TYPES = (
    {"timestamp": pa.int64(), "value": pa.float64(), "bucket_counts": pa.list_(pa.int64())}
    if pa is not None
    else {}
)


def _count(connection: Connection) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(metrics)).scalar_one())


def _insert_sql(connection: Connection, source: str | None) -> str:
    """``INSERT ... ON CONFLICT DO NOTHING`` from the registered Arrow table, or of bound rows."""
    if source is None:
        statement: Any = pg_insert(metrics).on_conflict_do_nothing(index_elements=["id"])
    else:
        table = sa.table(source, *(sa.column(c) for c in COLUMNS))
        selected = [sa.cast(c, sa.JSON()) if c.name == "bucket_counts" else c for c in table.c]
        statement = (
            pg_insert(metrics)
            .from_select(COLUMNS, sa.select(*selected))
            .on_conflict_do_nothing(index_elements=["id"])
        )
    return str(statement.compile(dialect=connection.dialect))
