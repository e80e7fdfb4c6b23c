"""A mergeable quantile sketch with a relative-error bound (DDSketch-style logarithmic bins).

A non-zero value ``v`` falls in bin ``i = ceil(log(|v|) / log(gamma))``, which holds the
magnitudes in ``(gamma**(i-1), gamma**i]``; ``gamma = (1 + a) / (1 - a)`` with ``a = 0.01``.
Every magnitude in a bin is within ``a`` (1 %) of the bin's representative ``2 gamma**i /
(gamma + 1)``. Bins are plain counts, so sketches merge by adding counts: a rollup row's bins
summed over rows are the sketch of all their points.

A bin is stored as one signed integer: 0 for zero, ``i + BIN_OFFSET`` for positive values and
``-(i + BIN_OFFSET)`` for negative ones (every finite double has ``|i| < BIN_OFFSET``). The SQL
backends compute the same integer in the database (``obsstore.sqlfuncs.sketch_bin``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
LN_GAMMA = math.log(GAMMA)
# |log(5e-324)| / LN_GAMMA is about 37_200: every finite non-zero double's index is smaller.
BIN_OFFSET = 50_000


def bin_of(value: float) -> int:
    """The signed bin holding ``value`` (see the module docstring)."""
    if value == 0:
        return 0
    index = math.ceil(math.log(abs(value)) / LN_GAMMA) + BIN_OFFSET
    return index if value > 0 else -index


def bin_value(bin_: int) -> float:
    """The representative value of a bin: within RELATIVE_ACCURACY of every value in it."""
    if bin_ == 0:
        return 0.0
    index = abs(bin_) - BIN_OFFSET
    # 2 gamma^i / (gamma + 1), computed in logs so huge and tiny bins do not overflow.
    magnitude = math.exp(index * LN_GAMMA + math.log(2 / (GAMMA + 1)))
    return magnitude if bin_ > 0 else -magnitude


def quantile(
    bins: Mapping[int, int] | Iterable[tuple[int, int]],
    fraction: float,
    low: float | None = None,
    high: float | None = None,
) -> float | None:
    """The ``fraction`` quantile of the values a sketch counts, with ``percentile_cont``'s
    ranks: the values at ranks ``floor(p)`` and ``ceil(p)`` of ``p = fraction * (n - 1)``,
    interpolated linearly. Each rank's value is its bin's representative, clamped to the
    known minimum and maximum (``low``, ``high``), so the answer is within 1 % of the exact
    one (of the larger magnitude of the two ranks' values, should they differ in sign)."""
    pairs: Iterable[tuple[int, int]] = bins.items() if isinstance(bins, Mapping) else bins
    # The signed bins order as the values they hold (negative bins, larger magnitudes first,
    # then 0, then positive ones): sorting the integers sorts the values.
    items = sorted(pairs)
    total = sum(count for _, count in items)
    if total == 0:
        return None
    position = fraction * (total - 1)
    lower_rank, upper_rank = math.floor(position), math.ceil(position)
    lower = _value_at(items, lower_rank, low, high, total)
    upper = lower if upper_rank == lower_rank else _value_at(items, upper_rank, low, high, total)
    return lower + (position - lower_rank) * (upper - lower)


def _value_at(
    items: list[tuple[int, int]], rank: int, low: float | None, high: float | None, total: int
) -> float:
    # The exact extremes are known: the smallest and greatest ranks are them.
    if rank == 0 and low is not None:
        return low
    if rank == total - 1 and high is not None:
        return high
    seen = 0
    for bin_, count in items:
        seen += count
        if rank < seen:
            value = bin_value(bin_)
            if low is not None:
                value = max(value, low)
            if high is not None:
                value = min(value, high)
            return value
    raise AssertionError("rank beyond the sketch's count")
