"""Copy every point and span from one storage to another (any backend to any backend)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from obsstore.export.stats import ExportStats
from obsstore.storage.arguments import check_batch_size
from obsstore.storage.base import ObservabilityStorage

_T = TypeVar("_T")


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def copy_storage(
    source: ObservabilityStorage,
    target: ObservabilityStorage,
    batch_size: int = 10_000,
    progress: Callable[[ExportStats], Any] | None = None,
) -> ExportStats:
    """Copy all points (in (timestamp, id) order) and spans (in key order), a batch at a time.
    Points and spans keep their ids, and what the target holds already is skipped, so a copy
    that was interrupted is resumed by running it again; nothing is ever copied twice. (A
    span already copied is not updated: run it after the source's spans have ended.)"""
    size = check_batch_size(batch_size)
    started = time.perf_counter()
    stats = ExportStats()
    for batch in _chunks(source.iter_metrics(batch_size=size), size):
        stats.metrics += len(batch)
        stats.metrics_stored += target.batch_record_metrics(batch)
        if progress is not None:
            progress(stats)
    for spans in _chunks(source.iter_spans(batch_size=min(size, 5_000)), min(size, 5_000)):
        stats.spans += len(spans)
        stats.spans_stored += target.batch_create_spans(spans)
        if progress is not None:
            progress(stats)
    stats.seconds = time.perf_counter() - started
    return stats
