"""Histogram series summed per aligned period and group, for request metrics (obsstore.routes).

Backends answer two grouped queries (``_histogram_periods``: requests, duration sum, latest
point, min and max; ``_histogram_bins``: bucket counts summed index by index per boundary set);
quantiles are read from those few summed rows here, as Prometheus' ``histogram_quantile``
does: linear within the bucket, the outer buckets closed by the observed min and max."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from obsstore.models import MetricFilters

ERROR_LABEL = "error.type"
STATUS_LABEL = "http.response.status_code"
Group = tuple[str | None, ...]


@dataclass(frozen=True)
class HistogramQuery:
    """Points of ``filters`` by ``period``-wide bucket (aligned to the epoch), by the values
    of the label ``keys``, and by outcome: a point failed when it has a non-empty
    ``error.type`` label or a 5xx ``http.response.status_code``."""

    filters: MetricFilters
    keys: tuple[str, ...]
    period: timedelta


@dataclass(frozen=True)
class HistogramPeriod:
    bucket: datetime
    group: Group
    failed: bool
    requests: int  # histogram_count summed (a point without one counts as one request)
    duration: float  # values (the histograms' sums) summed
    last: datetime
    low: float | None  # least histogram_min
    high: float | None  # greatest histogram_max


@dataclass(frozen=True)
class HistogramBins:
    bucket: datetime
    group: Group
    boundaries: tuple[float, ...]
    counts: tuple[int, ...]


def is_failure(labels: dict[str, str]) -> bool:
    """The rule the SQL backends apply with ``failure_flag`` (sqlfuncs-free, for memory)."""
    status = labels.get(STATUS_LABEL)
    return bool(labels.get(ERROR_LABEL)) or (status is not None and "500" <= status < "600")


def quantile(
    fraction: float, bins: list[HistogramBins], low: float | None, high: float | None
) -> float | None:
    """The ``fraction`` quantile of the observations the bins count, or ``None`` without any."""
    pieces: list[tuple[float, float, int]] = []  # (lower, upper, count)
    for histogram in bins:
        bounds = histogram.boundaries
        if not bounds:
            continue
        first = bounds[0]
        for index, count in enumerate(histogram.counts):
            if count <= 0:
                continue
            if index == 0:
                lower = low if low is not None else (0.0 if first > 0 else first)
                upper = first
            elif index >= len(bounds):
                lower = bounds[-1]
                upper = high if high is not None else bounds[-1]
            else:
                lower, upper = bounds[index - 1], bounds[index]
            pieces.append((min(lower, upper), upper, count))
    total = sum(count for _, _, count in pieces)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    value = pieces[-1][1]
    for lower, upper, count in sorted(pieces, key=lambda p: (p[1], p[0])):
        if seen + count >= rank:
            value = lower + (upper - lower) * ((rank - seen) / count)
            break
        seen += count
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value
