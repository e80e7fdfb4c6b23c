"""Fixtures for the writer tests: writers closed after each test, a PostgreSQL server the tests
may stop, databases that can be made unavailable (one per backend), prepared URLs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.postgres import ThrowawayCluster, postgres_bin_dir
from obsstore import MetricsStorage, MetricsWriter, create_storage
from tests.conftest import BACKENDS, IN_CI, skip_unless_capable, url_for
from tests.writer.helpers import Outage


@pytest.fixture
def make_writer() -> Iterator[Callable[..., MetricsWriter]]:
    """MetricsWriter(...) that is closed (briefly: its database may be down) after the test."""
    writers: list[MetricsWriter] = []

    def make(storage: MetricsStorage, **options: Any) -> MetricsWriter:
        writer = MetricsWriter(storage, **options)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.close(timeout=2.0)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayCluster]:
    """A PostgreSQL server of the writer tests' own, which they stop and start at will."""
    if postgres_bin_dir() is None:
        message = "no PostgreSQL server binaries for a throwaway cluster"
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {message}")
        pytest.skip(message)
    cluster = ThrowawayCluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(params=BACKENDS)
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    state = Outage(str(request.param), tmp_path, request)
    try:
        yield state
    finally:
        state.cleanup()


@pytest.fixture
def prepared_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an initialised, empty database per backend, with no storage left open on
    it (a DuckDB file must be free for a child process)."""
    url = url_for(backend, tmp_path, request)
    if backend != "memory":
        with create_storage(url) as storage:
            skip_unless_capable(request, storage.capabilities)
            storage.init()
            storage.dangerously_clear_all()
    return url
