"""ClickHouse through clickhouse-connect: a server (``clickhousedb://user@host:8123/db``) or the
embedded engine, chdb (``chdb:///<directory>?database=<name>``), driven by the same client.

ClickHouse has no transactions and no unique keys: one insert is atomic, and first write wins
by looking the batch's keys up (a projection ordered by id serves the lookup) and inserting the
rest with a deduplication token derived from them, so a retried batch that raced its first try
is dropped. Writers in one process take a lock, which makes that exact for the embedded engine
(one process holds its directory). See the README's ClickHouse section."""

from __future__ import annotations

# The driver imports pandas on a first query, which imports this module and registers an
# atexit hook: imported here, so a writer's flush at interpreter exit can still query.
import concurrent.futures.thread  # noqa: F401
import dataclasses
import hashlib
import os
import threading
import uuid
from datetime import datetime
from typing import Any

import clickhouse_connect
import sqlalchemy as sa
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError, ProgrammingError
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import QueuePool

# Importing alembic_clickhouse registers the Alembic implementation.
from obsstore.alembic_clickhouse import Declared, declared_type
from obsstore.config import Settings
from obsstore.errors import InvalidArgumentError
from obsstore.models import MetricRecord, SpanRecord, SpanUpdate
from obsstore.models.dict_columns import MetricColumns
from obsstore.schema import metric_rollup_bins, metric_rollups, metrics, rollup_state, spans
from obsstore.sqlfuncs import any_of, any_pair_of
from obsstore.sqltypes import dump_json
from obsstore.storage.bulk import metric_columns
from obsstore.storage.sql import SQLStorage

EMBEDDED_DRIVER = "chdb"
DEFAULT_DATABASE = "default"
# Session settings of every connection: SQL semantics the shared queries expect (NULL from
# outer joins and from aggregates over no rows) and room for long key lists.
SESSION_SETTINGS = {
    "join_use_nulls": 1,
    "aggregate_functions_null_for_empty": 1,
    "max_query_size": 64 * 1024 * 1024,
}
_KEYS_PER_LOOKUP = 10_000
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()
# Errors the server names for a missing table, a missing database or a refused login.
_MISSING_TABLE = ("UNKNOWN_TABLE", "Code: 60.")
_MISCONFIGURED = ("UNKNOWN_DATABASE", "Code: 81.", "AUTHENTICATION_FAILED", "Code: 516.")


def is_embedded(url: URL) -> bool:
    return url.drivername == EMBEDDED_DRIVER


def _embedded_path(url: URL) -> str:
    path = url.database or ":memory:"
    # chdb compares paths literally: one directory, one spelling.
    return path if path == ":memory:" else os.path.realpath(path)


def _database(url: URL) -> str:
    if is_embedded(url):
        return str(url.query.get("database") or DEFAULT_DATABASE)
    return url.database or DEFAULT_DATABASE


def _client_arguments(url: URL) -> dict[str, Any]:
    """clickhouse-connect's client arguments for ``url``, without the database."""
    if is_embedded(url):
        return {"interface": "chdb", "path": _embedded_path(url)}
    arguments: dict[str, Any] = {"host": url.host or "localhost"}
    if url.port is not None:
        arguments["port"] = url.port
    if url.username is not None:
        arguments["username"] = url.username
    if url.password is not None:
        arguments["password"] = url.password
    for key, value in url.query.items():
        arguments[key] = value
    return arguments


