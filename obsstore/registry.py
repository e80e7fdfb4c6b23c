"""Every backend obsstore knows, one entry each: the one place a backend's facts live.

An entry says how users name the backend (kind, aliases, URL schemes, default URL), which
extra installs its driver, what it can do (capabilities) and, for SQL backends, a profile of
how its database holds obsstore's tables. Configuration, the schema, column types, the
migrations, the tests and the benchmark read these facts; none of them names a vendor.

Nothing here imports a driver: the storage class is a dotted path, imported when chosen.
Adding a backend means its own module under ``obsstore/storage/``, one entry below, its extra
in ``pyproject.toml`` and, for a new SQL dialect, its handlers in ``obsstore/sqlfuncs.py``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from obsstore.capabilities import Capabilities, StrategyInfo
from obsstore.column_types import DateTime64UTC, LabelMap, TextJSON
from obsstore.errors import ConfigurationError

if TYPE_CHECKING:
    from obsstore.storage.base import ObservabilityStorage

# How a database holds a UTC instant (see obsstore/sqltypes.py for each one's conversions).
TimestampStorage = Literal["epoch_us", "naive_utc", "aware", "datetime64"]


@dataclass(frozen=True)
class DialectProfile:
    """How one SQL dialect holds obsstore's tables, as data."""

    dialect: str  # SQLAlchemy's dialect name
    # The database lives in the process (a file or memory): init() always migrates it, while
    # a server's schema follows OBSERVABILITY_METRICS_AUTO_MIGRATE.
    embedded: bool
    timestamps: TimestampStorage
    # B-tree indexes on (name, timestamp) and timestamp. Not where the planner never uses
    # them for range filters and their upkeep only slows ingest (DuckDB: see bench/README.md).
    range_indexes: bool
    # The time index as (timestamp, name), not timestamp alone (from 0008_pg_label_window):
    # a planner that reads a recent window through the time index (its rows are in time order)
    # then checks the name in the index and fetches only that name's rows.
    time_name_index: bool = False
    # The Index keyword that makes an index partial (its WHERE), where the dialect has them.
    partial_index_option: str | None = None
    # Index keywords of an index on the labels document, where the dialect can index it.
    label_index_options: Mapping[str, Any] | None = None
    # JSON documents' column type where it is not SQLAlchemy's JSON.
    json_type: TypeEngine[Any] | None = None
    # Collation that makes text columns compare in code-point order, where the default may not.
    text_collation: str | None = None
    # ALTER TABLE cannot change columns of an indexed table: migrations rebuild it instead.
    alter_by_rebuild: bool = False
    # For file databases: the file name suffix that tools and tests use.
    file_suffix: str | None = None
    # The timestamp column type where the dialect's DateTime does not hold microseconds in UTC.
    timestamp_type: TypeEngine[Any] | None = None
    # The labels column type where the dialect has a better one than a JSON document.
    labels_type: TypeEngine[Any] | None = None
    # Column stores (no B-tree primary key): each table's physical sort order where it is not
    # its primary key, key-lookup projections (table -> the columns they are ordered by) and
    # the table settings every new table gets. Empty for row stores.
    sort_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    key_projections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    table_settings: Mapping[str, Any] = field(default_factory=dict)
    # How the primary-key column of rows deleted in bulk (point ids, see ``obsstore.ddl``) is
    # stored, where the default costs deletes dearly: DuckDB fetches the key of every deleted
    # row to update the key's index, one row at a time, and fetching one row from a compressed
    # (DICT_FSST) string segment decodes much of it (0.2 ms a row, against 1 µs uncompressed).
    row_key_compression: Literal["uncompressed"] | None = None
    # Tables stored without their primary key, where the key's index costs writes dearly and
    # no statement needs it (see alembic/versions/0009_unkeyed_rollup_bins.py): DuckDB keeps
    # a key in an ART index that every inserted row updates.
    unkeyed_tables: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Backend:
    """One backend: how users name it, what installs it, what it can do."""

    kind: str
    storage: str  # "module:Class", imported only when the backend is chosen
    capabilities: Capabilities
    aliases: tuple[str, ...] = ()
    # SQLAlchemy driver names a URL may use for it; the first is the one obsstore uses.
    url_drivers: tuple[str, ...] = ()
    # URL driver names kept as written because they choose a mode of the backend (an embedded
    # engine rather than a server); the storage turns them into a URL its dialect reads.
    mode_url_drivers: tuple[str, ...] = ()
    default_url: str | None = None
    extra: str | None = None  # pip extra that installs its driver
    # URL query options the driver parses as numbers (checked when the URL is read).
    numeric_url_options: tuple[str, ...] = ()
    profile: DialectProfile | None = None  # None: not a SQL backend

    @property
    def driver(self) -> str:
        return self.url_drivers[0]

    @property
    def url_scheme(self) -> str:
        """The scheme users write (``postgresql`` in ``postgresql://``)."""
        return next(d for d in self.url_drivers if "+" not in d)

    def storage_class(self) -> type[ObservabilityStorage]:
        """The storage class; a missing driver names the extra to install."""
        module_name, class_name = self.storage.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if self.extra is None or (exc.name or "").startswith("obsstore"):
                raise
            raise ConfigurationError(
                f"the {self.kind} backend needs its driver ({exc.name} is not installed): "
                f"pip install 'obsstore[{self.extra}]'"
            ) from exc
        storage_class: type[ObservabilityStorage] = getattr(module, class_name)
        return storage_class


