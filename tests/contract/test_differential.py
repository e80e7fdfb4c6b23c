"""The same random workload on every backend and on the plain reference model: same answers.

Records, filters, orderings, pages, aggregations, deletes and discovery calls are drawn by hypothesis
from small vocabularies so that collisions (duplicate ids, shared labels, equal timestamps and
values) are common; every answer must equal the reference model's (``tests/reference``):
aggregate sums, averages and percentiles to within float rounding of the magnitudes they are
computed from, everything else exactly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from obsstore import InvalidArgumentError, MetricsStorage
from tests.contract.helpers import T0
from tests.reference import ReferenceStorage

NAMES = ["a", "B", "b.c", "ü", "a_"]
KEYS = ["route", "K", 'q"k', "$x", "a.b"]
LABEL_VALUES = ["/a", "/A", "/b", "", "100%"]
SERVICES = [None, "api", "Api", "worker"]
# None thrice: coarse groups hold several points, which percentile and last need to differ.
INTERVALS = [None, None, None, "1s", "7m", "1h", "1d", timedelta(seconds=90)]
GROUP_KEYS = ["route", "K", 'q"k', "service_name", "type", "environment"]

labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(LABEL_VALUES), max_size=2)
# The latest moment any point can have, drawn often: equal timestamps (ties for page order
# and for `last`, whose tie-break matters only at a group's latest point) and filter bounds
# exactly on points become common. Whole minutes spread points over buckets; microseconds
# test precision.
LATEST = T0 + timedelta(days=3)
timestamps = st.one_of(
    st.just(LATEST),
    st.integers(0, 3 * 1440).map(lambda minutes: T0 + timedelta(minutes=minutes)),
    st.integers(0, 3 * 86_400 * 10**6).map(lambda us: T0 + timedelta(microseconds=us)),
)
values = st.one_of(
    st.integers(-1000, 1000).map(float),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["counter", "gauge", "histogram"]))
    record: dict[str, Any] = {
        "id": draw(st.sampled_from([f"id{i}" for i in range(40)])),
        "timestamp": draw(timestamps),
        "name": draw(st.sampled_from(NAMES)),
        "type": kind,
        "value": draw(values),
        "labels": draw(labels),
        "service_name": draw(st.sampled_from(SERVICES)),
        "environment": draw(st.sampled_from([None, "prod", "dev"])),
        "trace_id": draw(st.sampled_from([None, "t1", "t2", ""])),
    }
    if kind == "histogram" and draw(st.booleans()):
        record["bucket_boundaries"] = [0.1, 1.0, 10.0]
        record["bucket_counts"] = draw(st.lists(st.integers(0, 2**62), min_size=4, max_size=4))
    if draw(st.booleans()):  # the OpenTelemetry fields
        record["unit"] = draw(st.sampled_from(["ms", "1", "By", ""]))
        record["start_timestamp"] = record["timestamp"] - timedelta(
            seconds=draw(st.integers(0, 60))
        )
        if kind == "histogram":
            low, high = sorted([draw(values), draw(values)])
            record.update(
                histogram_count=draw(st.integers(0, 2**62)), histogram_min=low, histogram_max=high
            )
    return record


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    # At most two filters at once: more rarely leave any point to compare.
    kinds = draw(st.lists(st.integers(0, 5), max_size=2, unique=True))
    chosen: dict[str, Any] = {}
    if 0 in kinds:
        chosen["name"] = draw(st.one_of(st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES))))
    if 1 in kinds:
        chosen["type"] = draw(st.sampled_from(["counter", "gauge", "histogram"]))
    if 2 in kinds:
        start, end = sorted([draw(timestamps), draw(timestamps)])
        chosen.update(start_time=start, end_time=end)
    if 3 in kinds:
        chosen["labels"] = draw(labels)
    if 4 in kinds:
        chosen["service_name"] = draw(st.sampled_from(SERVICES[1:]))
    if 5 in kinds:
        chosen["trace_id"] = "t1"
    return chosen


AGGREGATION_TYPES = ["sum", "avg", "min", "max", "count", "last", "percentile", "histogram"]


def one_of_each_type(
    interval: str | timedelta | None, group_by: list[str], fraction: float
) -> list[dict[str, Any]]:
    return [
        {
            "type": kind,
            "percentile": fraction if kind == "percentile" else None,
            "interval": interval,
            "group_by": group_by,
        }
        for kind in AGGREGATION_TYPES
    ]


@st.composite
def aggregations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One aggregation of every type over the same buckets, groups and points: aggregate
    queries are a small share of a workload, and one type drawn per query left some (`last`)
    almost never asked over groups with ties."""
    return one_of_each_type(
        draw(st.sampled_from(INTERVALS)),
        draw(st.lists(st.sampled_from(GROUP_KEYS), unique=True, max_size=2)),
        draw(st.floats(0, 1)),
    )


