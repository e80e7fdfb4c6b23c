"""Top-N groups of an aggregate, ranked in the database (raw points and rollups alike).

The per-bucket aggregate and the same aggregate over the whole range (one row per name and
group) are two grouped subqueries; ``row_number()`` over the totals, per name, ranks the
groups by value (ties by group in key order), and the buckets are joined to the ranks they
keep. Only the kept groups' rows leave the database, already in the answer's order."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from obsstore.models import Aggregation
from obsstore.sqlfuncs import code_point, mean


def ranked_query(
    aggregation: Aggregation, grouped: sa.Select[Any], totals: sa.Select[Any] | None
) -> sa.Select[Any]:
    """Rows of ``grouped`` (columns: name, [bucket], g0.., value, count) of the groups kept,
    ordered by name, rank and bucket. ``totals`` (name, g0.., value, count) is the aggregate
    over the whole range; ``None`` when ``grouped`` has no buckets (it is that already)."""
    names = [c.name for c in grouped.selected_columns]
    groups = [f"g{i}" for i in range(len(aggregation.group_by))]
    buckets = grouped.subquery("buckets")
    whole = buckets if totals is None else totals.subquery("totals")
    value: Any = whole.c.value
    if aggregation.type == "avg":  # the value columns hold sums (see _aggregate_points)
        value = mean(value, whole.c["count"])
    first = value.desc() if aggregation.order == "value_desc" else value.asc()
    rank = sa.func.row_number().over(
        partition_by=whole.c.name,
        order_by=[first, *(code_point(whole.c[g]).nulls_first() for g in groups)],
    )
    if totals is None:  # one row per group already: rank the rows themselves
        ranked = sa.select(*buckets.c, rank.label("rank")).subquery("ranked")
        kept = [] if aggregation.limit is None else [ranked.c.rank <= aggregation.limit]
        return (
            sa.select(*(ranked.c[n] for n in names))
            .where(*kept)
            .order_by(ranked.c.name, ranked.c.rank)
        )
    ranks = sa.select(whole.c.name, *(whole.c[g] for g in groups), rank.label("rank"))
    top = ranks.subquery("ranks")
    kept = [] if aggregation.limit is None else [top.c.rank <= aggregation.limit]
    # Group values may be NULL (a point without the label): matched as values.
    on = [top.c.name == buckets.c.name]
    on += [buckets.c[g].is_not_distinct_from(top.c[g]) for g in groups]
    return (
        sa.select(*(buckets.c[n] for n in names))
        .select_from(buckets.join(top, sa.and_(*on)))
        .where(*kept)
        .order_by(buckets.c.name, top.c.rank, buckets.c.bucket)
    )
