"""A PostgreSQL server for the benchmark and scratch databases on it.

The server comes from ``OBSSTORE_BENCH_POSTGRES_URL``, else the same search the tests use
(``devtools/postgres.py``: a local server on 127.0.0.1:5432, testcontainers, or a throwaway
cluster from the local binaries). The benchmark only ever creates and drops databases named
``obsstore_bench_<random>``."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def find_server() -> tuple[str, Callable[[], None] | None] | None:
    """(server URL, stop function or None), or None when no PostgreSQL can be had."""
    configured = os.environ.get("OBSSTORE_BENCH_POSTGRES_URL")
    if configured:
        return configured, None
    from devtools.postgres import find_server as find_test_server

    server = find_test_server()
    return None if server is None else (server.url, server.stop)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def create_database(server_url: str) -> str:
    name = f"obsstore_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_plain(server_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(_plain(server_url)).set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    url = make_url(database_url)
    assert url.database is not None and url.database.startswith("obsstore_bench_")
    admin_url = url.set(database="postgres").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(admin_url, autocommit=True)
    except psycopg.OperationalError:  # no "postgres" database: use the server's default one
        admin = psycopg.connect(
            url.set(database="template1").render_as_string(hide_password=False), autocommit=True
        )
    with admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(url.database))
        )


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    database_url = create_database(server_url)
    try:
        yield database_url
    finally:
        drop_database(database_url)
