"""Rollups and pruning for the memory backend: the reference the SQL backends are compared
with (see rollups_base.py for the orchestration)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from obsstore.lifecycle import sketch
from obsstore.lifecycle.histograms import HistogramSum, bucket_of, group_of, histogram_point
from obsstore.lifecycle.planning import LevelState, floor_to
from obsstore.models import AggregatePoint, Aggregation, MetricFilters
from obsstore.models._fields import ONE_MICROSECOND, from_epoch_us, to_epoch_us
from obsstore.models.queries import COLUMN_GROUP_KEYS
from obsstore.models.traces import SpanRecord
from obsstore.storage.memory_traces import OpenLock
from obsstore.storage.ranking import ranked_points
from obsstore.storage.rollups_base import RollupStorage, pause, stale_ranges

# (name, type, labels as items, organization_id, environment, service_name)
Series = tuple[str, str, tuple[tuple[str, str], ...], str | None, str | None, str | None]
# (timestamp, id, value, series, bucket bounds, bucket counts) of one point.
PointOfSeries = tuple[int, str, float, Series, tuple[float, ...] | None, list[int] | None]
_COLUMNS = ("name", "type", "labels", "organization_id", "environment", "service_name")


@dataclass
class _Rollup:
    """One rollup row: a series' points in one bucket."""

    count: int = 0
    sums: list[float] = field(default_factory=list)
    min: float = math.inf
    max: float = -math.inf
    last: tuple[int, str, float] = (-(2**62), "", 0.0)  # (timestamp, id, value)
    bins: dict[int, int] = field(default_factory=dict)
    histogram: HistogramSum = field(default_factory=HistogramSum)

    def add(
        self,
        timestamp: int,
        id_: str,
        value: float,
        bounds: tuple[float, ...] | None,
        counts: list[int] | None,
    ) -> None:
        self.histogram.add(bounds, counts)
        self.count += 1
        self.sums.append(value)
        self.min = min(self.min, value)
        self.max = max(self.max, value)
        if (timestamp, id_) > self.last[:2]:
            self.last = (timestamp, id_, value)
        key = sketch.bin_of(value)
        self.bins[key] = self.bins.get(key, 0) + 1

    @property
    def sum(self) -> float:
        return math.fsum(self.sums)