def _quoted(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class _Embedded:
    """The process's chdb engine: chdb hosts one directory per process, and locks it against
    other processes while any connection to it is open. A keeper connection holds the engine
    while storages use it (pooled connections come and go; a restart costs ~0.1 s) and closes
    with the last one, so that another process (or another directory) can have it then."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.path: str | None = None
        self.keeper: Any = None
        self.users = 0
        self.databases: set[str] = set()

    def acquire(self, path: str, database: str) -> None:
        import chdb

        with self.lock:
            if self.keeper is None:
                self.keeper = chdb.connect(path)  # type: ignore[no-untyped-call]
                self.path, self.databases = path, set()
            self.users += 1
            if database not in self.databases and database != DEFAULT_DATABASE:
                # The name is quoted as an identifier: it cannot end the statement.
                self.keeper.query(f"CREATE DATABASE IF NOT EXISTS {_quoted(database)}")
                self.databases.add(database)

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.keeper is not None:
                self.keeper.close()
                self.keeper, self.path = None, None


_embedded = _Embedded()


def _create_database(url: URL) -> None:
    """The URL's database on a server, created when missing (a database is a name there)."""
    database = _database(url)
    if database == DEFAULT_DATABASE:
        return
    client = clickhouse_connect.get_client(**_client_arguments(url))
    try:
        client.command(f"CREATE DATABASE IF NOT EXISTS {_quoted(database)}")
    finally:
        client.close()


class ClickHouseStorage(SQLStorage):
    kind = "clickhouse"

    def __init__(self, url: URL, settings: Settings | None = None) -> None:
        super().__init__(url, settings)
        if is_embedded(url):
            # One process holds the engine's directory, and its writers queue on one lock:
            # first write wins exactly there, and the schema is migrated on init().
            self.profile = dataclasses.replace(self.profile, embedded=True)
            self.capabilities = dataclasses.replace(
                self.capabilities,
                multi_process=False,
                first_write_wins="exact",
                fork_releases_database=False,
            )

    # --- hooks ---------------------------------------------------------------------------
    @classmethod
    def is_in_memory(cls, url: URL) -> bool:
        return is_embedded(url) and _embedded_path(url) == ":memory:"

    @classmethod
    def engine_key(cls, url: URL) -> str | None:
        # In-memory databases are shared too: chdb hosts one engine per process.
        return url.render_as_string(hide_password=False)

    @classmethod
    def build_engine(cls, url: URL) -> tuple[Engine, Any]:
        on_dispose = None
        if is_embedded(url):
            _embedded.acquire(_embedded_path(url), _database(url))
            on_dispose = _embedded.release
        else:
            _create_database(url)
        arguments = _client_arguments(url)
        # Settings travel as ch_-prefixed connection arguments (the client's generic form).
        connect_args: dict[str, Any] = {f"ch_{k}": v for k, v in SESSION_SETTINGS.items()}
        if is_embedded(url):
            connect_args.update(arguments)
            target = URL.create("clickhousedb", database=_database(url))
        else:
            target = url.set(drivername="clickhousedb", database=_database(url))
        engine = sa.create_engine(
            target,
            connect_args=connect_args,
            poolclass=QueuePool,
            pool_size=4,
            max_overflow=8,
        )
        # The dialect takes no json_serializer argument; JSON columns read this attribute.
        engine.dialect._json_serializer = dump_json
        return engine, on_dispose

    @classmethod
    def write_lock(cls, url: URL) -> Any:
        with _write_locks_guard:
            return _write_locks.setdefault(url.render_as_string(), threading.Lock())

    @classmethod
    def is_unavailable(cls, error: BaseException) -> bool:
        message = str(error)
        return isinstance(error, OperationalError) or (
            isinstance(error, ProgrammingError) and "chdb" in message.lower()
        )

    @classmethod
    def is_missing_schema(cls, error: BaseException) -> bool:
        return isinstance(error, DatabaseError) and any(m in str(error) for m in _MISSING_TABLE)

    @classmethod
    def is_misconfigured(cls, error: BaseException) -> bool:
        return isinstance(error, DatabaseError) and any(m in str(error) for m in _MISCONFIGURED)

    # --- writes --------------------------------------------------------------------------
    def _insert_metrics(self, records: list[MetricRecord]) -> int:
        self._check_years("records", [("timestamp", r.timestamp) for r in records])
        self._check_years("records", [("start_timestamp", r.start_timestamp) for r in records])
        return super()._insert_metrics(records)

    def _insert_metric_columns(self, columns: MetricColumns) -> int:
        # Labels go in as a Map, not JSON: through the records (and the year checks above).
        return self._insert_metrics(columns.records())

    def _create_spans(self, batch: list[SpanRecord]) -> int:
        self._check_years("spans", [("started_at", s.started_at) for s in batch])
        self._check_years("spans", [("ended_at", s.ended_at) for s in batch])
        return super()._create_spans(batch)

    def _update_spans(self, updates: list[SpanUpdate]) -> int:
        for name in ("started_at", "ended_at"):
            moments = [(name, u.changes().get(name)) for u in updates]
            self._check_years("updates", moments)
        return super()._update_spans(updates)

    def _check_years(self, argument: str, moments: list[tuple[str, datetime | None]]) -> None:
        """DateTime64 holds 1900-2299 (the capabilities say so): later or earlier instants are
        refused, naming the first, instead of being stored as another instant."""
        low, high = self.capabilities.timestamp_years
        for index, (field, moment) in enumerate(moments):
            if moment is not None and not low <= moment.year <= high:
                raise InvalidArgumentError(
                    f"{argument}[{index}].{field}: {moment.isoformat()} is outside the years "
                    f"{low}-{high} that ClickHouse's DateTime64 holds"
                )

    def _write_metric_rows(self, connection: Connection, records: list[MetricRecord]) -> int:
        columns = metric_columns(records, epoch_us=False)
        columns["labels"] = [record.labels for record in records]  # a Map, not JSON text
        return self._bulk_insert(connection, metrics, columns)

    def _bulk_insert(
        self, connection: Connection, table: sa.Table, columns: dict[str, list[Any]]
    ) -> int:
        at = [list(columns).index(c.name) for c in table.primary_key.columns]
        stored = self._stored_keys(connection, table, [list(columns.values())[i] for i in at])
        rows = list(zip(*columns.values(), strict=True))
        if stored:
            rows = [row for row in rows if tuple(row[i] for i in at) not in stored]
        if not rows:
            return 0
        token = _deduplication_token(table, [tuple(row[i] for i in at) for row in rows])
        client = _client(connection)
        names = list(columns)
        client.insert(table.name, rows, column_names=names, settings=_token(token))
        key_columns = [[row[i] for row in rows] for i in at]
        if len(self._stored_keys(connection, table, key_columns)) < len(rows):
            # The insert was dropped as a repeat of one written before and deleted since (an
            # insert's summary does not say so): write it anew under a token of its own.
            client.insert(table.name, rows, column_names=names, settings=_token(token, unique=True))
        return len(rows)

    def _write_span_updates(
        self, connection: Connection, changed: list[SpanRecord], columns: list[str], now: datetime
    ) -> None:
        # One lightweight UPDATE for the whole batch (one per span cost ~4 ms each, and every
        # one leaves a patch part): each column takes the span's new value through
        # transform(key, keys, values, column), the keys being trace and span id joined.
        key = sa.func.concat(spans.c.trace_id, sa.func.char(31), spans.c.span_id)
        keys = [f"{span.trace_id}\x1f{span.span_id}" for span in changed]
        dialect = connection.dialect
        values: dict[str, Any] = {}
        for name in columns:
            column = spans.c[name]
            to_database = column.type._cached_bind_processor(dialect) or _same
            raw = [to_database(now if name == "updated_at" else getattr(s, name)) for s in changed]
            array_type = Declared(f"Array({declared_type(column, dialect)})")
            values[name] = sa.func.transform(
                key, _array(keys), sa.cast(_array(raw), array_type), column
            )
        pairs = [(span.trace_id, span.span_id) for span in changed]
        connection.execute(
            sa.update(spans)
            .values(values)
            .where(any_pair_of(spans.c.trace_id, spans.c.span_id, pairs))
        )

    def _stored_keys(
        self, connection: Connection, table: sa.Table, key_columns: list[list[Any]]
    ) -> set[tuple[Any, ...]]:
        """The keys among ``key_columns`` (the primary key's columns, as lists) already stored."""
        pk = list(table.primary_key.columns)
        found: set[tuple[Any, ...]] = set()
        pairs = list(zip(*key_columns, strict=True))
        for start in range(0, len(pairs), _KEYS_PER_LOOKUP):
            chunk = pairs[start : start + _KEYS_PER_LOOKUP]
            where: sa.ColumnElement[bool]
            if len(pk) == 1:
                where = any_of(pk[0], [p[0] for p in chunk])
            else:
                where = any_pair_of(pk[0], pk[1], chunk)
            for row in connection.execute(sa.select(*pk).where(where)):
                found.add(tuple(row))
        return found

    def _label_keys_query(self) -> sa.Select[Any]:
        # Labels are a Map: arrayJoin gives a row per key of each point.
        key = sa.func.arrayJoin(sa.func.mapKeys(metrics.c.labels)).label("key")
        return sa.select(key).select_from(metrics)

    def dangerously_clear_all(self) -> None:
        # DELETE needs a WHERE clause here; TRUNCATE empties a table at once.
        with self._writing() as connection:
            for table in (metrics, spans, metric_rollups, metric_rollup_bins, rollup_state):
                connection.execute(sa.text(f"TRUNCATE TABLE {_quoted(table.name)}"))


def _deduplication_token(table: sa.Table, keys: list[tuple[Any, ...]]) -> str:
    digest = hashlib.sha256(table.name.encode())
    for key in keys:
        digest.update(b"\x1f".join(str(part).encode() for part in key) + b"\x1e")
    return digest.hexdigest()


def _token(token: str, *, unique: bool = False) -> dict[str, str]:
    return {"insert_deduplication_token": f"{token}:{uuid.uuid4().hex}" if unique else token}


def _array(values: list[Any]) -> Any:
    return sa.bindparam(None, values, type_=sa.types.NullType(), unique=True)


def _same(value: Any) -> Any:
    return value


def _client(connection: Connection) -> Any:
    raw = connection.connection.driver_connection
    assert raw is not None
    return raw.client
