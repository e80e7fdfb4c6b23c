"""ClickHouse-only facts: how the backend reads names from its URL and spells its DDL. Its
behaviour is tested by the shared contract suites (the ``storage`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from clickhouse_connect.cc_sqlalchemy.dialect import ClickHouseDialect

from devtools.clickhouse import database_url
from obsstore import MetricRecord, create_storage
from obsstore.ddl import Truncate
from obsstore.errors import ConfigurationError

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
