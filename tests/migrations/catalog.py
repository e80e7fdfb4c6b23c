"""Reading a database's catalog in tests: SQLAlchemy's inspector where it works, DuckDB's own
catalog functions where duckdb-engine's reflection does not."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from obsstore.schema import VERSION_TABLE, metadata


def table_names(connection: sa.Connection) -> set[str]:
    if connection.dialect.name == "duckdb":
        rows = connection.execute(sa.text("SELECT table_name FROM duckdb_tables()"))
        return {r[0] for r in rows}
    return set(sa.inspect(connection).get_table_names())


def index_columns(connection: sa.Connection, table: str) -> dict[str, list[str]]:
    if connection.dialect.name == "duckdb":
        rows = connection.execute(
            sa.text("SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = :t"),
            {"t": table},
        )
        result = {}
        for name, sql in rows:
            inside = re.search(r"\((.*)\)", sql)
            assert inside is not None, sql
            result[name] = [c.strip().strip('"') for c in inside.group(1).split(",")]
        return result
    return {
        str(ix["name"]): [str(c) for c in ix["column_names"]]
        for ix in sa.inspect(connection).get_indexes(table)
    }


def _applies_to(index: sa.Index, dialect: sa.Dialect) -> bool:
    """Whether the schema gives ``index`` to ``dialect`` (its ``ddl_if`` condition)."""
    condition = index._ddl_if
    if condition is None:
        return True
    if condition.dialect is not None:
        names = [condition.dialect] if isinstance(condition.dialect, str) else condition.dialect
        if dialect.name not in names:
            return False
    if condition.callable_ is None:
        return True
    ddl = sa.schema.CreateIndex(index)
    return bool(condition.callable_(ddl, index, None, dialect=dialect, checkfirst=False))


def schema_differences(connection: sa.Connection) -> list[Any]:
    """What differs between the database and ``obsstore.schema``; empty when they agree."""
    dialect = connection.dialect
    if dialect.name == "duckdb":
        return _duckdb_differences(connection)

    def include(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
        if kind == "table" and name == VERSION_TABLE:
            return False
        if kind == "index" and not reflected:
            return _applies_to(obj, dialect)
        return True

    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "include_object": include, "version_table": VERSION_TABLE},
    )
    return list(compare_metadata(context, metadata))


def _duckdb_differences(connection: sa.Connection) -> list[Any]:
    differences: list[Any] = []
    tables = table_names(connection) - {VERSION_TABLE}
    if tables != set(metadata.tables):
        differences.append(("tables", sorted(tables), sorted(metadata.tables)))
    for table in metadata.tables.values():
        rows = connection.execute(
            sa.text(
                "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
                "WHERE table_name = :t ORDER BY column_index"
            ),
            {"t": table.name},
        ).all()
        expected = []
        for column in table.columns:
            compiled = column.type.dialect_impl(connection.dialect).compile(connection.dialect)
            canonical = connection.execute(
                sa.text(f"SELECT typeof(CAST(NULL AS {compiled}))")  # our own type names
            ).scalar_one()
            expected.append((column.name, canonical, column.nullable))
        if [tuple(r) for r in rows] != expected:
            differences.append(("columns", table.name, [tuple(r) for r in rows], expected))
        wanted_indexes = {
            str(ix.name): [c.name for c in ix.columns]
            for ix in table.indexes
            if _applies_to(ix, connection.dialect)
        }
        found_indexes = index_columns(connection, table.name)
        if found_indexes != wanted_indexes:
            differences.append(("indexes", table.name, found_indexes, wanted_indexes))
        primary = connection.execute(
            sa.text(
                "SELECT constraint_column_names FROM duckdb_constraints() "
                "WHERE table_name = :t AND constraint_type = 'PRIMARY KEY'"
            ),
            {"t": table.name},
        ).scalar()
        if list(primary or []) != [c.name for c in table.primary_key.columns]:
            differences.append(("primary key", table.name, primary))
    return differences
