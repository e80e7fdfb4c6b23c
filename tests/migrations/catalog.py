"""Reading a database's catalog in tests, through SQLAlchemy's inspector on every SQL backend
(obsstore's DuckDB dialect reflects from DuckDB's own catalog)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from obsstore.autogenerate import include_object_for
from obsstore.schema import VERSION_TABLE, metadata


def table_names(connection: sa.Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def index_columns(connection: sa.Connection, table: str) -> dict[str, list[str]]:
    return {
        str(ix["name"]): [str(c) for c in ix["column_names"]]
        for ix in sa.inspect(connection).get_indexes(table)
    }


def schema_differences(connection: sa.Connection) -> list[Any]:
    """What differs between the database and ``obsstore.schema`` (types included), as
    ``alembic check`` sees it; empty when they agree."""
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": include_object_for(connection),
            "version_table": VERSION_TABLE,
        },
    )
    return list(compare_metadata(context, metadata))