queries = st.lists(
    st.one_of(
        st.tuples(
            st.just("list"),
            filters(),
            st.fixed_dictionaries(
                {"limit": st.integers(1, 15), "offset": st.sampled_from([0, 0, 0, 1, 5, 20])}
            ),
            st.fixed_dictionaries(
                {
                    "field": st.sampled_from(["timestamp", "name", "value"]),
                    "direction": st.sampled_from(["asc", "desc"]),
                }
            ),
        ),
        st.tuples(st.just("count"), filters()),
        st.tuples(st.just("delete"), filters()),
        st.tuples(st.just("iter"), filters(), st.sampled_from([1, 3, 10_000])),
        st.tuples(st.just("aggregate"), aggregations(), filters()),
        st.tuples(
            st.just("names"),
            st.sampled_from([None, "a", "b", "B", "ü"]),
            st.sampled_from([None, 1, 3]),
        ),
        st.tuples(st.just("keys"), st.sampled_from([None, *NAMES])),
        st.tuples(
            st.just("values"),
            st.sampled_from(KEYS),
            st.sampled_from([None, *NAMES]),
            st.sampled_from([None, "/", "/a", "1"]),
            st.sampled_from([None, 2]),
        ),
    ),
    min_size=1,
    max_size=12,
)


def one_aggregation_each(queries: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The queries with each aggregate query split into one query per aggregation type."""
    split = []
    for query in queries:
        if query[0] == "aggregate":
            split.extend(("aggregate", aggregation, query[2]) for aggregation in query[1])
        else:
            split.append(query)
    return split


def answer(storage: MetricsStorage, query: tuple[Any, ...]) -> Any:
    kind, *args = query
    if kind == "list":
        page = storage.list_metrics(filters=args[0], pagination=args[1], order_by=args[2])
        return (page.data, page.total, page.has_more)
    if kind == "count":
        return storage.count_metrics(args[0])
    if kind == "delete":
        try:
            return storage.delete_metrics(args[0])
        except InvalidArgumentError:
            return "needs a filter"
    if kind == "iter":
        return list(storage.iter_metrics(args[0], batch_size=args[1]))
    if kind == "aggregate":
        return storage.aggregate_metrics(args[0], args[1])
    if kind == "names":
        return storage.list_metric_names(prefix=args[0], limit=args[1])
    if kind == "keys":
        return storage.list_label_keys(name=args[0])
    return storage.list_label_values(args[0], name=args[1], prefix=args[2], limit=args[3])


def assert_same(
    reference: ReferenceStorage, query: tuple[Any, ...], got: Any, expected: Any
) -> None:
    if query[0] != "aggregate":
        assert got == expected
        return
    assert [
        (p.name, p.timestamp, p.group, p.count, p.bucket_boundaries, p.bucket_counts) for p in got
    ] == [
        (p.name, p.timestamp, p.group, p.count, p.bucket_boundaries, p.bucket_counts)
        for p in expected
    ]
    allowed = reference.allowed_errors(query[1], query[2])
    for g, e, error in zip(got, expected, allowed, strict=True):
        assert abs(g.value - e.value) <= error, (g, e, error)


@settings(
    max_examples=int(__import__("os").environ.get("OBSSTORE_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Cancellation: backends that add in another order legitimately differ by far more than 1e-9
# of the result (the memory backend's exact sum is 4.0; the SQL backends' and the reference's
# 3.0), but not by more than 1e-9 of the sum of absolute values.
@example(
    batches=[
        [
            {"id": f"c{i}", "timestamp": T0, "name": "a", "value": value}
            for i, value in enumerate([1e16, 1.0, -1e16, 3.0])
        ]
    ],
    queries=[("aggregate", one_of_each_type(None, [], 0.5), {})],
)
# The least subnormal: PostgreSQL's percentile counts it as zero (see sqlfuncs).
@example(
    batches=[
        [
            {"id": f"s{i}", "timestamp": T0, "name": "a", "value": value}
            for i, value in enumerate([-5e-324, 0.0])
        ]
    ],
    queries=[("aggregate", one_of_each_type(None, [], 0.0), {})],
)
# Batches of at least 8 points: smaller workloads rarely put two points in one group.
@given(
    batches=st.lists(st.lists(records(), min_size=8, max_size=30), min_size=1, max_size=3),
    queries=queries,
)
def test_backends_agree_with_the_reference(
    reference_and_candidate: tuple[ReferenceStorage, MetricsStorage],
    batches: list[list[dict[str, Any]]],
    queries: list[tuple[Any, ...]],
) -> None:
    reference, candidate = reference_and_candidate
    reference.dangerously_clear_all()
    candidate.dangerously_clear_all()
    for batch in batches:
        assert candidate.batch_record_metrics(batch) == reference.batch_record_metrics(batch)
    for query in one_aggregation_each(queries):
        assert_same(reference, query, answer(candidate, query), answer(reference, query))


# --- ranked aggregates (order / limit) ---------------------------------------------------------
# Integer values and quarter fractions: every backend computes each group's value exactly, so
# rankings (which float rounding could flip between near-equal groups) must agree exactly.
integer_records = records().map(lambda record: {**record, "value": float(round(record["value"]))})


@st.composite
def ranked_aggregations(draw: st.DrawFn) -> list[dict[str, Any]]:
    order = draw(st.sampled_from(["value_desc", "value_asc"]))
    limit = draw(st.sampled_from([None, 1, 2, 3]))
    return [
        {**aggregation, "order": order, "limit": limit}
        for aggregation in one_of_each_type(
            draw(st.sampled_from(INTERVALS)),
            draw(st.lists(st.sampled_from(GROUP_KEYS), unique=True, max_size=2)),
            draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])),
        )
        if aggregation["type"] != "histogram"  # histograms have no order by value
    ]


@settings(
    max_examples=int(__import__("os").environ.get("OBSSTORE_HYPOTHESIS_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batch=st.lists(integer_records, min_size=8, max_size=40),
    queries=st.lists(
        st.tuples(st.just("aggregate"), ranked_aggregations(), filters()), min_size=1, max_size=3
    ),
)
def test_ranked_aggregates_agree_with_the_reference(
    reference_and_candidate: tuple[ReferenceStorage, MetricsStorage],
    batch: list[dict[str, Any]],
    queries: list[tuple[Any, ...]],
) -> None:
    reference, candidate = reference_and_candidate
    reference.dangerously_clear_all()
    candidate.dangerously_clear_all()
    assert candidate.batch_record_metrics(batch) == reference.batch_record_metrics(batch)
    for query in one_aggregation_each(queries):
        assert_same(reference, query, answer(candidate, query), answer(reference, query))


def assert_same_stats(got: Any, expected: Any) -> None:
    """Counts, min, max and last exactly; float statistics within rounding of the values'
    magnitudes (the values here are integers below 1e6 in magnitude, at most 40 of them)."""
    assert (got.count, got.min, got.max, got.last) == (
        expected.count,
        expected.min,
        expected.max,
        expected.last,
    )
    assert abs(got.sum - expected.sum) <= 1e-9 * 4e7
    assert abs(got.avg - expected.avg) <= 1e-9 * 4e7
    assert got.percentiles.keys() == expected.percentiles.keys()
    for fraction, value in got.percentiles.items():
        assert abs(value - expected.percentiles[fraction]) <= 1e-9 * 2e6


def assert_same_summaries(got: list[Any], expected: list[Any]) -> None:
    assert [s.name for s in got] == [s.name for s in expected]
    for g, e in zip(got, expected, strict=True):
        assert_same_stats(g, e)
        assert (g.previous is None) == (e.previous is None)
        if g.previous is not None:
            assert_same_stats(g.previous, e.previous)
        assert (g.change is None) == (e.change is None)


@settings(
    max_examples=int(__import__("os").environ.get("OBSSTORE_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batch=st.lists(integer_records, min_size=8, max_size=40),
    chosen=filters(),
    window=st.tuples(timestamps, timestamps).map(sorted),
    compare=st.sampled_from([None, "previous_period", "previous_day", "previous_week"]),
    percentiles=st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.95, 1.0]), unique=True, max_size=3),
)
def test_summaries_agree_with_the_reference(
    reference_and_candidate: tuple[ReferenceStorage, MetricsStorage],
    batch: list[dict[str, Any]],
    chosen: dict[str, Any],
    window: list[Any],
    compare: Any,
    percentiles: list[float],
) -> None:
    reference, candidate = reference_and_candidate
    reference.dangerously_clear_all()
    candidate.dangerously_clear_all()
    assert candidate.batch_record_metrics(batch) == reference.batch_record_metrics(batch)
    asked = {**chosen, "start_time": window[0], "end_time": window[1]}
    got = candidate.summarize_metrics(asked, percentiles=percentiles, compare=compare)
    expected = reference.summarize_metrics(asked, percentiles=percentiles, compare=compare)
    assert_same_summaries(got, expected)
