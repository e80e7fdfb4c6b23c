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
from obsstore.models._fields import to_epoch_us
from obsstore.schema import metrics
from obsstore.sqltypes import dump_json, to_database_timestamp
from obsstore.storage.sql import SQLStorage, metric_rows, sql_capabilities

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
        if pa is None:
            statement = pg_insert(metrics).on_conflict_do_nothing(index_elements=["id"])
            rows = metric_rows(records, to_database_timestamp("duckdb"), dump_json)
            sql = str(statement.compile(dialect=connection.dialect))
            connection.exec_driver_sql(sql, rows)
            return len(rows)
        batch = pa.table(
            {
                "id": pa.array([r.id for r in records], pa.string()),
                "timestamp": pa.array([to_epoch_us(r.timestamp) for r in records], pa.int64()).cast(
                    pa.timestamp("us")
                ),
                "name": pa.array([r.name for r in records], pa.string()),
                "type": pa.array([r.type.value for r in records], pa.string()),
                "value": pa.array([r.value for r in records], pa.float64()),
                "labels": pa.array([dump_json(r.labels) for r in records], pa.string()),
                **{
                    column: pa.array([getattr(r, column) for r in records], pa.string())
                    for column in (
                        "organization_id",
                        "environment",
                        "service_name",
                        "trace_id",
                        "span_id",
                    )
                },
                **{
                    column: pa.array(
                        [
                            None if (v := getattr(r, column)) is None else dump_json(v)
                            for r in records
                        ],
                        pa.string(),
                    )
                    for column in ("bucket_boundaries", "bucket_counts")
                },
            }
        )
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.register(_ARROW_BATCH, batch)
        try:
            before = connection.execute(sa.select(sa.func.count()).select_from(metrics))
            existing = int(before.scalar_one())
            columns = [c.name for c in metrics.columns]
            source = sa.table(_ARROW_BATCH, *(sa.column(c) for c in columns))
            statement = (
                pg_insert(metrics)
                .from_select(columns, sa.select(*source.c))
                .on_conflict_do_nothing(index_elements=["id"])
            )
            connection.execute(statement)
            after = connection.execute(sa.select(sa.func.count()).select_from(metrics))
            return int(after.scalar_one()) - existing
        finally:
            # In a transaction the error aborted, unregister fails too; that must not hide the
            # error itself (a missing table is a SchemaError). The next register replaces it.
            with contextlib.suppress(duckdb.TransactionException):
                raw.unregister(_ARROW_BATCH)
