"""summarize_metrics(): per metric name count, sum, avg, min, max, last and percentiles, and
the change against an earlier range, on every backend; health() on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from obsstore import InvalidArgumentError, ObservabilityStorage
from obsstore.models.summaries import SummaryStats
from tests.contract.helpers import T0, point

DAY = timedelta(days=1)


@pytest.fixture
def days(storage: ObservabilityStorage) -> ObservabilityStorage:
    # Yesterday: latency 10, 30; today: latency 20, 40, 60 (the last at the latest moment).
    storage.batch_record_metrics(
        [
            point("y1", at=T0 - DAY - timedelta(hours=1), name="latency", value=10.0),
            point("y2", at=T0 - DAY, name="latency", value=30.0),
            point("t1", at=T0, name="latency", value=60.0),
            point("t2", at=T0 - timedelta(hours=1), name="latency", value=20.0),
            point("t3", at=T0 - timedelta(hours=2), name="latency", value=40.0),
            point("e1", at=T0, name="errors", value=0.0),
        ]
    )
    return storage


def test_summary_per_name(days: ObservabilityStorage) -> None:
    today = {"start_time": T0 - timedelta(hours=12), "end_time": T0}
    errors, latency = days.summarize_metrics(today, percentiles=(0.5, 0.25))
    assert (
        errors.name == "errors"
        and errors.count == 1
        and errors.percentiles
        == {
            0.5: 0.0,
            0.25: 0.0,
        }
    )
    assert latency.name == "latency"
    assert (latency.count, latency.sum, latency.avg) == (3, 120.0, 40.0)
    assert (latency.min, latency.max, latency.last) == (20.0, 60.0, 60.0)
    assert latency.percentiles == {0.5: 40.0, 0.25: 30.0}
    assert latency.previous is None and latency.change is None


def test_compare_with_the_previous_day(days: ObservabilityStorage) -> None:
    today = {"start_time": T0 - timedelta(hours=12), "end_time": T0}
    errors, latency = days.summarize_metrics(today, percentiles=(0.5,), compare="previous_day")
    assert latency.previous == SummaryStats(
        count=2, sum=40.0, avg=20.0, min=10.0, max=30.0, last=30.0, percentiles={0.5: 20.0}
    )
    assert latency.change is not None
    assert (latency.change.count, latency.change.sum, latency.change.avg) == (0.5, 2.0, 1.0)
    assert (latency.change.min, latency.change.max, latency.change.last) == (1.0, 1.0, 1.0)
    assert latency.change.percentiles == {0.5: 1.0}
    # No errors yesterday: nothing to compare with.
    assert errors.previous is None and errors.change is not None
    assert errors.change.count is None and errors.change.percentiles == {0.5: None}


def test_previous_period_is_the_range_just_before(days: ObservabilityStorage) -> None:
    # [T0 - 1h, T0] holds t1 and t2; the period before is [T0 - 2h - 1us, T0 - 1h - 1us]: t3.
    window = {"start_time": T0 - timedelta(hours=1), "end_time": T0, "name": "latency"}
    (latency,) = days.summarize_metrics(window, compare="previous_period")
    assert latency.count == 2 and latency.previous is not None
    assert latency.previous.count == 1 and latency.previous.sum == 40.0
    assert latency.change is not None
    assert (latency.change.sum, latency.change.avg, latency.change.min) == (1.0, 0.0, -0.5)


def test_bad_arguments_name_the_field(storage: ObservabilityStorage) -> None:
    with pytest.raises(InvalidArgumentError, match="compare"):
        storage.summarize_metrics(compare="previous_period")  # no start_time
    with pytest.raises(InvalidArgumentError, match="compare"):
        storage.summarize_metrics({"start_time": T0}, compare="yesterday")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="percentiles"):
        storage.summarize_metrics(percentiles=(1.5,))
    assert storage.summarize_metrics() == []


def test_health(storage: ObservabilityStorage) -> None:
    storage.batch_record_metrics([point("a"), point("b")])
    health = storage.health()
    assert health.reachable and health.error is None
    assert (health.points, health.spans) == (2, 0)
    assert health.backend == storage.kind
    assert health.latency_ms is not None and health.latency_ms >= 0
    assert health.schema_revision == health.head_revision
    if storage.kind != "memory":
        assert health.head_revision is not None
