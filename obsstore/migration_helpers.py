"""What migration scripts share where a dialect cannot do the plain thing.

DuckDB refuses to drop, alter or rename a column of a table that has an index (its primary
key counts): ``Cannot alter entry ... because there are entries that depend on it``. SQLite
cannot alter or drop most columns at all. On both, :func:`alter_table` rebuilds the table:
Alembic's batch mode creates the new shape under a temporary name (primary key only), copies
every row, drops the old table, renames the new one and recreates the indexes. PostgreSQL
alters in place.

The caller describes the table as it is before the migration (``copy_from``) because the
rebuild must not reflect it: duckdb-engine's reflection fails on recent SQLAlchemy releases."""

from __future__ import annotations

from contextlib import AbstractContextManager

import sqlalchemy as sa
from alembic.operations import BatchOperations

from alembic import op
from obsstore import registry
from obsstore.registry import DialectProfile


def dialect_profile() -> DialectProfile:
    """The facts about the dialect being migrated (see ``obsstore.registry``)."""
    return registry.profile_for(op.get_context().dialect.name)


def alter_table(name: str, copy_from: sa.Table) -> AbstractContextManager[BatchOperations]:
    """``with alter_table("t", T_before) as batch: batch.add_column(...); batch.drop_column(...)``
    on every dialect, keeping every row."""
    if dialect_profile().alter_by_rebuild:
        return op.batch_alter_table(name, copy_from=copy_from, recreate="always")
    return op.batch_alter_table(name, copy_from=copy_from, recreate="auto")