_SQL_CAPABILITIES = Capabilities(
    metrics_strategy=StrategyInfo("batch", ("realtime", "batch")),
    tracing_strategy=StrategyInfo(
        "batch-with-updates", ("realtime", "batch-with-updates", "insert-only")
    ),
    durable=True,
    multi_process=True,
)

BACKENDS: tuple[Backend, ...] = (
    Backend(
        kind="memory",
        storage="obsstore.storage.memory:MemoryStorage",
        capabilities=Capabilities(
            metrics_strategy=StrategyInfo("realtime", ("realtime", "batch")),
            tracing_strategy=StrategyInfo(
                "realtime", ("realtime", "batch-with-updates", "insert-only")
            ),
            durable=False,
            multi_process=False,
        ),
    ),
    Backend(
        kind="sqlite",
        storage="obsstore.storage.sqlite:SQLiteStorage",
        capabilities=_SQL_CAPABILITIES,
        url_drivers=("sqlite", "sqlite+pysqlite"),
        default_url="sqlite:///obsstore.db",
        numeric_url_options=("timeout",),
        profile=DialectProfile(
            dialect="sqlite",
            embedded=True,
            # No timestamp type: integer microseconds keep offsets and microseconds exact and
            # sort and bucket as plain integers.
            timestamps="epoch_us",
            range_indexes=True,
            partial_index_option="sqlite_where",
            alter_by_rebuild=True,
            file_suffix=".db",
        ),
    ),
    Backend(
        kind="duckdb",
        storage="obsstore.storage.duckdb:DuckDBStorage",
        # One process holds a DuckDB file at a time.
        capabilities=Capabilities(
            _SQL_CAPABILITIES.metrics_strategy,
            _SQL_CAPABILITIES.tracing_strategy,
            durable=True,
            multi_process=False,
        ),
        url_drivers=("duckdb",),
        default_url="duckdb:///obsstore.duckdb",
        extra="duckdb",
        profile=DialectProfile(
            dialect="duckdb",
            embedded=True,
            # TIMESTAMP holding UTC wall time (TIMESTAMPTZ would need pytz and follow the
            # session time zone).
            timestamps="naive_utc",
            range_indexes=False,
            alter_by_rebuild=True,
            file_suffix=".duckdb",
            row_key_compression="uncompressed",
            # A million points' rollup writes 1.4 million sketch bins; their key's index was
            # half the time of that INSERT.
            unkeyed_tables=frozenset({"obsstore_metric_rollup_bins"}),
        ),
    ),
    Backend(
        kind="postgresql",
        storage="obsstore.storage.postgresql:PostgreSQLStorage",
        capabilities=_SQL_CAPABILITIES,
        aliases=("postgres",),
        # obsstore talks to PostgreSQL through psycopg 3 whatever the URL names.
        url_drivers=("postgresql+psycopg", "postgresql", "postgres"),
        extra="postgres",
        profile=DialectProfile(
            dialect="postgresql",
            embedded=False,
            timestamps="aware",
            range_indexes=True,
            time_name_index=True,
            partial_index_option="postgresql_where",
            # Label filters are JSONB containment (labels @> '{"route": "/x"}'), which a GIN
            # index with jsonb_path_ops answers.
            label_index_options={
                "postgresql_using": "gin",
                "postgresql_ops": {"labels": "jsonb_path_ops"},
            },
            json_type=postgresql.JSONB(none_as_null=True),
            text_collation="C",
        ),
    ),
    Backend(
        kind="clickhouse",
        storage="obsstore.storage.clickhouse:ClickHouseStorage",
        # A server: no transactions, one insert block atomic; first write wins by an id lookup
        # before the insert and a deduplication token on it (see obsstore/storage/clickhouse.py).
        # The embedded engine (chdb) is one process's (see ClickHouseStorage.capabilities).
        capabilities=Capabilities(
            _SQL_CAPABILITIES.metrics_strategy,
            _SQL_CAPABILITIES.tracing_strategy,
            durable=True,
            multi_process=True,
            transactions=False,
            atomic_batch_rows=1_000_000,
            first_write_wins="single-writer",
            timestamp_years=(1900, 2299),  # DateTime64's range
            secondary_indexes=False,  # the sort key and zone maps serve ranges
        ),
        # clickhousedb:// (or clickhouse://) names a server; chdb:///<directory> the embedded
        # engine, ?database=<name> a database in it.
        url_drivers=("clickhousedb", "clickhouse", "chdb"),
        mode_url_drivers=("chdb",),
        default_url="chdb:///obsstore-chdb",
        extra="clickhouse",
        profile=DialectProfile(
            dialect="clickhousedb",
            embedded=False,  # the embedded engine always migrates (see ClickHouseStorage)
            timestamps="datetime64",
            range_indexes=False,  # the sort order and zone maps serve ranges
            json_type=TextJSON(none_as_null=True),
            timestamp_type=DateTime64UTC(),
            labels_type=LabelMap(),
            # Points sorted for the queries (by name, then time); ids found by a projection.
            sort_keys={"obsstore_metrics": ("name", "timestamp")},
            key_projections={"obsstore_metrics": ("id",)},
            table_settings={
                # insert_deduplication_token drops a retried batch (non-replicated tables
                # deduplicate only within this window of recent inserts).
                "non_replicated_deduplication_window": 1000,
                # Lightweight DELETE on a table with projections drops them from the parts it
                # touches (merges build them again); "rebuild" made a delete cost ~0.2 s.
                # The block columns allow lightweight UPDATE.
                "lightweight_mutation_projection_mode": "drop",
                "enable_block_number_column": 1,
                "enable_block_offset_column": 1,
            },
        ),
    ),
)

