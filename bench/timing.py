"""Timing helpers: interleaved repeats and medians."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``action`` took (after a full collection, so earlier garbage is not billed)."""
    gc.collect()
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def interleaved(
    contenders: dict[str, Callable[[], Any]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Run every contender ``repeats`` times, rotating the order each round so that none
    always runs first (or right after another's garbage); returns the times and last results."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    results: dict[str, Any] = {}
    names = list(contenders)
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, results[name] = timed(contenders[name])
            times[name].append(seconds)
    return times, results


def median(values: list[float]) -> float:
    return statistics.median(values)
