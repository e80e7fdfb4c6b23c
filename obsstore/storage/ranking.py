"""Top-N groups of an aggregate for the memory backend, whose database is Python itself (the
SQL backends rank in SQL: see sql_ranking.py). Same rule: per name, groups by their value over
the whole range, ties by group in key order; each kept group's buckets in time order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from obsstore.models import AggregatePoint, Aggregation


def _group_key(point: AggregatePoint) -> tuple[Any, ...]:
    return tuple((value is not None, value or "") for value in point.group.values())


def ranked_points(
    aggregation: Aggregation, compute: Callable[[Aggregation], list[AggregatePoint]]
) -> list[AggregatePoint]:
    """``compute`` answers an unranked aggregation; its answers are ranked here."""
    points = compute(aggregation.model_copy(update={"order": "key", "limit": None}))
    totals = points if aggregation.interval is None else compute(aggregation.totals())
    by_name: dict[str, list[AggregatePoint]] = {}
    for total in sorted(totals, key=_group_key):
        by_name.setdefault(total.name, []).append(total)
    rank: dict[tuple[str, tuple[Any, ...]], int] = {}
    for name, groups in by_name.items():
        # Stable: equal values keep key order, in either direction.
        groups.sort(key=lambda p: p.value, reverse=aggregation.order == "value_desc")
        for position, total in enumerate(groups[: aggregation.limit]):
            rank[name, _group_key(total)] = position
    kept = [p for p in points if (p.name, _group_key(p)) in rank]
    kept.sort(
        key=lambda p: (p.name, rank[p.name, _group_key(p)], p.timestamp is not None, p.timestamp)
    )
    return kept
