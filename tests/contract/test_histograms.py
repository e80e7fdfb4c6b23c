"""Histograms: with bounds, without explicit bounds (one bucket, as OpenTelemetry sends them),
and both in one batch."""

from __future__ import annotations

import pytest

from obsstore import MetricRecord, MetricsStorage, MetricType
from tests.contract.helpers import T0, point


def unbounded(id: str, count: int, value: float) -> MetricRecord:
    """A histogram with no explicit bounds: every observation is in its one bucket."""
    return point(
        id,
        name="rpc.duration",
        type=MetricType.HISTOGRAM,
        value=value,
        bucket_boundaries=[],
        bucket_counts=[count],
    )


def bounded(id: str, value: float) -> MetricRecord:
    return point(
        id,
        name="rpc.duration",
        type=MetricType.HISTOGRAM,
        value=value,
        bucket_boundaries=[0.1, 1.0],
        bucket_counts=[1, 2, 0],
    )


BATCHES = {
    "unbounded alone": [unbounded("u1", 3, 1.5)],
    "several unbounded": [unbounded("u1", 3, 1.5), unbounded("u2", 0, 0.0)],
    "unbounded first, then bounded": [unbounded("u1", 3, 1.5), bounded("b1", 2.5)],
    "bounded first, then unbounded": [bounded("b1", 2.5), unbounded("u1", 3, 1.5)],
    "with a plain point": [point("g1", value=4.0, name="rpc.duration"), unbounded("u1", 7, 6.0)],
}


@pytest.mark.parametrize("batch", BATCHES.values(), ids=list(BATCHES))
def test_histograms_without_bounds_are_stored(
    storage: MetricsStorage, batch: list[MetricRecord]
) -> None:
    assert storage.batch_record_metrics(batch) == len(batch)
    stored = {record.id: record for record in storage.list_metrics().data}
    assert stored == {record.id: record for record in batch}
    for record in batch:
        if record.bucket_counts is not None and record.bucket_boundaries == []:
            assert stored[record.id].bucket_boundaries == []
            assert stored[record.id].bucket_counts == record.bucket_counts


def test_histograms_without_bounds_aggregate(storage: MetricsStorage) -> None:
    storage.batch_record_metrics([unbounded("u1", 3, 1.5), unbounded("u2", 1, 4.5)])
    storage.batch_record_metrics([bounded("b1", 3.0)])
    (total,) = storage.aggregate_metrics({"type": "sum"}, {"name": "rpc.duration"})
    assert (total.value, total.count) == (9.0, 3)
    (mean,) = storage.aggregate_metrics(
        {"type": "avg", "interval": "1h"}, {"type": ["histogram"], "start_time": T0}
    )
    assert (mean.value, mean.count, mean.timestamp) == (3.0, 3, T0)
