"""Results of ``summarize_metrics`` and ``health``: plain models, the same on every backend."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

SummaryComparison = Literal["previous_period", "previous_day", "previous_week"]
DEFAULT_PERCENTILES = (0.5, 0.95, 0.99)
STATISTICS = ("count", "sum", "avg", "min", "max", "last")


class SummaryStats(BaseModel):
    """Statistics of one metric name's points in one time range. ``avg`` is ``sum / count``
    and ``percentiles`` maps each requested fraction to its ``percentile`` aggregate, exactly
    as ``aggregate_metrics`` computes them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int
    sum: float
    avg: float
    min: float
    max: float
    last: float
    percentiles: dict[float, float]


class SummaryChange(BaseModel):
    """Relative change per statistic, ``(current - previous) / abs(previous)``; ``None`` where
    the previous value is 0 or the name had no points in the previous range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: float | None = None
    sum: float | None = None
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    last: float | None = None
    percentiles: dict[float, float | None]


class MetricSummary(SummaryStats):
    """One metric name's statistics; with ``compare``, also the previous range's (``None``
    when the name had no points then) and the relative change."""

    name: str
    previous: SummaryStats | None = None
    change: SummaryChange | None = None


class Health(BaseModel):
    """What ``storage.health()`` found. An unreachable database gives ``reachable=False`` (and
    ``error``) rather than an exception; counts and revisions are ``None`` where they could not
    be read (no schema yet, or not reachable). ``schema_revision`` and ``head_revision`` are
    ``None`` on the memory backend, which has no schema."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str
    url: str
    reachable: bool
    latency_ms: float | None = None
    schema_revision: str | None = None
    head_revision: str | None = None
    points: int | None = None
    spans: int | None = None
    error: str | None = None


__all__ = [
    "DEFAULT_PERCENTILES",
    "Health",
    "MetricSummary",
    "SummaryChange",
    "SummaryComparison",
    "SummaryStats",
]
