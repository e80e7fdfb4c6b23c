"""Histogram series per period and group on the memory backend (see histograms.py): the
points are Python objects already, summed here as the SQL backends' GROUP BY sums them."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Any

from obsstore.models import MetricFilters, MetricRecord
from obsstore.models._fields import EPOCH
from obsstore.storage.aggregate_math import float_sum
from obsstore.storage.histograms import (
    HistogramBins,
    HistogramPeriod,
    HistogramQuery,
    is_failure,
)


class MemoryHistograms:
    """MemoryStorage supplies its lock, matching rows and records."""

    _lock: Any  # OpenLock

    @abstractmethod
    def _matching_rows(self, filters: MetricFilters) -> list[int]: ...

    @abstractmethod
    def _record(self, i: int) -> MetricRecord: ...

    def _histogram_points(self, query: HistogramQuery) -> list[tuple[Any, MetricRecord]]:
        with self._lock:
            records = [self._record(i) for i in self._matching_rows(query.filters)]
        keyed = []
        for record in records:
            bucket = EPOCH + (record.timestamp - EPOCH) // query.period * query.period
            group = tuple(record.labels.get(key) for key in query.keys)
            keyed.append(((bucket, group), record))
        return keyed

    def _histogram_periods(self, query: HistogramQuery) -> list[HistogramPeriod]:
        groups: dict[tuple[datetime, Any, bool], list[MetricRecord]] = {}
        for (bucket, group), record in self._histogram_points(query):
            groups.setdefault((bucket, group, is_failure(record.labels)), []).append(record)
        periods = []
        for (bucket, group, failed), records in groups.items():
            lows = [r.histogram_min for r in records if r.histogram_min is not None]
            highs = [r.histogram_max for r in records if r.histogram_max is not None]
            periods.append(
                HistogramPeriod(
                    bucket=bucket,
                    group=group,
                    failed=failed,
                    requests=sum(
                        1 if r.histogram_count is None else r.histogram_count for r in records
                    ),
                    duration=float_sum([r.value for r in records]),
                    last=max(r.timestamp for r in records),
                    low=min(lows) if lows else None,
                    high=max(highs) if highs else None,
                )
            )
        return periods

    def _histogram_bins(self, query: HistogramQuery) -> list[HistogramBins]:
        sums: dict[tuple[Any, Any, tuple[float, ...]], list[int]] = {}
        for (bucket, group), record in self._histogram_points(query):
            if record.bucket_boundaries is None or record.bucket_counts is None:
                continue
            key = (bucket, group, tuple(record.bucket_boundaries))
            total = sums.setdefault(key, [])
            total.extend([0] * (len(record.bucket_counts) - len(total)))
            for index, count in enumerate(record.bucket_counts):
                total[index] += count
        return [
            HistogramBins(bucket=bucket, group=group, boundaries=bounds, counts=tuple(counts))
            for (bucket, group, bounds), counts in sums.items()
        ]
