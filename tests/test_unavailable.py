"""A database that cannot be reached, is locked, has no schema or is misconfigured gets a typed
error."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from devtools.postgres import PostgresServer
from obsstore import (
    ConfigurationError,
    ObsstoreError,
    SchemaError,
    StorageUnavailableError,
    create_storage,
)
from tests.contract.helpers import point


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_postgresql() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/test"
    with create_storage(url) as storage:
        with pytest.raises(StorageUnavailableError, match=r"127\.0\.0\.1"):
            storage.init()
        with pytest.raises(StorageUnavailableError):
            storage.batch_record_metrics([point("a")])
        with pytest.raises(StorageUnavailableError):
            storage.count_metrics()


def test_duckdb_file_locked_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys
            connection = duckdb.connect({str(path)!r})
            print("ready", flush=True)
            sys.stdin.readline()
            connection.close()
            print("released", flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "ready"
        with create_storage(f"duckdb:///{path}") as storage:
            with pytest.raises(StorageUnavailableError) as info:
                storage.init()
            assert str(path) in str(info.value)
            holder.stdin.write("release\n")
            holder.stdin.flush()
            assert holder.stdout.readline().strip() == "released"
            storage.init()  # the same storage works once the other process lets go
            storage.batch_record_metrics([point("a")])
            assert storage.count_metrics() == 1
    finally:
        holder.communicate("")


def test_sqlite_locked_past_its_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with create_storage(f"sqlite:///{path}?timeout=0.2") as storage:
        storage.init()
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StorageUnavailableError):
                storage.batch_record_metrics([point("a")])
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert storage.batch_record_metrics([point("a")]) == 1


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgresql"])
def test_missing_schema_says_how_to_create_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = {
        "sqlite": f"sqlite:///{tmp_path / 'empty.db'}",
        "duckdb": f"duckdb:///{tmp_path / 'empty.duckdb'}",
    }.get(backend) or str(request.getfixturevalue("fresh_postgres_url"))
    with create_storage(url) as storage:
        with pytest.raises(SchemaError, match="init"):
            storage.count_metrics()
        with pytest.raises(SchemaError, match="init"):
            storage.batch_record_metrics([point("a")])


def test_a_closed_storage_refuses_work(tmp_path: Path) -> None:
    storage = create_storage(f"sqlite:///{tmp_path / 'c.db'}")
    storage.init()
    storage.close()
    with pytest.raises(ObsstoreError, match="closed"):
        storage.count_metrics()


# Retrying cannot create a database or a role: a wrong name is a ConfigurationError, never a
# StorageUnavailableError (which tells writers to retry).
@pytest.mark.parametrize(
    ("part", "name"),
    [("database", "obsstore_no_such_database"), ("username", "obsstore_no_such_role")],
)
def test_postgresql_names_that_do_not_exist(
    postgres_server: PostgresServer, part: str, name: str
) -> None:
    url = make_url(postgres_server.url).set(**{part: name})
    with create_storage(url.render_as_string(hide_password=False)) as storage:
        with pytest.raises(ConfigurationError, match=name):
            storage.init()
        with pytest.raises(ConfigurationError, match=name):
            storage.count_metrics()
        with pytest.raises(ConfigurationError, match=name):
            storage.batch_record_metrics([point("a")])


@pytest.mark.parametrize("backend", ["sqlite", "duckdb"])
def test_a_file_that_is_not_a_database(backend: str, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are notes, not a database\n" * 100)
    with create_storage(f"{backend}:///{path}") as storage:
        with pytest.raises(ConfigurationError, match=str(path)):
            storage.init()
        with pytest.raises(ConfigurationError, match=str(path)):
            storage.count_metrics()
    assert path.read_text().startswith("these are notes")  # left as it was
