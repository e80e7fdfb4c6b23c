"""Bytes per stored point in the memory backend: everything allocated while storing N points
(the records themselves are built and dropped chunk by chunk, so what stays is what the
storage holds), divided by N."""

from __future__ import annotations

import gc
import tracemalloc

from bench import workload
from obsstore import create_storage


def bytes_per_point(points: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        storage = create_storage("memory")
        for chunk in workload.chunks(points, 10_000):
            storage.batch_record_metrics(chunk)
            del chunk
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        assert storage.count_metrics() == points
    finally:
        tracemalloc.stop()
    return held / points
