"""ClickHouse for the tests: the embedded engine (chdb) in one directory per test session, or a
server when ``OBSSTORE_TEST_CLICKHOUSE_URL`` names one (``clickhousedb://user:pw@host:8123``).

chdb hosts one engine directory per process, so every ClickHouse storage of a session lives in
that one directory, each in a database of its own: ``chdb:///<dir>?database=<name>``. Creating
a database is a name in a catalogue, so a fresh one per test costs milliseconds; it is dropped
after the test all the same, because the engine loads every table of its directory each time it
starts (~10 ms a migrated database), and it starts again whenever a test closed its last
storage: left there, a session's few hundred fresh databases made each later test's first
storage cost ~1 s more."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

SERVER_VAR = "OBSSTORE_TEST_CLICKHOUSE_URL"


def server_url() -> str | None:
    return os.environ.get(SERVER_VAR) or None


def database_url(base: str, name: str) -> str:
    """``base`` (a chdb directory URL or a server URL) with the database ``name``."""
    url = make_url(base)
    if url.drivername == "chdb":
        return url.update_query_dict({"database": name}).render_as_string(hide_password=False)
    return url.set(database=name).render_as_string(hide_password=False)


@contextmanager
def scratch_database(base: str) -> Iterator[str]:
    """A URL of a new database (created on first use by the storage), dropped afterwards."""
    name = f"obsstore_test_{uuid.uuid4().hex[:12]}"
    url = database_url(base, name)
    try:
        yield url
    finally:
        if make_url(base).drivername == "chdb":
            _drop_embedded(base, name)
        else:
            _drop(base, name)


def _drop_embedded(base: str, name: str) -> None:
    """Drop ``name`` in the chdb directory of ``base``: through the engine this process has
    open, or one started for the statement (chdb shares one engine among a process's
    connections, and stops it with the last)."""
    import chdb

    # chdb compares directories literally; obsstore opens them by their real path.
    connection = chdb.connect(os.path.realpath(make_url(base).database or ""))
    try:
        connection.query(f"DROP DATABASE IF EXISTS `{name}` SYNC")
    finally:
        connection.close()


def _drop(base: str, name: str) -> None:
    import clickhouse_connect

    url = make_url(base)
    client = clickhouse_connect.get_client(
        host=url.host or "localhost",
        port=url.port,
        username=url.username or "default",
        password=url.password or "",
    )
    try:
        client.command(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        client.close()
