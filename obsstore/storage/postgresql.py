"""PostgreSQL through psycopg 3: JSONB labels with a GIN index, timestamptz, ``pool_pre_ping``,
an advisory lock around migrations, and COPY for bulk writes."""

from __future__ import annotations

import functools
import re
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import postgres, pq
from psycopg import sql as pgsql
from psycopg.adapt import Dumper
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import URL, Connection, Dialect, Engine

from obsstore.schema import metric_rollup_bins, metric_rollups, metrics, spans
from obsstore.sqltypes import dump_json
from obsstore.storage.sql import SQLStorage
from obsstore.storage.traces_base import SpanKey

# pg_advisory_xact_lock key shared by every obsstore migration ("obsstore" in ASCII).
MIGRATION_LOCK_KEY = 0x6F6273_73746F7265
# A database or role that does not exist, a wrong password, a connection pg_hba.conf refuses:
# invalid_catalog_name, invalid_authorization_specification, invalid_password.
_MISCONFIGURED_STATES = frozenset({"3D000", "28000", "28P01"})
# A failed connection attempt carries no SQLSTATE (there is no server result, only libpq's
# message), so the server's (English) messages of the same errors are recognised too; another
# language's falls back to "unavailable".
_MISCONFIGURED_MESSAGES = re.compile(
    r'FATAL:  (database ".*" does not exist|role ".*" does not exist'
    r"|password authentication failed|no pg_hba\.conf entry)"
)
# pg_advisory_xact_lock key taken by rollups and prunes (one key past the migrations').
LIFECYCLE_LOCK_KEY = MIGRATION_LOCK_KEY + 1
# PostgreSQL type names of the column types obsstore's tables use, as binary COPY needs them.
_COPY_TYPE_PREFIXES = {
    "VARCHAR": "varchar",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "DOUBLE PRECISION": "float8",
    "JSONB": "jsonb",
    "BOOLEAN": "bool",
    "BIGINT": "int8",
}


@functools.cache
def _copy_types(table: sa.Table) -> list[str]:
    dialect: Dialect = PGDialect()  # type: ignore[no-untyped-call]
    names = []
    for column in table.columns:
        declared = column.type.compile(dialect=dialect)
        names.append(next(t for p, t in _COPY_TYPE_PREFIXES.items() if declared.startswith(p)))
    return names


class PostgreSQLStorage(SQLStorage):
    kind = "postgresql"

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

    def lock_for_lifecycle(self, connection: Connection) -> None:
        # Two processes rolling up one bucket at once would both insert its rows.
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(LIFECYCLE_LOCK_KEY)))

    def _reclaim_space(self) -> None:
        # Autovacuum makes deleted rows' space reusable; VACUUM does it now (outside any
        # transaction). Returning it to the filesystem would need VACUUM FULL, which locks.
        with self._translate_errors(), self.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in (metrics, spans, metric_rollups, metric_rollup_bins):
                # SQLAlchemy quotes the table's own name into the DDL: nothing from a caller.
                vacuum = sa.DDL("VACUUM %(fullname)s")  # type: ignore[no-untyped-call]
                autocommit.execute(vacuum.against(table))

    @classmethod
    def is_unavailable(cls, error: BaseException) -> bool:
        return isinstance(error, psycopg.OperationalError)

    @classmethod
    def is_missing_schema(cls, error: BaseException) -> bool:
        return isinstance(error, psycopg.errors.UndefinedTable)

    @classmethod
    def is_misconfigured(cls, error: BaseException) -> bool:
        if not isinstance(error, psycopg.Error):
            return False
        if error.sqlstate is not None:
            return error.sqlstate in _MISCONFIGURED_STATES
        return _MISCONFIGURED_MESSAGES.search(str(error)) is not None

    def _spans_by_key(self, keys: list[SpanKey], columns: list[str]) -> sa.Select[Any]:
        # One index lookup per key, whatever the planner knows: a LATERAL subquery with a LIMIT
        # is never flattened into a join, whose plan on a table not yet analysed (or as a
        # generic plan) rescans the keys for every stored span: minutes for 40,000 keys.
        wanted = (
            sa.func.unnest(_text_array([t for t, _ in keys]), _text_array([p for _, p in keys]))
            .table_valued("trace_id", "span_id")
            .render_derived(name="wanted")
        )
        found = (
            sa.select(*[spans.c[name] for name in columns])
            .where(spans.c.trace_id == wanted.c.trace_id, spans.c.span_id == wanted.c.span_id)
            .limit(1)
            .lateral("found")
        )
        return sa.select(found).select_from(wanted).join(found, sa.true())

    def _bulk_insert(
        self, connection: Connection, table: sa.Table, columns: dict[str, list[Any]]
    ) -> int:
        rows = list(zip(*columns.values(), strict=True))
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        # Fast path: COPY straight into the table. A key that is already stored makes the
        # COPY fail as a whole; the savepoint undoes it and the staging path skips such keys.
        try:
            with connection.begin_nested():
                _copy(raw, table, table.name, rows)
            return len(rows)
        except psycopg.errors.UniqueViolation:
            pass
        staging = f"{table.name}_staging"
        with raw.cursor() as cursor:
            cursor.execute(
                pgsql.SQL(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) "
                    "ON COMMIT DELETE ROWS"
                ).format(pgsql.Identifier(staging), pgsql.Identifier(table.name))
            )
        _copy(raw, table, staging, rows)
        names = list(columns)
        staged = sa.table(staging, *(sa.column(c) for c in names))
        keys = [c.name for c in table.primary_key.columns]
        statement = (
            pg_insert(table)
            .from_select(names, sa.select(*staged.c))
            .on_conflict_do_nothing(index_elements=keys)
        )
        inserted = connection.execute(
            statement, execution_options={"preserve_rowcount": True}
        ).rowcount
        connection.execute(sa.delete(staged))
        return int(inserted)


def _text_array(values: list[str]) -> Any:
    return sa.bindparam(None, values, type_=ARRAY(sa.Text()), unique=True)


class _JsonbTextDumper(Dumper):
    """Binary jsonb from JSON text obsstore already encoded: a version byte, then the text."""

    format = pq.Format.BINARY
    oid = postgres.types["jsonb"].oid  # a built-in type: the same oid on every server

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + str(obj).encode()


def _copy(
    raw: psycopg.Connection[Any], table: sa.Table, target: str, rows: list[tuple[Any, ...]]
) -> None:
    """Binary COPY of ``table``'s columns into ``target``, with the column types declared so
    psycopg picks each dumper once."""
    with raw.cursor() as cursor:
        cursor.adapters.register_dumper(None, _JsonbTextDumper)  # by oid, this cursor only
        statement = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            pgsql.Identifier(target),
            pgsql.SQL(", ").join(pgsql.Identifier(c.name) for c in table.columns),
        )
        with cursor.copy(statement) as copy:
            copy.set_types(_copy_types(table))
            for row in rows:
                copy.write_row(row)
