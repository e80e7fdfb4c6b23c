"""Which source answers which buckets (obsstore/lifecycle/planning.py)."""

from __future__ import annotations

import pytest

from obsstore import InvalidArgumentError
from obsstore.lifecycle.planning import MAX_US, MIN_US, RAW, LevelState, Piece, plan

H = 3_600_000_000
D = 24 * H
STATES = {
    RAW: LevelState(pruned_before=2 * D),
    H: LevelState(complete_until=10 * D + 5 * H, pruned_before=3 * D),
    D: LevelState(complete_until=10 * D),
    7 * H: LevelState(pruned_before=D),  # never rolled up: never used
}


def test_auto_uses_the_coarsest_complete_level_then_finer_then_raw() -> None:
    # Daily buckets: daily rows up to their watermark, then hourly rows (whose watermark is
    # not a whole day: the day it is in comes from raw points), then raw points.
    assert plan("auto", D, 0, 12 * D, STATES, traced=False) == [
        Piece(D, 0, 10 * D),
        Piece(RAW, 10 * D, 12 * D),
    ]
    # Hourly buckets: daily rows cannot answer them; hourly rows only where not pruned.
    assert plan("auto", H, MIN_US, MAX_US, STATES, traced=False) == [
        Piece(RAW, MIN_US, 3 * D),
        Piece(H, 3 * D, 10 * D + 5 * H),
        Piece(RAW, 10 * D + 5 * H, MAX_US),
    ]


def test_auto_respects_pruned_levels_and_requested_buckets() -> None:
    pieces = plan("auto", 2 * H, 0, 20 * D, STATES, traced=False)
    # Hourly rows before day 3 are pruned; 2 h buckets align to 2 h, so the last complete
    # hourly bucket (10 d 4 h .. 10 d 5 h) is answered from raw points with its neighbour.
    assert pieces == [
        Piece(RAW, 0, 3 * D),
        Piece(H, 3 * D, 10 * D + 4 * H),
        Piece(RAW, 10 * D + 4 * H, 20 * D),
    ]


def test_auto_without_interval_uses_one_source() -> None:
    assert plan("auto", None, 4 * D, 6 * D, STATES, traced=False) == [Piece(D, 4 * D, 6 * D)]
    assert plan("auto", None, 4 * D, 11 * D, STATES, traced=False) == [Piece(RAW, 4 * D, 11 * D)]


def test_traced_and_raw_requests_read_raw_points() -> None:
    assert plan("auto", H, 0, D, STATES, traced=True) == [Piece(RAW, 0, D)]
    assert plan("raw", H, 0, D, STATES, traced=False) == [Piece(RAW, 0, D)]


def test_forced_rollup() -> None:
    assert plan("rollup", D, 0, 5 * D, STATES, traced=False) == [Piece(D, 0, 5 * D)]
    assert plan("rollup", D, H, 5 * D, STATES, traced=False) == [Piece(H, H, 5 * D)]
    with pytest.raises(InvalidArgumentError):
        plan("rollup", 30 * 60_000_000, 0, D, STATES, traced=False)
    with pytest.raises(InvalidArgumentError):
        plan("rollup", H, 1, D, STATES, traced=False)
    with pytest.raises(InvalidArgumentError):
        plan("rollup", H, 0, D, STATES, traced=True)
    with pytest.raises(InvalidArgumentError):
        plan("rollup", H, 0, D, {RAW: LevelState()}, traced=False)
