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
import functools
import hashlib
import os
import threading
import uuid
from datetime import datetime
from operator import attrgetter
from typing import Any

import clickhouse_connect
import pyarrow as pa
import sqlalchemy as sa
from clickhouse_connect.cc_sqlalchemy.ddl.tableengine import Memory
from clickhouse_connect.cc_sqlalchemy.dialect import ClickHouseDialect
from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError, ProgrammingError
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.schema import CreateTable

# Importing alembic_clickhouse registers the Alembic implementation, clickhouse_mutations the
# routing of mutations in cluster mode.
from obsstore import clickhouse_mutations  # noqa: F401
from obsstore.alembic_clickhouse import (
    Declared,
    canonical_type,
    cluster_of,
    declared_type,
    identifier,
    without_cluster,
)
from obsstore.config import URL_VAR, Settings
from obsstore.ddl import Truncate
from obsstore.errors import ConfigurationError, InvalidArgumentError
from obsstore.lifecycle.planning import LevelState
from obsstore.models import MetricRecord, MetricType, SpanRecord, SpanUpdate
from obsstore.models._fields import from_epoch_us, to_epoch_us
from obsstore.models.dict_columns import MetricColumns
from obsstore.schema import metric_rollup_bins, metric_rollups, metrics, rollup_state, spans
from obsstore.sqlfuncs import any_pair_of
from obsstore.sqltypes import dump_json, from_database_timestamp
from obsstore.storage.bulk import metric_columns
from obsstore.storage.sql import SQLStorage
from obsstore.storage.sql_rollups import HistogramRow

