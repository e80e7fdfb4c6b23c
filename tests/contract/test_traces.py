"""Spans and traces: create, update, fetch, list, filter and delete on every backend."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from obsstore import (
    NotFoundError,
    ObservabilityStorage,
    SpanRecord,
    SpanUpdate,
    TraceFilters,
    TraceOrderBy,
    TraceStatus,
    ValidationError,
)

UTC = timezone.utc
T0 = datetime(2024, 6, 1, 9, 0, 0, tzinfo=UTC)


def span(
    trace: str, span_id: str, parent: str | None = None, *, at: float = 0, **fields: Any
) -> SpanRecord:
    fields.setdefault("name", f"{trace}/{span_id}")
    fields.setdefault("span_type", "tool_call" if parent else "agent_run")
    return SpanRecord(
        trace_id=trace,
        span_id=span_id,
        parent_span_id=parent,
        started_at=T0 + timedelta(seconds=at),
        **fields,
    )


def summary_ids(storage: ObservabilityStorage, **arguments: Any) -> list[str]:
    return [t.trace_id for t in storage.list_traces(**arguments).data]


RICH = {
    "input": {"messages": [{"role": "user", "content": "héllo 😀"}], "n": 3, "t": 0.25},
    "output": ["a", 1, 2.5, None, True, {"nested": {"deep": [1, [2, [3]]]}}],
    "metadata": {
        "model": "large",
        "temperature": 0.7,
        "cached": True,
        "attempt": 5,
        "big": 2**63 - 1,
        "small": -(2**63),
        "none": None,
    },
    "attributes": {"http.method": "GET", "z": 1, "a": 2},
    "scope": {"name": "obsstore-tests", "version": "1.0"},
    "tags": ["prod", "agent", "ünïcode"],
    "entity_type": "agent",
    "entity_id": "agent-7",
    "entity_name": "Planner",
    "user_id": "u1",
    "organization_id": "o1",
    "resource_id": "r1",
    "run_id": "run-1",
    "session_id": "s1",
    "thread_id": "th1",
    "request_id": "req-1",
    "environment": "prod",
    "service_name": "agents",
    "source": "sdk",
}


def test_create_update_and_read_back(storage: ObservabilityStorage) -> None:
    root = span("t1", "root", at=0, **RICH)
    child = span("t1", "child", "root", at=1, is_event=True)
    assert storage.batch_create_spans([root, child]) == 2
    stored = storage.get_span("t1", "root")
    assert stored is not None
    assert stored.model_dump(exclude={"created_at", "updated_at"}) == root.model_dump(
        exclude={"created_at", "updated_at"}
    )
    assert stored.status is TraceStatus.RUNNING
    assert stored.created_at is not None and stored.created_at.tzinfo is not None
    assert stored.updated_at == stored.created_at

    ended = T0 + timedelta(seconds=5, microseconds=123)
    assert (
        storage.batch_update_spans(
            [SpanUpdate(trace_id="t1", span_id="root", ended_at=ended, output={"answer": 42})]
        )
        == 1
    )
    updated = storage.get_span("t1", "root")
    assert updated is not None
    assert updated.ended_at == ended and updated.output == {"answer": 42}
    assert updated.input == RICH["input"] and updated.tags == RICH["tags"]  # untouched
    assert updated.status is TraceStatus.SUCCESS
    assert updated.created_at == stored.created_at
    assert updated.updated_at is not None and stored.updated_at is not None
    assert updated.updated_at >= stored.updated_at

    trace = storage.get_trace("t1")
    assert trace is not None and trace.trace_id == "t1"
    assert [s.span_id for s in trace.spans] == ["root", "child"]
    assert trace.spans[1].is_event is True
    root_span = storage.get_root_span("t1")
    assert root_span is not None and root_span.span_id == "root"


def test_missing_things_are_none(storage: ObservabilityStorage) -> None:
    assert storage.get_span("nope", "nope") is None
    assert storage.get_trace("nope") is None
    assert storage.get_root_span("nope") is None
    storage.batch_create_spans([span("t", "child-only", "elsewhere")])
    assert storage.get_root_span("t") is None


def test_trace_spans_are_ordered_by_start_then_span_id(storage: ObservabilityStorage) -> None:
    storage.batch_create_spans(
        [
            span("t", "c", "a", at=2),
            span("t", "b", "a", at=1),
            span("t", "a", at=0),
            span("t", "B", "a", at=1),
        ]
    )
    trace = storage.get_trace("t")
    assert trace is not None and [s.span_id for s in trace.spans] == ["a", "B", "b", "c"]


def test_json_fields_round_trip(storage: ObservabilityStorage) -> None:
    odd = {
        "nul\x00key": "nul\x00value",
        "text": 'line\nbreak\ttab \\ "quoted"',
        "e": 1e-300,
        "f": 1.7976931348623157e308,
        "neg": -0.5,
        "list": [],
        "obj": {},
        "lone": "\ud800",
    }
    storage.batch_create_spans([span("t", "s", input=odd, error={"message": "boom\x00"})])
    stored = storage.get_span("t", "s")
    assert stored is not None
    assert stored.input == {
        "nul\ufffdkey": "nul\ufffdvalue",
        "text": odd["text"],
        "e": 1e-300,
        "f": 1.7976931348623157e308,
        "neg": -0.5,
        "list": [],
        "obj": {},
        "lone": "\ufffd",
    }
    assert stored.error == {"message": "boom\ufffd"} and stored.status is TraceStatus.ERROR


@pytest.mark.parametrize("error", [{"message": "x"}, "plain text", 0, False, [], {}])
def test_any_error_value_means_failure(storage: ObservabilityStorage, error: Any) -> None:
    storage.batch_create_spans([span("t", "s", error=error, ended_at=T0 + timedelta(1))])
    stored = storage.get_span("t", "s")
    assert stored is not None and stored.error == error and stored.status is TraceStatus.ERROR
    assert summary_ids(storage, filters={"status": "error"}) == ["t"]


def test_retried_creates_never_duplicate(storage: ObservabilityStorage) -> None:
    first = [span("t", "a", output="first"), span("t", "b", "a")]
    assert storage.batch_create_spans(first) == 2
    assert storage.batch_create_spans([span("t", "a", output="second"), span("t", "c", "a")]) == 1
    assert storage.batch_create_spans([span("u", "x", output=1), span("u", "x", output=2)]) == 1
    a, x = storage.get_span("t", "a"), storage.get_span("u", "x")
    assert a is not None and a.output == "first"
    assert x is not None and x.output == 1
    trace = storage.get_trace("t")
    assert trace is not None and len(trace.spans) == 3


def test_failed_updates_apply_nothing(storage: ObservabilityStorage) -> None:
    storage.batch_create_spans([span("t", "a"), span("t", "b", "a")])
    with pytest.raises(NotFoundError) as info:
        storage.batch_update_spans(
            [
                SpanUpdate(trace_id="t", span_id="a", output="changed"),
                SpanUpdate(trace_id="t", span_id="missing", output="x"),
                SpanUpdate(trace_id="gone", span_id="a", output="x"),
            ]
        )
    assert info.value.missing == [("gone", "a"), ("t", "missing")]
    assert "missing" in str(info.value)
    with pytest.raises(ValidationError):
        storage.batch_update_spans(
            [
                SpanUpdate(trace_id="t", span_id="a", output="changed"),
                SpanUpdate(trace_id="t", span_id="b", ended_at=T0 - timedelta(seconds=1)),
            ]
        )
    a = storage.get_span("t", "a")
    assert a is not None and a.output is None and a.updated_at == a.created_at


def test_updates_apply_in_order_and_can_clear_fields(storage: ObservabilityStorage) -> None:
    storage.batch_create_spans([span("t", "a", error={"e": 1}, tags=["x"])])
    assert (
        storage.batch_update_spans(
            [
                {"trace_id": "t", "span_id": "a", "output": 1},
                {"trace_id": "t", "span_id": "a", "output": 2, "error": None},
                {"trace_id": "t", "span_id": "a", "ended_at": T0 + timedelta(seconds=3)},
            ]
        )
        == 1
    )
    a = storage.get_span("t", "a")
    assert a is not None
    assert (a.output, a.error, a.tags, a.status) == (2, None, ["x"], TraceStatus.SUCCESS)


@pytest.fixture
def traces(storage: ObservabilityStorage) -> ObservabilityStorage:
    end = T0 + timedelta(minutes=10)
    storage.batch_create_spans(
        [
            # ok: root and child succeed
            span(
                "ok",
                "r",
                at=0,
                ended_at=end,
                tags=["prod", "a"],
                metadata={"model": "large", "attempt": 5, "cached": True},
                user_id="u1",
            ),
            span("ok", "c", "r", at=1, ended_at=end),
            # child-failed: root succeeds, a child fails
            span(
                "child-failed",
                "r",
                at=10,
                ended_at=end + timedelta(1),
                tags=["prod"],
                metadata={"model": "small", "attempt": "5", "cached": 1},
                user_id="u2",
            ),
            span("child-failed", "c", "r", at=11, error={"message": "tool failed"}),
            # root-failed
            span(
                "root-failed",
                "r",
                at=20,
                error="boom",
                ended_at=end,
                tags=["dev", "a"],
                metadata={"attempt": 5.0, "temperature": None},
            ),
            # running: root not ended
            span("running", "r", at=30, tags=["prod", "a"], metadata={"attempt": 6}),
            # another running trace whose root span id ties with "running"
            span("running-2", "r", at=30, metadata={"cached": False}),
        ]
    )
    return storage


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["running-2", "running", "root-failed", "child-failed", "ok"]),
        ({"status": "success"}, ["child-failed", "ok"]),
        ({"status": "error"}, ["root-failed"]),
        ({"status": "running"}, ["running-2", "running"]),
        ({"has_child_error": True}, ["child-failed"]),
        ({"has_child_error": False}, ["running-2", "running", "root-failed", "ok"]),
        ({"tags": ["prod"]}, ["running", "child-failed", "ok"]),
        ({"tags": ["prod", "a"]}, ["running", "ok"]),
        ({"tags": ["missing"]}, []),
        ({"metadata": {"attempt": 5}}, ["root-failed", "ok"]),
        ({"metadata": {"attempt": "5"}}, ["child-failed"]),
        ({"metadata": {"attempt": 5.0}}, ["root-failed", "ok"]),
        ({"metadata": {"cached": True}}, ["ok"]),
        ({"metadata": {"cached": 1}}, ["child-failed"]),
        ({"metadata": {"cached": False}}, ["running-2"]),
        ({"metadata": {"temperature": None}}, ["root-failed"]),
        ({"metadata": {"model": "large", "attempt": 5}}, ["ok"]),
        ({"user_id": "u2"}, ["child-failed"]),
        ({"trace_id": "ok"}, ["ok"]),
        ({"name": "ok/r"}, ["ok"]),
        ({"span_type": "agent_run"}, ["running-2", "running", "root-failed", "child-failed", "ok"]),
        (
            {"start_time": T0 + timedelta(seconds=10), "end_time": T0 + timedelta(seconds=20)},
            ["root-failed", "child-failed"],
        ),
        ({"status": "success", "tags": ["prod"], "has_child_error": False}, ["ok"]),
    ],
)
def test_list_traces_filters(
    traces: ObservabilityStorage, filters: dict[str, Any], expected: list[str]
) -> None:
    page = traces.list_traces(filters=TraceFilters(**filters))
    assert [t.trace_id for t in page.data] == expected
    assert page.total == len(expected)
    assert all(t.parent_span_id is None for t in page.data)


def test_list_traces_reports_status_and_child_errors(traces: ObservabilityStorage) -> None:
    by_id = {t.trace_id: t for t in traces.list_traces().data}
    assert by_id["child-failed"].status is TraceStatus.SUCCESS
    assert by_id["child-failed"].has_child_error is True
    assert by_id["ok"].has_child_error is False
    assert by_id["root-failed"].status is TraceStatus.ERROR
    assert by_id["running"].status is TraceStatus.RUNNING


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (
            {"field": "started_at", "direction": "asc"},
            ["ok", "child-failed", "root-failed", "running", "running-2"],
        ),
        # Running spans first on desc, last on asc; ties on span_id then trace_id.
        (
            {"field": "ended_at", "direction": "desc"},
            ["running-2", "running", "child-failed", "root-failed", "ok"],
        ),
        (
            {"field": "ended_at", "direction": "asc"},
            ["ok", "root-failed", "child-failed", "running", "running-2"],
        ),
        # By how long the root span took; running spans (no duration yet) last either way.
        (
            {"field": "duration", "direction": "desc"},
            ["child-failed", "ok", "root-failed", "running-2", "running"],
        ),
        (
            {"field": "duration", "direction": "asc"},
            ["root-failed", "ok", "child-failed", "running", "running-2"],
        ),
    ],
)
def test_list_traces_order(
    traces: ObservabilityStorage, order: dict[str, str], expected: list[str]
) -> None:
    assert summary_ids(traces, order_by=TraceOrderBy(**order)) == expected  # type: ignore[arg-type]


def test_list_traces_pages(traces: ObservabilityStorage) -> None:
    seen: list[str] = []
    for offset in range(0, 6, 2):
        page = traces.list_traces(
            filters={"span_type": "agent_run"}, pagination={"limit": 2, "offset": offset}
        )
        assert page.total == 5 and page.has_more == (offset + 2 < 5)
        seen += [t.trace_id for t in page.data]
    assert seen == ["running-2", "running", "root-failed", "child-failed", "ok"]
    filtered = traces.list_traces(filters={"tags": ["prod"]}, pagination={"limit": 1, "offset": 1})
    assert [t.trace_id for t in filtered.data] == ["child-failed"] and filtered.total == 3


def test_delete_traces(traces: ObservabilityStorage) -> None:
    assert traces.batch_delete_traces(["ok", "child-failed", "unknown"]) == 4
    assert traces.get_trace("ok") is None and traces.get_span("child-failed", "c") is None
    assert traces.batch_delete_traces([]) == 0
    assert summary_ids(traces) == ["running-2", "running", "root-failed"]
    traces.dangerously_clear_all()
    assert traces.list_traces().total == 0


BAD_SPANS: list[dict[str, Any]] = [
    {"ended_at": T0 - timedelta(seconds=1)},
    {"parent_span_id": "s"},
    {"trace_id": ""},
    {"span_id": ""},
    {"name": ""},
    {"trace_id": "t\x00"},
    {"span_id": "s\n"},
    {"name": "n\x01"},
    {"input": {"x": float("nan")}},
    {"output": [1, float("inf")]},
    {"metadata": {"deep": {"x": float("-inf")}}},
    {"metadata": ["not", "an", "object"]},
    {"attributes": "text"},
    {"input": {"n": 2**64}},
    {"input": {1: "non-string key"}},
    {"input": {"when": datetime(2024, 1, 1)}},
    {"tags": ["ok", "bad\x00"]},
    {"tags": "prod"},
    {"status": "success", "unknown": 1},
]


@pytest.mark.parametrize("change", BAD_SPANS, ids=[str(c)[:50] for c in BAD_SPANS])
def test_bad_spans_are_rejected_before_writing(
    storage: ObservabilityStorage, change: dict[str, Any]
) -> None:
    good = {"trace_id": "ok", "span_id": "ok", "name": "ok", "started_at": T0}
    bad = {"trace_id": "t", "span_id": "s", "name": "n", "started_at": T0, **change}
    with pytest.raises(ValidationError):
        storage.batch_create_spans([good, bad])
    assert storage.get_span("ok", "ok") is None


def test_read_spans_can_be_written_again(storage: ObservabilityStorage) -> None:
    storage.batch_create_spans([span("t", "s", error="x", tags=["a"])])
    stored = storage.get_span("t", "s")
    assert stored is not None
    storage.dangerously_clear_all()
    assert storage.batch_create_spans([stored.model_dump()]) == 1


def test_tracing_strategy_is_data(storage: ObservabilityStorage) -> None:
    strategy = storage.capabilities.tracing_strategy
    assert strategy.preferred in strategy.supported
    assert {"realtime", "batch-with-updates", "insert-only"} == set(strategy.supported)


def test_updates_touch_only_the_spans_and_fields_they_name(storage: ObservabilityStorage) -> None:
    # Span ids repeat across traces, and a batch spans several key lookups.
    storage.batch_create_spans(
        span(trace, f"s{i}", None if i == 0 else "s0", at=i, input={"i": i}, tags=[trace])
        for trace in ("a", "b", "c")
        for i in range(1500)
    )
    updates = [
        SpanUpdate(trace_id=trace, span_id=f"s{i}", output=i)
        for trace in ("a", "b")
        for i in range(0, 1500, 2)
    ]
    updates.append(SpanUpdate(trace_id="a", span_id="s1", tags=["changed"], error="e"))
    assert storage.batch_update_spans(updates) == 1501
    for trace in ("a", "b", "c"):
        got = storage.get_trace(trace)
        assert got is not None
        for i, stored in enumerate(got.spans):
            named = trace != "c" and i % 2 == 0
            assert stored.output == (i if named else None)
            assert stored.input == {"i": i}
            touched = named or (trace, i) == ("a", 1)
            assert (stored.updated_at != stored.created_at) == touched
            assert stored.tags == (["changed"] if (trace, i) == ("a", 1) else [trace])
            assert stored.error == ("e" if (trace, i) == ("a", 1) else None)
    missing = [SpanUpdate(trace_id="c", span_id=f"s{i}", output="x") for i in range(3000)]
    with pytest.raises(NotFoundError) as info:
        storage.batch_update_spans(missing)
    assert info.value.missing == sorted(("c", f"s{i}") for i in range(1500, 3000))
    c = storage.get_trace("c")
    assert c is not None and all(s.output is None for s in c.spans)
