"""init()'s version policy: embedded databases migrate; PostgreSQL migrates unless told not to,
and concurrent init() calls are serialised; revisions written by older code stay readable, and a
revision from a newer release is refused on any storage's first use, init() or not."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from obsstore import SchemaError, create_storage, migrate, schema
from obsstore.config import Settings
from obsstore.schema import VERSION_TABLE
from obsstore.storage.migration import migration_connection
from obsstore.storage.sql import SQLStorage
from tests.contract.helpers import point


def test_postgresql_without_auto_migrate_asks_for_alembic(fresh_postgres_url: str) -> None:
    manual = Settings(auto_migrate=False)
    with create_storage(fresh_postgres_url, settings=manual) as storage:
        with pytest.raises(SchemaError, match="alembic upgrade head"):
            storage.init()
    with migration_connection(fresh_postgres_url) as connection:
        migrate.run(connection, "upgrade", "head")
    with create_storage(fresh_postgres_url, settings=manual) as storage:
        storage.init()  # at head: nothing to do, no error
        storage.batch_record_metrics([point("a")])
        assert storage.count_metrics() == 1


def test_embedded_databases_migrate_whatever_the_setting(tmp_path: Path) -> None:
    manual = Settings(auto_migrate=False)
    with create_storage(f"sqlite:///{tmp_path / 'x.db'}", settings=manual) as storage:
        storage.init()
        assert storage.count_metrics() == 0


def _init_at_once(url: str, barrier: multiprocessing.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    barrier.wait()
    with create_storage(url) as storage:
        storage.init()
        storage.batch_record_metrics([point(f"from-{multiprocessing.current_process().pid}")])


def test_concurrent_init_on_postgresql(fresh_postgres_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    workers = [
        context.Process(target=_init_at_once, args=(fresh_postgres_url, barrier)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with create_storage(fresh_postgres_url) as storage:
        storage.init()
        assert storage.count_metrics() == 4


def test_points_written_at_every_revision_survive_upgrades(sql_url: str) -> None:
    """Write points at each revision that has the metrics table, then upgrade to head."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [r.revision for r in reversed(list(scripts.walk_revisions()))]
    written = 0
    for revision in revisions:
        with migration_connection(sql_url) as connection:
            migrate.run(connection, "upgrade", revision)
        # Written as the code of that revision wrote them: only the columns it had.
        with migration_connection(sql_url) as connection:
            present = set(connection.execute(sa.text("SELECT * FROM obsstore_metrics")).keys())
            table = sa.Table(
                "obsstore_metrics",
                sa.MetaData(),
                *(c._copy() for c in schema.metrics.columns if c.name in present),
            )
            points = [
                point(f"{revision}-{i}", value=i, labels={"rev": revision}) for i in range(50)
            ]
            connection.execute(
                sa.insert(table),
                [{k: v for k, v in p.model_dump().items() if k in present} for p in points],
            )
            written += 50
    with create_storage(sql_url) as storage:
        storage.init()
        assert storage.count_metrics() == written
        for revision in revisions:
            page = storage.list_metrics(
                filters={"labels": {"rev": revision}}, pagination={"limit": 100}
            )
            assert sorted(r.value for r in page.data) == [float(i) for i in range(50)]


def _stamp(url: str, revision: str) -> None:
    with migration_connection(url) as connection:
        versions = sa.table(VERSION_TABLE, sa.column("version_num"))
        # Replaced, not updated: ClickHouse cannot UPDATE the version table's sort key.
        connection.execute(sa.delete(versions).where(versions.c.version_num.is_not(None)))
        connection.execute(sa.insert(versions).values(version_num=revision))


def test_a_newer_revision_is_refused_without_init(sql_url: str) -> None:
    """Reads and writes on a database a newer obsstore migrated fail like init() does."""
    with create_storage(sql_url) as storage:
        storage.init()
    _stamp(sql_url, "9999_from_the_future")
    span = {"trace_id": "t", "span_id": "s", "name": "n", "started_at": datetime.now(timezone.utc)}
    calls: list[Callable[[Any], object]] = [
        lambda s: s.count_metrics(),
        lambda s: s.list_metric_names(),
        lambda s: s.batch_record_metrics([point("a")]),
        lambda s: s.batch_create_spans([span]),
        lambda s: s.list_traces(),
    ]
    for call in calls:
        with create_storage(sql_url) as storage:  # a new storage: this is its first use
            with pytest.raises(SchemaError, match="newer release"):
                call(storage)
    _stamp(sql_url, migrate.head_revision())
    with create_storage(sql_url) as storage:  # nothing was written while refused
        assert storage.count_metrics() == 0
        assert storage.list_traces().total == 0


def test_the_revision_is_read_once_per_storage(sql_url: str) -> None:
    with create_storage(sql_url) as storage:
        storage.init()
    with create_storage(sql_url) as storage:
        assert isinstance(storage, SQLStorage)
        reads: list[str] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
            if VERSION_TABLE in statement or VERSION_TABLE in str(parameters):
                reads.append(statement)

        sa.event.listen(storage.engine, "before_cursor_execute", capture)
        try:
            storage.count_metrics()
            first = len(reads)
            for _ in range(5):
                storage.count_metrics()
                storage.batch_record_metrics([point("b")])
                storage.list_traces()
        finally:
            sa.event.remove(storage.engine, "before_cursor_execute", capture)
        assert first >= 1  # the first use reads the version table ...
        assert len(reads) == first  # ... and no later call does
