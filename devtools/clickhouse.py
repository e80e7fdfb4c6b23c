"""ClickHouse for the tests: the embedded engine (chdb) in one directory per test session, or a
server when ``OBSSTORE_TEST_CLICKHOUSE_URL`` names one (``clickhousedb://user:pw@host:8123``).

chdb hosts one engine directory per process, so every ClickHouse storage of a session lives in
that one directory, each in a database of its own: ``chdb:///<dir>?database=<name>``. Creating
a database is a name in a catalogue, so a fresh one per test costs milliseconds."""

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
    """A URL of a new database (created on first use by the storage); on a server it is
    dropped afterwards. chdb's databases go with the session's directory."""
    name = f"obsstore_test_{uuid.uuid4().hex[:12]}"
    url = database_url(base, name)
    try:
        yield url
    finally:
        if make_url(base).drivername != "chdb":
            _drop(base, name)


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