EMBEDDED_DRIVER = "chdb"
DEFAULT_DATABASE = "default"
# Session settings of every connection: SQL semantics the shared queries expect (NULL from
# outer joins and from aggregates over no rows) and room for long key lists.
SESSION_SETTINGS = {
    "join_use_nulls": 1,
    "aggregate_functions_null_for_empty": 1,
    "max_query_size": 64 * 1024 * 1024,
}
# Cluster mode: an insert into a Distributed table returns once the shards have the rows, so
# the next first-write-wins lookup sees them (by default it queues them and returns at once).
CLUSTER_SESSION_SETTINGS = {"distributed_foreground_insert": 1}
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
        return identifier(url.query.get("database") or DEFAULT_DATABASE, "?database=")
    return identifier(url.database or DEFAULT_DATABASE, "the database")


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
                # A plain identifier (see identifier()), quoted by the driver's own quoting.
                self.keeper.query(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
                self.databases.add(database)

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.keeper is not None:
                self.keeper.close()
                self.keeper, self.path = None, None


_embedded = _Embedded()


def _create_database(url: URL, database: str) -> None:
    """The URL's database on a server, created when missing (a database is a name there)."""
    if database == DEFAULT_DATABASE:
        return
    client = clickhouse_connect.get_client(**_client_arguments(url))
    try:
        client.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
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
        database = _database(url)  # refuses a bad name before anything opens
        cluster = cluster_of(url)
        if cluster is not None and is_embedded(url):
            raise ConfigurationError(
                f"{URL_VAR}: ?cluster= needs a ClickHouse server (clickhousedb://...); the "
                "embedded engine (chdb) is one process with no cluster"
            )
        url = without_cluster(url)
        if is_embedded(url):
            _embedded.acquire(_embedded_path(url), database)
            on_dispose = _embedded.release
        else:
            _create_database(url, database)
        arguments = _client_arguments(url)
        # Settings travel as ch_-prefixed connection arguments (the client's generic form).
        settings = SESSION_SETTINGS | (CLUSTER_SESSION_SETTINGS if cluster else {})
        connect_args: dict[str, Any] = {f"ch_{k}": v for k, v in settings.items()}
        if is_embedded(url):
            connect_args.update(arguments)
            target = URL.create("clickhousedb", database=database)
        else:
            target = url.set(drivername="clickhousedb", database=database)
        engine = sa.create_engine(
            target,
            connect_args=connect_args,
            poolclass=QueuePool,
            pool_size=4,
            max_overflow=8,
        )
        # The dialect takes no json_serializer argument; JSON columns read this attribute.
        engine.dialect._json_serializer = dump_json
        # Cluster mode's DDL (obsstore.alembic_clickhouse) reads the cluster from the dialect.
        engine.dialect.obsstore_cluster = cluster  # type: ignore[attr-defined]
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
        for name in ("timestamp", "start_timestamp"):
            self._check_years("records", name, list(map(attrgetter(name), records)))
        return super()._insert_metrics(records)

    def _insert_metric_columns(self, columns: MetricColumns) -> int:
        # Labels go in as a Map, not JSON: through the records (and the year checks above).
        return self._insert_metrics(columns.records())

    def _create_spans(self, batch: list[SpanRecord]) -> int:
        for name in ("started_at", "ended_at"):
            self._check_years("spans", name, list(map(attrgetter(name), batch)))
        return super()._create_spans(batch)

    def _update_spans(self, updates: list[SpanUpdate]) -> int:
        for name in ("started_at", "ended_at"):
            self._check_years("updates", name, [u.changes().get(name) for u in updates])
        return super()._update_spans(updates)

    def _check_years(self, argument: str, field: str, moments: list[datetime | None]) -> None:
        """DateTime64 holds 1900-2299 (the capabilities say so): later or earlier instants are
        refused, naming the first, instead of being stored as another instant. The earliest
        and latest (compared in C) clear a whole batch at once."""
        low, high = self.capabilities.timestamp_years
        present = list(filter(None, moments))
        if not present or (low <= min(present).year and max(present).year <= high):
            return
        for index, moment in enumerate(moments):
            if moment is not None and not low <= moment.year <= high:
                raise InvalidArgumentError(
                    f"{argument}[{index}].{field}: {moment.isoformat()} is outside the years "
                    f"{low}-{high} that ClickHouse's DateTime64 holds"
                )

    def _write_metric_rows(self, connection: Connection, records: list[MetricRecord]) -> int:
        columns = metric_columns(records, epoch_us=False, labels_as_json=False)  # a Map
        return self._bulk_insert(connection, metrics, columns)

    def _bulk_insert(
        self, connection: Connection, table: sa.Table, columns: dict[str, list[Any]]
    ) -> int:
        client = _client(connection)
        keys = _BatchKeys(client, table, connection.dialect)
        pk = [c.name for c in table.primary_key.columns]
        keys.load([columns[name] for name in pk])
        stored = keys.stored()
        if stored:
            kept = [
                i
                for i, key in enumerate(zip(*(columns[n] for n in pk), strict=True))
                if key not in stored
            ]
            columns = {name: [values[i] for i in kept] for name, values in columns.items()}
            keys.load([columns[name] for name in pk])  # the check below counts new keys only
        count = len(columns[pk[0]])
        if count == 0:
            return 0
        token = _deduplication_token(table, [columns[n] for n in pk])
        # The rows as Arrow columns: the engine reads them as one block, as from insert_arrow.
        block = _arrow_block(table, connection.dialect, columns)
        client.insert_arrow(table.name, block, settings=_token(token))
        if keys.count_stored() < count:
            # The insert was dropped as a repeat of one written before and deleted since (an
            # insert's summary does not say so): write it anew under a token of its own.
            client.insert_arrow(table.name, block, settings=_token(token, unique=True))
        return count

    def _write_span_updates(
        self, connection: Connection, changed: list[SpanRecord], columns: list[str], now: datetime
    ) -> None:
        # One lightweight UPDATE for the whole batch (one per span cost ~4 ms each, and every
        # one leaves a patch part): each column takes the span's new value through
        # transform(key, keys, values, column), the keys being trace and span id joined.
        key = sa.func.concat(spans.c.trace_id, sa.func.char(31), spans.c.span_id)
        keys = [f"{span.trace_id}\x1f{span.span_id}" for span in changed]
        values = {
            name: _by_key(
                spans.c[name],
                key,
                keys,
                [now if name == "updated_at" else getattr(s, name) for s in changed],
                connection.dialect,
            )
            for name in columns
        }
        pairs = [(span.trace_id, span.span_id) for span in changed]
        connection.execute(
            sa.update(spans)
            .values(values)
            .where(any_pair_of(spans.c.trace_id, spans.c.span_id, pairs))
        )

    def _store_histograms(
        self, connection: Connection, level: int, rows: list[HistogramRow]
    ) -> None:
        # One lightweight UPDATE per chunk instead of one per rollup row (each cost ~10 ms and
        # left a patch part: 5,000 histogram rows took 49 s): each bucket column takes the
        # row's sum through transform(key, keys, values, column), the key being the bucket's
        # epoch microseconds and the series key joined; rows not listed keep their value.
        r = metric_rollups.c
        key = sa.func.concat(
            sa.func.toString(sa.func.toUnixTimestamp64Micro(r.bucket)), sa.func.char(31), r.series
        )
        for start in range(0, len(rows), _HISTOGRAM_ROWS_PER_UPDATE):
            chunk = rows[start : start + _HISTOGRAM_ROWS_PER_UPDATE]
            keys = [f"{bucket}\x1f{series}" for bucket, series, _, _ in chunk]
            values = {
                name: _by_key(r[name], key, keys, [row[index] for row in chunk], connection.dialect)
                for index, name in ((2, "bucket_boundaries"), (3, "bucket_counts"))
            }
            buckets = [bucket for bucket, _, _, _ in chunk]
            connection.execute(
                sa.update(metric_rollups)
                .values(values)
                .where(
                    r.level_us == level,
                    r.type == MetricType.HISTOGRAM.value,
                    r.bucket >= from_epoch_us(min(buckets)),
                    r.bucket <= from_epoch_us(max(buckets)),
                )
            )

    # --- reads ---------------------------------------------------------------------------
    def _rollup_states(self) -> dict[int, LevelState]:
        # Read through the client: the DB-API cursor follows an empty answer (no rollups yet,
        # the common case) with a second statement probing its columns. No values to bind.
        with self._reading() as connection:
            rows = _client(connection).query(_ROLLUP_STATES).result_rows
            aware = from_database_timestamp(connection.dialect.name)
        return {
            int(level): LevelState(
                None if complete_until is None else to_epoch_us(aware(complete_until)),
                None if pruned_before is None else to_epoch_us(aware(pruned_before)),
            )
            for level, complete_until, pruned_before in rows
        }

    def _label_keys_query(self) -> sa.Select[Any]:
        # Labels are a Map: arrayJoin gives a row per key of each point.
        key = sa.func.arrayJoin(sa.func.mapKeys(metrics.c.labels)).label("key")
        return sa.select(key).select_from(metrics)

    def dangerously_clear_all(self) -> None:
        # DELETE needs a WHERE clause here; TRUNCATE empties a table at once.
        with self._writing() as connection:
            for table in (metrics, spans, metric_rollups, metric_rollup_bins, rollup_state):
                connection.execute(Truncate(table))


class _BatchKeys:
    """A batch's primary keys in a temporary table of the connection's session, loaded as one
    Arrow block: the first-write-wins lookups read them with ``GLOBAL IN`` (which also ships
    them to the shards of a Distributed table) instead of 10,000 values spelled out in the SQL,
    which the client formatted and the engine parsed at ~1 s a batch. The statements carry no
    values and go through the client's query path (the DB-API cursor probes the columns of an
    empty answer with a second statement)."""

    def __init__(self, client: Any, table: sa.Table, dialect: Dialect) -> None:
        self.client = client
        self.names = [c.name for c in table.primary_key.columns]
        self.name, self.create, self.truncate, self.stored_query, self.count_query = (
            _batch_keys_sql(table, dialect)
        )

    def load(self, key_columns: list[list[Any]]) -> None:
        self.client.command(self.create)
        self.client.command(self.truncate)
        arrays = [pa.array(values) for values in key_columns]
        self.client.insert_arrow(self.name, pa.Table.from_arrays(arrays, names=self.names))

    def stored(self) -> set[tuple[Any, ...]]:
        """The loaded keys already stored."""
        return {tuple(row) for row in self.client.query(self.stored_query).result_rows}

    def count_stored(self) -> int:
        """How many of the loaded keys are stored."""
        return int(self.client.query(self.count_query).result_rows[0][0])


@functools.cache
def _batch_keys_sql(table: sa.Table, dialect: Dialect) -> tuple[str, str, str, str, str]:
    """The keys table's name, its CREATE and TRUNCATE, and the two lookups, compiled once."""
    pk = list(table.primary_key.columns)
    keys = sa.Table(
        f"obsstore_batch_keys_{table.name}",
        sa.MetaData(),
        *(sa.Column(c.name, c.type, nullable=False) for c in pk),
        Memory(),
        prefixes=["TEMPORARY"],
    )
    found = sa.tuple_(*pk).op("GLOBAL IN")(sa.select(*keys.columns).scalar_subquery())
    statements = (
        CreateTable(keys, if_not_exists=True),
        Truncate(keys),
        sa.select(*pk).distinct().where(found),
        sa.select(sa.func.uniqExact(*pk)).where(found),
    )
    create, truncate, stored, count = (str(s.compile(dialect=dialect)) for s in statements)
    return keys.name, create, truncate, stored, count


_ROLLUP_STATES = str(
    sa.select(
        rollup_state.c.level_us, rollup_state.c.complete_until, rollup_state.c.pruned_before
    ).compile(dialect=ClickHouseDialect())
)


def _deduplication_token(table: sa.Table, key_columns: list[list[Any]]) -> str:
    digest = hashlib.sha256(table.name.encode())
    for values in key_columns:
        digest.update("\x1e".join(map(str, values)).encode() + b"\x1f")
    return digest.hexdigest()


# Arrow types of the ClickHouse column types obsstore's tables use (as _canonical spells them).
_ARROW_TYPES = {
    "String": pa.string(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "Float64": pa.float64(),
    "Bool": pa.bool_(),
    "DateTime64(6,'UTC')": pa.timestamp("us", tz="UTC"),
    "Map(String,String)": pa.map_(pa.string(), pa.string()),
}


@functools.cache
def _arrow_schema(table: sa.Table, dialect: Dialect) -> pa.Schema:
    fields = []
    for column in table.columns:
        declared = canonical_type(declared_type(column, dialect))
        nullable = declared.startswith("Nullable(")
        inner = declared.removeprefix("Nullable(").removesuffix(")") if nullable else declared
        fields.append(pa.field(column.name, _ARROW_TYPES[inner], nullable=nullable))
    return pa.schema(fields)


def _arrow_block(table: sa.Table, dialect: Dialect, columns: dict[str, list[Any]]) -> pa.Table:
    schema = _arrow_schema(table, dialect)
    arrays = [pa.array(columns[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _by_key(
    column: sa.Column[Any], key: Any, keys: list[str], new: list[Any], dialect: Dialect
) -> Any:
    """``column``'s value in a lightweight UPDATE that sets many rows at once:
    ``transform(key, keys, new, column)``, the row's new value where its key is listed (new
    values converted as the column binds them), its own value elsewhere."""
    to_database = column.type._cached_bind_processor(dialect) or _same
    array_type = Declared(f"Array({declared_type(column, dialect)})")
    raw = [to_database(value) for value in new]
    return sa.func.transform(key, _array(keys), sa.cast(_array(raw), array_type), column)


# Keys and JSON values of one UPDATE, spelled out in its text: a few MB at most.
_HISTOGRAM_ROWS_PER_UPDATE = 10_000


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
