"""A write that fails part-way through a batch leaves the storage exactly as it was.

The bad record is built with ``model_construct`` (no validation), as a caller bypassing the
models could; whether the storage rejects it up front or the backend fails on it half-way, the
call raises and every later read gives the answers it gave before."""

from __future__ import annotations

from typing import Any

import pytest

from obsstore import MetricRecord, MetricsStorage
from obsstore.storage import duckdb as duckdb_storage
from tests.contract.helpers import T0, point

# Fields that make a record impossible to store on every backend, each after good records.
BROKEN_FIELDS = {
    "labels-not-a-dict": {"labels": ["region", "eu"]},
    "timestamp-not-a-datetime": {"timestamp": "yesterday"},
    "value-missing": {"value": None},  # in SQL, only the NOT NULL constraint catches it
}
# More that the memory backend's insert hook fails on (tests/test_memory_backend.py).
BROKEN_FOR_MEMORY = {
    **BROKEN_FIELDS,
    "value-not-a-number": {"value": "fast"},
    "counts-not-integers": {
        "type": "histogram",
        "bucket_boundaries": [1.0],
        "bucket_counts": ["one", "two"],
    },
}


def broken_record(**fields: Any) -> MetricRecord:
    values: dict[str, Any] = {
        "id": "broken",
        "timestamp": T0,
        "name": "jobs.run",
        "type": "gauge",
        "value": 1.0,
        "labels": {},
        "organization_id": None,
        "environment": None,
        "service_name": None,
        "trace_id": None,
        "span_id": None,
        "bucket_boundaries": None,
        "bucket_counts": None,
        **fields,
    }
    return MetricRecord.model_construct(**values)


def observable_state(storage: MetricsStorage) -> tuple[Any, ...]:
    return (
        storage.count_metrics(),
        storage.list_metrics(pagination={"limit": 1000}).data,
        storage.aggregate_metrics({"type": "sum", "group_by": ["region"]}),
        storage.aggregate_metrics({"type": "count"}),
        storage.list_metric_names(),
        storage.list_label_keys(),
        storage.list_label_values("region"),
    )


@pytest.mark.parametrize("broken", list(BROKEN_FIELDS.values()), ids=list(BROKEN_FIELDS))
def test_failed_batch_writes_nothing(storage: MetricsStorage, broken: dict[str, Any]) -> None:
    storage.batch_record_metrics(
        [point(f"old-{i}", value=i, labels={"region": "us"}) for i in range(3)]
    )
    before = observable_state(storage)
    good = [
        point(f"new-{i}", name="jobs.run", value=10 + i, labels={"region": f"eu-{i}"})
        for i in range(4)
    ]
    with pytest.raises(Exception):  # noqa: B017 (any error: the contract is what stays behind)
        storage.batch_record_metrics([*good[:2], broken_record(**broken), *good[2:]])
    assert observable_state(storage) == before
    # The storage is still usable, and the good records can be written on their own.
    assert storage.batch_record_metrics(good) == 4
    assert storage.count_metrics() == 7
    assert storage.list_label_values("region") == ["eu-0", "eu-1", "eu-2", "eu-3", "us"]


def test_batch_in_many_slices_is_one_write(
    storage: MetricsStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Backends that write a batch with much text in several statements (DuckDB) then do so for
    # every row; the batch must still be all or nothing.
    monkeypatch.setattr(duckdb_storage, "SLICE_TEXT", 64)
    storage.batch_record_metrics([point("old", labels={"region": "us"})])
    before = observable_state(storage)
    good = [point(f"new-{i}", value=i, labels={"region": f"r{i % 3}"}) for i in range(12)]
    with pytest.raises(Exception):  # noqa: B017 (any error: the contract is what stays behind)
        storage.batch_record_metrics([*good[:9], broken_record(value=None), *good[9:]])
    assert observable_state(storage) == before
    assert storage.batch_record_metrics([*good, point("old")]) == 12
    stored = storage.list_metrics(
        pagination={"limit": 100}, order_by={"field": "value", "direction": "asc"}
    ).data
    assert [r for r in stored if r.id != "old"] == good
