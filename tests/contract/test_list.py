"""list_metrics and count_metrics: filters, ordering, pagination."""

from __future__ import annotations

from datetime import timedelta

import pytest

from obsstore import MetricFilters, MetricsStorage, OrderBy, Pagination
from tests.contract.helpers import T0, all_ids, point

WEIRD_KEYS = [
    "route",
    'quo"te',
    "it's",
    "dot.ted",
    "$dollar",
    "br[0]",
    "back\\slash",
    "sla/sh~tilde",
    "ünï😀",
    "') OR 1=1 --",
    "%_",
]


@pytest.fixture
def sample(storage: MetricsStorage) -> MetricsStorage:
    storage.batch_record_metrics(
        [
            point(
                "a",
                minutes=0,
                name="http",
                type="gauge",
                value=5,
                labels={"route": "/a"},
                service_name="api",
                environment="prod",
                organization_id="o1",
                trace_id="t1",
            ),
            point(
                "b",
                minutes=1,
                name="http",
                type="counter",
                value=3,
                labels={"route": "/b", "method": "GET"},
                service_name="api",
            ),
            point(
                "c",
                minutes=2,
                name="jobs",
                type="histogram",
                value=9,
                labels={"route": "/a", "method": "GET"},
                service_name="worker",
                environment="dev",
            ),
            point(
                "d", minutes=3, name="jobs", type="gauge", value=1, labels={}, organization_id="o2"
            ),
            point(
                "e",
                minutes=4,
                name="Jobs",
                type="gauge",
                value=7,
                labels={"route": "/A"},
                trace_id="t2",
            ),
        ]
    )
    return storage


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["a", "b", "c", "d", "e"]),
        ({"name": "http"}, ["a", "b"]),
        ({"name": ["jobs", "Jobs"]}, ["c", "d", "e"]),
        ({"name": []}, []),
        ({"name": "missing"}, []),
        ({"type": "gauge"}, ["a", "d", "e"]),
        ({"type": ["counter", "histogram"]}, ["b", "c"]),
        ({"start_time": T0 + timedelta(minutes=1)}, ["b", "c", "d", "e"]),
        ({"end_time": T0 + timedelta(minutes=1)}, ["a", "b"]),
        ({"start_time": T0 + timedelta(minutes=2), "end_time": T0 + timedelta(minutes=2)}, ["c"]),
        ({"start_time": T0 + timedelta(minutes=1, microseconds=1)}, ["c", "d", "e"]),
        ({"labels": {"route": "/a"}}, ["a", "c"]),
        ({"labels": {"route": "/a", "method": "GET"}}, ["c"]),
        ({"labels": {"route": "/A"}}, ["e"]),
        ({"labels": {"method": "POST"}}, []),
        ({"labels": {}}, ["a", "b", "c", "d", "e"]),
        ({"service_name": "api"}, ["a", "b"]),
        ({"environment": "dev"}, ["c"]),
        ({"organization_id": "o2"}, ["d"]),
        ({"trace_id": "t2"}, ["e"]),
        ({"name": "http", "labels": {"route": "/a"}, "service_name": "api"}, ["a"]),
    ],
)
def test_filters(sample: MetricsStorage, filters: dict[str, object], expected: list[str]) -> None:
    assert all_ids(sample, **filters) == expected
    assert sample.count_metrics(MetricFilters(**filters)) == len(expected)  # type: ignore[arg-type]


def test_label_keys_are_matched_literally(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(
        [point(f"k{i}", labels={key: f"v{i}"}) for i, key in enumerate(WEIRD_KEYS)]
        + [point("all", labels={key: "same" for key in WEIRD_KEYS})]
    )
    for i, key in enumerate(WEIRD_KEYS):
        assert all_ids(storage, labels={key: f"v{i}"}) == [f"k{i}"], key
        assert all_ids(storage, labels={key: "same"}) == ["all"], key
    assert storage.count_metrics() == len(WEIRD_KEYS) + 1  # nothing was dropped or injected


def test_label_values_are_matched_exactly(storage: MetricsStorage) -> None:
    values = ["x", "X", "x ", "%", "_", "x%", "'", '"', "", "ünï"]
    storage.batch_record_metrics([point(f"v{i}", labels={"k": v}) for i, v in enumerate(values)])
    for i, value in enumerate(values):
        assert all_ids(storage, labels={"k": value}) == [f"v{i}"], value


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ({}, ["e", "d", "c", "b", "a"]),
        ({"field": "timestamp", "direction": "asc"}, ["a", "b", "c", "d", "e"]),
        ({"field": "value", "direction": "asc"}, ["d", "b", "a", "e", "c"]),
        ({"field": "value", "direction": "desc"}, ["c", "e", "a", "b", "d"]),
        # Code-point order: "Jobs" < "http" < "jobs"; ties by id in the same direction.
        ({"field": "name", "direction": "asc"}, ["e", "a", "b", "c", "d"]),
        ({"field": "name", "direction": "desc"}, ["d", "c", "b", "a", "e"]),
    ],
)
def test_ordering(sample: MetricsStorage, order: dict[str, str], expected: list[str]) -> None:
    page = sample.list_metrics(order_by=OrderBy(**order))  # type: ignore[arg-type]
    assert [r.id for r in page.data] == expected


@pytest.mark.parametrize("field", ["timestamp", "name", "value"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_pages_never_overlap_or_skip(storage: MetricsStorage, field: str, direction: str) -> None:
    # Many ties on every order field: only the id tie-break keeps pages stable.
    storage.batch_record_metrics(
        [point(f"p{i:02d}", minutes=i % 3, value=i % 2, name=f"n{i % 2}") for i in range(23)]
    )
    seen: list[str] = []
    offset = 0
    while True:
        page = storage.list_metrics(
            pagination=Pagination(limit=5, offset=offset),
            order_by=OrderBy(field=field, direction=direction),  # type: ignore[arg-type]
        )
        assert page.total == 23 and page.limit == 5 and page.offset == offset
        seen.extend(r.id for r in page.data)
        assert page.has_more == (offset + 5 < 23)
        if not page.has_more:
            break
        offset += 5
    assert len(seen) == 23 and set(seen) == {f"p{i:02d}" for i in range(23)}
    whole = storage.list_metrics(
        pagination=Pagination(limit=100),
        order_by=OrderBy(field=field, direction=direction),  # type: ignore[arg-type]
    )
    assert [r.id for r in whole.data] == seen


def test_page_beyond_the_end(sample: MetricsStorage) -> None:
    page = sample.list_metrics(pagination=Pagination(limit=2, offset=10))
    assert page.data == [] and page.total == 5 and page.has_more is False


def test_page_totals_follow_filters(sample: MetricsStorage) -> None:
    page = sample.list_metrics(filters={"name": "jobs"}, pagination={"limit": 1, "offset": 1})
    assert [r.id for r in page.data] == ["c"]
    assert (page.total, page.has_more) == (2, False)
    first = sample.list_metrics(filters={"name": "jobs"}, pagination={"limit": 1})
    assert [r.id for r in first.data] == ["d"] and first.has_more is True


def test_default_pagination_is_100(storage: MetricsStorage) -> None:
    storage.batch_record_metrics([point(f"x{i:03d}", minutes=i) for i in range(150)])
    page = storage.list_metrics()
    assert len(page.data) == 100 and page.total == 150 and page.has_more
