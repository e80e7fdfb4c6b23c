"""Aggregate arithmetic done in Python (by the memory backend, and by SQLite's aggregates).

Sums and percentiles of finite values never raise: a sum beyond the float range is ±inf, like
the databases' float sums, and a percentile lies between two stored values, so it always fits."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Scaling by a power of two is exact for all but the tiniest (subnormal) values, and at 2**-64
# no sum of up to 2**63 finite values can leave the float range.
_SCALE = 64


def float_sum(values: Sequence[float]) -> float:
    """The correctly rounded sum (``math.fsum``); ±inf when it lies beyond the float range."""
    try:
        return math.fsum(values)
    except OverflowError:
        # A partial sum overflowed: the exact sum of the scaled values, scaled back if it fits.
        scaled = math.fsum([math.ldexp(v, -_SCALE) for v in values])
        try:
            return math.ldexp(scaled, _SCALE)
        except OverflowError:
            return math.copysign(math.inf, scaled)


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return ordered[low]
    a, b, f = ordered[low], ordered[high], position - low
    if math.isfinite(b - a):
        return a + f * (b - a)
    # The two are further apart than the float range: interpolate between their halves (the
    # same result, exactly, for all but subnormal values) and double the result, which lies
    # between a and b.
    return (a / 2 + f * (b / 2 - a / 2)) * 2
