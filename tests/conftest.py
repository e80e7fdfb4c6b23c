"""Fixtures shared by every test: the four-backend ``storage`` fixture and PostgreSQL.

A behaviour test takes ``storage`` and runs once per backend. PostgreSQL comes from
``devtools/postgres.py``; when no server can be found or started the PostgreSQL cases
skip, except with ``CI=true``, where they fail instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.postgres import PostgresServer, find_server, scratch_database
from obsstore import MetricsStorage, ObservabilityStorage, create_storage, registry
from obsstore.capabilities import Capabilities

# Every backend the registry knows; server backends get their URL from a fixture named
# "<kind>_url" (see postgresql_url below), file backends a file in the test's directory.
BACKENDS = registry.kinds()
SQL_BACKENDS = registry.sql_kinds()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """The PostgreSQL server of this session (OBSSTORE_TEST_POSTGRES chooses its source). A
    source chosen by name that cannot be had fails the tests, as does none at all with CI=true."""
    from devtools.postgres import PostgresUnavailable, describe

    try:
        server = find_server()
    except PostgresUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    if server is None:
        message = "no PostgreSQL server: set OBSSTORE_TEST_POSTGRES_URL or install PostgreSQL"
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {message}")
        pytest.skip(message)
    request.config.stash[SERVER_USED] = describe(server)
    try:
        yield server
    finally:
        if server.stop is not None:
            server.stop()


SERVER_USED = pytest.StashKey[str]()  # what pytest's summary reports as the server used
SERVER_USED_KEY = "obsstore_postgres_used"  # the same, in an xdist worker's output


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgresql: reaches PostgreSQL (set automatically; `-m postgresql` selects)"
    )
    config.addinivalue_line(
        "markers",
        "requires(reason, **capabilities): runs only on backends whose Capabilities have these "
        "values (see obsstore/capabilities.py); elsewhere it skips, saying which fact differs",
    )


def skip_unless_capable(request: pytest.FixtureRequest, capabilities: Capabilities) -> None:
    """Skip a test marked ``requires(reason, name=value, ...)`` on a backend whose capabilities
    differ: a documented difference of what the backend guarantees, never a backend name."""
    for marker in request.node.iter_markers("requires"):
        for name, wanted in marker.kwargs.items():
            actual = getattr(capabilities, name)
            if actual != wanted:
                reason = marker.args[0] if marker.args else ""
                pytest.skip(f"capability {name}={actual!r}, the test needs {wanted!r}: {reason}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from devtools.postgres import uses_postgresql

    for item in items:
        callspec = getattr(item, "callspec", None)
        if uses_postgresql(getattr(item, "fixturenames", []), callspec.params if callspec else {}):
            item.add_marker(pytest.mark.postgresql)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # An xdist worker hands the server it used to the controller, whose summary names it.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and SERVER_USED in session.config.stash:
        workeroutput[SERVER_USED_KEY] = session.config.stash[SERVER_USED]


@pytest.hookimpl(optionalhook=True)  # an xdist hook: defined only when xdist is installed
def pytest_testnodedown(node: Any, error: object) -> None:
    used = getattr(node, "workeroutput", {}).get(SERVER_USED_KEY)
    if used is not None:
        node.config.stash[SERVER_USED] = used


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    source = os.environ.get("OBSSTORE_TEST_POSTGRES") or "auto"
    used = config.stash.get(SERVER_USED, "none used")
    terminalreporter.write_line(f"postgresql (OBSSTORE_TEST_POSTGRES={source}): {used}")


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


@pytest.fixture(scope="session")
def postgresql_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def fresh_postgresql_url(fresh_postgres_url: str) -> str:
    return fresh_postgres_url


@pytest.fixture(scope="session")
def clickhouse_base_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The ClickHouse of this session: OBSSTORE_TEST_CLICKHOUSE_URL's server, or one chdb
    directory (chdb hosts one directory per process; see devtools/clickhouse.py)."""
    from devtools.clickhouse import server_url

    return server_url() or f"chdb:///{tmp_path_factory.mktemp('chdb')}"


@pytest.fixture(scope="session")
def clickhouse_url(clickhouse_base_url: str) -> Iterator[str]:
    """A database of this test session's own (the storage fixture empties it per test)."""
    from devtools.clickhouse import scratch_database

    with scratch_database(clickhouse_base_url) as url:
        yield url


@pytest.fixture
def fresh_clickhouse_url(clickhouse_base_url: str) -> Iterator[str]:
    """A new empty database for one test, in the session's ClickHouse."""
    from devtools.clickhouse import scratch_database

    with scratch_database(clickhouse_base_url) as url:
        yield url


def url_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest | None) -> str:
    entry = registry.get(backend)
    if entry.profile is None:
        return backend
    if entry.profile.file_suffix is not None:
        return f"{entry.url_scheme}:///{tmp_path / 'obsstore'}{entry.profile.file_suffix}"
    assert request is not None, f"{backend} takes its URL from a fixture"
    return str(request.getfixturevalue(f"{backend}_url"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def migrated_file_copy(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Path], None]:
    """Puts a copy of a file backend's database that init() migrated once this session where
    url_for() points in a test's directory: migrating a new file costs ~0.1-0.2 s a test
    (SQLite, DuckDB), copying one milliseconds. The tests of init() on a new file use their
    own URLs (tests/migrations, sql_url)."""
    templates: dict[str, Path] = {}

    def copy(backend: str, tmp_path: Path) -> None:
        if backend not in templates:
            directory = tmp_path_factory.mktemp(f"migrated-{backend}")
            with create_storage(url_for(backend, directory, None)) as store:
                store.init()
            templates[backend] = directory
        # The file, and any journal the engine left beside it (none after a clean close).
        for path in templates[backend].glob("obsstore*"):
            shutil.copyfile(path, tmp_path / path.name)

    return copy


@pytest.fixture
def storage(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    migrated_file_copy: Callable[[str, Path], None],
) -> Iterator[MetricsStorage]:
    """An initialised, empty storage on each of the four backends."""
    entry = registry.get(backend)
    if entry.profile is not None and entry.profile.file_suffix is not None:
        migrated_file_copy(backend, tmp_path)
    with create_storage(url_for(backend, tmp_path, request)) as store:
        skip_unless_capable(request, store.capabilities)
        store.init()
        store.dangerously_clear_all()
        yield store


@pytest.fixture(params=SQL_BACKENDS)
def sql_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sql_url(sql_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL of an empty database, per SQL backend (a fresh PostgreSQL database per test)."""
    skip_unless_capable(request, registry.get(sql_backend).capabilities)
    if registry.get(sql_backend).profile.file_suffix is None:  # type: ignore[union-attr]
        return str(request.getfixturevalue(f"fresh_{sql_backend}_url"))
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
        skip_unless_capable(request, candidate.capabilities)
        candidate.init()
        yield ReferenceStorage(), candidate
