"""PostgreSQL through psycopg 3: JSONB labels with a GIN index, timestamptz, ``pool_pre_ping``,
an advisory lock around migrations, and COPY for bulk writes."""

from __future__ import annotations

from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import postgres, pq
from psycopg import sql as pgsql
from psycopg.adapt import Dumper
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL, Connection, Engine

from obsstore.config import Settings
from obsstore.models import MetricRecord
from obsstore.schema import metrics
from obsstore.sqltypes import dump_json
from obsstore.storage.bulk import COLUMNS, metric_rows
from obsstore.storage.sql import SQLStorage, sql_capabilities

# pg_advisory_xact_lock key shared by every obsstore migration ("obsstore" in ASCII).
MIGRATION_LOCK_KEY = 0x6F6273_73746F7265
_STAGING_TABLE = "obsstore_metrics_staging"


# Column types in table order, as COPY's binary format needs them.
_COPY_TYPES = ["varchar", "timestamptz", "varchar", "varchar", "float8", "jsonb"]
_COPY_TYPES += ["varchar"] * 5 + ["jsonb", "jsonb"]


class PostgreSQLStorage(SQLStorage):
    kind = "postgresql"
    always_auto_migrate = False

    def __init__(self, url: URL, settings: Settings | None = None) -> None:
        super().__init__(url, settings)
        self.capabilities = sql_capabilities(durable=True, multi_process=True)

    @classmethod
    def build_engine(cls, url: URL) -> tuple[Engine, Any]:
        engine = sa.create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            json_serializer=dump_json,
            connect_args={"connect_timeout": 10, "options": "-c TimeZone=UTC"},
        )
        return engine, None

    @classmethod
    def lock_for_migration(cls, connection: Connection) -> None:
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))

    @classmethod
    def is_unavailable(cls, error: BaseException) -> bool:
        return isinstance(error, psycopg.OperationalError)

    @classmethod
    def is_missing_schema(cls, error: BaseException) -> bool:
        return isinstance(error, psycopg.errors.UndefinedTable)

    def _write_metric_rows(self, connection: Connection, records: list[MetricRecord]) -> int:
        rows = metric_rows(records, epoch_us=False)
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        # Fast path: COPY straight into the table. An id that is already stored makes the
        # COPY fail as a whole; the savepoint undoes it and the staging path skips such ids.
        try:
            with connection.begin_nested():
                _copy(raw, metrics.name, rows)
            return len(rows)
        except psycopg.errors.UniqueViolation:
            pass
        with raw.cursor() as cursor:
            cursor.execute(
                pgsql.SQL(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) "
                    "ON COMMIT DELETE ROWS"
                ).format(pgsql.Identifier(_STAGING_TABLE), pgsql.Identifier(metrics.name))
            )
        _copy(raw, _STAGING_TABLE, rows)
        staged = sa.table(_STAGING_TABLE, *(sa.column(c) for c in COLUMNS))
        statement = (
            pg_insert(metrics)
            .from_select(COLUMNS, sa.select(*staged.c))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        inserted = connection.execute(
            statement, execution_options={"preserve_rowcount": True}
        ).rowcount
        connection.execute(sa.delete(staged))
        return int(inserted)


class _JsonbTextDumper(Dumper):
    """Binary jsonb from JSON text obsstore already encoded: a version byte, then the text."""

    format = pq.Format.BINARY
    oid = postgres.types["jsonb"].oid  # a built-in type: the same oid on every server

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + str(obj).encode()


def _copy(raw: psycopg.Connection[Any], table: str, rows: list[tuple[Any, ...]]) -> None:
    """Binary COPY with the column types declared, so psycopg picks each dumper once."""
    with raw.cursor() as cursor:
        cursor.adapters.register_dumper(None, _JsonbTextDumper)  # by oid, this cursor only
        statement = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            pgsql.Identifier(table), pgsql.SQL(", ").join(map(pgsql.Identifier, COLUMNS))
        )
        with cursor.copy(statement) as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)
