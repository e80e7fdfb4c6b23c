"""Aggregation(order=..., limit=...): the top groups per metric name by their value over the
whole range, each with all of its buckets, on every backend (raw points and rollups)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from obsstore import Aggregation, InvalidArgumentError, MetricsStorage, RetentionPolicy, RollupLevel
from tests.contract.helpers import T0, point

START = T0.replace(hour=0)
# Per route, the values of two hours: /a totals 10, /b 30, /c 20, /d 30 (ties with /b), and
# points without a route total 5.
HOURLY = {"/a": [4, 6], "/b": [10, 20], "/c": [20, 0], "/d": [15, 15], None: [5, 0]}


@pytest.fixture
def routes(storage: MetricsStorage) -> MetricsStorage:
    records = []
    for route, values in HOURLY.items():
        for hour, value in enumerate(values):
            labels = {} if route is None else {"route": route}
            records.append(
                point(
                    f"{route}-{hour}",
                    at=START + timedelta(hours=hour, minutes=5),
                    value=float(value),
                    labels=labels,
                )
            )
            records.append(point(f"o{route}-{hour}", at=START, name="other", labels=labels))
    storage.batch_record_metrics(records)
    return storage


def top(storage: MetricsStorage, **aggregation: Any) -> list[tuple[Any, ...]]:
    aggregation.setdefault("type", "sum")
    aggregation.setdefault("group_by", ["route"])
    points = storage.aggregate_metrics(aggregation, {"name": "http.server.duration"})
    return [
        (p.group["route"], p.timestamp and int((p.timestamp - START) / timedelta(hours=1)), p.value)
        for p in points
    ]


def test_top_groups_by_value_with_every_bucket(routes: MetricsStorage) -> None:
    # Ties (/b and /d both 30) go to the group first in key order.
    assert top(routes, order="value_desc", limit=3, interval="1h") == [
        ("/b", 0, 10.0),
        ("/b", 1, 20.0),
        ("/d", 0, 15.0),
        ("/d", 1, 15.0),
        ("/c", 0, 20.0),
        ("/c", 1, 0.0),
    ]
    assert top(routes, order="value_asc", limit=2) == [(None, None, 5.0), ("/a", None, 10.0)]


def test_order_without_limit_ranks_every_group(routes: MetricsStorage) -> None:
    assert [route for route, _, _ in top(routes, order="value_desc")] == [
        "/b", "/d", "/c", "/a", None,
    ]  # fmt: skip
    assert [route for route, _, _ in top(routes, order="value_asc")] == [
        None, "/a", "/c", "/b", "/d",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("avg", ["/b", "/d", "/c"]),  # 15, 15, 10
        ("max", ["/b", "/c", "/d"]),  # 20, 20, 15
        ("min", ["/d", "/b", "/a"]),  # 15, 10, 4
        ("count", [None, "/a", "/b"]),  # all 2: key order
        ("percentile", ["/b", "/d", "/c"]),
    ],
)
def test_every_aggregation_ranks(routes: MetricsStorage, kind: str, expected: list[Any]) -> None:
    extra = {"percentile": 0.5} if kind == "percentile" else {}
    got = top(routes, type=kind, order="value_desc", limit=3, **extra)
    assert [route for route, _, _ in got] == expected


def test_limit_applies_per_metric_name(routes: MetricsStorage) -> None:
    points = routes.aggregate_metrics(
        {"type": "count", "group_by": ["route"], "order": "value_desc", "limit": 2}
    )
    assert [(p.name, p.group["route"]) for p in points] == [
        ("http.server.duration", None),
        ("http.server.duration", "/a"),
        ("other", None),
        ("other", "/a"),
    ]


def test_limit_needs_a_value_order() -> None:
    from obsstore import Aggregation

    with pytest.raises(ValidationError, match="limit"):
        Aggregation(type="sum", limit=3)
    with pytest.raises(ValidationError, match="limit"):
        Aggregation(type="sum", order="value_desc", limit=0)


def test_rollups_rank_as_raw_points_do(routes: MetricsStorage) -> None:
    policy = RetentionPolicy(raw=None, rollups=[RollupLevel(interval="1h")], traces=None)
    routes.rollup(until=START + timedelta(days=1), policy=policy)
    window = {
        "start_time": START,
        "end_time": START + timedelta(hours=2) - timedelta(microseconds=1),
    }
    for kind in ("sum", "avg", "count", "min", "max", "last"):
        asked = {"type": kind, "group_by": ["route"], "order": "value_desc", "limit": 3}
        raw = routes.aggregate_metrics({**asked, "source": "raw", "interval": "1h"}, window)
        rolled = routes.aggregate_metrics({**asked, "source": "rollup", "interval": "1h"}, window)
        assert [(p.group, p.timestamp, p.value) for p in rolled] == [
            (p.group, p.timestamp, p.value) for p in raw
        ]
    percentile = {"type": "percentile", "percentile": 0.5, "order": "value_desc", "limit": 2}
    with pytest.raises(InvalidArgumentError, match="order"):
        routes.aggregate_metrics({**percentile, "source": "rollup"}, window)
    # "auto" answers a ranked percentile from raw points while they are all there.
    auto = routes.aggregate_metrics({**percentile, "group_by": ["route"]}, window)
    raw = routes.aggregate_metrics({**percentile, "group_by": ["route"], "source": "raw"}, window)
    assert auto == raw


def test_histograms_have_no_order_by_value() -> None:
    with pytest.raises(ValidationError, match="histogram"):
        Aggregation(type="histogram", order="value_desc", limit=3)
