"""A test-only migration stream adds, alters, renames and drops columns of an indexed table:
on SQLite and DuckDB (rebuilt tables) and PostgreSQL (in-place ALTER) every row survives."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from obsstore.storage.migration import migration_connection
from tests.migrations.catalog import index_columns

STREAM = Path(__file__).parent / "stream"


def _upgrade(connection: sa.Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(STREAM))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


@pytest.mark.requires(
    "the test stream indexes its table with op.create_index", secondary_indexes=True
)
def test_every_row_survives_column_changes(sql_url: str) -> None:
    rows = [{"id": f"i{n}", "name": f"item {n}", "qty": n, "obsolete": "x"} for n in range(500)]
    with migration_connection(sql_url) as connection:
        _upgrade(connection, "s1")
        items = sa.table("stream_items", *(sa.column(c) for c in rows[0]))
        connection.execute(sa.insert(items), rows)
        _upgrade(connection, "s2")
    with migration_connection(sql_url) as connection:
        stored = connection.execute(
            sa.text("SELECT id, title, qty, note FROM stream_items ORDER BY qty")
        ).all()
        assert [tuple(r) for r in stored] == [(f"i{n}", f"item {n}", n, "none") for n in range(500)]
        big = connection.execute(
            sa.text("UPDATE stream_items SET qty = 5000000000 WHERE id = 'i1'")
        )
        assert big.rowcount == 1  # BIGINT now
        indexes = index_columns(connection, "stream_items")
        assert indexes["ix_stream_items_qty"] == ["qty"]
        assert indexes["ix_stream_items_name"] == ["title"]
        columns = [
            c.lower() for c in connection.execute(sa.text("SELECT * FROM stream_items")).keys()
        ]
        assert "obsolete" not in columns and "note" in columns
