"""Summed histogram bucket counts: what a rollup row keeps of its histogram points, and the
``type="histogram"`` aggregate that reads them.

A set of points (or of rollup rows, which merge the same way) has summed counts when every one
of them has bucket counts and all have the same bounds; otherwise it has none (``None``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from obsstore.models import AggregatePoint, Aggregation, MetricRecord
from obsstore.models._fields import ONE_MICROSECOND, from_epoch_us, to_epoch_us
from obsstore.models.queries import COLUMN_GROUP_KEYS


@dataclass
class HistogramSum:
    """The running sum of bucket counts; ``agree`` turns False for good once a part has no
    counts or other bounds."""

    bounds: tuple[float, ...] | None = None
    counts: list[int] = field(default_factory=list)
    agree: bool = True
    parts: int = 0

    def add(self, bounds: Sequence[float] | None, counts: Sequence[int] | None) -> None:
        self.parts += 1
        if not self.agree:
            return
        if bounds is None or counts is None:
            self.agree = False
            return
        if self.parts == 1:
            self.bounds, self.counts = tuple(bounds), [int(c) for c in counts]
        elif tuple(bounds) != self.bounds or len(counts) != len(self.counts):
            self.agree = False
        else:
            self.counts = [a + int(b) for a, b in zip(self.counts, counts, strict=True)]

    def result(self) -> tuple[list[float] | None, list[int] | None]:
        if not self.agree or self.bounds is None:
            return None, None
        return list(self.bounds), list(self.counts)


def merged(parts: Iterable[tuple[Sequence[float] | None, Sequence[int] | None]]) -> HistogramSum:
    total = HistogramSum()
    for bounds, counts in parts:
        total.add(bounds, counts)
    return total


def histogram_point(
    name: str,
    at: int | None,
    group: dict[str, str | None],
    count: int,
    total: HistogramSum,
) -> AggregatePoint:
    """The aggregate of one group: ``value`` is the number of observations in the summed
    buckets (0 where there are none), ``count`` the number of points."""
    bounds, counts = total.result()
    return AggregatePoint(
        name=name,
        timestamp=None if at is None else from_epoch_us(at),
        group=group,
        value=float(sum(counts)) if counts is not None else 0.0,
        count=count,
        bucket_boundaries=bounds,
        bucket_counts=counts,
    )


def bucket_of(timestamp: datetime | int, aggregation: Aggregation) -> int | None:
    if aggregation.interval is None:
        return None
    at = timestamp if isinstance(timestamp, int) else to_epoch_us(timestamp)
    width = aggregation.interval // ONE_MICROSECOND
    return at - at % width


def group_of(values: Mapping[str, Any], labels: dict[str, str], keys: list[str]) -> tuple[Any, ...]:
    return tuple(values[k] if k in COLUMN_GROUP_KEYS else labels.get(k) for k in keys)


def histograms_from_points(
    aggregation: Aggregation, records: Iterable[MetricRecord]
) -> list[AggregatePoint]:
    """The ``histogram`` aggregate of raw points (unsorted)."""
    groups: dict[tuple[Any, ...], tuple[list[int], HistogramSum]] = {}
    for record in records:
        values = {
            "name": record.name,
            "type": record.type.value,
            "organization_id": record.organization_id,
            "environment": record.environment,
            "service_name": record.service_name,
        }
        key = (
            record.name,
            bucket_of(record.timestamp, aggregation),
            group_of(values, record.labels, aggregation.group_by),
        )
        entry = groups.get(key)
        if entry is None:
            entry = groups[key] = ([0], HistogramSum())
        entry[0][0] += 1
        entry[1].add(record.bucket_boundaries, record.bucket_counts)
    return [
        histogram_point(name, at, dict(zip(aggregation.group_by, values, strict=True)), n[0], h)
        for (name, at, values), (n, h) in groups.items()
    ]


__all__ = ["HistogramSum", "histogram_point", "histograms_from_points", "merged"]
