"""Arguments that list more values than a statement may bind parameters (65,535 on
PostgreSQL, 32,766 on SQLite) work on every backend."""

from __future__ import annotations

from datetime import datetime, timezone

from obsstore import MetricFilters, ObservabilityStorage, SpanRecord
from tests.contract.helpers import all_ids, point

MANY = 70_000
T0 = datetime(2024, 6, 1, 9, 0, 0, tzinfo=timezone.utc)


def test_a_filter_of_70000_names(storage: ObservabilityStorage) -> None:
    storage.batch_record_metrics(
        [point("first", name="n0"), point("last", name=f"n{MANY - 1}"), point("x", name="other")]
    )
    names = [f"n{i}" for i in range(MANY)]
    filters = MetricFilters(name=names)
    assert storage.count_metrics(filters=filters) == 2
    assert all_ids(storage, name=names) == ["first", "last"]
    # Another long list, the same statement: its values are its own.
    assert storage.count_metrics(filters={"name": [*names[1:-1], "other"]}) == 1
    assert storage.delete_metrics(filters) == 2
    assert all_ids(storage) == ["x"]


def test_deleting_70000_traces(storage: ObservabilityStorage) -> None:
    storage.batch_create_spans(
        SpanRecord(trace_id=trace, span_id=span, name="s", started_at=T0)
        for trace in ("t0", f"t{MANY - 1}", "kept")
        for span in ("a", "b")
    )
    assert storage.batch_delete_traces(f"t{i}" for i in range(MANY)) == 4
    assert storage.get_trace("t0") is None and storage.get_trace(f"t{MANY - 1}") is None
    kept = storage.get_trace("kept")
    assert kept is not None and len(kept.spans) == 2
