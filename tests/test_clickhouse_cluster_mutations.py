"""Cluster mode's mutations: every DELETE, UPDATE and TRUNCATE the ClickHouse backend sends
goes to ``<table>_local ON CLUSTER <name>`` (a Distributed table refuses them), while reads and
inserts stay on the Distributed table.

No cluster runs here (chdb has no distributed DDL: an ON CLUSTER query is refused with
"Replicated DDL queries are disabled"), so the test puts an embedded storage's engine in
cluster mode, records what it sends through the client, has ClickHouse's parser accept each
routed statement with its bound values (``EXPLAIN AST``), and then runs it on the plain table it
stands for, so that every call completes and its answers can be checked."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from clickhouse_connect.cc_sqlalchemy.dialect import ClickHouseDialect
from clickhouse_connect.driver.client import Client
from sqlalchemy.exc import CompileError

from obsstore import (
    ObservabilityStorage,
    RetentionPolicy,
    RollupLevel,
    SpanRecord,
    create_storage,
)
from obsstore.ddl import Truncate
from obsstore.schema import metadata, metrics, spans
from obsstore.storage.clickhouse import ClickHouseStorage

CLUSTER = "main"
MUTATION = re.compile(r"\s*(DELETE|UPDATE|TRUNCATE|ALTER|OPTIMIZE)\b", re.IGNORECASE)
ROUTED = re.compile(r"(DELETE FROM|UPDATE|TRUNCATE TABLE) `(\w+)_local` ON CLUSTER `main` ")
# The first-write-wins lookup's batch keys: a temporary table of the session, on no shard.
BATCH_KEYS = "`obsstore_batch_keys_"
START = datetime(2024, 5, 1, tzinfo=UTC)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
NOW = START + 20 * DAY
POLICY = RetentionPolicy(
    raw="7d",
    rollups=[RollupLevel(interval="1h", keep="10d"), RollupLevel(interval="1d")],
    traces="5d",
)


@contextmanager
def in_cluster_mode(storage: ClickHouseStorage) -> Iterator[list[str]]:
    """The storage's engine in cluster mode; yields every statement its client sends."""
    sent: list[str] = []

    def recorded(original: Callable[..., Any]) -> Callable[..., Any]:
        def send(client: Client, sql: Any = None, *args: Any, **kwargs: Any) -> Any:
            text = str(sql)
            sent.append(text)
            if ROUTED.match(text):
                original(client, f"EXPLAIN AST {text}", *args, **kwargs)  # parses; runs nothing
                text = ROUTED.sub(r"\1 `\2` ", text)
            return original(client, text, *args, **kwargs)

        return send

    engine = storage.engine
    patch = pytest.MonkeyPatch()
    patch.setattr(Client, "query", recorded(Client.query))
    patch.setattr(Client, "command", recorded(Client.command))
    engine.dialect.obsstore_cluster = CLUSTER  # type: ignore[attr-defined]
    engine.clear_compiled_cache()  # statements compiled before were compiled without it
    try:
        yield sent
    finally:
        patch.undo()
        engine.dialect.obsstore_cluster = None  # type: ignore[attr-defined]
        engine.clear_compiled_cache()


def points() -> list[dict[str, Any]]:
    """Two points an hour for 20 days, and a daily histogram with bucket counts (the rollups'
    sums of those are written by UPDATE, one per rollup row)."""
    gauges = [
        {
            "id": f"p{d}-{h}-{k}",
            "timestamp": START + d * DAY + h * HOUR + timedelta(minutes=20 * k),
            "name": "rpc.duration",
            "value": float(h + k),
            "labels": {"route": f"/{k}"},
        }
        for d in range(20)
        for h in range(24)
        for k in range(2)
    ]
    histograms = [
        {
            "id": f"h{d}",
            "timestamp": START + d * DAY,
            "name": "rpc.latency",
            "type": "histogram",
            "value": 1.0,
            "bucket_boundaries": [1.0, 10.0],
            "bucket_counts": [d, 1, 2],
        }
        for d in range(20)
    ]
    return gauges + histograms


def span(trace: str, span_id: str, parent: str | None, at: datetime) -> SpanRecord:
    return SpanRecord(
        trace_id=trace, span_id=span_id, parent_span_id=parent, name=span_id, started_at=at
    )


