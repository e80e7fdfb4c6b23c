"""Query arguments and results for metrics. Anything here that later becomes SQL structure
(an order field, a direction, an aggregation, an interval, a group key) is checked against an
allow-list or a strict parser first."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from obsstore.models._fields import (
    FiniteFloat,
    LabelKey,
    Labels,
    MetricName,
    ResourceText,
    UtcDatetime,
)
from obsstore.models.metrics import MetricRecord, MetricType

# Group keys that name a column; any other key is a label key.
COLUMN_GROUP_KEYS = ("name", "type", "organization_id", "environment", "service_name")
AggregationType = Literal["sum", "avg", "min", "max", "count", "last", "percentile", "histogram"]
AggregationOrder = Literal["key", "value_desc", "value_asc"]
MAX_TOP_GROUPS = 10_000
MAX_GROUP_KEYS = 16
MAX_INTERVAL = timedelta(days=36_500)
_INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_INTERVAL_PATTERN = re.compile(r"([1-9][0-9]{0,8})([smhdw])")


def parse_interval(value: Any) -> timedelta | None:
    """``None``, a positive ``timedelta``, or ``"<n>s|m|h|d|w"`` (weeks are 7 days)."""
    if value is None:
        return None
    if isinstance(value, str):
        match = _INTERVAL_PATTERN.fullmatch(value)
        if match is None:
            raise ValueError('must look like "30s", "5m", "1h", "1d" or "1w"')
        seconds = int(match.group(1)) * _INTERVAL_UNITS[match.group(2)]
        if seconds > MAX_INTERVAL.total_seconds():  # before timedelta overflows on it
            raise ValueError("must be positive and at most 36500 days")
        value = timedelta(seconds=seconds)
    if not isinstance(value, timedelta):
        raise ValueError("must be None, a timedelta or a string such as '1h'")
    if value <= timedelta(0) or value > MAX_INTERVAL:
        raise ValueError("must be positive and at most 36500 days")
    return value


class MetricFilters(BaseModel):
    """Which points a query sees. Every field is optional; set fields combine with AND.
    ``start_time`` and ``end_time`` are both inclusive; every label pair must match exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: MetricName | list[MetricName] | None = None
    type: MetricType | list[MetricType] | None = None
    start_time: UtcDatetime | None = None
    end_time: UtcDatetime | None = None
    labels: Labels | None = None
    organization_id: ResourceText | None = None
    environment: ResourceText | None = None
    service_name: ResourceText | None = None
    trace_id: ResourceText | None = None

    @model_validator(mode="after")
    def _check_range(self) -> MetricFilters:
        if self.start_time and self.end_time and self.end_time < self.start_time:
            raise ValueError("end_time is before start_time")
        return self

    @property
    def names(self) -> list[str] | None:
        return [self.name] if isinstance(self.name, str) else self.name

    @property
    def types(self) -> list[MetricType] | None:
        return [self.type] if isinstance(self.type, MetricType) else self.type

    def is_empty(self) -> bool:
        """True when the filters constrain nothing (an empty ``labels`` dict constrains nothing)."""
        return all(value is None or (key == "labels" and not value) for key, value in self)


class Pagination(BaseModel):
    """Which page: plain ints only (no bools, no "10", no 2.0)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: StrictInt = Field(100, ge=1, le=10_000)
    offset: StrictInt = Field(0, ge=0, le=2**62)


class OrderBy(BaseModel):
    """Sort order of ``list_metrics``; ties are broken by ``id`` in the same direction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: Literal["timestamp", "name", "value"] = "timestamp"
    direction: Literal["asc", "desc"] = "desc"


class Aggregation(BaseModel):
    """An aggregation per metric name, optionally per time bucket and per group keys.

    Buckets are aligned to 1970-01-01T00:00:00Z (so weekly buckets start on Thursdays).
    ``percentile`` interpolates linearly between the closest ranks (``percentile_cont``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: AggregationType
    percentile: FiniteFloat | None = None
    interval: timedelta | None = None
    group_by: Annotated[list[LabelKey], Field(max_length=MAX_GROUP_KEYS)] = Field(
        default_factory=list
    )
    # Where the answer comes from: rollups where they are complete and raw points elsewhere
    # ("auto"), or only one of them (see obsstore/lifecycle).
    source: Literal["auto", "raw", "rollup"] = "auto"
    # "key": the contract's order (name, group, bucket). "value_desc" / "value_asc": per metric
    # name, groups by their value over the whole range (the same aggregation without buckets),
    # ties by group in key order; each group's buckets follow in time order. ``limit`` keeps
    # the first ``limit`` groups per name in that order, each with all of its buckets.
    order: AggregationOrder = "key"
    limit: StrictInt | None = Field(None, ge=1, le=MAX_TOP_GROUPS)

    @field_validator("interval", mode="before")
    @classmethod
    def _parse_interval(cls, value: Any) -> timedelta | None:
        return parse_interval(value)

    @model_validator(mode="after")
    def _check(self) -> Aggregation:
        if self.type == "percentile":
            if self.percentile is None or not 0.0 <= self.percentile <= 1.0:
                raise ValueError("percentile aggregation needs percentile in [0, 1]")
        elif self.percentile is not None:
            raise ValueError("percentile is only allowed with type='percentile'")
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by keys must be unique")
        if self.limit is not None and self.order == "key":
            raise ValueError('limit needs order "value_desc" or "value_asc"')
        if self.type == "histogram" and self.order != "key":
            raise ValueError("order by value is not available for type='histogram'")
        return self

    @property
    def ranked(self) -> bool:
        """Whether groups are ordered (and maybe limited) by their value."""
        return self.order != "key"

    def totals(self) -> Aggregation:
        """The same aggregation over the whole range (one value per group), in key order."""
        return self.model_copy(update={"interval": None, "order": "key", "limit": None})


class AggregatePoint(NamedTuple):
    """One aggregated value: per metric ``name``, per ``group`` (key -> value, ``None`` where a
    point lacks the label) and per bucket ``timestamp`` (``None`` without an interval).

    A named tuple, not a model: a dashboard query returns thousands of these, and building
    pydantic instances cost more than DuckDB took to answer. Immutable, compared by value,
    built by keyword or position; ``model_dump()`` remains for code written against the model."""

    name: str
    timestamp: datetime | None
    group: dict[str, str | None]
    value: float
    count: int  # type: ignore[assignment]  # the field shadows tuple.count, on purpose
    # type="histogram" only: the bounds and the summed bucket counts, where every point of the
    # group has bucket counts and all have the same bounds (None otherwise); ``value`` is then
    # the number of observations in them (0 where there are none).
    bucket_boundaries: list[float] | None = None
    bucket_counts: list[int] | None = None

    def model_dump(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "timestamp": self.timestamp,
            "group": dict(self.group),
            "value": self.value,
            "count": self.count,
            "bucket_boundaries": self.bucket_boundaries,
            "bucket_counts": self.bucket_counts,
        }


class Page(BaseModel):
    """What every paged listing returns besides its ``data``: shared by the page types."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def of(cls: type[_Page], data: list[Any], total: int, pagination: Pagination) -> _Page:
        return cls(
            data=data,
            total=total,
            limit=pagination.limit,
            offset=pagination.offset,
            has_more=pagination.offset + len(data) < total,
        )


_Page = TypeVar("_Page", bound=Page)


class MetricsPage(Page):
    data: list[MetricRecord]
    total: int
    limit: int
    offset: int
    has_more: bool
