"""White-box tests of the memory backend: its write hooks are all-or-nothing (that is where the
atomicity lives, whatever the public methods validate first), and its interned names and label
sets do not outlive the points that used them."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from obsstore import MetricRecord, ObsstoreError
from obsstore.storage.memory import MemoryStorage
from tests.contract.helpers import point
from tests.contract.test_atomicity import BROKEN_FOR_MEMORY, broken_record, observable_state
from tests.contract.test_traces import span


@pytest.fixture
def memory() -> Iterator[MemoryStorage]:
    with MemoryStorage() as storage:
        storage.init()
        yield storage


def internals(storage: MemoryStorage) -> dict[str, Any]:
    """Every stored column and interner, copied."""
    cols = storage._cols
    state: dict[str, Any] = {
        name: list(value) if not isinstance(value, dict) else dict(value)
        for name, value in vars(cols).items()
    }
    for name in ("_strings", "_label_sets", "_bucket_bounds"):
        interner = getattr(storage, name)
        state[name] = (list(interner.values), dict(interner.codes))
    return state


def interner_sizes(storage: MemoryStorage) -> list[int]:
    interners = (storage._strings, storage._label_sets, storage._bucket_bounds)
    return [len(interner.values) for interner in interners]


def stored_points(storage: MemoryStorage) -> list[MetricRecord]:
    return storage.list_metrics(pagination={"limit": 10_000}, order_by={"field": "name"}).data


@pytest.mark.parametrize("broken", list(BROKEN_FOR_MEMORY.values()), ids=list(BROKEN_FOR_MEMORY))
def test_failed_insert_hook_changes_nothing(memory: MemoryStorage, broken: dict[str, Any]) -> None:
    memory.batch_record_metrics(
        [
            point("old-1", labels={"region": "us"}, trace_id="t1"),
            point("old-2", type="histogram", bucket_boundaries=[1.0], bucket_counts=[1, 2]),
        ]
    )
    before, state = observable_state(memory), internals(memory)
    batch = [
        point("new-1", name="new.name", labels={"region": "new"}, service_name="new-service"),
        point(
            "new-2",
            type="histogram",
            bucket_boundaries=[5.0, 6.0],
            bucket_counts=[1, 2, 3],
            span_id="s",
        ),
        broken_record(**broken),
        point("new-3", name="other.name"),
    ]
    with pytest.raises((TypeError, ValueError, KeyError)):
        memory._insert_metrics(batch)
    assert internals(memory) == state
    assert observable_state(memory) == before
    good = [r for r in batch if r.id != "broken"]
    assert memory._insert_metrics(good) == 3
    assert {r.id: r for r in stored_points(memory)}["new-2"] == good[1]


def test_failed_span_hook_changes_nothing(memory: MemoryStorage) -> None:
    memory.batch_create_spans([span("t", "root")])
    good = span("t", "child", "root")
    # A stand-in a caller could pass that fails when the backend copies it.
    broken: Any = SimpleNamespace(trace_id="t", span_id="broken")
    with pytest.raises(AttributeError):
        memory._create_spans([good, broken])
    assert [s.span_id for s in memory.get_trace("t").spans] == ["root"]  # type: ignore[union-attr]


def test_clear_all_empties_the_interners(memory: MemoryStorage) -> None:
    empty = interner_sizes(memory)
    memory.batch_record_metrics(
        point(f"p{i}", name=f"name-{i % 7}", labels={"user": f"u{i}"}, service_name=f"s{i % 3}")
        for i in range(100_000)
    )
    assert len(memory._label_sets.values) == 100_001
    memory.dangerously_clear_all()
    assert interner_sizes(memory) == empty
    memory.batch_record_metrics([point("again", labels={"user": "u1"})])
    assert [r.id for r in memory.list_metrics(filters={"labels": {"user": "u1"}}).data] == ["again"]
    assert memory.list_label_values("user") == ["u1"]


def test_deleting_most_points_compacts_the_interners(memory: MemoryStorage) -> None:
    memory.batch_record_metrics(
        point(
            f"p{i}",
            name="kept" if i % 10 == 0 else "dropped",
            type="histogram" if i % 2 == 0 else "gauge",
            value=i,
            labels={"user": f"u{i}", "kind": f"k{i % 4}"},
            organization_id=f"org-{i}",
            bucket_boundaries=[float(i)] if i % 2 == 0 else None,
            bucket_counts=[i, i + 1] if i % 2 == 0 else None,
            trace_id=f"t{i}" if i % 20 == 0 else None,
        )
        for i in range(1000)
    )
    kept = [r for r in stored_points(memory) if r.name == "kept"]
    assert memory.delete_metrics({"name": "dropped"}) == 900
    # Only what the 100 points left use: their names, organizations, label sets, boundaries.
    assert len(memory._strings.values) == 1 + 1 + 100
    assert len(memory._label_sets.values) == 1 + 100
    assert len(memory._bucket_bounds.values) == 1 + 100
    assert stored_points(memory) == kept
    assert memory.list_metric_names() == ["kept"]
    assert memory.list_label_values("kind") == ["k0", "k2"]
    assert [r.id for r in memory.list_metrics(filters={"labels": {"user": "u40"}}).data] == ["p40"]
    assert memory.count_metrics({"organization_id": "org-990"}) == 1
    assert memory.count_metrics({"organization_id": "org-991"}) == 0
    assert memory.count_metrics({"trace_id": "t40"}) == 1
    grouped = memory.aggregate_metrics({"type": "count", "group_by": ["kind"]})
    assert [(p.group["kind"], p.value) for p in grouped] == [("k0", 50.0), ("k2", 50.0)]
    # New points intern afresh next to the renumbered ones.
    memory.batch_record_metrics([point("new", name="dropped", labels={"user": "u40"})])
    assert memory.count_metrics({"labels": {"user": "u40"}}) == 2
    assert memory.list_metric_names() == ["dropped", "kept"]


def test_deleting_a_few_points_keeps_the_interners(memory: MemoryStorage) -> None:
    memory.batch_record_metrics(point(f"p{i}", labels={"user": f"u{i}"}) for i in range(100))
    memory.delete_metrics({"labels": {"user": "u7"}})
    # One dead label set among 99 live ones is not worth renumbering every row.
    assert len(memory._label_sets.values) == 101
    assert memory.count_metrics() == 99
    assert memory.count_metrics({"labels": {"user": "u8"}}) == 1


def test_close_lets_go_of_the_data(memory: MemoryStorage) -> None:
    memory.batch_record_metrics(point(f"p{i}", labels={"user": f"u{i}"}) for i in range(10))
    memory.batch_create_spans([span("t", "root")])
    memory.close()
    assert len(memory._cols) == 0 and len(memory._label_sets.values) == 1
    assert memory._traces == {}
    with pytest.raises(ObsstoreError, match=r"^this storage is closed$"):
        memory.count_metrics()
