"""The metrics half of the reference model: every stored point in one list, every query a
plain loop over it. Written to be read against the README's "What every backend guarantees",
never to be fast; it shares no code with the backends beyond the models and the public
methods of ``MetricsStorage`` (which validate the arguments before calling these hooks)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from obsstore.models import (
    AggregatePoint,
    Aggregation,
    MetricFilters,
    MetricRecord,
    OrderBy,
    Pagination,
)
from obsstore.storage.base import MetricsStorage

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Group keys that name a field of the point; any other group key is a label key.
FIELD_GROUP_KEYS = ("name", "type", "organization_id", "environment", "service_name")
# How far apart two correct backends may be, relative to the magnitudes a float result is
# computed from (see ``ReferenceMetrics.allowed_errors``).
RELATIVE_ROUNDING = 1e-9
LEAST_SUBNORMAL = 5e-324


@dataclass
class Group:
    """The points of one aggregate result: one metric name, bucket and group."""

    name: str
    bucket: datetime | None
    group: dict[str, str | None]
    points: list[MetricRecord]


class ReferenceMetrics(MetricsStorage):
    """Metric points as a list of records, in the order they were written."""

    def __init__(self) -> None:
        self.points: list[MetricRecord] = []

    # --- writes ------------------------------------------------------------------------------
    def _insert_metrics(self, records: list[MetricRecord]) -> int:
        stored_ids = [point.id for point in self.points]
        added = 0
        for record in records:
            if record.id in stored_ids:
                continue  # the first write of an id wins
            self.points.append(record)
            stored_ids.append(record.id)
            added += 1
        return added

    def _delete_metrics(self, filters: MetricFilters) -> int:
        kept = [point for point in self.points if not point_matches(filters, point)]
        deleted = len(self.points) - len(kept)
        self.points = kept
        return deleted

    # --- reads -------------------------------------------------------------------------------
    def _matching(self, filters: MetricFilters) -> list[MetricRecord]:
        return [point for point in self.points if point_matches(filters, point)]

    def _list_metrics(
        self, filters: MetricFilters, pagination: Pagination, order_by: OrderBy
    ) -> tuple[list[MetricRecord], int]:
        matching = self._matching(filters)

        def sort_key(point: MetricRecord) -> tuple[Any, str]:
            # Ties break on id, in the same direction as the field.
            return (getattr(point, order_by.field), point.id)

        ordered = sorted(matching, key=sort_key, reverse=order_by.direction == "desc")
        page = ordered[pagination.offset : pagination.offset + pagination.limit]
        return page, len(matching)

    def _iter_metrics(self, filters: MetricFilters, batch_size: int) -> Iterator[MetricRecord]:
        # The batch size only changes how a database reads; the points are the same.
        return iter(sorted(self._matching(filters), key=lambda p: (p.timestamp, p.id)))

    def _count_metrics(self, filters: MetricFilters) -> int:
        return len(self._matching(filters))

    # The reference sorts its aggregate points itself, by the README's rule.
    aggregates_sorted = True

    def _aggregate_metrics(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        results = []
        for group in self.ranked_groups(aggregation, filters):
            results.append(
                AggregatePoint(
                    name=group.name,
                    timestamp=group.bucket,
                    group=group.group,
                    value=aggregate(aggregation, group.points),
                    count=len(group.points),
                )
            )
        return results

    def _raw_histograms(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        """``type="histogram"``: the bucket counts summed where every point of a group has
        counts and all have the same bounds; value is the number of observations in them."""
        results = []
        for group in self.groups(aggregation, filters):
            bounds_seen = [point.bucket_boundaries for point in group.points]
            counts_seen = [point.bucket_counts for point in group.points]
            agree = all(c is not None for c in counts_seen) and all(
                b is not None and b == bounds_seen[0] for b in bounds_seen
            )
            bounds = counts = None
            if agree:
                bounds = list(bounds_seen[0] or [])
                counts = [0] * len(counts_seen[0] or [])
                for point_counts in counts_seen:
                    assert point_counts is not None
                    if len(point_counts) != len(counts):
                        bounds = counts = None
                        break
                    for index, count in enumerate(point_counts):
                        counts[index] += count
            results.append(
                AggregatePoint(
                    name=group.name,
                    timestamp=group.bucket,
                    group=group.group,
                    value=0.0 if counts is None else float(sum(counts)),
                    count=len(group.points),
                    bucket_boundaries=bounds,
                    bucket_counts=counts,
                )
            )
        return results

    def groups(self, aggregation: Aggregation, filters: MetricFilters) -> list[Group]:
        """The matching points by name, bucket and group, in the contract's order: name,
        then each group value (missing first, then code-point order), then bucket start."""
        groups: list[Group] = []
        for point in self._matching(filters):
            bucket = None
            if aggregation.interval is not None:
                bucket = bucket_start(point.timestamp, aggregation.interval)
            group = {key: group_value(point, key) for key in aggregation.group_by}
            for existing in groups:
                if (existing.name, existing.bucket, existing.group) == (
                    point.name,
                    bucket,
                    group,
                ):
                    existing.points.append(point)
                    break
            else:
                groups.append(Group(point.name, bucket, group, [point]))

        def sort_key(group: Group) -> tuple[Any, ...]:
            values = []
            for key in aggregation.group_by:
                value = group.group[key]
                values.append((0, "") if value is None else (1, value))
            return (group.name, values, group.bucket is not None, group.bucket)

        return sorted(groups, key=sort_key)

    def ranked_groups(self, aggregation: Aggregation, filters: MetricFilters) -> list[Group]:
        """``groups``, or with ``order`` "value_desc"/"value_asc": per name, the groups (the
        points of each group over the whole range) by their aggregate, ties in key order,
        the first ``limit`` of them, each followed by its buckets in time order."""
        groups = self.groups(aggregation, filters)
        if aggregation.order == "key":
            return groups
        whole = Aggregation(
            type=aggregation.type,
            percentile=aggregation.percentile,
            group_by=aggregation.group_by,
        )
        ranking: dict[str, list[Group]] = {}
        for group in self.groups(whole, filters):  # in key order
            ranking.setdefault(group.name, []).append(group)
        kept: list[Group] = []
        for name in sorted(ranking):
            totals = ranking[name]
            values = [aggregate(whole, total.points) for total in totals]
            # Selection by value: the first of the best each time, so ties keep key order.
            order = []
            remaining = list(range(len(totals)))
            while remaining:
                if aggregation.order == "value_desc":
                    best = max(values[i] for i in remaining)
                else:
                    best = min(values[i] for i in remaining)
                first = next(i for i in remaining if values[i] == best)
                order.append(first)
                remaining.remove(first)
            if aggregation.limit is not None:
                order = order[: aggregation.limit]
            for index in order:
                wanted = totals[index].group
                kept += [g for g in groups if g.name == name and g.group == wanted]
        return kept

    def allowed_errors(
        self,
        aggregation: Aggregation | dict[str, Any],
        filters: MetricFilters | dict[str, Any] | None = None,
    ) -> list[float]:
        """For each point ``aggregate_metrics`` returns (same order), how far a correct
        backend's value may be from the reference's. Floating-point sums depend on the order
        of addition, and with cancellation the error can dwarf the result, so the bound is
        relative to the magnitudes summed: 1e-9 of the sum of absolute values (divided by the
        count for an average). A percentile may differ by 1e-9 of the magnitudes of the two
        values it interpolates between. min, max, count and last pick a stored value: exact."""
        aggregation = Aggregation.model_validate(aggregation)
        filters = MetricFilters.model_validate(filters or {})
        errors = []
        for group in self.ranked_groups(aggregation, filters):
            values = [point.value for point in group.points]
            magnitude = 0.0
            for value in values:
                magnitude += abs(value)
            if aggregation.type == "sum":
                errors.append(RELATIVE_ROUNDING * magnitude)
            elif aggregation.type == "avg":
                errors.append(RELATIVE_ROUNDING * magnitude / len(values))
            elif aggregation.type == "percentile":
                assert aggregation.percentile is not None
                low, high = percentile_neighbours(values, aggregation.percentile)
                # PostgreSQL's percentile counts the least subnormal (5e-324) as zero (see
                # sqlfuncs.percentile_cont): one least subnormal of slack.
                errors.append(RELATIVE_ROUNDING * (abs(low) + abs(high)) + LEAST_SUBNORMAL)
            else:
                errors.append(0.0)
        return errors

    # --- discovery ---------------------------------------------------------------------------
    def _list_metric_names(self, prefix: str | None, limit: int | None) -> list[str]:
        names = set()
        for point in self.points:
            names.add(point.name)
        return first_sorted(names, prefix, limit)

    def _list_label_keys(self, name: str | None) -> list[str]:
        keys = set()
        for point in self.points:
            if name is None or point.name == name:
                for key in point.labels:
                    keys.add(key)
        return sorted(keys)

    def _list_label_values(
        self, key: str, name: str | None, prefix: str | None, limit: int | None
    ) -> list[str]:
        values = set()
        for point in self.points:
            if (name is None or point.name == name) and key in point.labels:
                values.add(point.labels[key])
        return first_sorted(values, prefix, limit)


def point_matches(filters: MetricFilters, point: MetricRecord) -> bool:
    """Whether ``point`` passes every set filter (times inclusive, labels all equal)."""
    if filters.names is not None and point.name not in filters.names:
        return False
    if filters.types is not None and point.type not in filters.types:
        return False
    if filters.start_time is not None and point.timestamp < filters.start_time:
        return False
    if filters.end_time is not None and point.timestamp > filters.end_time:
        return False
    for key, value in (filters.labels or {}).items():
        if point.labels.get(key) != value:
            return False
    for field in ("organization_id", "environment", "service_name", "trace_id"):
        wanted = getattr(filters, field)
        if wanted is not None and getattr(point, field) != wanted:
            return False
    return True


def bucket_start(moment: datetime, interval: timedelta) -> datetime:
    """The start of the bucket holding ``moment``: buckets are aligned to the epoch."""
    buckets_since_epoch = (moment - EPOCH) // interval
    return EPOCH + buckets_since_epoch * interval


def group_value(point: MetricRecord, key: str) -> str | None:
    """The value ``point`` groups by for ``key``: a field, else a label (None if it has none)."""
    if key in FIELD_GROUP_KEYS:
        value = getattr(point, key)
        if key == "type":
            return str(value.value)
        return value  # type: ignore[no-any-return]
    return point.labels.get(key)


def aggregate(aggregation: Aggregation, points: list[MetricRecord]) -> float:
    values = [point.value for point in points]
    if aggregation.type == "sum":
        total = 0.0
        for value in values:
            total += value
        return total
    if aggregation.type == "avg":
        total = 0.0
        for value in values:
            total += value
        return total / len(values)
    if aggregation.type == "min":
        return min(values)
    if aggregation.type == "max":
        return max(values)
    if aggregation.type == "count":
        return float(len(values))
    if aggregation.type == "last":
        # The latest point; among points at the same moment, the one with the greatest id.
        latest = points[0]
        for point in points:
            if (point.timestamp, point.id) > (latest.timestamp, latest.id):
                latest = point
        return latest.value
    assert aggregation.type == "percentile" and aggregation.percentile is not None
    return percentile(values, aggregation.percentile)


def percentile_position(count: int, fraction: float) -> float:
    """Where the percentile lies among ``count`` sorted values (0 is the smallest)."""
    return fraction * (count - 1)


def percentile_neighbours(values: list[float], fraction: float) -> tuple[float, float]:
    """The two sorted values the percentile interpolates between (the same one twice when it
    falls on a value)."""
    ordered = sorted(values)
    position = percentile_position(len(ordered), fraction)
    below = int(position)  # position >= 0, so this rounds down
    above = below if position == below else below + 1
    return ordered[below], ordered[above]


def percentile(values: list[float], fraction: float) -> float:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the closest ranks."""
    low, high = percentile_neighbours(values, fraction)
    position = percentile_position(len(values), fraction)
    return low + (position - int(position)) * (high - low)


def first_sorted(values: set[str], prefix: str | None, limit: int | None) -> list[str]:
    """The values that start with ``prefix`` (case-sensitive, no wildcards), in code-point
    order (Python's own string order), at most ``limit`` of them."""
    chosen = sorted(value for value in values if prefix is None or value.startswith(prefix))
    return chosen if limit is None else chosen[:limit]