_BY_NAME = {name: b for b in BACKENDS for name in (b.kind, *b.aliases)}
_BY_DIALECT = {b.profile.dialect: b.profile for b in BACKENDS if b.profile is not None}


def kinds() -> tuple[str, ...]:
    return tuple(b.kind for b in BACKENDS)


def sql_kinds() -> tuple[str, ...]:
    return tuple(b.kind for b in BACKENDS if b.profile is not None)


def find(name: str) -> Backend | None:
    """The backend a kind or alias names (case and surrounding space ignored)."""
    return _BY_NAME.get(name.strip().lower())


def get(kind: str) -> Backend:
    backend = find(kind)
    if backend is None:
        raise KeyError(kind)
    return backend


def for_url_driver(drivername: str) -> Backend | None:
    """The backend whose URLs use this SQLAlchemy driver name."""
    return next((b for b in BACKENDS if drivername in b.url_drivers), None)


def profiles() -> tuple[DialectProfile, ...]:
    return tuple(_BY_DIALECT.values())


def find_profile(dialect: str) -> DialectProfile | None:
    return _BY_DIALECT.get(dialect)


def profile_for(dialect: str) -> DialectProfile:
    """The profile of a SQLAlchemy dialect name; an unknown dialect is a configuration error."""
    profile = _BY_DIALECT.get(dialect)
    if profile is None:
        raise ConfigurationError(f"obsstore does not support the {dialect!r} SQL dialect")
    return profile
