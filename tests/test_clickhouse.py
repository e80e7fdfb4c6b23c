"""ClickHouse-only facts: how the backend reads names from its URL and spells its DDL. Its
behaviour is tested by the shared contract suites (the ``storage`` fixture)."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from clickhouse_connect.cc_sqlalchemy.dialect import ClickHouseDialect
from sqlalchemy.engine import make_url

from alembic import command
from devtools.clickhouse import database_url
from obsstore import Aggregation, MetricRecord, create_storage
from obsstore.ddl import Truncate
from obsstore.errors import ConfigurationError, InvalidArgumentError
from obsstore.migrate import alembic_config
from obsstore.storage.clickhouse import ClickHouseStorage
from obsstore.storage.sql import SQLStorage

BAD_NAMES = ["bad-name", "1st", "a`b", "a;DROP", "x" * 65, "caf\u00e9", "a b"]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    "base", ["chdb:///never-opened", "clickhousedb://user@unreachable.invalid:8123"]
)
def test_bad_database_names_are_refused_before_anything_opens(base: str, name: str) -> None:
    url = database_url(base, name)
    with pytest.raises(ConfigurationError) as caught:
        create_storage(url)
    message = str(caught.value)
    assert "OBSERVABILITY_METRICS_DATABASE_URL" in message
    assert repr(name) in message


def test_a_plain_database_name_works(clickhouse_base_url: str) -> None:
    name = "obsstore_test_Plain_name_2"
    with create_storage(database_url(clickhouse_base_url, name)) as storage:
        storage.init()
        storage.dangerously_clear_all()
        at = datetime(2026, 1, 1, tzinfo=UTC)
        storage.batch_record_metrics([MetricRecord(name="m", value=1.0, timestamp=at)])
        assert storage.count_metrics() == 1
        storage.dangerously_clear_all()
        assert storage.count_metrics() == 0


def test_truncate_quotes_the_table_name_with_the_dialects_preparer() -> None:
    table = sa.Table("odd`name", sa.MetaData(), sa.Column("x", sa.Integer))
    assert str(Truncate(table).compile(dialect=ClickHouseDialect())) == (
        "TRUNCATE TABLE `odd\\`name`"
    )


# --- cluster mode: the DDL is generated offline and parsed by ClickHouse, not run ------------

SERVER = "clickhousedb://user@clickhouse.invalid:8123/telemetry"
DATA_TABLES = (
    "obsstore_metrics",
    "obsstore_spans",
    "obsstore_metric_rollups",
    "obsstore_metric_rollup_bins",
    "obsstore_rollup_state",
)


def offline_upgrade(url: str) -> list[str]:
    """The statements ``alembic -x url=<url> upgrade head --sql`` prints."""
    buffer = io.StringIO()
    config = alembic_config()
    config.output_buffer = buffer
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    command.upgrade(config, "head", sql=True)
    lines = [line for line in buffer.getvalue().splitlines() if not line.startswith("--")]
    statements = [s.strip() for s in "\n".join(lines).split(";\n")]
    return [s for s in statements if s]


def test_cluster_mode_ddl_is_replicated_distributed_and_on_cluster() -> None:
    statements = offline_upgrade(f"{SERVER}?cluster=main")
    ddl = [s for s in statements if s.startswith(("CREATE", "ALTER TABLE `obsstore_m"))]
    assert ddl and all(" ON CLUSTER `main` " in s for s in ddl)
    creates = {s.split("`")[1]: s for s in statements if s.startswith("CREATE TABLE")}
    assert "ReplicatedMergeTree('/clickhouse/tables/all/" in creates["obsstore_alembic_version"]
    for name in DATA_TABLES:
        local = creates[f"{name}_local"]
        assert "Engine ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', " in (
            local
        )
        assert "'{replica}')" in local
        assert (
            f"Engine Distributed(`main`, currentDatabase(), `{name}_local`, cityHash64("
            in (creates[name])
        )
    assert not any("Engine MergeTree" in s for s in statements)
    # Columns added later reach the local tables first, then the distributed ones.
    added = [s for s in statements if "ADD COLUMN `unit`" in s]
    assert [s.split("`")[1] for s in added] == ["obsstore_metrics_local", "obsstore_metrics"]
    assert any("`obsstore_metrics_local` ON CLUSTER `main` ADD PROJECTION" in s for s in ddl)


def test_without_a_cluster_the_offline_ddl_is_plain_merge_tree() -> None:
    statements = offline_upgrade(SERVER)
    assert not any("ON CLUSTER" in s or "Replicated" in s or "Distributed" in s for s in statements)
    assert sum("Engine MergeTree" in s for s in statements) == len(DATA_TABLES) + 1


@pytest.mark.parametrize("cluster", [None, "main"])
def test_every_offline_statement_parses_in_clickhouse(
    clickhouse_url: str, cluster: str | None
) -> None:
    """ClickHouse's own parser (EXPLAIN AST parses without running) accepts every statement."""
    url = SERVER if cluster is None else f"{SERVER}?cluster={cluster}"
    statements = offline_upgrade(url)
    with create_storage(clickhouse_url) as storage:
        assert isinstance(storage, SQLStorage)
        with storage.engine.connect() as connection:
            for statement in statements:
                # The statements are obsstore's own DDL, printed above.
                connection.exec_driver_sql(f"EXPLAIN AST {statement}")


