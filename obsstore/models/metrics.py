"""The metric point as callers write it and read it back."""

from __future__ import annotations

from enum import Enum
from itertools import pairwise
from typing import Annotated

from pydantic import ConfigDict, Field, StrictInt, model_validator

from obsstore.models._fields import (
    FiniteFloat,
    Identifier,
    Labels,
    MetricName,
    ResourceText,
    UtcDatetime,
    new_id,
    utc_now,
)
from obsstore.models._unchecked import MarksUnchecked

MAX_BUCKET_COUNT = 2**63 - 1


class MetricType(str, Enum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"

    def __str__(self) -> str:
        return self.value


BucketCount = Annotated[StrictInt, Field(ge=0, le=MAX_BUCKET_COUNT)]


class MetricRecord(MarksUnchecked):
    """One metric point. Frozen: a record that exists has passed validation, so backends write
    records without checking them again (records that ``model_copy(update=...)`` or
    ``model_construct`` made skipped it, so writes check those again). For a histogram,
    ``value`` is the sum of observations and the optional buckets hold their distribution
    (``len(counts) == len(boundaries) + 1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Identifier = Field(default_factory=new_id)
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    name: MetricName
    type: MetricType = MetricType.GAUGE
    value: FiniteFloat
    labels: Labels = Field(default_factory=dict)
    organization_id: ResourceText | None = None
    environment: ResourceText | None = None
    service_name: ResourceText | None = None
    trace_id: ResourceText | None = None
    span_id: ResourceText | None = None
    bucket_boundaries: list[FiniteFloat] | None = None
    bucket_counts: list[BucketCount] | None = None
    # What OpenTelemetry points carry beyond the value (all optional): the unit, the start of
    # the interval the point covers (``timestamp`` is its end), and for a histogram the
    # number, minimum and maximum of its observations.
    unit: ResourceText | None = None
    start_timestamp: UtcDatetime | None = None
    histogram_count: BucketCount | None = None
    histogram_min: FiniteFloat | None = None
    histogram_max: FiniteFloat | None = None

    @model_validator(mode="after")
    def _check_interval_and_summary(self) -> MetricRecord:
        if self.start_timestamp is not None and self.start_timestamp > self.timestamp:
            raise ValueError("start_timestamp is after timestamp")
        summary = (self.histogram_count, self.histogram_min, self.histogram_max)
        if self.type is not MetricType.HISTOGRAM and summary != (None, None, None):
            raise ValueError(
                "histogram_count, histogram_min and histogram_max are only allowed on histograms"
            )
        if (
            self.histogram_min is not None
            and self.histogram_max is not None
            and self.histogram_min > self.histogram_max
        ):
            raise ValueError("histogram_min is greater than histogram_max")
        return self

    @model_validator(mode="after")
    def _check_buckets(self) -> MetricRecord:
        bounds, counts = self.bucket_boundaries, self.bucket_counts
        if bounds is None and counts is None:
            return self
        if self.type is not MetricType.HISTOGRAM:
            raise ValueError("bucket_boundaries and bucket_counts are only allowed on histograms")
        if bounds is None or counts is None:
            raise ValueError(
                "a histogram needs both bucket_boundaries and bucket_counts, or neither"
            )
        if len(counts) != len(bounds) + 1:
            raise ValueError(
                f"bucket_counts must have len(bucket_boundaries) + 1 = {len(bounds) + 1} entries, "
                f"got {len(counts)}"
            )
        if any(not a < b for a, b in pairwise(bounds)):
            raise ValueError("bucket_boundaries must be strictly increasing")
        return self
