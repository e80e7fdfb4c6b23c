"""One page of a query's rows and the total it belongs to, shared by every paged SQL listing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from obsstore.models.queries import Pagination


def fetch_page(
    connection: Connection,
    query: sa.Select[Any],
    source: sa.FromClause,
    clauses: list[Any],
    pagination: Pagination,
) -> tuple[list[sa.Row[Any]], int]:
    """The page's rows of ``query`` (ordered, unpaged), and how many rows of ``source`` match
    ``clauses`` in all. A page that ends early holds the last row, so its total needs no
    second query."""
    rows = connection.execute(query.limit(pagination.limit).offset(pagination.offset)).all()
    if len(rows) < pagination.limit and (rows or pagination.offset == 0):
        return list(rows), pagination.offset + len(rows)
    total = connection.execute(sa.select(sa.func.count()).select_from(source).where(*clauses))
    return list(rows), int(total.scalar_one())
