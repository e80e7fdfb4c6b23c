"""aggregate_metrics: every aggregation type, buckets, groups and result order."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from obsstore import AggregatePoint, Aggregation, MetricsStorage
from tests.contract.helpers import T0, UTC, point


def values(points: list[AggregatePoint]) -> list[tuple[object, ...]]:
    return [(p.name, p.timestamp, p.group, round(p.value, 9), p.count) for p in points]


@pytest.fixture
def latencies(storage: MetricsStorage) -> MetricsStorage:
    # http: 1, 2, 3, 4, 10 on two routes; jobs: 100.
    rows = [(1, "/a"), (2, "/b"), (3, "/a"), (4, "/b"), (10, "/a")]
    storage.batch_record_metrics(
        [
            point(f"h{i}", minutes=i, name="http", value=v, labels={"route": r})
            for i, (v, r) in enumerate(rows)
        ]
        + [point("j0", name="jobs", value=100.0, labels={"queue": "q"})]
    )
    return storage


@pytest.mark.parametrize(
    ("kind", "percentile", "expected_http"),
    [
        ("sum", None, 20.0),
        ("avg", None, 4.0),
        ("min", None, 1.0),
        ("max", None, 10.0),
        ("count", None, 5.0),
        ("last", None, 10.0),
        ("percentile", 0.5, 3.0),
        ("percentile", 0.0, 1.0),
        ("percentile", 1.0, 10.0),
        ("percentile", 0.95, 8.8),  # 4 + 0.8 * (10 - 4)
        ("percentile", 0.3, 2.2),  # 2 + 0.2 * (3 - 2)
    ],
)
def test_aggregation_types(
    latencies: MetricsStorage, kind: str, percentile: float | None, expected_http: float
) -> None:
    result = latencies.aggregate_metrics(Aggregation(type=kind, percentile=percentile))  # type: ignore[arg-type]
    assert [p.name for p in result] == ["http", "jobs"]
    http, jobs = result
    assert math.isclose(http.value, expected_http, rel_tol=1e-12)
    assert http.count == 5 and http.timestamp is None and http.group == {}
    assert jobs.value == (1.0 if kind == "count" else 100.0) and jobs.count == 1


def test_group_by_label_with_missing_values_first(latencies: MetricsStorage) -> None:
    result = latencies.aggregate_metrics(Aggregation(type="sum", group_by=["route"]))
    assert values(result) == [
        ("http", None, {"route": "/a"}, 14.0, 3),
        ("http", None, {"route": "/b"}, 6.0, 2),
        ("jobs", None, {"route": None}, 100.0, 1),
    ]


def test_group_by_columns_and_labels(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(
        [
            point("1", value=1, service_name="api", type="counter", labels={"m": "GET"}),
            point("2", value=2, service_name="api", type="gauge", labels={"m": "GET"}),
            point("3", value=4, service_name="web", type="counter", labels={"m": "GET"}),
            point("4", value=8, type="counter"),
        ]
    )
    result = storage.aggregate_metrics(
        Aggregation(type="sum", group_by=["service_name", "type", "m"])
    )
    assert [(p.group, p.value) for p in result] == [
        ({"service_name": None, "type": "counter", "m": None}, 8.0),
        ({"service_name": "api", "type": "counter", "m": "GET"}, 1.0),
        ({"service_name": "api", "type": "gauge", "m": "GET"}, 2.0),
        ({"service_name": "web", "type": "counter", "m": "GET"}, 4.0),
    ]


def test_buckets_are_aligned_to_the_epoch(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(
        [
            point("a", at=datetime(2024, 5, 1, 0, 59, 59, 999_999, tzinfo=UTC), value=1),
            point("b", at=datetime(2024, 5, 1, 1, 0, 0, tzinfo=UTC), value=2),
            point("c", at=datetime(2024, 5, 1, 1, 30, tzinfo=UTC), value=4),
            point("d", at=datetime(2024, 5, 1, 3, 0, 1, tzinfo=UTC), value=8),
        ]
    )
    hourly = storage.aggregate_metrics(Aggregation(type="sum", interval="1h"))
    assert [(p.timestamp, p.value, p.count) for p in hourly] == [
        (datetime(2024, 5, 1, 0, tzinfo=UTC), 1.0, 1),
        (datetime(2024, 5, 1, 1, tzinfo=UTC), 6.0, 2),
        (datetime(2024, 5, 1, 3, tzinfo=UTC), 8.0, 1),
    ]
    # 90-minute buckets start at multiples of 90 minutes since 1970-01-01T00:00Z.
    ninety = storage.aggregate_metrics(Aggregation(type="sum", interval=timedelta(minutes=90)))
    assert [(p.timestamp, p.value) for p in ninety] == [
        (datetime(2024, 5, 1, 0, 0, tzinfo=UTC), 3.0),
        (datetime(2024, 5, 1, 1, 30, tzinfo=UTC), 4.0),
        (datetime(2024, 5, 1, 3, 0, tzinfo=UTC), 8.0),
    ]
    # 7-minute buckets do not divide a day: 2024-05-01T00:00Z is minute 28,425,600 since the
    # epoch, which is 2 minutes past a multiple of 7, so buckets there start at :05, :12, ...
    seven = storage.aggregate_metrics(Aggregation(type="count", interval="7m"))
    assert [(p.timestamp, p.count) for p in seven] == [
        (datetime(2024, 5, 1, 0, 54, tzinfo=UTC), 2),
        (datetime(2024, 5, 1, 1, 29, tzinfo=UTC), 1),
        (datetime(2024, 5, 1, 3, 0, tzinfo=UTC), 1),
    ]
    # Weekly buckets start on Thursdays, like 1970-01-01.
    weekly = storage.aggregate_metrics(Aggregation(type="count", interval="1w"))
    assert [(p.timestamp, p.count) for p in weekly] == [(datetime(2024, 4, 25, tzinfo=UTC), 4)]
    assert weekly[0].timestamp is not None and weekly[0].timestamp.weekday() == 3


def test_result_order_is_name_group_then_time(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(
        [
            point("1", name="b", minutes=0, labels={"k": "a"}),
            point("2", name="b", minutes=120, labels={"k": "B"}),
            point("3", name="b", minutes=0, labels={"k": "B"}),
            point("4", name="B", minutes=0, labels={"k": "a"}),
            point("5", name="b", minutes=60),
        ]
    )
    result = storage.aggregate_metrics(Aggregation(type="count", interval="1h", group_by=["k"]))
    assert [(p.name, p.group["k"], p.timestamp) for p in result] == [
        ("B", "a", T0),
        ("b", None, T0 + timedelta(hours=1)),
        ("b", "B", T0),
        ("b", "B", T0 + timedelta(hours=2)),
        ("b", "a", T0),
    ]


def test_last_prefers_the_latest_then_the_greatest_id(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(
        [
            point("a", minutes=5, value=1.0),
            point("c", minutes=5, value=3.0),
            point("b", minutes=5, value=2.0),
            point("z", minutes=4, value=9.0),
        ]
    )
    (result,) = storage.aggregate_metrics(Aggregation(type="last"))
    assert result.value == 3.0 and result.count == 4


def test_filters_apply_to_aggregations(latencies: MetricsStorage) -> None:
    result = latencies.aggregate_metrics(
        Aggregation(type="max", group_by=["route"]),
        filters={"name": "http", "end_time": T0 + timedelta(minutes=3)},
    )
    assert values(result) == [
        ("http", None, {"route": "/a"}, 3.0, 2),
        ("http", None, {"route": "/b"}, 4.0, 2),
    ]


def test_no_points_no_aggregates(storage: MetricsStorage) -> None:
    assert storage.aggregate_metrics(Aggregation(type="avg", interval="1h")) == []


def test_group_by_weird_label_keys(storage: MetricsStorage) -> None:
    keys = ['q"k', "a.b", "$x", "b\\s", "ü"]
    storage.batch_record_metrics(
        [point(f"p{i}", labels={k: k.upper()}) for i, k in enumerate(keys)]
    )
    result = storage.aggregate_metrics(Aggregation(type="count", group_by=keys))
    assert len(result) == len(keys)
    for p in result:
        present = [k for k, v in p.group.items() if v is not None]
        assert len(present) == 1 and p.group[present[0]] == present[0].upper()


def test_points_with_different_label_sets_share_a_group(storage: MetricsStorage) -> None:
    """Grouping by one label gathers every point with that value, whatever its other labels."""
    labels = [{"route": "/a", "method": "GET"}, {"method": "POST", "route": "/a"}, {"route": "/a"}]
    storage.batch_record_metrics(
        [point(f"p{i}", value=float(i), labels=pairs) for i, pairs in enumerate(labels)]
        + [point("q", value=9.0, labels={"route": "/b", "method": "GET"})]
    )
    result = storage.aggregate_metrics(Aggregation(type="sum", group_by=["route"]))
    assert [(p.group, p.value, p.count) for p in result] == [
        ({"route": "/a"}, 3.0, 3),
        ({"route": "/b"}, 9.0, 1),
    ]


MAX = 1.7976931348623157e308


def _record_values(storage: MetricsStorage, by_name: dict[str, list[float]]) -> None:
    storage.batch_record_metrics(
        [
            point(f"{name}{i}", minutes=i, name=name, value=v)
            for name, vs in by_name.items()
            for i, v in enumerate(vs)
        ]
    )


def _by_name(storage: MetricsStorage, **aggregation: object) -> dict[str, float]:
    result = storage.aggregate_metrics(Aggregation(**aggregation))  # type: ignore[arg-type]
    return {p.name: p.value for p in result}


def test_sum_and_avg_beyond_the_float_range_are_infinite(storage: MetricsStorage) -> None:
    _record_values(
        storage,
        {
            "up": [1e308, 1e308],
            "down": [-1e308, -MAX, -1e308],
            "cancel": [-MAX, MAX],
            "large": [1e200, 3e200],  # squares overflow, sums do not
        },
    )
    sums = _by_name(storage, type="sum")
    assert sums == {"up": math.inf, "down": -math.inf, "cancel": 0.0, "large": 4e200}
    # avg is sum / count: infinite exactly where the sum is, even if the mean would fit.
    averages = _by_name(storage, type="avg")
    assert averages == {"up": math.inf, "down": -math.inf, "cancel": 0.0, "large": 2e200}


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.5, 0.0), (0.25, -5e307), (0.75, 5e307), (0.0, -1e308), (1.0, 1e308)],
)
def test_percentile_between_extremes_does_not_overflow(
    storage: MetricsStorage, fraction: float, expected: float
) -> None:
    _record_values(storage, {"wide": [1e308, -1e308], "widest": [MAX, -MAX, 0.0]})
    result = _by_name(storage, type="percentile", percentile=fraction)
    assert math.isclose(result["wide"], expected, rel_tol=1e-15)
    assert math.isclose(result["widest"], expected / 1e308 * MAX, rel_tol=1e-15)
    assert all(math.isfinite(v) for v in result.values())


def test_aggregates_of_tiny_values_do_not_underflow(storage: MetricsStorage) -> None:
    # Subnormal values: PostgreSQL raises "underflow" when a product or quotient of nonzero
    # numbers rounds to zero. Results may differ in the last subnormal place between backends.
    tiny = [5e-324, -2.2250738585072014e-308, 1e-310, 5e-324]
    _record_values(storage, {"tiny": tiny})
    expected = {
        "sum": math.fsum(tiny),
        "avg": math.fsum(tiny) / len(tiny),
        "min": min(tiny),
        "percentile": 5e-324,
    }
    for kind, value in expected.items():
        percentile = 0.5 if kind == "percentile" else None
        result = _by_name(storage, type=kind, percentile=percentile)["tiny"]
        assert math.isclose(result, value, rel_tol=1e-12, abs_tol=1e-322), (kind, result)
