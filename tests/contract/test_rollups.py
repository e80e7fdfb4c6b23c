"""Rollups answer aggregates as raw points do, on every backend: the same values (within float
rounding) for sum, avg, min, max, count and last, percentiles within the sketch's 1 % bound,
late points counted once their bucket is recomputed, and the forced sources' errors."""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsstore import (
    AggregatePoint,
    InvalidArgumentError,
    MetricsStorage,
    RetentionPolicy,
    RollupLevel,
)
from obsstore.models.queries import AggregationType
from tests.contract.helpers import T0

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
LEVELS = RetentionPolicy(
    raw=None, rollups=[RollupLevel(interval="1h"), RollupLevel(interval="1d")], traces=None
)
# T0 is 12:00 UTC: the data starts at midnight so every level's buckets are whole.
START = T0.replace(hour=0)
END = START + 4 * DAY
KINDS: list[AggregationType] = ["sum", "avg", "min", "max", "count", "last"]
KEYS = ["route", "zone"]
NAMES = ["a", "b"]

labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(["/x", "/y", "/z"]), max_size=2)
values = st.one_of(
    st.integers(-50, 50).map(float),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    # Whole minutes make equal timestamps (ties for "last") common.
    count = draw(st.integers(1, 40))
    return [
        {
            "id": f"p{i}",
            "timestamp": START + timedelta(minutes=draw(st.integers(0, 4 * 1440 - 1))),
            "name": draw(st.sampled_from(NAMES)),
            "type": draw(st.sampled_from(["counter", "gauge"])),
            "value": draw(values),
            "labels": draw(labels),
            "service_name": draw(st.sampled_from([None, "api", "worker"])),
        }
        for i in range(count)
    ]


@st.composite
def queries(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    interval = draw(st.sampled_from(["1h", "2h", "3h", "1d", "2d", None]))
    group_by = draw(
        st.lists(
            st.sampled_from(["route", "zone", "service_name", "type"]), unique=True, max_size=2
        )
    )
    filters: dict[str, Any] = {}
    if draw(st.booleans()):
        filters["labels"] = draw(labels)
    if draw(st.booleans()):
        filters["name"] = draw(st.sampled_from(NAMES))
    if draw(st.booleans()):
        # Bounds on hour boundaries (end inclusive: one microsecond before one).
        first = draw(st.integers(0, 4 * 24 - 1))
        last = draw(st.integers(first + 1, 4 * 24))
        filters["start_time"] = START + first * HOUR
        filters["end_time"] = START + last * HOUR - timedelta(microseconds=1)
    return {"interval": interval, "group_by": group_by}, filters


def assert_same(raw: list[AggregatePoint], rolled: list[AggregatePoint], tolerance: float) -> None:
    assert [(p.name, p.timestamp, p.group, p.count) for p in rolled] == [
        (p.name, p.timestamp, p.group, p.count) for p in raw
    ]
    for exact, answer in zip(raw, rolled, strict=True):
        assert math.isclose(answer.value, exact.value, rel_tol=tolerance, abs_tol=1e-6), (
            exact,
            answer,
        )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=records(), query=queries())
def test_rollups_answer_like_raw_points(
    storage: MetricsStorage,
    data: list[dict[str, Any]],
    query: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    storage.dangerously_clear_all()
    storage.batch_record_metrics(data)
    assert storage.rollup(until=END, policy=LEVELS) > 0
    shape, filters = query
    for kind in KINDS:
        aggregation = {"type": kind, **shape}
        raw = storage.aggregate_metrics({**aggregation, "source": "raw"}, filters)
        rolled = storage.aggregate_metrics({**aggregation, "source": "rollup"}, filters)
        auto = storage.aggregate_metrics(aggregation, filters)
        assert_same(raw, rolled, 1e-9)
        assert_same(raw, auto, 1e-9)
    percentile = {"type": "percentile", "percentile": 0.9, **shape}
    raw = storage.aggregate_metrics({**percentile, "source": "raw"}, filters)
    rolled = storage.aggregate_metrics({**percentile, "source": "rollup"}, filters)
    largest = max((abs(r["value"]) for r in data), default=0.0)
    assert len(raw) == len(rolled)
    for exact, answer in zip(raw, rolled, strict=True):
        assert (exact.name, exact.timestamp, exact.group, exact.count) == (
            answer.name,
            answer.timestamp,
            answer.group,
            answer.count,
        )
        # Within 1 % of the larger magnitude of the neighbouring ranks (bounded by the data).
        assert abs(answer.value - exact.value) <= 0.01 * largest + 1e-9


def test_percentile_within_one_percent(storage: MetricsStorage) -> None:
    rng = random.Random(7)
    data = [
        {
            "id": f"p{i}",
            "timestamp": START + timedelta(seconds=rng.randrange(2 * 86_400)),
            "name": "latency",
            "value": rng.lognormvariate(3, 2),
            "labels": {"route": rng.choice(["/a", "/b"])},
        }
        for i in range(2_000)
    ]
    storage.batch_record_metrics(data)
    storage.rollup(until=END, policy=LEVELS)
    for fraction in (0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0):
        for interval in ("1h", "1d", None):
            aggregation = {
                "type": "percentile",
                "percentile": fraction,
                "interval": interval,
                "group_by": ["route"],
            }
            filters = {"start_time": START, "end_time": START + 2 * DAY - timedelta(microseconds=1)}
            raw = storage.aggregate_metrics({**aggregation, "source": "raw"}, filters)
            rolled = storage.aggregate_metrics({**aggregation, "source": "rollup"}, filters)
            assert len(raw) == len(rolled) > 0
            for exact, answer in zip(raw, rolled, strict=True):
                assert abs(answer.value - exact.value) <= 0.01 * abs(exact.value) + 1e-12


def test_last_from_rollups_breaks_ties_by_the_greatest_id_within_each_series(
    storage: MetricsStorage,
) -> None:
    hourly = RetentionPolicy(raw=None, rollups=[RollupLevel(interval="1h")], traces=None)
    latest = START + timedelta(minutes=50)
    point = {"name": "m", "timestamp": latest, "labels": {"route": "/x"}}
    storage.batch_record_metrics(
        [
            # One series' latest instant holds three points: "p2" is the greatest id.
            {**point, "id": "p2", "value": 2.0},
            {**point, "id": "p10", "value": 10.0},
            {**point, "id": "p1", "value": 1.0},
            {**point, "id": "p0", "timestamp": START, "value": 5.0},
            # Other series at the same instant, with greater ids, must not take part.
            {**point, "id": "p9", "labels": {"route": "/y"}, "value": 9.0},
            {**point, "id": "p8", "service_name": "api", "value": 8.0},
            {**point, "id": "p7", "labels": {}, "value": 7.0},
        ]
    )
    storage.rollup(until=START + HOUR, policy=hourly)
    query = {"type": "last", "interval": "1h", "group_by": ["route", "service_name"]}

    def answers(source: str) -> list[tuple[dict[str, Any], float]]:
        found = storage.aggregate_metrics({**query, "source": source})
        return [(p.group, p.value) for p in found]

    expected = [
        ({"route": None, "service_name": None}, 7.0),
        ({"route": "/x", "service_name": None}, 2.0),
        ({"route": "/x", "service_name": "api"}, 8.0),
        ({"route": "/y", "service_name": None}, 9.0),
    ]
    assert answers("raw") == expected
    assert answers("rollup") == expected


def test_late_points_are_counted_when_their_bucket_is_recomputed(storage: MetricsStorage) -> None:
    hourly = RetentionPolicy(raw=None, rollups=[RollupLevel(interval="1h")], traces=None)
    storage.batch_record_metrics(
        [
            {"id": f"p{i}", "timestamp": START + i * HOUR, "name": "m", "value": 1.0}
            for i in range(6)
        ]
    )
    storage.rollup(until=START + 6 * HOUR, policy=hourly)
    query = {"type": "count", "interval": "1h", "source": "rollup"}

    def counts() -> list[int]:
        return [p.count for p in storage.aggregate_metrics(query)]

    assert counts() == [1] * 6
    # Late into the last complete bucket: the next rollup recomputes it.
    storage.batch_record_metrics(
        [
            {
                "id": "late1",
                "timestamp": START + 5 * HOUR + timedelta(minutes=5),
                "name": "m",
                "value": 1.0,
            }
        ]
    )
    storage.rollup(until=START + 6 * HOUR, policy=hourly)
    assert counts() == [1, 1, 1, 1, 1, 2]
    # Late into an older bucket: counted once recomputed from an earlier time.
    storage.batch_record_metrics(
        [{"id": "late2", "timestamp": START + timedelta(minutes=30), "name": "m", "value": 1.0}]
    )
    storage.rollup(until=START + 6 * HOUR, policy=hourly)
    assert counts() == [1, 1, 1, 1, 1, 2]
    storage.rollup(until=START + 6 * HOUR, policy=hourly, since=START)
    assert counts() == [2, 1, 1, 1, 1, 2]
    # rollup() is idempotent.
    assert storage.rollup(until=START + 6 * HOUR, policy=hourly, since=START) == 6
    assert counts() == [2, 1, 1, 1, 1, 2]


def test_auto_reads_rollups_below_the_watermark_and_raw_points_after(
    storage: MetricsStorage,
) -> None:
    hourly = RetentionPolicy(raw=None, rollups=[RollupLevel(interval="1h")], traces=None)
    storage.batch_record_metrics(
        [
            {"id": f"p{i}", "timestamp": START + i * HOUR, "name": "m", "value": 1.0}
            for i in range(6)
        ]
    )
    storage.rollup(until=START + 3 * HOUR, policy=hourly)
    # A point that only raw reads see: it arrived after its bucket was rolled up.
    storage.batch_record_metrics(
        [{"id": "late", "timestamp": START + timedelta(minutes=1), "name": "m", "value": 1.0}]
    )
    auto = storage.aggregate_metrics({"type": "count", "interval": "1h"})
    assert [(p.timestamp, p.count) for p in auto] == [
        (START + i * HOUR, 1) for i in range(6)
    ]  # hours 0-2 from rollups, 3-5 from raw points
    raw = storage.aggregate_metrics({"type": "count", "interval": "1h", "source": "raw"})
    assert raw[0].count == 2


def test_forced_sources_that_cannot_answer_raise(storage: MetricsStorage) -> None:
    storage.batch_record_metrics([{"id": "p", "timestamp": START, "name": "m", "value": 1.0}])
    with pytest.raises(InvalidArgumentError):  # nothing rolled up yet
        storage.aggregate_metrics({"type": "sum", "interval": "1h", "source": "rollup"})
    storage.rollup(until=END, policy=LEVELS)
    with pytest.raises(InvalidArgumentError):  # no level divides 5 minutes
        storage.aggregate_metrics({"type": "sum", "interval": "5m", "source": "rollup"})
    with pytest.raises(InvalidArgumentError):  # rollups know no trace ids
        storage.aggregate_metrics({"type": "sum", "source": "rollup"}, {"trace_id": "t"})
    with pytest.raises(InvalidArgumentError):  # a bound inside an hour
        storage.aggregate_metrics(
            {"type": "sum", "interval": "1h", "source": "rollup"},
            {"start_time": START + timedelta(minutes=5)},
        )
    # auto falls back to raw points for all of these.
    assert storage.aggregate_metrics({"type": "sum", "interval": "5m"})[0].value == 1.0
    assert storage.aggregate_metrics({"type": "sum"}, {"trace_id": "t"}) == []


def test_list_metrics_returns_raw_points_only(storage: MetricsStorage) -> None:
    storage.batch_record_metrics([{"id": "p", "timestamp": START, "name": "m", "value": 1.0}])
    storage.rollup(until=END, policy=LEVELS)
    assert [r.id for r in storage.list_metrics().data] == ["p"]
    assert storage.count_metrics() == 1


def test_deleted_points_leave_the_rollups(storage: MetricsStorage) -> None:
    """delete_metrics recomputes the rolled-up buckets its points were in: no read from
    rollups answers with a deleted point, at any level."""
    storage.batch_record_metrics(
        [
            {
                "id": f"p{i}",
                "timestamp": START + i * HOUR / 2,
                "name": "m" if i % 3 else "gone",
                "value": float(i),
                "labels": {"route": "/a" if i % 2 else "/b"},
            }
            for i in range(4 * 48)
        ]
    )
    storage.rollup(until=END, policy=LEVELS)
    doomed = {"labels": {"route": "/b"}, "start_time": START + DAY, "end_time": START + 2 * DAY}
    assert storage.delete_metrics(doomed) > 0
    assert storage.delete_metrics({"name": "gone"}) > 0
    for kind in KINDS:
        for interval in ("1h", "1d", None):
            aggregation = {"type": kind, "interval": interval, "group_by": ["route"]}
            raw = storage.aggregate_metrics({**aggregation, "source": "raw"})
            rolled = storage.aggregate_metrics({**aggregation, "source": "rollup"})
            assert_same(raw, rolled, 1e-9)
    names = storage.aggregate_metrics({"type": "count", "source": "rollup", "interval": "1d"})
    assert {p.name for p in names} == {"m"}


def test_a_derived_level_counts_late_points_of_its_finer_buckets(storage: MetricsStorage) -> None:
    """A late point in an hour older than the 1 h watermark, but in the day the 1 d level
    recomputes, is counted by both levels (the 1 h level recomputes the days the 1 d level
    does: SQL backends derive the 1 d rows from the 1 h rows)."""
    storage.batch_record_metrics(
        [
            {"id": f"p{i}", "timestamp": START + i * HOUR, "name": "m", "value": 1.0}
            for i in range(54)
        ]
    )
    storage.rollup(until=START + 54 * HOUR, policy=LEVELS)
    storage.batch_record_metrics(
        [{"id": "late", "timestamp": START + DAY + HOUR, "name": "m", "value": 5.0}]
    )
    storage.rollup(until=START + 54 * HOUR, policy=LEVELS)
    days = {"end_time": START + 2 * DAY - timedelta(microseconds=1)}
    for interval in ("1h", "1d"):
        query = {"type": "sum", "interval": interval}
        raw = storage.aggregate_metrics({**query, "source": "raw"}, days)
        assert storage.aggregate_metrics({**query, "source": "rollup"}, days) == raw
