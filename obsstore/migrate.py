"""The one programmatic entry to the Alembic migrations. ``storage.init()``, the ``obsstore
migrate`` command, ``alembic upgrade head`` (through ``alembic/env.py``) and the tests all
come through here. It works on connections it is given and never imports the storage layer:
``obsstore.storage.migration`` opens them from a kind or URL."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from alembic import command
from obsstore import alembic_duckdb  # noqa: F401  (registers the DuckDB Alembic implementation)
from obsstore.autogenerate import include_object_for
from obsstore.errors import ObsstoreError, SchemaError
from obsstore.schema import VERSION_TABLE, metadata

# Opens a migration transaction on the database a kind or URL names (None: the settings).
ConnectionOpener = Callable[[str | None], AbstractContextManager[Connection]]

log = logging.getLogger("obsstore.migrate")


def script_location() -> Path:
    """The migration scripts: inside the installed package, or at a checkout's root."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_alembic", package.parent / "alembic"):
        if (candidate / "env.py").is_file() and (candidate / "versions").is_dir():
            return candidate
    raise SchemaError(f"obsstore's migration scripts are missing (looked in {package})")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    if head is None:
        raise SchemaError("obsstore ships no migrations")
    return head


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def is_known_revision(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:
        return False


def check_known_revision(connection: Connection) -> str | None:
    """The database's revision; ``SchemaError`` when a newer obsstore release stamped it."""
    current = current_revision(connection)
    if current is not None and not is_known_revision(current):
        raise SchemaError(
            f"the database is at obsstore schema revision {current!r}, which this version of "
            f"obsstore does not know (its head is {head_revision()!r}): a newer release "
            "migrated it. Upgrade obsstore, or point it at another database."
        )
    return current


def ensure_schema(connection: Connection, *, upgrade: bool) -> None:
    """Bring the schema to head, or explain why not. The caller holds the write transaction
    (and the migration lock), so concurrent callers see each other's finished work."""
    current = check_known_revision(connection)
    head = head_revision()
    if current == head:
        return
    if not upgrade:
        raise SchemaError(
            f"the obsstore schema is at revision {current!r}, not {head!r}, and "
            "OBSERVABILITY_METRICS_AUTO_MIGRATE is false: run `alembic upgrade head` "
            "(or `obsstore migrate`) before starting the application"
        )
    log.info("migrating obsstore schema from %s to %s", current, head)
    run(connection, "upgrade", "head")


def run(connection: Connection, direction: str, revision: str) -> None:
    """Upgrade or downgrade on ``connection`` inside the caller's transaction."""
    check_known_revision(connection)
    config = alembic_config(connection)
    if direction == "upgrade":
        command.upgrade(config, revision)
    elif direction == "downgrade":
        command.downgrade(config, revision)
    else:
        raise ValueError(f"unknown direction {direction!r}")


def run_environment(context: EnvironmentContext, connect: ConnectionOpener) -> None:
    """The body of ``alembic/env.py``: use the caller's connection when there is one,
    otherwise open the database named by ``-x url=...`` or the obsstore settings with
    ``connect`` (``obsstore.storage.migration.migration_connection``, passed in so that the
    migrations never import the storage layer)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(context, connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    try:
        if context.is_offline_mode():
            from obsstore import registry
            from obsstore.config import resolve_target

            resolved = resolve_target(url)
            # The backend's module registers its Alembic implementation where it has one;
            # obsstore_url lets that implementation read the URL's options (ClickHouse's
            # ?cluster=), as the storage's engine tells it online.
            registry.get(resolved.kind).storage_class()
            context.configure(
                url=resolved.url,
                literal_binds=True,
                obsstore_url=resolved.url,
                **_context_options(),
            )
            with context.begin_transaction():
                context.run_migrations()
            return
        with connect(url) as connection:
            _run_on(context, connection)
    except ObsstoreError as exc:  # a clear message instead of a traceback
        raise SystemExit(f"obsstore: {exc}") from None


def _context_options(connection: Connection | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"target_metadata": metadata, "version_table": VERSION_TABLE}
    if connection is not None:  # autogenerate compares only what applies to this database
        options["include_object"] = include_object_for(connection)
    return options


def _run_on(context: EnvironmentContext, connection: Connection) -> None:
    check_known_revision(connection)
    context.configure(connection=connection, **_context_options(connection))
    with context.begin_transaction():
        context.run_migrations()
