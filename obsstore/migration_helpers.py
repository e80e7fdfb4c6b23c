"""Operations migration scripts share where a dialect cannot do the plain thing.

DuckDB refuses to drop, alter or rename a column of a table that has any index (its primary
key counts): ``Cannot alter entry ... because there are entries that depend on it``. There,
:func:`rebuild_table` copies the rows into a new table of the wanted shape and swaps it in.
SQLite gets the same effect from Alembic's batch operations (``op.batch_alter_table``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from alembic import op


def dialect_name() -> str:
    return op.get_context().dialect.name


def rebuild_table(
    name: str,
    columns: Sequence[sa.Column[object]],
    fill_from: Mapping[str, str | sa.ColumnElement[object]],
    indexes: Sequence[tuple[str, Sequence[str]]] = (),
) -> None:
    """Replace table ``name`` by one with ``columns``, keeping every row.

    ``fill_from`` maps each new column to the old column (by name) or SQL expression it is
    filled from; columns not named stay NULL or take their default. ``indexes`` are
    ``(index name, column names)`` pairs created once the new table carries the old name."""
    staging = f"{name}__rebuild"
    op.create_table(staging, *columns)
    old_columns: list[sa.ColumnClause[object]] = [
        sa.column(source) for source in fill_from.values() if isinstance(source, str)
    ]
    old = sa.table(name, *old_columns)
    sources = [
        old.c[source] if isinstance(source, str) else source for source in fill_from.values()
    ]
    new = sa.table(staging, *(sa.column(target) for target in fill_from))
    op.execute(sa.insert(new).from_select(list(fill_from), sa.select(*sources).select_from(old)))
    op.drop_table(name)
    op.rename_table(staging, name)
    for index_name, index_columns in indexes:
        op.create_index(index_name, name, list(index_columns))
