"""iter_metrics: every matching point in (timestamp, id) order, batch by batch, on every
backend; the same points list_metrics gives, and the OpenTelemetry fields read back as written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from obsstore import InvalidArgumentError, MetricsStorage
from tests.contract.helpers import T0, point


def _points() -> list:  # type: ignore[type-arg]
    # Equal timestamps in groups of three, ids out of order within a group: the tie breaks on id.
    return [
        point(f"p{(n * 7) % 25:02d}", minutes=n // 3, value=float(n), labels={"k": str(n % 2)})
        for n in range(25)
    ]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 25, 10_000])
def test_iter_metrics_equals_list_metrics_in_timestamp_id_order(
    storage: MetricsStorage, batch_size: int
) -> None:
    storage.batch_record_metrics(_points())
    listed = storage.list_metrics(
        pagination={"limit": 1000}, order_by={"field": "timestamp", "direction": "asc"}
    ).data
    got = list(storage.iter_metrics(batch_size=batch_size))
    assert got == listed
    assert [(r.timestamp, r.id) for r in got] == sorted((r.timestamp, r.id) for r in got)


def test_iter_metrics_applies_filters(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(_points())
    filters = {"labels": {"k": "1"}, "start_time": T0 + timedelta(minutes=2)}
    got = list(storage.iter_metrics(filters, batch_size=2))
    expected = storage.list_metrics(
        filters, pagination={"limit": 1000}, order_by={"field": "timestamp", "direction": "asc"}
    ).data
    assert got == expected and len(got) > 2


def test_iter_metrics_sees_points_deleted_between_batches_consistently(
    storage: MetricsStorage,
) -> None:
    storage.batch_record_metrics(_points())
    stream = storage.iter_metrics(batch_size=5)
    first = [next(stream) for _ in range(5)]
    storage.delete_metrics({"labels": {"k": "0"}})
    rest = list(stream)
    seen = [r.id for r in first + rest]
    assert len(seen) == len(set(seen))  # nothing twice
    assert all(r.labels["k"] == "1" for r in rest)
    assert [r.id for r in rest] == [
        r.id
        for r in storage.iter_metrics()
        if (r.timestamp, r.id) > (first[-1].timestamp, first[-1].id)
    ]


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "10", 10_000_001])
def test_iter_metrics_rejects_bad_batch_sizes_at_the_call(
    storage: MetricsStorage, batch_size: object
) -> None:
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        storage.iter_metrics(batch_size=batch_size)  # type: ignore[arg-type]


def test_opentelemetry_fields_round_trip(storage: MetricsStorage) -> None:
    histogram = point(
        "h",
        type="histogram",
        value=12.5,
        bucket_boundaries=[1.0, 10.0],
        bucket_counts=[1, 2, 0],
        unit="ms",
        start_timestamp=T0 - timedelta(seconds=10),
        histogram_count=3,
        histogram_min=0.5,
        histogram_max=9.0,
    )
    counter = point("c", type="counter", unit="1", start_timestamp=T0 - timedelta(seconds=1))
    plain = point("g")
    storage.batch_record_metrics([histogram, counter, plain])
    assert sorted(storage.iter_metrics(), key=lambda r: r.id) == [counter, plain, histogram]
