"""``summarize_metrics``: per metric name, the statistics ``aggregate_metrics`` computes, each
one aggregate query grouped by name (so rollups serve them where they can, as they serve any
aggregate), for a time range and optionally the range it is compared with."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from obsstore.errors import InvalidArgumentError
from obsstore.models import Aggregation, MetricFilters
from obsstore.models._fields import utc_now
from obsstore.models.summaries import (
    STATISTICS,
    MetricSummary,
    SummaryChange,
    SummaryComparison,
    SummaryStats,
)

if TYPE_CHECKING:
    from obsstore.storage.base import MetricsStorage

MAX_PERCENTILES = 16
_SHIFTS = {"previous_day": timedelta(days=1), "previous_week": timedelta(days=7)}
_ONE_US = timedelta(microseconds=1)


def check_percentiles(percentiles: Iterable[float]) -> tuple[float, ...]:
    if isinstance(percentiles, (str, bytes)) or not isinstance(percentiles, Iterable):
        raise InvalidArgumentError("percentiles must be a sequence of fractions in [0, 1]")
    fractions = tuple(percentiles)
    for fraction in fractions:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise InvalidArgumentError("percentiles must be numbers in [0, 1]")
        if not 0.0 <= fraction <= 1.0:
            raise InvalidArgumentError("percentiles must be numbers in [0, 1]")
    if len(set(fractions)) != len(fractions) or len(fractions) > MAX_PERCENTILES:
        raise InvalidArgumentError(f"percentiles must be unique and at most {MAX_PERCENTILES}")
    return tuple(float(f) for f in fractions)


def previous_filters(filters: MetricFilters, compare: str) -> MetricFilters:
    """The range ``compare`` names: ``previous_period`` is the equally long range just before
    ``[start_time, end_time]`` (both inclusive); ``previous_day`` / ``previous_week`` the same
    range one day / week earlier. ``end_time`` defaults to now; ``start_time`` is required."""
    if compare not in ("previous_period", *_SHIFTS):
        raise InvalidArgumentError(
            'compare must be "previous_period", "previous_day" or "previous_week"'
        )
    if filters.start_time is None:
        raise InvalidArgumentError("compare needs filters.start_time (the range to compare)")
    end = filters.end_time if filters.end_time is not None else utc_now()
    start = filters.start_time
    shift = _SHIFTS.get(compare, end - start + _ONE_US)
    return filters.model_copy(update={"start_time": start - shift, "end_time": end - shift})


def _by_name(storage: MetricsStorage, aggregation: Aggregation, filters: MetricFilters) -> Any:
    return {p.name: p for p in storage.aggregate_metrics(aggregation, filters)}


def statistics(
    storage: MetricsStorage, filters: MetricFilters, fractions: tuple[float, ...]
) -> dict[str, SummaryStats]:
    sums = _by_name(storage, Aggregation(type="sum"), filters)
    if not sums:
        return {}
    picks = {kind: _by_name(storage, Aggregation(type=kind), filters) for kind in STATISTICS[3:]}
    quantiles = {
        fraction: _by_name(storage, Aggregation(type="percentile", percentile=fraction), filters)
        for fraction in fractions
    }
    result = {}
    answers = [*picks.values(), *quantiles.values()]
    for name, total in sums.items():
        if any(name not in answer for answer in answers):
            continue  # its points were written or deleted between the queries
        result[name] = SummaryStats(
            count=total.count,
            sum=total.value,
            avg=total.value / total.count,
            min=picks["min"][name].value,
            max=picks["max"][name].value,
            last=picks["last"][name].value,
            percentiles={f: quantiles[f][name].value for f in fractions},
        )
    return result


def relative_change(current: float, previous: float | None) -> float | None:
    if previous is None or previous == 0:
        return None
    change = (current - previous) / abs(previous)
    return change if math.isfinite(change) else None


def change_of(current: SummaryStats, previous: SummaryStats | None) -> SummaryChange:
    values: dict[str, Any] = {
        key: relative_change(
            getattr(current, key), None if previous is None else getattr(previous, key)
        )
        for key in STATISTICS
    }
    values["percentiles"] = {
        fraction: relative_change(
            value, None if previous is None else previous.percentiles.get(fraction)
        )
        for fraction, value in current.percentiles.items()
    }
    return SummaryChange(**values)


def summarize(
    storage: MetricsStorage,
    filters: MetricFilters,
    percentiles: Iterable[float],
    compare: SummaryComparison | None,
) -> list[MetricSummary]:
    fractions = check_percentiles(percentiles)
    before: Mapping[str, SummaryStats] | None = None
    if compare is not None:
        if filters.end_time is None:  # one "now" for both ranges
            filters = filters.model_copy(update={"end_time": utc_now()})
        before = statistics(storage, previous_filters(filters, compare), fractions)
    summaries = []
    for name, stats in sorted(statistics(storage, filters, fractions).items()):
        previous = None if before is None else before.get(name)
        summaries.append(
            MetricSummary(
                name=name,
                **dict(stats),
                previous=previous,
                change=None if before is None else change_of(stats, previous),
            )
        )
    return summaries
