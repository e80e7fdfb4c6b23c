"""Bad input gets a ValidationError naming the field, before anything is written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from obsstore import (
    Aggregation,
    MetricFilters,
    MetricsStorage,
    OrderBy,
    Pagination,
    ValidationError,
)

GOOD: dict[str, Any] = {"id": "p", "name": "cpu", "value": 1.0}

BAD_RECORDS = [
    ({"value": float("nan")}, "value"),
    ({"value": float("inf")}, "value"),
    ({"value": float("-inf")}, "value"),
    ({"value": True}, "value"),
    ({"value": "1.5"}, "value"),
    ({"name": ""}, "name"),
    ({"name": "n" * 256}, "name"),
    ({"name": "a\x00b"}, "name"),
    ({"name": "a\nb"}, "name"),
    ({"name": "a\x7fb"}, "name"),
    ({"name": "a\ud800b"}, "name"),
    ({"id": ""}, "id"),
    ({"id": "i\x00"}, "id"),
    ({"labels": {"": "v"}}, "labels"),
    ({"labels": {"k" * 129: "v"}}, "labels"),
    ({"labels": {"k\x01": "v"}}, "labels"),
    ({"labels": {"k": "v" * 4097}}, "labels"),
    ({"labels": {"k": "a\x00b"}}, "labels"),
    ({"labels": {"k": 1.5}}, "labels"),
    ({"labels": {"k": None}}, "labels"),
    ({"labels": {"k": ["a"]}}, "labels"),
    ({"labels": {f"k{i}": "v" for i in range(65)}}, "labels"),
    ({"timestamp": datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone.utc)}, "timestamp"),
    (
        {"timestamp": datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))},
        "timestamp",
    ),
    ({"timestamp": 1_700_000_000}, "timestamp"),
    ({"type": "summary"}, "type"),
    ({"service_name": "s\x00"}, "service_name"),
    ({"service_name": "s" * 256}, "service_name"),
    ({"unknown_field": 1}, "unknown_field"),
    ({"type": "gauge", "bucket_boundaries": [1.0], "bucket_counts": [1, 2]}, None),
    ({"type": "histogram", "bucket_boundaries": [1.0, 2.0], "bucket_counts": [1, 2]}, None),
    ({"type": "histogram", "bucket_boundaries": [2.0, 1.0], "bucket_counts": [1, 2, 3]}, None),
    ({"type": "histogram", "bucket_boundaries": [1.0, 1.0], "bucket_counts": [1, 2, 3]}, None),
    ({"type": "histogram", "bucket_boundaries": [1.0], "bucket_counts": [-1, 2]}, "bucket_counts"),
    (
        {"type": "histogram", "bucket_boundaries": [1.0], "bucket_counts": [2**63, 2]},
        "bucket_counts",
    ),
    ({"type": "histogram", "bucket_boundaries": [1.0], "bucket_counts": None}, None),
    (
        {"type": "histogram", "bucket_boundaries": [float("nan")], "bucket_counts": [1, 2]},
        "bucket_boundaries",
    ),
]


@pytest.mark.parametrize(
    ("change", "field"), BAD_RECORDS, ids=[str(c)[:60] for c, _ in BAD_RECORDS]
)
def test_bad_record_is_rejected_and_nothing_written(
    storage: MetricsStorage, change: dict[str, Any], field: str | None
) -> None:
    with pytest.raises(ValidationError) as info:
        storage.batch_record_metrics([{"id": "good", "name": "ok", "value": 1}, {**GOOD, **change}])
    locations = [error["loc"] for error in info.value.errors()]
    assert all(loc[0] == 1 for loc in locations)
    if field is not None:
        assert any(field in loc for loc in locations), locations
    assert storage.count_metrics() == 0


BAD_QUERIES: list[tuple[type[Any], dict[str, Any]]] = [
    (OrderBy, {"field": "id; DROP TABLE obsstore_metrics"}),
    (OrderBy, {"field": "labels"}),
    (OrderBy, {"direction": "sideways"}),
    (Pagination, {"limit": 0}),
    (Pagination, {"limit": 10_001}),
    (Pagination, {"offset": -1}),
    (Aggregation, {"type": "median"}),
    (Aggregation, {"type": "percentile"}),
    (Aggregation, {"type": "percentile", "percentile": 1.5}),
    (Aggregation, {"type": "avg", "percentile": 0.5}),
    (Aggregation, {"type": "avg", "interval": "1h; DROP TABLE x"}),
    (Aggregation, {"type": "avg", "interval": "0s"}),
    (Aggregation, {"type": "avg", "interval": "1y"}),
    (Aggregation, {"type": "avg", "interval": "-1h"}),
    (Aggregation, {"type": "avg", "interval": " 1h"}),
    (Aggregation, {"type": "avg", "interval": timedelta(0)}),
    (Aggregation, {"type": "avg", "interval": 3600}),
    (Aggregation, {"type": "avg", "group_by": ["route", "route"]}),
    (Aggregation, {"type": "avg", "group_by": ["bad\x00key"]}),
    (Aggregation, {"type": "avg", "group_by": [""]}),
    (MetricFilters, {"start_time": datetime(2024, 1, 2), "end_time": datetime(2024, 1, 1)}),
    (MetricFilters, {"labels": {"k": 1.5}}),
    (MetricFilters, {"name": ""}),
    (MetricFilters, {"type": "summary"}),
    (MetricFilters, {"bogus": 1}),
]


@pytest.mark.parametrize(
    ("model", "arguments"), BAD_QUERIES, ids=[str(a)[:50] for _, a in BAD_QUERIES]
)
def test_bad_query_arguments_are_rejected(model: type[Any], arguments: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model(**arguments)


def test_query_methods_validate_plain_dicts(storage: MetricsStorage) -> None:
    with pytest.raises(ValidationError):
        storage.list_metrics(order_by={"field": "value DESC; --"})
    with pytest.raises(ValidationError):
        storage.aggregate_metrics({"type": "avg", "interval": "1 hour"})
    with pytest.raises(ValidationError):
        storage.count_metrics({"start_time": "yesterday"})


def test_intervals_parse_strictly() -> None:
    assert Aggregation(type="avg", interval="90s").interval == timedelta(seconds=90)
    assert Aggregation(type="avg", interval="5m").interval == timedelta(minutes=5)
    assert Aggregation(type="avg", interval="1h").interval == timedelta(hours=1)
    assert Aggregation(type="avg", interval="2d").interval == timedelta(days=2)
    assert Aggregation(type="avg", interval="1w").interval == timedelta(weeks=1)
    assert Aggregation(type="avg", interval=timedelta(minutes=90)).interval == timedelta(minutes=90)
    assert Aggregation(type="avg").interval is None
