"""Upgrading a database with data to the rollups revision keeps every point and span, and the
upgraded store rolls up and prunes them, on SQLite, DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from obsstore import MetricRecord, RetentionPolicy, RollupLevel, create_storage, migrate, schema
from obsstore.storage.migration import migration_connection

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_upgrade_from_spans_keeps_data(sql_url: str) -> None:
    with migration_connection(sql_url) as connection:
        migrate.run(connection, "upgrade", "0002_spans")
    # Points written as the code of 0002 wrote them: only the columns the table had then.
    with migration_connection(sql_url) as connection:
        present = set(connection.execute(sa.text("SELECT * FROM obsstore_metrics")).keys())
        table = sa.Table(
            "obsstore_metrics",
            sa.MetaData(),
            *(c._copy() for c in schema.metrics.columns if c.name in present),
        )
        points = [
            MetricRecord(id=f"p{i}", timestamp=T0 + timedelta(minutes=i), name="m", value=1.0)
            for i in range(300)
        ]
        connection.execute(
            sa.insert(table),
            [{k: v for k, v in p.model_dump().items() if k in present} for p in points],
        )
    # Spans have not changed since 0002: the storage writes them itself.
    with create_storage(sql_url) as storage:
        storage.batch_create_spans(
            [{"trace_id": "t", "span_id": "s", "name": "n", "span_type": "x", "started_at": T0}]
        )
    with migration_connection(sql_url) as connection:
        migrate.run(connection, "upgrade", "head")
    with create_storage(sql_url) as storage:
        storage.init()
        assert storage.count_metrics() == 300
        assert storage.get_trace("t") is not None
        policy = RetentionPolicy(raw=None, rollups=[RollupLevel(interval="1h")])
        assert storage.rollup(until=T0 + timedelta(days=1), policy=policy) == 5
        hourly = storage.aggregate_metrics({"type": "count", "interval": "1h", "source": "rollup"})
        assert [p.count for p in hourly] == [60] * 5
