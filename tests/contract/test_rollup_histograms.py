"""Summed histogram bucket counts: rollups keep them where the bounds agree, and the
``histogram`` aggregate answers the same from rollups as from raw points, on every backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from obsstore import MetricsStorage, RetentionPolicy, RollupLevel
from tests.contract.helpers import T0

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
START = T0.replace(hour=0)
LEVELS = RetentionPolicy(
    raw=None, rollups=[RollupLevel(interval="1h"), RollupLevel(interval="1d")], traces=None
)


def histogram(
    id: str, at: timedelta, route: str, bounds: list[float] | None, counts: list[int] | None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": id,
        "timestamp": START + at,
        "name": "rpc.duration",
        "type": "histogram",
        "value": 1.0,
        "labels": {"route": route},
    }
    if counts is not None:
        record.update(bucket_boundaries=bounds, bucket_counts=counts)
    return record


DATA = [
    # /a: the same bounds everywhere.
    histogram("a1", timedelta(minutes=5), "/a", [1.0, 10.0], [1, 2, 3]),
    histogram("a2", timedelta(minutes=50), "/a", [1.0, 10.0], [4, 0, 1]),
    histogram("a3", HOUR + timedelta(minutes=1), "/a", [1.0, 10.0], [0, 7, 0]),
    # /b: other bounds in its second hour.
    histogram("b1", timedelta(minutes=10), "/b", [1.0, 10.0], [2, 2, 2]),
    histogram("b2", HOUR + timedelta(minutes=10), "/b", [5.0], [3, 3]),
    # /c: one point without bucket counts.
    histogram("c1", timedelta(minutes=20), "/c", [1.0, 10.0], [1, 1, 1]),
    histogram("c2", timedelta(minutes=30), "/c", None, None),
    {"id": "g1", "timestamp": START, "name": "gauge", "value": 3.0},
]


@pytest.mark.parametrize("interval", ["1h", "2h", "1d", None])
@pytest.mark.parametrize("group_by", [["route"], []])
def test_histograms_from_rollups_are_summed_like_raw_points(
    storage: MetricsStorage, interval: str | None, group_by: list[str]
) -> None:
    storage.batch_record_metrics(DATA)
    storage.rollup(until=START + 2 * DAY, policy=LEVELS)
    aggregation = {"type": "histogram", "interval": interval, "group_by": group_by}
    raw = storage.aggregate_metrics({**aggregation, "source": "raw"})
    rolled = storage.aggregate_metrics({**aggregation, "source": "rollup"})
    auto = storage.aggregate_metrics(aggregation)
    assert rolled == raw
    assert auto == raw


def test_histogram_sums_where_bounds_agree(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(DATA)
    storage.rollup(until=START + 2 * DAY, policy=LEVELS)
    for source in ("raw", "rollup"):
        by_route = {
            p.group["route"]: p
            for p in storage.aggregate_metrics(
                {"type": "histogram", "interval": "1d", "group_by": ["route"], "source": source},
                {"name": "rpc.duration"},
            )
        }
        assert by_route["/a"].bucket_boundaries == [1.0, 10.0]
        assert by_route["/a"].bucket_counts == [5, 9, 4]
        assert (by_route["/a"].value, by_route["/a"].count) == (18.0, 3)
        assert by_route["/b"].bucket_counts is None  # bounds disagree
        assert by_route["/c"].bucket_counts is None  # a point without counts
        hourly = storage.aggregate_metrics(
            {"type": "histogram", "interval": "1h", "group_by": ["route"], "source": source},
            {"name": "rpc.duration", "labels": {"route": "/b"}},
        )
        assert [p.bucket_counts for p in hourly] == [[2, 2, 2], [3, 3]]


def test_late_histogram_points_are_summed_when_recomputed(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(DATA)
    storage.rollup(until=START + 2 * DAY, policy=LEVELS)
    storage.batch_record_metrics(
        [histogram("a4", timedelta(minutes=55), "/a", [1.0, 10.0], [10, 10, 10])]
    )
    storage.rollup(until=START + 2 * DAY, policy=LEVELS, since=START)
    query = {"type": "histogram", "interval": "1h", "source": "rollup"}
    (first, *_) = storage.aggregate_metrics(query, {"labels": {"route": "/a"}})
    assert first.bucket_counts == [15, 12, 14]