def every_mutation(storage: ObservabilityStorage) -> None:
    """Each call of the contract that deletes, updates or empties rows, checked as it goes."""
    storage.batch_record_metrics(points())
    storage.batch_record_metrics([{"name": "gone", "value": 1.0, "timestamp": START}])
    assert storage.delete_metrics({"name": "gone"}) == 1
    assert storage.count_metrics({"name": "gone"}) == 0
    old, recent = NOW - 6 * DAY, NOW - DAY
    storage.batch_create_spans(
        [
            span("old", "root", None, old),
            span("old", "child", "root", old + HOUR),
            span("new", "root", None, recent),
            span("doomed", "root", None, recent),
        ]
    )
    assert storage.batch_update_spans([{"trace_id": "new", "span_id": "root", "name": "r"}]) == 1
    updated = storage.get_span("new", "root")
    assert updated is not None and updated.name == "r"
    assert storage.batch_delete_traces(["doomed"]) == 1
    # Rolls up (recomputing buckets: DELETE, INSERT ... SELECT, histogram sums and watermarks
    # by UPDATE), then deletes raw points, hourly rollup rows and the old trace.
    report = storage.prune(POLICY, now=NOW)
    assert report.points_deleted == 13 * (24 * 2 + 1)
    assert report.rollup_rows_deleted > 0 and report.rollup_rows_written > 0
    assert (report.traces_deleted, report.spans_deleted) == (1, 2)
    assert storage.get_trace("old") is None
    # A second rollup over the same time recomputes (deletes) its buckets again.
    storage.rollup(NOW, policy=POLICY, since=NOW - 2 * DAY)
    storage.dangerously_clear_all()
    assert storage.count_metrics() == 0 and storage.get_trace("new") is None


def test_every_mutation_goes_to_the_local_tables_on_the_cluster(fresh_clickhouse_url: str) -> None:
    # A database of its own: the session's shared one holds what earlier tests left.
    with create_storage(fresh_clickhouse_url) as storage:
        assert isinstance(storage, ClickHouseStorage)
        storage.init()
        with in_cluster_mode(storage) as sent:
            every_mutation(storage)
    mutations = [s for s in sent if MUTATION.match(s) and BATCH_KEYS not in s]
    stray = [s for s in mutations if not ROUTED.match(s)]
    assert not stray, stray
    done = {(m.group(1), m.group(2)) for m in map(ROUTED.match, mutations) if m}
    data_tables = {table.name for table in metadata.sorted_tables}
    assert done == {
        ("DELETE FROM", "obsstore_metrics"),
        ("DELETE FROM", "obsstore_spans"),
        ("DELETE FROM", "obsstore_metric_rollups"),
        ("DELETE FROM", "obsstore_metric_rollup_bins"),
        ("UPDATE", "obsstore_spans"),
        ("UPDATE", "obsstore_metric_rollups"),
        ("UPDATE", "obsstore_rollup_state"),
        *(("TRUNCATE TABLE", name) for name in data_tables),
    }
    waits = {"DELETE FROM": " SETTINGS lightweight_deletes_sync = 2", "TRUNCATE TABLE": ""}
    for statement in mutations:
        verb = ROUTED.match(statement).group(1)  # type: ignore[union-attr]
        assert waits.get(verb, "") in statement
    assert all(s.endswith(" SETTINGS alter_sync = 2") for s in mutations if "TRUNCATE" in s)
    # Reads and inserts (INSERT ... SELECT included) go through the Distributed tables.
    others = [s for s in sent if not MUTATION.match(s)]
    assert any(s.startswith("INSERT INTO `obsstore_metric_rollups`") for s in others)
    assert not any("_local`" in s for s in others)


def test_the_calls_run_on_distributed_tables_over_local_ones(tmp_path: Path) -> None:
    """In a chdb process of its own, configured with a one-shard cluster of this process: the
    tables are really Distributed over ``_local`` ones, and only ON CLUSTER is dropped."""
    child = [sys.executable, "-m", "tests.clickhouse_cluster_child", str(tmp_path)]
    done = subprocess.run(child, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[-1] == "done"
    routed = int(next(line.split()[1] for line in lines if line.startswith("routed ")))
    assert routed > 20  # deletes, updates and truncates of every call above


def test_without_a_cluster_mutations_stay_on_the_table() -> None:
    dialect = ClickHouseDialect()
    statements = [
        sa.delete(metrics).where(metrics.c.name == "m"),
        sa.update(spans).where(spans.c.trace_id == "t").values(name="n"),
        Truncate(metrics),
    ]
    for statement in statements:
        text = str(statement.compile(dialect=dialect))
        assert "_local" not in text and "ON CLUSTER" not in text and "SETTINGS" not in text


def test_a_cluster_mode_mutation_refuses_a_subquery() -> None:
    """Each host mutates its own shard: a subquery would read another set of rows."""
    dialect = ClickHouseDialect()
    dialect.obsstore_cluster = CLUSTER  # type: ignore[attr-defined]
    doomed = sa.delete(metrics).where(metrics.c.id.in_(sa.select(metrics.c.id)))
    with pytest.raises(CompileError, match="cannot hold a subquery"):
        doomed.compile(dialect=dialect)


def test_a_table_of_no_shard_is_mutated_where_it_is() -> None:
    """A session's temporary table (the batch keys) is not Distributed: not routed."""
    dialect = ClickHouseDialect()
    dialect.obsstore_cluster = CLUSTER  # type: ignore[attr-defined]
    keys = sa.Table("obsstore_batch_keys_x", sa.MetaData(), sa.Column("id", sa.String))
    assert str(Truncate(keys).compile(dialect=dialect)) == "TRUNCATE TABLE `obsstore_batch_keys_x`"
