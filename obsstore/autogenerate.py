"""What Alembic's autogenerate (``alembic check``, ``revision --autogenerate``) compares.

``obsstore.schema`` declares some indexes for some databases only, with ``ddl_if``. Alembic
ignores ``ddl_if`` and would report such an index as missing wherever it does not apply.
The filter here asks each declared index or constraint the question ``metadata.create_all``
asks: would its DDL run on this connection? Both forms of ``ddl_if`` (``dialect=`` and
``callable_=``) are honoured because the answer comes from SQLAlchemy's own ``DDLIf``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql.ddl import AddConstraint, CreateIndex, DDLIf, ExecutableDDLElement

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]

# The DDL that would create a declared object of each kind Alembic asks about.
_CREATE: dict[str, Callable[[Any], ExecutableDDLElement]] = {
    "index": CreateIndex,
    "unique_constraint": AddConstraint,
    "foreign_key_constraint": AddConstraint,
}


def include_object_for(connection: Connection) -> IncludeObject:
    """An ``include_object`` hook that leaves out the declared indexes and constraints whose
    ``ddl_if`` excludes ``connection``'s database, and tables that are not obsstore's (an
    application may share the database). Every other reflected object stays in, so an index
    that should not be there is still reported."""

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "table" and reflected and compare_to is None:
            # A table of the application sharing the database: not obsstore's to compare.
            return False
        condition: DDLIf | None = getattr(obj, "_ddl_if", None)
        if reflected or condition is None or type_ not in _CREATE:
            return True
        # The same call SQLAlchemy's create_all makes for CreateIndex(index) or
        # AddConstraint(constraint) on this connection.
        return condition._should_execute(_CREATE[type_](obj), obj, connection)

    return include_object
