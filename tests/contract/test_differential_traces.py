"""Random span workloads on every backend and on the plain reference model: same answers.

Creates (with repeated keys), updates (some naming missing spans, some invalid), list_traces
with random filters, orders and pages, and trace fetches, compared field by field (the
write times created_at and updated_at are the backends' own and are left out)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsstore import NotFoundError, ObservabilityStorage, ValidationError
from tests.contract.test_traces import T0

TRACES = ["t1", "t2", "T1"]
SPANS = ["a", "b", "B"]
TAGS = ["prod", "dev", "a", "é"]
WRITE_TIMES = {"created_at", "updated_at"}

# Two fixed moments, drawn often, make equal start times (ties on span_id, then trace_id) and
# filter bounds exactly on a root's start common.
moments = st.one_of(
    st.sampled_from([T0, T0 + timedelta(seconds=60)]),
    st.integers(0, 600).map(lambda s: T0 + timedelta(seconds=s)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, 2.5, -1.0]),
    st.sampled_from(["", "1", "x", "X"]),
)
METADATA_KEYS = ["k", "n", 'q"k', "a.b"]
# Equal-looking values of different JSON types, drawn often, so that metadata filters match
# some roots and the typed rule shows: 1 matches 1.0, never True or "1".
LOOKALIKES = [None, True, 1, 1.0, "1"]
metadata = st.dictionaries(
    st.sampled_from(METADATA_KEYS), st.one_of(st.sampled_from(LOOKALIKES), scalars), max_size=3
)
metadata_filters = st.dictionaries(
    st.sampled_from(METADATA_KEYS), st.sampled_from(LOOKALIKES), max_size=1
)


@st.composite
def spans(draw: st.DrawFn) -> dict[str, Any]:
    span_id = draw(st.sampled_from(SPANS))
    parent = draw(st.sampled_from([None, None, None, *[s for s in SPANS if s != span_id]]))
    start = draw(moments)
    record: dict[str, Any] = {
        "trace_id": draw(st.sampled_from(TRACES)),
        "span_id": span_id,
        "parent_span_id": parent,
        "name": draw(st.sampled_from(["run", "step", "Run"])),
        "span_type": draw(st.sampled_from(["agent_run", "tool_call"])),
        "started_at": start,
        "error": draw(st.sampled_from([None, None, {"message": "x"}, "boom"])),
        "tags": draw(st.one_of(st.none(), st.lists(st.sampled_from(TAGS), max_size=3))),
        "metadata": draw(st.one_of(st.none(), metadata)),
        "user_id": draw(st.sampled_from([None, "u1", "u2"])),
        "output": draw(st.one_of(st.none(), scalars, st.lists(scalars, max_size=2))),
    }
    if draw(st.booleans()):
        record["ended_at"] = start + timedelta(seconds=draw(st.integers(0, 300)))
    return record


@st.composite
def updates(draw: st.DrawFn) -> dict[str, Any]:
    update: dict[str, Any] = {
        "trace_id": draw(st.sampled_from(TRACES)),
        "span_id": draw(st.sampled_from(SPANS)),
    }
    if draw(st.booleans()):
        update["ended_at"] = draw(st.one_of(st.none(), moments))
    if draw(st.booleans()):
        update["error"] = draw(st.sampled_from([None, {"message": "late"}]))
    if draw(st.booleans()):
        update["metadata"] = draw(metadata)
    if draw(st.booleans()):
        update["tags"] = draw(st.lists(st.sampled_from(TAGS), max_size=2))
    return update


@st.composite
def trace_filters(draw: st.DrawFn) -> dict[str, Any]:
    # At most two filters at once: more rarely leave any trace to compare.
    kinds = draw(st.lists(st.integers(0, 6), max_size=2, unique=True))
    chosen: dict[str, Any] = {}
    if 0 in kinds:
        chosen["status"] = draw(st.sampled_from(["success", "error", "running"]))
    if 1 in kinds:
        chosen["has_child_error"] = draw(st.booleans())
    if 2 in kinds:
        chosen["tags"] = draw(st.lists(st.sampled_from(TAGS), max_size=2))
    if 3 in kinds:
        chosen["metadata"] = draw(metadata_filters)
    if 4 in kinds:
        chosen["name"] = draw(st.sampled_from(["run", "step"]))
    if 5 in kinds:
        start, end = sorted([draw(moments), draw(moments)])
        chosen.update(start_time=start, end_time=end)
    if 6 in kinds:
        chosen["user_id"] = "u1"
    return chosen


operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.lists(spans(), max_size=8)),
        st.tuples(st.just("update"), st.lists(updates(), min_size=1, max_size=3)),
        st.tuples(
            st.just("list"),
            trace_filters(),
            st.fixed_dictionaries(
                {"limit": st.integers(1, 6), "offset": st.sampled_from([0, 0, 0, 1, 2, 5])}
            ),
            st.fixed_dictionaries(
                {
                    "field": st.sampled_from(["started_at", "ended_at", "duration"]),
                    "direction": st.sampled_from(["asc", "desc"]),
                }
            ),
        ),
        st.tuples(st.just("trace"), st.sampled_from(TRACES)),
        st.tuples(st.just("delete"), st.lists(st.sampled_from(TRACES), max_size=2)),
    ),
    min_size=1,
    max_size=12,
)


def outcome(storage: ObservabilityStorage, operation: tuple[Any, ...]) -> Any:
    kind, *args = operation
    try:
        if kind == "create":
            return storage.batch_create_spans(args[0])
        if kind == "update":
            return storage.batch_update_spans(args[0])
        if kind == "list":
            page = storage.list_traces(filters=args[0], pagination=args[1], order_by=args[2])
            rows = [t.model_dump(exclude=WRITE_TIMES) for t in page.data]
            return (rows, page.total, page.has_more)
        if kind == "trace":
            trace = storage.get_trace(args[0])
            root = storage.get_root_span(args[0])
            return (
                None if trace is None else [s.model_dump(exclude=WRITE_TIMES) for s in trace.spans],
                None if root is None else root.span_id,
            )
        return storage.batch_delete_traces(args[0])
    except NotFoundError as exc:
        return ("not found", exc.missing)
    except ValidationError:
        return ("invalid",)


def metadata_lookups(storage: ObservabilityStorage) -> list[tuple[Any, ...]]:
    """A listing per metadata key some root holds and per look-alike value: drawn filters
    rarely match any root, and the typed comparison is where backends could differ."""
    roots = storage.list_traces(pagination={"limit": 10_000}).data
    keys = {key for root in roots if isinstance(root.metadata, dict) for key in root.metadata}
    order = {"field": "started_at", "direction": "desc"}
    return [
        ("list", {"metadata": {key: value}}, {"limit": 10}, order)
        for key in sorted(keys)
        for value in LOOKALIKES
    ]


@settings(
    max_examples=int(os.environ.get("OBSSTORE_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.lists(
        spans(), min_size=4, max_size=9, unique_by=lambda s: (s["trace_id"], s["span_id"])
    ),
    operations=operations,
)
def test_span_backends_agree_with_the_reference(
    reference_and_candidate: tuple[ObservabilityStorage, ObservabilityStorage],
    seed: list[dict[str, Any]],
    operations: list[tuple[Any, ...]],
) -> None:
    reference, candidate = reference_and_candidate
    reference.dangerously_clear_all()
    candidate.dangerously_clear_all()
    for operation in [("create", seed), *operations]:
        assert outcome(candidate, operation) == outcome(reference, operation), operation
    for operation in metadata_lookups(reference):
        assert outcome(candidate, operation) == outcome(reference, operation), operation
