"""DDL that differs by dialect beyond types: a column's storage options, from the dialect
profile (``obsstore.registry``). Imported by ``obsstore.sqltypes``, so it is in effect wherever
obsstore's tables are created or rebuilt."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn, ExecutableDDLElement
from sqlalchemy.sql.compiler import DDLCompiler

from obsstore import registry

# ``info`` of a primary-key column whose rows are deleted in bulk (by prune and
# delete_metrics): stored as the profile's ``row_key_compression`` says.
ROW_KEY: dict[str, Any] = {"obsstore_row_key": True}
_COMPRESSIONS = {"uncompressed": "uncompressed"}  # what may follow USING COMPRESSION


@compiles(CreateColumn)
def _create_column(element: CreateColumn, compiler: DDLCompiler, **kw: Any) -> str:
    text: str = compiler.visit_create_column(element, **kw)  # type: ignore[no-untyped-call]
    column = element.element
    if text and column.info.get("obsstore_row_key"):
        profile = registry.find_profile(compiler.dialect.name)
        compression = None if profile is None else profile.row_key_compression
        if compression is not None:
            text += f" USING COMPRESSION {_COMPRESSIONS[compression]}"
    return text


class Truncate(ExecutableDDLElement):
    """``TRUNCATE TABLE <table>``: empties a table at once, where a DELETE needs a WHERE clause
    (ClickHouse) or costs a row at a time. The name is quoted by the dialect's preparer."""

    def __init__(self, table: sa.Table) -> None:
        self.element = table


@compiles(Truncate)
def _truncate(element: Truncate, compiler: DDLCompiler, **kw: Any) -> str:
    return f"TRUNCATE TABLE {compiler.preparer.format_table(element.element)}"


__all__ = ["ROW_KEY", "Truncate"]
