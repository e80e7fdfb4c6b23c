"""Alembic's implementation for ClickHouse (dialect ``clickhousedb``), registered on import by
``obsstore.storage.clickhouse`` (it needs the driver, so ``obsstore.migrate`` cannot import it).

It extends clickhouse-connect's own implementation so that the migrations stay written once:
a table gets its engine from the dialect profile's facts (a MergeTree sorted by the profile's
sort key, or else by the primary key, with the profile's table settings), nullable columns
become ``Nullable(...)`` (ClickHouse columns are not nullable unless declared so), and a
table's key-lookup projections follow its creation.

Cluster mode (a server URL with ``?cluster=<name>``, see ``cluster_of``) changes only the DDL
here: every statement runs ``ON CLUSTER``, each table is a ``ReplicatedMergeTree`` named
``<table>_local`` on every shard, and ``<table>`` itself is a ``Distributed`` table over them
(sharded by a hash of the primary key, so one key always lands on one shard) that the shared
queries read and insert into unchanged; their DELETE, UPDATE and TRUNCATE go to the local tables
(``obsstore.clickhouse_mutations``). The version table is replicated to every node (one shard)."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from clickhouse_connect.cc_sqlalchemy.alembic import ClickHouseImpl
from clickhouse_connect.cc_sqlalchemy.ddl.tableengine import (
    Distributed,
    MergeTree,
    ReplicatedMergeTree,
    TableEngine,
)
from clickhouse_connect.cc_sqlalchemy.sql import format_table
from clickhouse_connect.cc_sqlalchemy.sql.ddlcompiler import column_specification
from clickhouse_connect.driver.binding import quote_identifier
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.types import UserDefinedType

from obsstore import registry
from obsstore.config import URL_VAR
from obsstore.errors import ConfigurationError

# The names obsstore accepts for a database or a cluster: plain identifiers, so that a name
# from a URL never needs quoting rules of its own in DDL.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def identifier(value: Any, what: str) -> str:
    """``value`` as a ClickHouse name, or ``ConfigurationError`` naming the URL setting."""
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigurationError(
            f"{URL_VAR} (or create_storage's url): {what} {value!r} is not a name obsstore "
            "accepts for ClickHouse (letters, digits and underscores, not starting with a digit, "
            "at most 64)"
        )
    return value


# --- cluster mode ---------------------------------------------------------------------------
CLUSTER_OPTION = "cluster"  # the URL query option naming the cluster
LOCAL_SUFFIX = "_local"  # a Distributed table <name> reads and writes <name>_local on each shard
# Where replicas of a table meet in (Zoo)Keeper: the server's macros fill these in per node.
_SHARDED_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
_EVERY_NODE_PATH = "/clickhouse/tables/all/{database}/{table}"  # one shard on every node
_REPLICA = "{replica}"
_ON_CLUSTER = "obsstore_on_cluster"  # Table.info key: the cluster its CREATE TABLE runs on


def cluster_of(url: URL) -> str | None:
    """The cluster a server URL's ``?cluster=`` names (strictly a plain name), or None."""
    value = url.query.get(CLUSTER_OPTION)
    return None if value is None else identifier(value, f"?{CLUSTER_OPTION}=")


def without_cluster(url: URL) -> URL:
    """``url`` without the option the driver does not know."""
    return url.difference_update_query([CLUSTER_OPTION])


@compiles(CreateTable, "clickhousedb")
def _create_table(element: CreateTable, compiler: DDLCompiler, **kw: Any) -> str:
    text: str = compiler.visit_create_table(element, **kw)  # type: ignore[no-untyped-call]
    prefixes = element.element._prefixes  # the driver's compiler leaves out TEMPORARY
    if prefixes:
        text = text.replace("CREATE TABLE", f"CREATE {' '.join(prefixes)} TABLE", 1)
    cluster = element.element.info.get(_ON_CLUSTER)
    if cluster is None:
        return text
    name = format_table(element.element)
    head = f" {name} ("
    assert head in text, text
    return text.replace(head, f" {name} ON CLUSTER {quote_identifier(cluster)} (", 1)


def _replicated(order: list[str], settings: dict[str, Any], path: str) -> TableEngine:
    return ReplicatedMergeTree(order_by=order, settings=settings, zk_path=path, replica=_REPLICA)


class Declared(UserDefinedType[Any]):
    """A column type as already compiled DDL text."""

    cache_ok = True

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def get_col_spec(self, **kw: Any) -> str:
        return self.spec


def declared_type(column: sa.Column[Any], dialect: Dialect) -> str:
    """The column's type as ClickHouse declares it (``Nullable(...)`` where it may be NULL)."""
    inner = dialect.type_compiler_instance.process(column.type.dialect_impl(dialect))
    return f"Nullable({inner})" if column.nullable and not column.primary_key else inner


def _nullable(column: sa.Column[Any], dialect: Dialect) -> None:
    column.type = Declared(declared_type(column, dialect))


