"""Fixtures shared by every test: the four-backend ``storage`` fixture and PostgreSQL.

A behaviour test takes ``storage`` and runs once per backend. PostgreSQL comes from
``tests/support/postgres.py``; when no server can be found or started the PostgreSQL cases
skip, except with ``CI=true``, where they fail instead."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from obsstore import MetricsStorage, ObservabilityStorage, create_storage
from tests.support.postgres import PostgresServer, find_server, scratch_database

BACKENDS = ("memory", "sqlite", "duckdb", "postgresql")
SQL_BACKENDS = ("sqlite", "duckdb", "postgresql")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = find_server()
    if server is None:
        message = "no PostgreSQL server: set OBSSTORE_TEST_POSTGRES_URL or install PostgreSQL"
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {message}")
        pytest.skip(message)
    try:
        yield server
    finally:
        if server.stop is not None:
            server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A database of this test session's own, dropped at the end."""
    with scratch_database(postgres_server.url) as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new empty database for one test (migration tests)."""
    with scratch_database(postgres_server.url) as url:
        yield url


def url_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "memory":
        return "memory"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'obsstore.db'}"
    if backend == "duckdb":
        return f"duckdb:///{tmp_path / 'obsstore.duckdb'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[MetricsStorage]:
    """An initialised, empty storage on each of the four backends."""
    with create_storage(url_for(backend, tmp_path, request)) as store:
        store.init()
        store.dangerously_clear_all()
        yield store


@pytest.fixture(params=SQL_BACKENDS)
def sql_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sql_url(sql_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL of an empty database, per SQL backend (a fresh PostgreSQL database per test)."""
    if sql_backend == "postgresql":
        return str(request.getfixturevalue("fresh_postgres_url"))
    return url_for(sql_backend, tmp_path, request)


@pytest.fixture(params=BACKENDS)
def reference_and_candidate(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ObservabilityStorage, ObservabilityStorage]]:
    """The plain reference model (``tests/reference``) and an initialised storage of each
    backend, memory included, for differential tests (which clear both at the start of every
    example)."""
    from tests.reference import ReferenceStorage

    with create_storage(url_for(request.param, tmp_path, request)) as candidate:
        candidate.init()
        yield ReferenceStorage(), candidate
