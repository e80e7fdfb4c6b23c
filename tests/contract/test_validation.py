"""Bad input gets a ValidationError naming the field, before anything is written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from obsstore import (
    Aggregation,
    InvalidArgumentError,
    MetricFilters,
    MetricsStorage,
    MetricsWriter,
    OrderBy,
    Pagination,
    SpanRecord,
    TraceFilters,
    TraceOrderBy,
    ValidationError,
)
from obsstore.storage.base import ObservabilityStorage

GOOD: dict[str, Any] = {"id": "p", "name": "cpu", "value": 1.0}

BAD_RECORDS = [
    ({"value": float("nan")}, "value"),
    ({"value": float("inf")}, "value"),
    ({"value": float("-inf")}, "value"),
    ({"value": True}, "value"),
    ({"value": "1.5"}, "value"),
    ({"value": 10**400}, "value"),
    ({"value": -(10**400)}, "value"),
    ({"name": ""}, "name"),
    ({"name": " "}, "name"),
    ({"name": " \u3000"}, "name"),
    ({"name": "n" * 256}, "name"),
    ({"name": "a\x00b"}, "name"),
    ({"name": "a\nb"}, "name"),
    ({"name": "a\x7fb"}, "name"),
    ({"name": "a\ud800b"}, "name"),
    ({"id": ""}, "id"),
    ({"id": "  "}, "id"),
    ({"labels": {" ": "v"}}, "labels"),
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
    ({"timestamp": "1700000000"}, "timestamp"),
    ({"timestamp": "1700000000.5"}, "timestamp"),
    ({"timestamp": "2024-05-01"}, "timestamp"),
    ({"timestamp": b"2024-05-01T12:00:00Z"}, "timestamp"),
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
    (
        {"type": "histogram", "bucket_boundaries": [10**400], "bucket_counts": [1, 2]},
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
    (Pagination, {"limit": True}),
    (Pagination, {"limit": "10"}),
    (Pagination, {"limit": 2.0}),
    (Pagination, {"offset": False}),
    (Pagination, {"offset": "5"}),
    (Aggregation, {"type": "median"}),
    (Aggregation, {"type": "percentile"}),
    (Aggregation, {"type": "percentile", "percentile": 1.5}),
    (Aggregation, {"type": "percentile", "percentile": 10**400}),
    (Aggregation, {"type": "percentile", "percentile": True}),
    (Aggregation, {"type": "avg", "percentile": 0.5}),
    (Aggregation, {"type": "avg", "interval": "1h; DROP TABLE x"}),
    (Aggregation, {"type": "avg", "interval": "0s"}),
    (Aggregation, {"type": "avg", "interval": "1y"}),
    (Aggregation, {"type": "avg", "interval": "999999999w"}),
    (Aggregation, {"type": "avg", "interval": "999999999d"}),
    (Aggregation, {"type": "avg", "interval": "-1h"}),
    (Aggregation, {"type": "avg", "interval": " 1h"}),
    (Aggregation, {"type": "avg", "interval": timedelta(0)}),
    (Aggregation, {"type": "avg", "interval": 3600}),
    (Aggregation, {"type": "avg", "group_by": ["route", "route"]}),
    (Aggregation, {"type": "avg", "group_by": ["bad\x00key"]}),
    (Aggregation, {"type": "avg", "group_by": [""]}),
    (Aggregation, {"type": "avg", "group_by": [" "]}),
    (MetricFilters, {"start_time": datetime(2024, 1, 2), "end_time": datetime(2024, 1, 1)}),
    (MetricFilters, {"labels": {"k": 1.5}}),
    (MetricFilters, {"name": ""}),
    (MetricFilters, {"name": " "}),
    (MetricFilters, {"start_time": "1700000000"}),
    (MetricFilters, {"end_time": "2024-05-01"}),
    (OrderBy, {"direction": "ASC"}),
    (TraceOrderBy, {"field": "name"}),
    (TraceOrderBy, {"direction": 1}),
    (TraceFilters, {"has_child_error": "yes"}),
    (TraceFilters, {"has_child_error": 1}),
    (TraceFilters, {"name": "  "}),
    (TraceFilters, {"tags": [" "]}),
    (TraceFilters, {"start_time": "1700000000"}),
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


def test_timestamps_accept_datetimes_and_iso_date_times() -> None:
    expected = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    for given in (
        expected,
        datetime(2024, 5, 1, 12),
        "2024-05-01T12:00:00Z",
        "2024-05-01T14:00:00+02:00",
        "2024-05-01 12:00",
    ):
        assert MetricFilters(start_time=given).start_time == expected, given


BAD_SPANS: list[tuple[dict[str, Any], str]] = [
    ({"name": " "}, "name"),
    ({"span_type": "  "}, "span_type"),
    ({"trace_id": " "}, "trace_id"),
    ({"span_id": " "}, "span_id"),
    ({"parent_span_id": " "}, "parent_span_id"),
    ({"tags": ["ok", "  "]}, "tags"),
    ({"is_event": "yes"}, "is_event"),
    ({"is_event": 1}, "is_event"),
    ({"started_at": "1700000000"}, "started_at"),
]


@pytest.mark.parametrize(("change", "field"), BAD_SPANS, ids=[str(c) for c, _ in BAD_SPANS])
def test_bad_span_is_rejected(change: dict[str, Any], field: str) -> None:
    good = {"trace_id": "t", "span_id": "s", "name": "n", "started_at": "2024-05-01T12:00:00Z"}
    with pytest.raises(ValidationError) as info:
        SpanRecord.model_validate({**good, **change})
    assert any(field in error["loc"] for error in info.value.errors())


def test_batch_arguments_must_be_iterables(storage: ObservabilityStorage) -> None:
    calls = [
        ("records", storage.batch_record_metrics),
        ("spans", storage.batch_create_spans),
        ("updates", storage.batch_update_spans),
        ("trace_ids", storage.batch_delete_traces),
    ]
    for argument, call in calls:
        for bad in (None, 5, "trace", {"name": "cpu", "value": 1.0}):
            with pytest.raises(InvalidArgumentError, match=argument):
                call(bad)  # type: ignore[operator]
    assert storage.count_metrics() == 0


def test_writer_record_many_needs_an_iterable(storage: MetricsStorage) -> None:
    with MetricsWriter(storage) as writer:
        with pytest.raises(InvalidArgumentError, match="records"):
            writer.record_many(None)  # type: ignore[arg-type]
        assert writer.stats().accepted == 0


@pytest.mark.parametrize("argument", ["trace_id", "span_id"])
def test_blank_ids_are_rejected_by_lookups(storage: ObservabilityStorage, argument: str) -> None:
    ids = {"trace_id": "t", "span_id": "s", argument: " "}
    with pytest.raises(InvalidArgumentError, match=argument):
        storage.get_span(**ids)
