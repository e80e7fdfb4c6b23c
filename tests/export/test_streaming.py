"""Exports stream: memory while exporting stays bounded by a batch, not by the data set."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest

from obsstore import ObservabilityStorage
from obsstore.export import export_metrics
from obsstore.models import MetricRecord
from tests.contract.helpers import T0

POINTS = 40_000


def _fill(storage: ObservabilityStorage) -> None:
    for start in range(0, POINTS, 10_000):
        storage.batch_record_metrics(
            MetricRecord(
                id=f"p{i:06d}",
                timestamp=T0 + timedelta(seconds=i),
                name=f"m{i % 7}",
                type="counter" if i % 2 else "gauge",
                value=float(i),
                labels={"route": f"/r{i % 50}", "host": f"h{i % 13}"},
            )
            for i in range(start, start + 10_000)
        )


@pytest.mark.slow
@pytest.mark.parametrize("format", ["jsonl", "openmetrics"])
def test_export_memory_is_bounded_by_the_batch(
    storage: ObservabilityStorage, tmp_path: Path, format: str
) -> None:
    _fill(storage)
    tracemalloc.start()
    try:
        stats = export_metrics(storage, tmp_path / "out", format=format, batch_size=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.metrics == POINTS
    # 40,000 points as records take ~40 MB; a 1,000-point batch a few MB. The reference
    # backend's row index (8 bytes a point) and the per-series totals are what else remains.
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.1f} MiB"
