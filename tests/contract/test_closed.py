"""A closed storage refuses every call with ``ObsstoreError("this storage is closed")``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from obsstore import MetricsStorage, ObsstoreError
from tests.contract.helpers import point
from tests.contract.test_traces import span

CALLS: dict[str, Callable[[Any], Any]] = {
    "batch_record_metrics": lambda s: s.batch_record_metrics([point("late")]),
    "list_metrics": lambda s: s.list_metrics(),
    "count_metrics": lambda s: s.count_metrics(),
    "aggregate_metrics": lambda s: s.aggregate_metrics({"type": "sum"}),
    "delete_metrics": lambda s: s.delete_metrics({"name": "http.server.duration"}),
    "list_metric_names": lambda s: s.list_metric_names(),
    "list_label_keys": lambda s: s.list_label_keys(),
    "list_label_values": lambda s: s.list_label_values("region"),
    "dangerously_clear_all": lambda s: s.dangerously_clear_all(),
    "init": lambda s: s.init(),
    "batch_create_spans": lambda s: s.batch_create_spans([span("t", "late")]),
    "batch_update_spans": lambda s: s.batch_update_spans(
        [{"trace_id": "t", "span_id": "root", "name": "renamed"}]
    ),
    "get_span": lambda s: s.get_span("t", "root"),
    "get_trace": lambda s: s.get_trace("t"),
    "list_traces": lambda s: s.list_traces(),
    "batch_delete_traces": lambda s: s.batch_delete_traces(["t"]),
}


@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
def test_every_call_fails_after_close(storage: MetricsStorage, call: Callable[[Any], Any]) -> None:
    storage.batch_record_metrics([point("early", labels={"region": "eu"})])
    storage.batch_create_spans([span("t", "root")])  # type: ignore[attr-defined]
    storage.close()
    with pytest.raises(ObsstoreError, match=r"^this storage is closed$"):
        call(storage)


def test_closing_twice_is_fine(storage: MetricsStorage) -> None:
    storage.close()
    storage.close()
    with pytest.raises(ObsstoreError, match=r"^this storage is closed$"):
        storage.list_metrics()
