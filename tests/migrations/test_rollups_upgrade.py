"""Upgrading a database with data to the rollups revision keeps every point and span, and the
upgraded store rolls up and prunes them, on SQLite, DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from obsstore import RetentionPolicy, RollupLevel, create_storage, migrate

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_upgrade_from_spans_keeps_data(sql_url: str) -> None:
    with migrate.migration_connection(sql_url) as connection:
        migrate.run(connection, "upgrade", "0002_spans")
    # The storage writes through its own statements, which only touch the 0002 tables here.
    with create_storage(sql_url) as storage:
        storage.batch_record_metrics(
            [
                {"id": f"p{i}", "timestamp": T0 + timedelta(minutes=i), "name": "m", "value": 1.0}
                for i in range(300)
            ]
        )
        storage.batch_create_spans(
            [{"trace_id": "t", "span_id": "s", "name": "n", "span_type": "x", "started_at": T0}]
        )
    with migrate.migration_connection(sql_url) as connection:
        migrate.run(connection, "upgrade", "head")
    with create_storage(sql_url) as storage:
        storage.init()
        assert storage.count_metrics() == 300
        assert storage.get_trace("t") is not None
        policy = RetentionPolicy(raw=None, rollups=[RollupLevel(interval="1h")])
        assert storage.rollup(until=T0 + timedelta(days=1), policy=policy) == 5
        hourly = storage.aggregate_metrics({"type": "count", "interval": "1h", "source": "rollup"})
        assert [p.count for p in hourly] == [60] * 5
