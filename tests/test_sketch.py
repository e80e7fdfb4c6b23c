"""The quantile sketch's bins: the signed bin integers order as the values they hold, which
``sketch.quantile`` relies on when it sorts a sketch's bins."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from obsstore.lifecycle import sketch

finite = st.floats(allow_nan=False, allow_infinity=False)
# Values whose differences stay finite, for the interpolation the exact answer needs.
moderate = st.floats(-1e300, 1e300)


@given(finite, finite)
def test_bins_order_as_their_values(x: float, y: float) -> None:
    low, high = min(x, y), max(x, y)
    assert sketch.bin_of(low) <= sketch.bin_of(high)
    assert sketch.bin_value(sketch.bin_of(low)) <= sketch.bin_value(sketch.bin_of(high))


@given(st.lists(moderate, min_size=1, max_size=200), st.floats(0, 1))
def test_a_quantile_is_within_the_bound_of_the_exact_one(values: list[float], q: float) -> None:
    bins: dict[int, int] = {}
    for value in values:
        bins[sketch.bin_of(value)] = bins.get(sketch.bin_of(value), 0) + 1
    got = sketch.quantile(bins, q, min(values), max(values))
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    lower, upper = ordered[math.floor(position)], ordered[math.ceil(position)]
    exact = lower + (position - math.floor(position)) * (upper - lower)
    assert got is not None
    bound = sketch.RELATIVE_ACCURACY * max(abs(lower), abs(upper))
    assert abs(got - exact) <= bound * (1 + 1e-9) + 1e-300
