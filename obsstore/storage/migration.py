"""Opening a database for migrations from a kind or URL: the storage layer's side of
``obsstore.migrate`` (which only ever works on the connection it is given)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError

from obsstore.config import resolve_target
from obsstore.errors import ConfigurationError, ObsstoreError, StorageUnavailableError
from obsstore.storage import backend_class_for
from obsstore.storage.sql import SQLStorage


@contextmanager
def migration_connection(target: str | None = None) -> Iterator[Connection]:
    """A write transaction on the database named by ``target`` (a kind or URL; ``None`` reads
    the settings), holding the backend's migration lock. Raises ``ConfigurationError`` for the
    memory backend, which has no schema, and ``StorageUnavailableError`` when the database
    cannot be reached or is locked."""
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
