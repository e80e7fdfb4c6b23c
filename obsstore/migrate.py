"""The one programmatic entry to the Alembic migrations. ``storage.init()``, the ``obsstore
migrate`` command, ``alembic upgrade head`` (through ``alembic/env.py``) and the tests all
come through here."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError

from alembic import command
from obsstore import alembic_duckdb  # noqa: F401  (registers the DuckDB Alembic implementation)
from obsstore.errors import (
    ConfigurationError,
    ObsstoreError,
    SchemaError,
    StorageUnavailableError,
)
from obsstore.schema import VERSION_TABLE, metadata

if TYPE_CHECKING:
    from obsstore.storage.sql import SQLStorage

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


@contextmanager
def migration_connection(target: str | None = None) -> Iterator[Connection]:
    """A write transaction on the database named by ``target`` (a kind or URL; ``None`` reads
    the settings), holding the backend's migration lock. Raises ``ConfigurationError`` for the
    memory backend, which has no schema, and ``StorageUnavailableError`` when the database
    cannot be reached or is locked."""
    from obsstore.config import resolve_target
    from obsstore.storage import backend_class_for

    resolved = resolve_target(target)
    if resolved.url is None:
        raise ConfigurationError(
            "the memory backend has no schema to migrate; set OBSERVABILITY_METRICS_STORAGE to "
            "sqlite, duckdb or postgresql (and OBSERVABILITY_METRICS_DATABASE_URL), or pass a URL"
        )
    backend = backend_class_for(resolved.kind)
    engine, on_dispose = backend.build_engine(resolved.url)
    try:
        with _unavailable_as_typed(backend, resolved.kind, resolved.url):
            with engine.connect().execution_options(obsstore_write=True) as connection:
                with connection.begin():
                    backend.lock_for_migration(connection)
                    yield connection
    finally:
        engine.dispose()
        if on_dispose is not None:
            on_dispose()


@contextmanager
def _unavailable_as_typed(backend: type[SQLStorage], kind: str, url: URL) -> Iterator[None]:
    """Driver errors that mean "unreachable or locked" (the backend's ``is_unavailable``
    decides) become ``StorageUnavailableError`` with a one-line message."""
    try:
        yield
    except ObsstoreError:
        raise
    except Exception as exc:
        invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        if not (invalidated or backend.is_unavailable(cause)):
            raise
        reason = " ".join(str(cause).split())  # drivers' messages span several lines
        where = url.render_as_string(hide_password=True)
        raise StorageUnavailableError(f"{kind} database {where} is unavailable: {reason}") from exc


def run_environment(context: EnvironmentContext) -> None:
    """The body of ``alembic/env.py``: use the caller's connection when there is one,
    otherwise open the database named by ``-x url=...`` or the obsstore settings."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(context, connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    try:
        if context.is_offline_mode():
            from obsstore.config import resolve_target

            resolved = resolve_target(url)
            context.configure(url=resolved.url, literal_binds=True, **_context_options())
            with context.begin_transaction():
                context.run_migrations()
            return
        with migration_connection(url) as connection:
            _run_on(context, connection)
    except ObsstoreError as exc:  # a clear message instead of a traceback
        raise SystemExit(f"obsstore: {exc}") from None


def _context_options() -> dict[str, Any]:
    return {"target_metadata": metadata, "version_table": VERSION_TABLE}


def _run_on(context: EnvironmentContext, connection: Connection) -> None:
    check_known_revision(connection)
    context.configure(connection=connection, **_context_options())
    with context.begin_transaction():
        context.run_migrations()
