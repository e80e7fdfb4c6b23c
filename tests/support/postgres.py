"""Find or start a PostgreSQL server for the tests, in this order:

1. ``OBSSTORE_TEST_POSTGRES_URL`` when set;
2. a server already listening on 127.0.0.1:5432 (trust auth, database ``test``);
3. a testcontainers container when a Docker daemon answers;
4. a throwaway cluster started from the local PostgreSQL binaries (as an unprivileged user
   when the tests run as root, since initdb refuses to run as root).

Each test session then works in a database of its own, created here and dropped at the end,
with an ICU en-US collation where the server has ICU, so that tests prove obsstore's
code-point ordering does not lean on a C collation."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


@dataclass
class PostgresServer:
    url: str  # a database on the server the tests may connect to as a superuser
    source: str
    stop: Callable[[], None] | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _local_server() -> PostgresServer | None:
    for user in ("postgres", "root", os.environ.get("USER", "")):
        if not user:
            continue
        url = f"postgresql://{user}@127.0.0.1:5432/test"
        if _can_connect(url):
            return PostgresServer(url, "local server on 127.0.0.1:5432")
    return None


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _testcontainers_server() -> PostgresServer | None:
    if not _docker_available():
        return None
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:16-alpine", driver=None)
    container.start()
    return PostgresServer(container.get_connection_url(), "testcontainers", container.stop)


def postgres_bin_dir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key)
    for directory in reversed(candidates):
        if os.path.exists(os.path.join(directory, "initdb")):
            return directory
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _version_key(path: str) -> tuple[int, ...]:
    part = path.split("/")[-2]
    return tuple(int(p) for p in part.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no unprivileged user to run initdb as")


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary directory that tests may start and stop at will."""

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb) found")
        self.bin_dir = bin_dir
        self.user = _unprivileged_user()
        self.directory = tempfile.mkdtemp(prefix="obsstore-pg-")
        self.data = os.path.join(self.directory, "data")
        self.port = _free_port()
        self.log = os.path.join(self.directory, "server.log")
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            self.data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C.UTF-8",
        )
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "test")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [os.path.join(self.bin_dir, program), *args],
            check=True,
            capture_output=True,
            user=self.user,
            cwd=self.directory,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def _throwaway_server() -> PostgresServer | None:
    if postgres_bin_dir() is None:
        return None
    cluster = ThrowawayCluster()
    return PostgresServer(cluster.url, "throwaway cluster from local binaries", cluster.destroy)


def find_server() -> PostgresServer | None:
    configured = os.environ.get("OBSSTORE_TEST_POSTGRES_URL")
    if configured:
        return PostgresServer(configured, "OBSSTORE_TEST_POSTGRES_URL")
    for finder in (_local_server, _testcontainers_server, _throwaway_server):
        server = finder()
        if server is not None:
            return server
    return None


def _plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://").replace(
        "postgresql+psycopg2://", "postgresql://"
    )


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server (ICU en-US collation when available)."""
    server_url = _plain_url(server_url)
    name = f"obsstore_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        try:
            admin.execute(
                sql.SQL(
                    "CREATE DATABASE {} TEMPLATE template0 LOCALE_PROVIDER icu "
                    "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                ).format(sql.Identifier(name))
            )
        except psycopg.Error:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield database_url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
