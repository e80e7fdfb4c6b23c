"""Which source answers which part of an aggregate: rollup levels where their buckets are
complete, raw points elsewhere. Times are integer microseconds since the epoch; ``MIN_US`` and
``MAX_US`` stand for an open end."""

from __future__ import annotations

from dataclasses import dataclass

from obsstore.errors import InvalidArgumentError

MIN_US = -(2**62)
MAX_US = 2**62
RAW = 0  # the level number of raw points in the state table


@dataclass(frozen=True)
class LevelState:
    """One level's watermark (buckets before it are materialised) and prune horizon (rows
    before it are gone), as stored; ``None`` where never set."""

    complete_until: int | None = None
    pruned_before: int | None = None


@dataclass(frozen=True)
class Piece:
    """Answer ``[start, end)`` from ``level`` (``RAW``: raw points)."""

    level: int
    start: int
    end: int


def floor_to(value: int, grid: int) -> int:
    return value - value % grid


def ceil_to(value: int, grid: int) -> int:
    return -floor_to(-value, grid)


def plan(
    source: str,
    interval: int | None,
    start: int,
    end: int,
    states: dict[int, LevelState],
    *,
    traced: bool,
) -> list[Piece]:
    """The pieces answering an aggregate over ``[start, end)`` with buckets ``interval`` wide
    (``None``: one bucket) from ``source``. Every piece is aligned to the requested buckets,
    so each bucket comes whole from one source."""
    levels = sorted(
        (
            level
            for level, state in states.items()
            # Rolled up at least once, and its buckets fit the requested ones.
            if level != RAW
            and state.complete_until is not None
            and (interval is None or interval % level == 0)
        ),
        reverse=True,  # coarsest first
    )
    if source == "raw":
        return [Piece(RAW, start, end)]
    if source == "rollup":
        return [Piece(_forced_level(levels, interval, start, end, traced=traced), start, end)]
    if traced:
        return [Piece(RAW, start, end)]
    taken: list[Piece] = []
    for level in levels:
        state = states[level]
        if state.complete_until is None:
            continue
        grid = interval if interval is not None else level
        low = max(start, state.pruned_before if state.pruned_before is not None else MIN_US)
        high = min(end, state.complete_until)
        low = low if low == MIN_US else ceil_to(low, grid)
        high = floor_to(high, grid)
        for piece_start, piece_end in _subtract((low, high), [(p.start, p.end) for p in taken]):
            taken.append(Piece(level, piece_start, piece_end))
    raw = [Piece(RAW, a, b) for a, b in _subtract((start, end), [(p.start, p.end) for p in taken])]
    pieces = sorted(taken + raw, key=lambda p: p.start)
    if interval is None and len(pieces) > 1:
        # One bucket cannot be split between sources: raw points answer it whole.
        return [Piece(RAW, start, end)]
    return pieces


def _forced_level(
    levels: list[int], interval: int | None, start: int, end: int, *, traced: bool
) -> int:
    if traced:
        raise InvalidArgumentError("rollups cannot answer a trace_id filter; use source='raw'")
    if not levels:
        raise InvalidArgumentError(
            "no rollup level can answer this aggregation: none has been computed"
            + ("" if interval is None else " whose interval divides the requested interval")
        )
    for level in levels:
        if (start == MIN_US or start % level == 0) and (end == MAX_US or end % level == 0):
            return level
    raise InvalidArgumentError(
        "start_time and end_time (plus one microsecond) must fall on a rollup level's bucket "
        "boundaries for source='rollup'"
    )


def _subtract(span: tuple[int, int], taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``span`` outside every range in ``taken``."""
    pieces = [span] if span[0] < span[1] else []
    for low, high in taken:
        pieces = [
            part
            for a, b in pieces
            for part in ((a, min(b, low)), (max(a, high), b))
            if part[0] < part[1]
        ]
    return pieces
