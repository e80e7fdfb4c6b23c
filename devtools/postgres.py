"""Find or start a PostgreSQL server for the tests.

``OBSSTORE_TEST_POSTGRES`` chooses where it comes from:

- ``auto`` (the default): the first of ``url``, ``local``, ``container``, ``cluster`` that can
  be had;
- ``url``: ``OBSSTORE_TEST_POSTGRES_URL``;
- ``local``: a server already running here, on 127.0.0.1:5432 (trust auth, database ``test``)
  or the one ``docker/docker-compose.yml`` publishes (its port, user and password);
- ``container``: a testcontainers container of ``OBSSTORE_TEST_POSTGRES_IMAGE`` (default the
  official ``postgres:16-alpine``) on the Docker daemon that ``DOCKER_HOST`` names;
- ``cluster``: a throwaway cluster started from the local PostgreSQL binaries (as an
  unprivileged user when the tests run as root, since initdb refuses to run as root).

A source chosen by name that cannot be had raises ``PostgresUnavailable`` saying why; ``auto``
returns None when nothing can be had. Each test session then works in a database of its own,
created here and dropped at the end, with an ICU en-US collation where the server has ICU, so
that tests prove obsstore's code-point ordering does not lean on a C collation.

``python -m devtools.postgres`` prints the running server the tests would use without
starting one (exit status 1 when there is none): ``scripts/ensure-postgres.sh`` asks it."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

SOURCES = ("auto", "url", "local", "container", "cluster")
DEFAULT_IMAGE = "postgres:16-alpine"
COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker" / "docker-compose.yml"
# Fixtures through which a test reaches PostgreSQL, and the parameter value that picks it.
POSTGRES_FIXTURES = frozenset(
    {"postgres_server", "postgres_url", "fresh_postgres_url", "pg_cluster"}
)
POSTGRES_PARAM = "postgresql"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL source the tests were told to use cannot be had."""


@dataclass
class PostgresServer:
    url: str  # a database on the server the tests may connect to as a superuser
    source: str
    stop: Callable[[], None] | None = None
    extra: dict[str, str] = field(default_factory=dict)


def describe(server: PostgresServer) -> str:
    """Where the server comes from and its version, for the test report."""
    with psycopg.connect(_plain_url(server.url), connect_timeout=10) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"{server.source}, PostgreSQL {row[0] if row else 'unknown'}"


def _can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def compose_url(path: Path = COMPOSE_FILE) -> str | None:
    """The URL of the server docker/docker-compose.yml publishes on this machine (read from the
    file: its published port and POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    settings = dict(
        re.findall(r"^\s*(POSTGRES_USER|POSTGRES_PASSWORD|POSTGRES_DB):\s*(\S+)", text, re.M)
    )
    port = re.search(r"[\"'\s](?:(\d+\.\d+\.\d+\.\d+):)?(\d+):5432[\"'\s]", text)
    if port is None or "POSTGRES_PASSWORD" not in settings:
        return None
    user = settings.get("POSTGRES_USER", "postgres")
    database = settings.get("POSTGRES_DB", user)
    host = port.group(1) or "127.0.0.1"
    return f"postgresql://{user}:{settings['POSTGRES_PASSWORD']}@{host}:{port.group(2)}/{database}"


def _url_server() -> PostgresServer | None:
    configured = os.environ.get("OBSSTORE_TEST_POSTGRES_URL")
    return PostgresServer(configured, "OBSSTORE_TEST_POSTGRES_URL") if configured else None


def _local_server() -> PostgresServer | None:
    for user in ("postgres", "root", os.environ.get("USER", "")):
        if not user:
            continue
        url = f"postgresql://{user}@127.0.0.1:5432/test"
        if _can_connect(url):
            return PostgresServer(url, "local server on 127.0.0.1:5432")
    compose = compose_url()
    if compose is not None and _can_connect(compose):
        return PostgresServer(compose, f"docker compose server ({make_url(compose).port})")
    return None


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _container_server() -> PostgresServer | None:
    if not _docker_available():
        return None
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers before 4.10
        from testcontainers.postgres import PostgresContainer

    image = os.environ.get("OBSSTORE_TEST_POSTGRES_IMAGE") or DEFAULT_IMAGE
    container = PostgresContainer(image, driver=None)
    # Durability is not under test (the throwaway cluster runs without it too); this is faster.
    container.with_command(
        [
            "postgres",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
    )
    try:
        container.start()
    except Exception as error:
        with contextlib.suppress(Exception):
            container.stop()
        raise PostgresUnavailable(
            f"could not start a container from OBSSTORE_TEST_POSTGRES_IMAGE={image}: {error}"
        ) from error
    return PostgresServer(container.get_connection_url(), f"container {image}", container.stop)


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


def _cluster_server() -> PostgresServer | None:
    if postgres_bin_dir() is None:
        return None
    cluster = ThrowawayCluster()
    return PostgresServer(cluster.url, "throwaway cluster from local binaries", cluster.destroy)


_FINDERS: dict[str, Callable[[], PostgresServer | None]] = {
    "url": _url_server,
    "local": _local_server,
    "container": _container_server,
    "cluster": _cluster_server,
}
_WHY_NOT = {
    "url": "OBSSTORE_TEST_POSTGRES_URL is not set",
    "local": "no server answers on 127.0.0.1:5432 (trust auth) nor where "
    "docker/docker-compose.yml publishes one",
    "container": "no Docker daemon answers (DOCKER_HOST={docker_host}); start Docker, or run "
    "`make test-containers`, which starts one",
    "cluster": "no PostgreSQL server binaries (initdb) found; install postgresql",
}


def chosen_source() -> str:
    source = os.environ.get("OBSSTORE_TEST_POSTGRES", "").strip().lower() or "auto"
    if source not in SOURCES:
        raise PostgresUnavailable(
            f"OBSSTORE_TEST_POSTGRES={source!r} is not one of {', '.join(SOURCES)}"
        )
    return source


def find_server() -> PostgresServer | None:
    """The server of the chosen source (see the module's docstring); None when ``auto`` finds
    none. Raises PostgresUnavailable when a source chosen by name cannot be had."""
    source = chosen_source()
    if source != "auto":
        server = _FINDERS[source]()
        if server is None:
            why = _WHY_NOT[source].format(docker_host=os.environ.get("DOCKER_HOST", "unset"))
            raise PostgresUnavailable(f"OBSSTORE_TEST_POSTGRES={source}: {why}")
        return server
    for finder in _FINDERS.values():
        server = finder()
        if server is not None:
            return server
    return None


def running_server() -> PostgresServer | None:
    """The server the tests would use when it is one that is already running (the ``url`` or
    ``local`` source), without starting anything."""
    source = chosen_source()
    for name in ("url", "local"):
        if source in ("auto", name):
            server = _FINDERS[name]()
            if server is not None:
                return server
    return None


def uses_postgresql(fixturenames: list[str], params: dict[str, object]) -> bool:
    """Whether a collected test reaches PostgreSQL: it asks for one of the PostgreSQL fixtures
    (directly or through other fixtures) or one of its parameters picks the backend."""
    return bool(POSTGRES_FIXTURES.intersection(fixturenames)) or POSTGRES_PARAM in params.values()


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


if __name__ == "__main__":
    found = running_server()
    if found is not None:
        print(found.source)
    sys.exit(0 if found is not None else 1)
