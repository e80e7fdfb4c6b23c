"""Records and spans built without validation (``model_copy(update=...)``, ``model_construct``)
are checked again where they are written: bad ones get a ValidationError naming the item and
field, and nothing is written; acceptable ones are stored as validation would have made them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from obsstore import (
    MetricRecord,
    MetricsStorage,
    MetricsWriter,
    SpanRecord,
    SpanUpdate,
    ValidationError,
)
from obsstore.storage.base import ObservabilityStorage
from tests.contract.helpers import T0, UTC, point

GOOD = point("good", value=1.0)
HISTOGRAM = point("h", type="histogram", bucket_boundaries=[1.0, 2.0], bucket_counts=[1, 2, 3])

BAD_COPIES: list[tuple[MetricRecord, dict[str, Any], str | None]] = [
    (GOOD, {"value": float("nan")}, "value"),
    (GOOD, {"value": float("inf")}, "value"),
    (GOOD, {"value": "1.5"}, "value"),
    (GOOD, {"value": 10**400}, "value"),
    (GOOD, {"timestamp": datetime(1960, 1, 1, tzinfo=UTC)}, "timestamp"),
    (GOOD, {"timestamp": "2024-05-01"}, "timestamp"),
    (GOOD, {"type": "summary"}, "type"),
    (GOOD, {"name": ""}, "name"),
    (GOOD, {"name": "a\x00b"}, "name"),
    (GOOD, {"labels": {"k": None}}, "labels"),
    (HISTOGRAM, {"bucket_boundaries": [1.0, float("nan")]}, "bucket_boundaries"),
    (HISTOGRAM, {"bucket_boundaries": [2.0, 1.0]}, None),
    (HISTOGRAM, {"bucket_counts": [1, 2]}, None),
    (HISTOGRAM, {"bucket_counts": [1, -2, 3]}, "bucket_counts"),
]


@pytest.mark.parametrize(
    ("base", "update", "field"), BAD_COPIES, ids=[str(u)[:50] for _, u, _ in BAD_COPIES]
)
def test_bad_copied_record_is_rejected_and_nothing_written(
    storage: MetricsStorage, base: MetricRecord, update: dict[str, Any], field: str | None
) -> None:
    bad = base.model_copy(update={"id": "bad", **update})
    with pytest.raises(ValidationError) as info:
        storage.batch_record_metrics([point("first"), bad])
    locations = [error["loc"] for error in info.value.errors()]
    assert all(loc[0] == 1 for loc in locations), locations
    if field is not None:
        assert any(field in loc for loc in locations), locations
    assert storage.count_metrics() == 0


def test_constructed_record_with_nan_is_rejected(storage: MetricsStorage) -> None:
    bad = MetricRecord.model_construct(id="c", name="cpu", value=float("nan"))
    with pytest.raises(ValidationError) as info:
        storage.batch_record_metrics([bad])
    assert [e["loc"] for e in info.value.errors()] == [(0, "value")]
    assert storage.count_metrics() == 0


def test_mixed_batch_of_dicts_and_bad_copies_is_rejected(storage: MetricsStorage) -> None:
    bad = GOOD.model_copy(update={"id": "bad", "value": float("nan")})
    with pytest.raises(ValidationError) as info:
        storage.batch_record_metrics([{"id": "d", "name": "cpu", "value": 1.0}, bad])
    assert [e["loc"] for e in info.value.errors()] == [(1, "value")]
    assert storage.count_metrics() == 0


def test_copied_record_is_stored_as_validation_makes_it(storage: MetricsStorage) -> None:
    # Naive means UTC and aware moments become UTC, exactly as when the record is validated.
    naive = GOOD.model_copy(update={"id": "naive", "timestamp": datetime(2024, 5, 1, 12)})
    plus_two = timezone(timedelta(hours=2))
    shifted = GOOD.model_copy(
        update={"id": "shifted", "timestamp": datetime(2024, 5, 1, 14, tzinfo=plus_two)}
    )
    constructed = MetricRecord.model_construct(
        id="constructed", name="cpu", value=2.0, timestamp=datetime(2024, 5, 1, 12)
    )
    assert storage.batch_record_metrics([naive, shifted, constructed]) == 3
    stored = {r.id: r for r in storage.list_metrics().data}
    assert {r.timestamp for r in stored.values()} == {T0}
    assert all(r.timestamp.utcoffset() == timedelta(0) for r in stored.values())
    assert stored["constructed"].value == 2.0


def test_read_back_records_can_be_written_again(storage: MetricsStorage) -> None:
    storage.batch_record_metrics([GOOD, HISTOGRAM])
    records = storage.list_metrics().data
    storage.dangerously_clear_all()
    assert storage.batch_record_metrics(records) == 2
    assert sorted(r.id for r in storage.list_metrics().data) == ["good", "h"]


SPAN = SpanRecord(trace_id="t", span_id="root", name="agent", started_at=T0)

BAD_SPANS: list[tuple[dict[str, Any], str | None]] = [
    ({"ended_at": T0 - timedelta(seconds=1)}, None),
    ({"started_at": datetime(1960, 1, 1, tzinfo=UTC)}, "started_at"),
    ({"name": " \x00"}, "name"),
    ({"metadata": {"score": float("nan")}}, "metadata"),
    ({"parent_span_id": "root"}, None),
]


@pytest.mark.parametrize(("update", "field"), BAD_SPANS, ids=[str(u)[:50] for u, _ in BAD_SPANS])
def test_bad_copied_span_is_rejected_and_nothing_written(
    storage: ObservabilityStorage, update: dict[str, Any], field: str | None
) -> None:
    first = SPAN.model_copy(update={"trace_id": "first"})
    bad = SPAN.model_copy(update=update)
    with pytest.raises(ValidationError) as info:
        storage.batch_create_spans([first, bad])
    locations = [error["loc"] for error in info.value.errors()]
    assert all(loc[0] == 1 for loc in locations), locations
    if field is not None:
        assert any(field in loc for loc in locations), locations
    assert storage.list_traces().total == 0


def test_copied_span_with_naive_times_is_stored_in_utc(storage: ObservabilityStorage) -> None:
    naive = SPAN.model_copy(
        update={"started_at": datetime(2024, 5, 1, 12), "ended_at": datetime(2024, 5, 1, 13)}
    )
    assert storage.batch_create_spans([naive]) == 1
    stored = storage.get_span("t", "root")
    assert stored is not None
    assert stored.started_at == T0 and stored.ended_at == T0 + timedelta(hours=1)


def test_constructed_span_update_is_validated(storage: ObservabilityStorage) -> None:
    storage.batch_create_spans([SPAN])
    bad = SpanUpdate.model_construct(trace_id="t", span_id="root", ended_at="yesterday")
    with pytest.raises(ValidationError):
        storage.batch_update_spans([bad])
    stored = storage.get_span("t", "root")
    assert stored is not None and stored.ended_at is None


def test_writer_rejects_a_bad_copy_when_it_is_recorded(storage: MetricsStorage) -> None:
    writer = MetricsWriter(storage)
    try:
        with pytest.raises(ValidationError) as info:
            writer.record(GOOD.model_copy(update={"value": float("nan")}))
        assert [e["loc"] for e in info.value.errors()] == [("value",)]
        writer.record(GOOD.model_copy(update={"timestamp": datetime(2024, 5, 1, 12)}))
        assert writer.flush(timeout=10)
        assert writer.stats().accepted == 1
    finally:
        writer.close(timeout=5)
    (stored,) = storage.list_metrics().data
    assert stored.timestamp == T0
