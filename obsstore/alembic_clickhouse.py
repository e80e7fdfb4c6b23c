"""Alembic's implementation for ClickHouse (dialect ``clickhousedb``), registered on import by
``obsstore.storage.clickhouse`` (it needs the driver, so ``obsstore.migrate`` cannot import it).

It extends clickhouse-connect's own implementation so that the migrations stay written once:
a table gets its engine from the dialect profile's facts (a MergeTree sorted by the profile's
sort key, or else by the primary key, with the profile's table settings), nullable columns
become ``Nullable(...)`` (ClickHouse columns are not nullable unless declared so), and a
table's key-lookup projections follow its creation."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from clickhouse_connect.cc_sqlalchemy.alembic import ClickHouseImpl
from clickhouse_connect.cc_sqlalchemy.ddl.tableengine import MergeTree
from clickhouse_connect.driver.binding import quote_identifier
from sqlalchemy.engine import Dialect
from sqlalchemy.types import UserDefinedType

from obsstore import registry


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


def _canonical(type_name: str) -> str:
    for pattern, name in _ALIASES:
        type_name = pattern.sub(name, type_name)
    return type_name.replace(" ", "")


class ObsstoreClickHouseImpl(ClickHouseImpl):
    __dialect__ = "clickhousedb"

    def create_table(self, table: sa.Table, **kw: Any) -> None:
        profile = registry.profile_for(self.dialect.name)
        order = profile.sort_keys.get(table.name) or tuple(c.name for c in table.primary_key)
        for column in table.columns:
            _nullable(column, self.dialect)
        engine = MergeTree(order_by=list(order), settings=dict(profile.table_settings))
        table.engine = engine  # type: ignore[attr-defined]
        table.kwargs["clickhousedb_engine"] = engine
        super().create_table(table, **kw)
        for column_names in (profile.key_projections.get(table.name),):
            if column_names:
                self._add_projection(table.name, column_names)

    def _add_projection(self, table: str, columns: tuple[str, ...]) -> None:
        # Names come from the registry's profile, never from a caller.
        names = ", ".join(quote_identifier(c) for c in columns)
        projection = quote_identifier("by_" + "_".join(columns))
        self._exec(
            sa.text(
                f"ALTER TABLE {quote_identifier(table)} ADD PROJECTION {projection} "
                f"(SELECT {names} ORDER BY {names})"
            )
        )

    def compare_type(
        self, inspector_column: sa.Column[Any], metadata_column: sa.Column[Any]
    ) -> bool:
        """Whether the stored column's type differs from the declared one, both as ClickHouse
        names them (obsstore's column types compile only for a real dialect)."""
        declared = _canonical(declared_type(metadata_column, self.dialect))
        stored = _canonical(getattr(inspector_column.type, "name", str(inspector_column.type)))
        return declared != stored

    def add_column(self, table_name: str, column: sa.Column[Any], **kw: Any) -> None:
        _nullable(column, self.dialect)
        super().add_column(table_name, column, **kw)