class MemoryRollups(RollupStorage):
    """Rollup rows per level, keyed by (bucket, series), under their own lock."""

    def __init__(self) -> None:
        self._rollups_lock = OpenLock()  # raises once the storage is closed
        self._rollups: dict[int, dict[tuple[int, Series], _Rollup]] = {}
        self._states: dict[int, LevelState] = {}

    def _clear_rollups(self) -> None:
        with self._rollups_lock:
            self._rollups, self._states = {}, {}

    def _close_rollups(self) -> None:
        with self._rollups_lock.closing():
            self._rollups, self._states = {}, {}

    # --- what the memory backend supplies ----------------------------------------------
    def _points_between(self, start: int, end: int) -> Iterable[PointOfSeries]:
        """Every point in ``[start, end)``."""
        raise NotImplementedError

    def _traces_snapshot(self) -> dict[str, dict[str, SpanRecord]]:
        raise NotImplementedError

    def _delete_metrics(self, filters: MetricFilters) -> int:
        raise NotImplementedError

    def _count_metrics(self, filters: MetricFilters) -> int:
        raise NotImplementedError

    def _delete_traces(self, trace_ids: list[str]) -> int:
        raise NotImplementedError

    # --- state ---------------------------------------------------------------------------
    def _rollup_states(self) -> dict[int, LevelState]:
        with self._rollups_lock:
            return dict(self._states)

    def _raise(
        self, level: int, complete_until: int | None = None, pruned_before: int | None = None
    ) -> None:
        old = self._states.get(level, LevelState())
        if complete_until is not None and (old.complete_until or -(2**62)) < complete_until:
            old = LevelState(complete_until, old.pruned_before)
        if pruned_before is not None and (old.pruned_before or -(2**62)) < pruned_before:
            old = LevelState(old.complete_until, pruned_before)
        self._states[level] = old

    def _set_state(self, level: int, *, pruned_before: int) -> None:
        with self._rollups_lock:
            self._raise(level, pruned_before=pruned_before)

    def _oldest_point(self) -> int | None:
        oldest = min((p[0] for p in self._points_between(-(2**62), 2**62)), default=None)
        return oldest

    # --- rollups -------------------------------------------------------------------------
    def _rollup_level(self, level: int, start: int, end: int) -> int:
        fresh: dict[tuple[int, Series], _Rollup] = {}
        for timestamp, id_, value, series, bounds, counts in self._points_between(start, end):
            key = (floor_to(timestamp, level), series)
            row = fresh.get(key)
            if row is None:
                row = fresh[key] = _Rollup()
            row.add(timestamp, id_, value, bounds, counts)
        with self._rollups_lock:
            rows = self._rollups.setdefault(level, {})
            for key in [k for k in rows if start <= k[0] < end]:
                del rows[key]
            rows.update(fresh)
            self._raise(level, complete_until=end)
        return len(fresh)

    def _stale_ranges(self, level: int, start: int, end: int) -> list[tuple[int, int]]:
        raw: dict[int, int] = {}
        for timestamp, *_ in self._points_between(start, end):
            bucket = floor_to(timestamp, level)
            raw[bucket] = raw.get(bucket, 0) + 1
        rolled: dict[int, int] = {}
        with self._rollups_lock:
            for (bucket, _), row in self._rollups.get(level, {}).items():
                if start <= bucket < end:
                    rolled[bucket] = rolled.get(bucket, 0) + row.count
        return stale_ranges(raw, rolled, level)

    # --- reads ---------------------------------------------------------------------------
    def _aggregate_rollups(
        self, level: int, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        if aggregation.ranked:
            return ranked_points(aggregation, lambda a: self._aggregate_rollups(level, a, filters))
        if aggregation.type == "histogram":
            return self._rollup_histograms(level, aggregation, filters)
        start = None if filters.start_time is None else to_epoch_us(filters.start_time)
        end = None if filters.end_time is None else to_epoch_us(filters.end_time)
        width = None if aggregation.interval is None else aggregation.interval // ONE_MICROSECOND
        groups: dict[tuple[Any, ...], list[_Rollup]] = {}
        with self._rollups_lock:
            for (bucket, series), row in self._rollups.get(level, {}).items():
                if (start is not None and bucket < start) or (end is not None and bucket > end):
                    continue
                if not _series_matches(series, filters):
                    continue
                columns = dict(zip(_COLUMNS, series, strict=True))
                labels = dict(series[2])
                values = tuple(
                    columns[k] if k in COLUMN_GROUP_KEYS else labels.get(k)
                    for k in aggregation.group_by
                )
                at = None if width is None else floor_to(bucket, width)
                groups.setdefault((series[0], at, values), []).append(row)
        points = []
        for (name, at, values), rows in groups.items():
            count = sum(row.count for row in rows)
            points.append(
                AggregatePoint(
                    name=name,
                    timestamp=None if at is None else from_epoch_us(at),
                    group=dict(zip(aggregation.group_by, values, strict=True)),
                    value=_combine(aggregation, rows, count),
                    count=count,
                )
            )
        return points

    def _rollup_histograms(
        self, level: int, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        start = None if filters.start_time is None else to_epoch_us(filters.start_time)
        end = None if filters.end_time is None else to_epoch_us(filters.end_time)
        groups: dict[tuple[Any, ...], tuple[list[int], HistogramSum]] = {}
        with self._rollups_lock:
            for (bucket, series), row in self._rollups.get(level, {}).items():
                if (start is not None and bucket < start) or (end is not None and bucket > end):
                    continue
                if not _series_matches(series, filters):
                    continue
                columns = dict(zip(_COLUMNS, series, strict=True))
                key = (
                    series[0],
                    bucket_of(bucket, aggregation),
                    group_of(columns, dict(series[2]), aggregation.group_by),
                )
                entry = groups.get(key)
                if entry is None:
                    entry = groups[key] = ([0], HistogramSum())
                entry[0][0] += row.count
                entry[1].add(*row.histogram.result())
        return [
            histogram_point(
                name, at, dict(zip(aggregation.group_by, values, strict=True)), n[0], total
            )
            for (name, at, values), (n, total) in groups.items()
        ]

    # --- deletes -------------------------------------------------------------------------
    def _delete_points_before(self, before: int) -> int:
        """In one pass: deleting rows rebuilds the stored columns, which costs as much for a
        slice as for everything (one rebuild of 1,000,000 points about 1 s), so slices would
        not shorten a writer's longest wait, only repeat the rebuild (46 slices: 56 s)."""
        pause()
        return self._delete_metrics(MetricFilters(end_time=from_epoch_us(before - 1)))

    def _count_points_before(self, before: int) -> int:
        return self._count_metrics(MetricFilters(end_time=from_epoch_us(before - 1)))

    def _delete_rollups_before(self, level: int, before: int) -> int:
        with self._rollups_lock:
            rows = self._rollups.get(level, {})
            doomed = [key for key in rows if key[0] < before]
            for key in doomed:
                del rows[key]
            return len(doomed)

    def _count_rollups_before(self, level: int, before: int) -> int:
        with self._rollups_lock:
            return sum(1 for key in self._rollups.get(level, {}) if key[0] < before)

    def _old_traces(self, before: int) -> list[str]:
        cutoff = from_epoch_us(before)
        return [
            trace_id
            for trace_id, spans in self._traces_snapshot().items()
            if any(s.parent_span_id is None and s.started_at < cutoff for s in spans.values())
        ]

    def _delete_traces_before(self, before: int) -> tuple[int, int]:
        doomed = self._old_traces(before)
        return len(doomed), self._delete_traces(doomed)

    def _count_traces_before(self, before: int) -> tuple[int, int]:
        doomed = self._old_traces(before)
        snapshot = self._traces_snapshot()
        return len(doomed), sum(len(snapshot[t]) for t in doomed)


def _series_matches(series: Series, filters: MetricFilters) -> bool:
    name, type_, labels, organization_id, environment, service_name = series
    if filters.names is not None and name not in filters.names:
        return False
    if filters.types is not None and type_ not in {t.value for t in filters.types}:
        return False
    if filters.labels and not filters.labels.items() <= dict(labels).items():
        return False
    for wanted, value in (
        (filters.organization_id, organization_id),
        (filters.environment, environment),
        (filters.service_name, service_name),
    ):
        if wanted is not None and value != wanted:
            return False
    return True


def _combine(aggregation: Aggregation, rows: list[_Rollup], count: int) -> float:
    kind = aggregation.type
    if kind == "sum":
        return math.fsum(v for row in rows for v in row.sums)
    if kind == "avg":
        return math.fsum(v for row in rows for v in row.sums) / count
    if kind == "count":
        return float(count)
    if kind == "min":
        return min(row.min for row in rows)
    if kind == "max":
        return max(row.max for row in rows)
    if kind == "last":
        return max(row.last for row in rows)[2]
    assert aggregation.percentile is not None
    bins: dict[int, int] = {}
    for row in rows:
        for key, n in row.bins.items():
            bins[key] = bins.get(key, 0) + n
    value = sketch.quantile(
        bins, aggregation.percentile, min(row.min for row in rows), max(row.max for row in rows)
    )
    assert value is not None
    return value