@pytest.mark.parametrize("cluster", ["bad-name", "a`b", "1x", "x" * 65])
def test_a_bad_cluster_name_is_refused(cluster: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_storage(f"{SERVER}?cluster={cluster}")
    assert "OBSERVABILITY_METRICS_DATABASE_URL" in str(caught.value)
    assert "?cluster=" in str(caught.value) and repr(cluster) in str(caught.value)


def test_the_embedded_engine_has_no_cluster(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"\?cluster= needs a ClickHouse server"):
        create_storage(f"chdb:///{tmp_path}?database=x&cluster=main")


def test_the_cluster_reaches_the_ddl_through_the_engine_not_the_driver() -> None:
    # The default database is not created, so nothing connects here.
    url = make_url("clickhousedb://user@clickhouse.invalid:8123/default?cluster=main")
    engine, _ = ClickHouseStorage.build_engine(url)
    try:
        assert engine.dialect.obsstore_cluster == "main"  # type: ignore[attr-defined]
        assert "cluster" not in engine.url.query
    finally:
        engine.dispose()


# --- first write wins without the batch's keys in the SQL text ----------------------------


def test_a_batch_keys_travel_as_a_block_not_as_sql(
    clickhouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clickhouse_connect.driver.client import Client

    statements: list[str] = []
    query, command = Client.query, Client.command

    def recording_query(self: Client, sql: str | None = None, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(sql))
        return query(self, sql, *args, **kwargs)

    def recording_command(self: Client, sql: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(sql)
        return command(self, sql, *args, **kwargs)

    at = datetime(2026, 1, 1, tzinfo=UTC)
    first = [MetricRecord(id=f"p{i}", name="m", value=1.0, timestamp=at) for i in range(3000)]
    second = [MetricRecord(id=f"p{i}", name="m", value=2.0, timestamp=at) for i in range(6000)]
    with create_storage(clickhouse_url) as storage:
        storage.init()
        storage.dangerously_clear_all()
        monkeypatch.setattr(Client, "query", recording_query)
        monkeypatch.setattr(Client, "command", recording_command)
        assert storage.batch_record_metrics(first) == 3000
        assert storage.batch_record_metrics(second) == 3000  # the first 3,000 ids are stored
        monkeypatch.undo()
        assert storage.count_metrics() == 6000
        assert storage.count_metrics({"name": "m"}) == 6000
        values = {p.id: p.value for p in storage.iter_metrics({"name": "m"})}
    assert values["p0"] == 1.0 and values["p5999"] == 2.0  # the first write won
    assert statements and max(map(len, statements)) < 1_000
    assert not any("p2999" in s for s in statements)


def test_an_aggregate_sends_two_statements(
    clickhouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rollup state and the aggregate: no column probe after the empty rollup state."""
    from clickhouse_connect.driver.client import Client

    statements: list[str] = []
    query = Client.query

    def recording_query(self: Client, sql: str | None = None, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(sql))
        return query(self, sql, *args, **kwargs)

    at = datetime(2026, 1, 1, tzinfo=UTC)
    with create_storage(clickhouse_url) as storage:
        storage.init()
        storage.dangerously_clear_all()
        points = [MetricRecord(name="m", value=float(i), timestamp=at) for i in range(10)]
        storage.batch_record_metrics(points)
        monkeypatch.setattr(Client, "query", recording_query)
        (point,) = storage.aggregate_metrics(Aggregation(type="avg", interval="1h"), {"name": "m"})
        monkeypatch.undo()
    assert point.value == 4.5 and point.count == 10
    assert len(statements) == 2, statements
    assert not any("LIMIT 0" in s for s in statements)


def test_an_instant_past_2299_is_refused_naming_the_first(clickhouse_url: str) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    late = datetime(2300, 1, 1, tzinfo=UTC)
    batch = [
        MetricRecord(id="a", name="m", value=1.0, timestamp=at),
        MetricRecord(id="b", name="m", value=1.0, timestamp=late),
        MetricRecord(id="c", name="m", value=1.0, timestamp=late, start_timestamp=late),
    ]
    with create_storage(clickhouse_url) as storage:
        storage.init()
        storage.dangerously_clear_all()
        with pytest.raises(InvalidArgumentError, match=r"records\[1\]\.timestamp: 2300-01-01"):
            storage.batch_record_metrics(batch)
        assert storage.count_metrics() == 0
