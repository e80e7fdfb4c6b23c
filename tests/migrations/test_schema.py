"""Revision by revision, the migrations build exactly the schema obsstore/schema.py declares,
remove it again, and build it again, on SQLite, DuckDB and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from obsstore import SchemaError, create_storage, migrate
from obsstore.schema import VERSION_TABLE, metadata
from obsstore.storage.migration import migration_connection
from tests.migrations.catalog import schema_differences, table_names


def test_upgrade_downgrade_upgrade(sql_url: str) -> None:
    with migration_connection(sql_url) as connection:
        assert table_names(connection) & set(metadata.tables) == set()
        migrate.run(connection, "upgrade", "head")
    with migration_connection(sql_url) as connection:
        assert migrate.current_revision(connection) == migrate.head_revision()
        assert schema_differences(connection) == []
        migrate.run(connection, "downgrade", "base")
    with migration_connection(sql_url) as connection:
        # Alembic keeps its (now empty) version table; every obsstore data table is gone.
        assert table_names(connection) - {VERSION_TABLE} == set()
        assert migrate.current_revision(connection) is None
        migrate.run(connection, "upgrade", "head")
    with migration_connection(sql_url) as connection:
        assert schema_differences(connection) == []


@pytest.mark.requires("it creates an index with CREATE INDEX", secondary_indexes=True)
def test_schema_check_notices_a_difference(sql_url: str) -> None:
    """The comparison used above is able to fail: an index that the models do not declare."""
    with migration_connection(sql_url) as connection:
        migrate.run(connection, "upgrade", "head")
        connection.execute(
            sa.text("CREATE INDEX ix_obsstore_metrics_value ON obsstore_metrics (value)")
        )
        assert schema_differences(connection) != []


def test_init_migrates_and_is_idempotent(sql_url: str) -> None:
    with create_storage(sql_url) as storage:
        storage.init()
        storage.init()
    with migration_connection(sql_url) as connection:
        assert migrate.current_revision(connection) == migrate.head_revision()


def test_unknown_revision_is_a_schema_error(sql_url: str) -> None:
    with create_storage(sql_url) as storage:
        storage.init()
    with migration_connection(sql_url) as connection:
        versions = sa.table(VERSION_TABLE, sa.column("version_num"))
        # Replaced, not updated: ClickHouse cannot UPDATE the version table's sort key.
        connection.execute(sa.delete(versions).where(versions.c.version_num.is_not(None)))
        connection.execute(sa.insert(versions).values(version_num="9999_from_the_future"))
    with create_storage(sql_url) as storage:
        with pytest.raises(SchemaError, match="newer release"):
            storage.init()
    with pytest.raises(SchemaError, match="newer release"):
        with migration_connection(sql_url) as connection:
            migrate.run(connection, "upgrade", "head")
