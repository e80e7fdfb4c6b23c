"""Tables a dialect profile lists as ``unkeyed_tables`` (0009_unkeyed_rollup_bins) lose their
primary key there, keep every row, and get the key back on downgrade; elsewhere the key stays."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateTable

from obsstore import migrate, registry
from obsstore.schema import metric_rollup_bins
from obsstore.storage.migration import migration_connection

BEFORE = "0008_pg_label_window"
KEY = ["level_us", "bucket", "series", "bin"]
BINS = [
    {
        "level_us": 3_600_000_000,
        "bucket": datetime(2026, 11, 1, h, tzinfo=timezone.utc),
        "series": s,
        "bin": n,
        "count": n,
    }
    for h in range(3)
    for s in ("a", "b")
    for n in range(1, 5)
]


def _key(connection: sa.Connection) -> list[str]:
    return list(
        sa.inspect(connection).get_pk_constraint(metric_rollup_bins.name)["constrained_columns"]
    )


def _rows(connection: sa.Connection) -> list[tuple[object, ...]]:
    b = metric_rollup_bins.c
    query = sa.select(metric_rollup_bins).order_by(b.bucket, b.series, b.bin)
    return [tuple(row) for row in connection.execute(query)]


@pytest.mark.requires("reflects a B-tree primary key", secondary_indexes=True)
def test_the_bins_key_follows_the_profile_and_rows_survive_both_ways(sql_url: str) -> None:
    with migration_connection(sql_url) as connection:
        migrate.run(connection, "upgrade", BEFORE)
        connection.execute(sa.insert(metric_rollup_bins), BINS)
        expected = _rows(connection)
        assert len(expected) == len(BINS)
        unkeyed = (
            metric_rollup_bins.name in registry.profile_for(connection.dialect.name).unkeyed_tables
        )
    with migration_connection(sql_url) as connection:
        migrate.run(connection, "upgrade", "head")
    with migration_connection(sql_url) as connection:
        assert _key(connection) == ([] if unkeyed else KEY)
        assert _rows(connection) == expected
        migrate.run(connection, "downgrade", BEFORE)
    with migration_connection(sql_url) as connection:
        assert _key(connection) == KEY
        assert _rows(connection) == expected


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite", "postgresql"])
def test_schema_declares_the_key_where_the_profile_keeps_it(dialect: str) -> None:
    profile = registry.profile_for(dialect)
    backend = next(b for b in registry.BACKENDS if b.profile is profile)
    ddl = str(
        CreateTable(metric_rollup_bins).compile(
            dialect=make_url(f"{backend.driver}://").get_dialect()()
        )
    )
    assert ("PRIMARY KEY" in ddl) == (metric_rollup_bins.name not in profile.unkeyed_tables)
