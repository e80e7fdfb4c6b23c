"""Writing points: round trips, idempotent ids, atomic batches, timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from obsstore import MetricRecord, MetricsStorage, MetricType, ValidationError
from obsstore.errors import InvalidArgumentError
from tests.contract.helpers import UTC, all_ids, point


def test_every_field_round_trips(storage: MetricsStorage) -> None:
    record = MetricRecord(
        id="full-1",
        timestamp=datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC),
        name="job.duration",
        type=MetricType.HISTOGRAM,
        value=12.5,
        labels={"route": "/api/v1/items", "method": "GET", "ünïcode": "✓ 😀"},
        organization_id="org-1",
        environment="prod",
        service_name="billing",
        trace_id="trace-abc",
        span_id="span-def",
        bucket_boundaries=[0.005, 0.1, 2.5],
        bucket_counts=[0, 3, 1, 2**63 - 1],
    )
    assert storage.batch_record_metrics([record]) == 1
    (stored,) = storage.list_metrics().data
    assert stored == record
    assert stored.timestamp.tzinfo is not None and stored.timestamp.utcoffset() == timedelta(0)
    assert stored.timestamp.microsecond == 999_999


@pytest.mark.parametrize("text_labels", [True, False])
def test_plain_dicts_store_what_their_records_store(
    storage: MetricsStorage, text_labels: bool
) -> None:
    # A batch of dicts takes the column path (no model per point): it must store exactly the
    # records pydantic makes of the same dicts, the first of a repeated id only. Label sets of
    # text only are remembered with their JSON; int and bool values are converted per point.
    code: Any = str if text_labels else int
    dicts = [
        {
            "id": f"d{i % 7}",
            "timestamp": datetime(2026, 11, 1, 12, i % 60, tzinfo=timezone(timedelta(hours=2))),
            "name": ["http.server.duration", "queue.depth", "cpu"][i % 3],
            "type": ["histogram", "gauge", "counter"][i % 3],
            "value": [1.5, -0.0, 3][i % 3],
            "labels": {"route": f"/r{i % 4}", "code": code(200 + i % 2), "ok": code(i % 2)},
            "service_name": "api",
            "unit": "ms",
            **(
                {"bucket_boundaries": [1, 2.5, 1e-7 * 10**9], "bucket_counts": [0, 1, 2, i]}
                if i % 3 == 0
                else {}
            ),
        }
        for i in range(12)
    ]
    assert storage.batch_record_metrics(dicts) == 7
    expected = {d["id"]: MetricRecord(**d) for d in reversed(dicts)}
    stored = {r.id: r for r in storage.list_metrics(pagination={"limit": 100}).data}
    assert stored == expected


def test_optional_fields_round_trip_as_none(storage: MetricsStorage) -> None:
    record = point("bare", value=-3.25)
    storage.batch_record_metrics([record])
    (stored,) = storage.list_metrics().data
    assert stored == record
    assert stored.labels == {} and stored.bucket_counts is None and stored.service_name is None


def test_dicts_and_records_mix_in_one_batch(storage: MetricsStorage) -> None:
    added = storage.batch_record_metrics(
        [point("a"), {"id": "b", "name": "jobs.run", "value": 2, "type": "counter"}]
    )
    assert added == 2
    stored = {r.id: r for r in storage.list_metrics().data}
    assert stored["b"].type is MetricType.COUNTER and stored["b"].value == 2.0


def test_generators_are_accepted(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(point(f"g{i}") for i in range(5))
    assert storage.count_metrics() == 5


def test_empty_batch_is_a_no_op(storage: MetricsStorage) -> None:
    assert storage.batch_record_metrics([]) == 0
    assert storage.count_metrics() == 0


def test_retried_batch_never_duplicates(storage: MetricsStorage) -> None:
    batch = [point(f"r{i}", value=i) for i in range(20)]
    assert storage.batch_record_metrics(batch) == 20
    assert storage.batch_record_metrics(batch) == 0
    assert storage.batch_record_metrics([*batch[5:], point("r-new")]) == 1
    assert storage.count_metrics() == 21


def test_first_write_wins_across_batches(storage: MetricsStorage) -> None:
    storage.batch_record_metrics([point("same", value=1.0, labels={"v": "first"})])
    storage.batch_record_metrics([point("same", value=2.0, labels={"v": "second"})])
    (stored,) = storage.list_metrics().data
    assert stored.value == 1.0 and stored.labels == {"v": "first"}


def test_first_write_wins_inside_a_batch(storage: MetricsStorage) -> None:
    added = storage.batch_record_metrics(
        [point("dup", value=1.0), point("other"), point("dup", value=2.0)]
    )
    assert added == 2
    values = {r.id: r.value for r in storage.list_metrics().data}
    assert values == {"dup": 1.0, "other": 1.0}


def test_missing_id_and_timestamp_are_generated(storage: MetricsStorage) -> None:
    before = datetime.now(UTC)
    storage.batch_record_metrics([{"name": "x", "value": 1}, {"name": "x", "value": 2}])
    after = datetime.now(UTC)
    data = storage.list_metrics().data
    assert len({r.id for r in data}) == 2
    assert all(before - timedelta(seconds=1) <= r.timestamp <= after for r in data)


def test_int_and_bool_label_values_are_stored_as_text(storage: MetricsStorage) -> None:
    storage.batch_record_metrics([point("l", labels={"status": 200, "cached": True, "x": False})])
    (stored,) = storage.list_metrics().data
    assert stored.labels == {"status": "200", "cached": "true", "x": "false"}
    assert all_ids(storage, labels={"status": 200}) == ["l"]


def test_naive_timestamps_are_utc_and_offsets_are_converted(storage: MetricsStorage) -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    storage.batch_record_metrics(
        [
            point("naive", at=datetime(2024, 1, 1, 10, 0, 0, 123_456)),
            point("ist", at=datetime(2024, 1, 1, 15, 30, 0, 123_457, tzinfo=ist)),
        ]
    )
    stored = {r.id: r.timestamp for r in storage.list_metrics().data}
    assert stored["naive"] == datetime(2024, 1, 1, 10, 0, 0, 123_456, tzinfo=UTC)
    assert stored["ist"] == datetime(2024, 1, 1, 10, 0, 0, 123_457, tzinfo=UTC)
    assert all(ts.utcoffset() == timedelta(0) for ts in stored.values())
    # The offset decides where the point falls in a time range, on every backend.
    start = datetime(2024, 1, 1, 10, 0, 0, 123_457, tzinfo=UTC)
    assert all_ids(storage, start_time=start) == ["ist"]


@pytest.mark.requires("instants up to 9999-12-31", timestamp_years=(1, 9999))
def test_extreme_timestamps_round_trip(storage: MetricsStorage) -> None:
    low = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    high = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    storage.batch_record_metrics([point("low", at=low), point("high", at=high)])
    stored = {r.id: r.timestamp for r in storage.list_metrics().data}
    assert stored == {"low": low, "high": high}


def test_a_bad_record_rejects_the_whole_batch(storage: MetricsStorage) -> None:
    batch: list[object] = [point("ok-1"), {"name": "x", "value": float("nan")}, point("ok-2")]
    with pytest.raises(ValidationError) as info:
        storage.batch_record_metrics(batch)  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"][:2] == (1, "value")
    assert storage.count_metrics() == 0


def test_float_values_round_trip_exactly(storage: MetricsStorage) -> None:
    values = [0.1, 1e-300, 1.7976931348623157e308, -2.5e-10, 123456789.123456789, -0.0]
    storage.batch_record_metrics([point(f"f{i}", value=v) for i, v in enumerate(values)])
    stored = {r.id: r.value for r in storage.list_metrics().data}
    assert [stored[f"f{i}"] for i in range(len(values))] == [v + 0.0 for v in values]


def test_empty_trace_and_span_ids_are_kept(storage: MetricsStorage) -> None:
    # A batch whose ids are all empty or missing, then one with a real trace id.
    storage.batch_record_metrics([point("x", trace_id=""), point("y", span_id="")])
    storage.batch_record_metrics([point("z", trace_id="t")])
    stored = {r.id: (r.trace_id, r.span_id) for r in storage.list_metrics().data}
    assert stored == {"x": ("", None), "y": (None, ""), "z": ("t", None)}
    assert storage.count_metrics({"trace_id": ""}) == 1


def test_instants_at_the_capable_years_round_trip(storage: MetricsStorage) -> None:
    # Every backend holds the years its capabilities name, and refuses later instants rather
    # than storing another one (ClickHouse's DateTime64 ends with 2299).
    first, last = storage.capabilities.timestamp_years
    low = datetime(max(first, 1970), 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    high = datetime(last, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    storage.batch_record_metrics([point("low", at=low), point("high", at=high)])
    assert {r.id: r.timestamp for r in storage.list_metrics().data} == {"low": low, "high": high}
    if last < 9999:
        with pytest.raises(InvalidArgumentError, match="timestamp"):
            storage.batch_record_metrics([point("later", at=datetime(last + 1, 1, 1, tzinfo=UTC))])
        assert storage.count_metrics() == 2