# SQL type names ClickHouse accepts as aliases of its own (what it stores and reports).
_ALIASES = [
    (re.compile(r"VARCHAR\(\d+\)|VARCHAR|TEXT"), "String"),
    (re.compile(r"BIGINT"), "Int64"),
    (re.compile(r"INTEGER"), "Int32"),
    (re.compile(r"DOUBLE( PRECISION)?|FLOAT"), "Float64"),
    (re.compile(r"BOOLEAN"), "Bool"),
]


def canonical_type(type_name: str) -> str:
    for pattern, name in _ALIASES:
        type_name = pattern.sub(name, type_name)
    return type_name.replace(" ", "")


def _set_engine(table: sa.Table, engine: TableEngine) -> None:
    table.engine = engine  # type: ignore[attr-defined]
    table.kwargs["clickhousedb_engine"] = engine


class ObsstoreClickHouseImpl(ClickHouseImpl):
    __dialect__ = "clickhousedb"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Online, the storage's engine carries the cluster (ClickHouseStorage.build_engine);
        # offline (``alembic upgrade head --sql``) the URL being migrated names it.
        url = self.context_opts.get("obsstore_url")
        self.cluster: str | None = (
            cluster_of(url)
            if self.as_sql and url is not None
            else getattr(self.dialect, "obsstore_cluster", None)
        )

    def version_table_impl(self, **kw: Any) -> sa.Table:
        table = super().version_table_impl(**kw)
        if self.cluster is not None:  # every node knows the schema's revision
            _set_engine(table, _replicated(["version_num"], {}, _EVERY_NODE_PATH))
            table.info[_ON_CLUSTER] = self.cluster
        return table

    def create_table(self, table: sa.Table, **kw: Any) -> None:
        profile = registry.profile_for(self.dialect.name)
        order = list(profile.sort_keys.get(table.name) or [c.name for c in table.primary_key])
        settings = dict(profile.table_settings)
        for column in table.columns:
            _nullable(column, self.dialect)
        if self.cluster is None:
            _set_engine(table, MergeTree(order_by=order, settings=settings))
            super().create_table(table, **kw)
        else:
            name, local = table.name, table.name + LOCAL_SUFFIX
            table.name = local
            table.info[_ON_CLUSTER] = self.cluster
            _set_engine(table, _replicated(order, settings, _SHARDED_PATH))
            super().create_table(table, **kw)
            table.name = name
            key = ", ".join(quote_identifier(c.name) for c in table.primary_key)
            distributed = Distributed(
                cluster=quote_identifier(self.cluster),
                database="currentDatabase()",
                table=quote_identifier(local),
                sharding_key=f"cityHash64({key})",
            )
            _set_engine(table, distributed)
            super().create_table(table, **kw)
        for column_names in (profile.key_projections.get(table.name),):
            if column_names:
                self._add_projection(table.name, column_names)

    def _tables(self, table: str) -> list[str]:
        """The tables an ALTER of ``table`` changes, each with its ON CLUSTER clause."""
        if self.cluster is None:
            return [quote_identifier(table)]
        on = f"ON CLUSTER {quote_identifier(self.cluster)}"
        return [f"{quote_identifier(name)} {on}" for name in (table + LOCAL_SUFFIX, table)]

    def _add_projection(self, table: str, columns: tuple[str, ...]) -> None:
        # Names come from the registry's profile, never from a caller; the projection belongs
        # to the table that stores the rows (the local one in cluster mode).
        names = ", ".join(quote_identifier(c) for c in columns)
        projection = quote_identifier("by_" + "_".join(columns))
        stored = self._tables(table)[0]
        self._exec(
            sa.text(
                f"ALTER TABLE {stored} ADD PROJECTION {projection} "
                f"(SELECT {names} ORDER BY {names})"
            )
        )

    def compare_type(
        self, inspector_column: sa.Column[Any], metadata_column: sa.Column[Any]
    ) -> bool:
        """Whether the stored column's type differs from the declared one, both as ClickHouse
        names them (obsstore's column types compile only for a real dialect)."""
        declared = canonical_type(declared_type(metadata_column, self.dialect))
        stored = canonical_type(getattr(inspector_column.type, "name", str(inspector_column.type)))
        return declared != stored

    def add_column(self, table_name: str, column: sa.Column[Any], **kw: Any) -> None:
        _nullable(column, self.dialect)
        if self.cluster is None:
            super().add_column(table_name, column, **kw)
            return
        spec = column_specification(self.dialect, column)
        for target in self._tables(table_name):
            self._exec(sa.text(f"ALTER TABLE {target} ADD COLUMN {spec}"))

    def drop_column(self, table_name: str, column: sa.Column[Any], **kw: Any) -> None:
        if self.cluster is None:
            super().drop_column(table_name, column, **kw)
            return
        for target in reversed(self._tables(table_name)):
            self._exec(sa.text(f"ALTER TABLE {target} DROP COLUMN {quote_identifier(column.name)}"))

    def drop_table(self, table: sa.Table, **kw: Any) -> None:
        if self.cluster is None:
            super().drop_table(table, **kw)
            return
        for target in reversed(self._tables(table.name)):
            self._exec(sa.text(f"DROP TABLE {target} SYNC"))
