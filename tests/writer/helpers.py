"""Helpers for the writer tests: record builders, waiting on conditions, databases a test can
make unavailable and bring back (one per backend), and a writer in another process."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from devtools.postgres import ThrowawayCluster, scratch_database
from obsstore import (
    MetricRecord,
    MetricsStorage,
    StorageUnavailableError,
    create_storage,
)
from tests.conftest import url_for
from tests.contract.helpers import T0

REPO_ROOT = Path(__file__).resolve().parents[2]


def points(count: int, prefix: str = "p", start: int = 0) -> list[MetricRecord]:
    """``count`` valid records with ids ``{prefix}-{n:06d}``, in order."""
    return [
        MetricRecord(id=f"{prefix}-{n:06d}", name="writer.test", value=float(n), timestamp=T0)
        for n in range(start, start + count)
    ]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.002)


def stored_ids(storage: MetricsStorage) -> list[str]:
    """Every stored id, sorted (for up to 10,000 points)."""
    page = storage.list_metrics(pagination={"limit": 10_000})
    assert not page.has_more
    return sorted(record.id for record in page.data)


def segments_unlocked(directory: Path) -> bool:
    """Whether no live writer holds any spool segment in ``directory``."""
    for path in directory.glob("*.spool"):
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
    return True


def count_calls(storage: MetricsStorage) -> list[int]:
    """Count ``batch_record_metrics`` calls on ``storage``: the returned list's length grows
    by one per call (with the batch size)."""
    calls: list[int] = []
    original = storage.batch_record_metrics

    def counting(records: Any) -> int:
        batch = list(records)
        calls.append(len(batch))
        return original(batch)

    storage.batch_record_metrics = counting  # type: ignore[method-assign]
    return calls


def reject_marked(storage: MetricsStorage, marker: str = "poison") -> list[list[str]]:
    """Make ``storage`` refuse for good, as a database refuses a row that breaks a constraint,
    any batch holding a record whose id contains ``marker``; other batches are stored. Returns
    the ids of each refused batch, appended as they come."""
    refused: list[list[str]] = []
    original = storage.batch_record_metrics

    def refusing(records: Any) -> int:
        batch = list(records)
        if any(marker in record.id for record in batch):
            refused.append([record.id for record in batch])
            cause = sqlite3.IntegrityError(f"CHECK constraint failed: no {marker} allowed")
            raise sa.exc.IntegrityError("INSERT INTO obsstore_metrics ...", None, cause)
        return original(batch)

    storage.batch_record_metrics = refusing  # type: ignore[method-assign]
    return refused


# --- databases a test can take away ---------------------------------------------------------
_DUCKDB_HOLDER = textwrap.dedent("""
    import duckdb, sys
    connection = duckdb.connect(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    connection.close()
    print("released", flush=True)
    sys.stdin.read()
""")


# Backends whose database cannot be taken away from this process (see Outage).
SIMULATED_OUTAGES = ("memory", "clickhouse")


class Outage:
    """One backend's database, initialised and empty, which ``begin()`` makes unavailable the
    way it really fails and ``end()`` brings back:

    - sqlite: another connection holds a write transaction (``BEGIN IMMEDIATE``) and the URL's
      busy timeout is 0.2 s;
    - duckdb: another process holds the file (so ``begin()`` must come before the storage is
      first used: once this process opens the file, no other process can take it);
    - postgresql: a throwaway server is stopped and started again;
    - memory: it cannot fail, so its ``batch_record_metrics`` raises StorageUnavailableError
      while the outage lasts (simulated);
    - clickhouse on chdb: the engine runs in this process, which holds its one directory for
      every test's database, so no other process can take it away mid-session: simulated as
      for memory (a server outage needs OBSSTORE_TEST_CLICKHOUSE_URL and a server to stop).
    """

    def __init__(self, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.backend = backend
        self.down = False
        self._cleanups: list[Callable[[], None]] = []
        self._blocker: sqlite3.Connection | None = None
        self._holder: subprocess.Popen[str] | None = None
        if backend == "sqlite":
            self.path = tmp_path / "outage.db"
            self.url = f"sqlite:///{self.path}?timeout=0.2"
        elif backend == "duckdb":
            self.path = tmp_path / "outage.duckdb"
            self.url = f"duckdb:///{self.path}"
        elif backend == "postgresql":
            self.cluster: ThrowawayCluster = request.getfixturevalue("pg_cluster")
            database = scratch_database(self.cluster.url)
            self.url = database.__enter__()
            self._cleanups.append(lambda: database.__exit__(None, None, None))
        elif backend == "clickhouse":
            self.url = request.getfixturevalue("fresh_clickhouse_url")
        else:
            self.url = url_for(backend, tmp_path, request)
        if backend != "memory":
            with create_storage(self.url) as preparing:  # closed: DuckDB lets go of the file
                preparing.init()
        self.storage = self.open()

    def open(self) -> MetricsStorage:
        """Another storage on the same database (closed at teardown)."""
        storage = create_storage(self.url)
        if self.backend in SIMULATED_OUTAGES:
            original = storage.batch_record_metrics

            def guarded(records: Any) -> int:
                if self.down:
                    raise StorageUnavailableError(f"{self.backend} database: simulated outage")
                return original(records)

            storage.batch_record_metrics = guarded  # type: ignore[method-assign]
        self._cleanups.insert(0, storage.close)
        return storage

    def begin(self) -> None:
        assert not self.down
        if self.backend == "sqlite":
            self._blocker = sqlite3.connect(self.path, isolation_level=None)
            self._blocker.execute("BEGIN IMMEDIATE")
        elif self.backend == "duckdb":
            self._holder = subprocess.Popen(
                [sys.executable, "-c", _DUCKDB_HOLDER, str(self.path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self._holder.stdout is not None
            assert self._holder.stdout.readline().strip() == "ready"
        elif self.backend == "postgresql":
            self.cluster.stop()
        self.down = True

    def end(self) -> None:
        assert self.down
        if self.backend == "sqlite":
            assert self._blocker is not None
            self._blocker.execute("ROLLBACK")
            self._blocker.close()
        elif self.backend == "duckdb":
            assert self._holder is not None and self._holder.stdin is not None
            assert self._holder.stdout is not None
            self._holder.stdin.write("release\n")
            self._holder.stdin.flush()
            assert self._holder.stdout.readline().strip() == "released"
            self._holder.communicate("")
        elif self.backend == "postgresql":
            self.cluster.start()
        self.down = False

    def cleanup(self) -> None:
        if self.down:
            self.end()
        for cleanup in self._cleanups:
            cleanup()


# --- a writer in another process ------------------------------------------------------------
K = 1000  # records the writer process accepts


@contextmanager
def writer_process(
    url: str, spool: Path, batch_size: int, wait_stored: int, *extra: str
) -> Iterator[dict[str, Any]]:
    """A child process that accepted K records (and stored ``wait_stored`` or more); it is
    killed with SIGKILL when the block ends."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.writer.spool_child",
            url,
            str(spool),
            str(K),
            str(batch_size),
            str(wait_stored),
            *extra,
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        line = child.stdout.readline()
        assert line, "the writer process died before accepting its records"
        yield json.loads(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL
