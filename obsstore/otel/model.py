"""OpenTelemetry metric data in one neutral shape, whatever it came from (the Python SDK's
``MetricsData`` or an OTLP request), so that one mapping turns both into obsstore points."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

Kind = Literal["sum", "gauge", "histogram", "exponential_histogram"]
Temporality = Literal["delta", "cumulative", "unspecified"]


@dataclass(frozen=True)
class Stream:
    """What a metric's points share: where they come from and how they aggregate."""

    name: str
    unit: str
    kind: Kind
    temporality: Temporality = "unspecified"
    monotonic: bool = False
    resource: Mapping[str, Any] = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""

    @cached_property
    def identity_hash(self) -> Any:
        """SHA-256 fed with what identifies the stream; point ids continue from a copy."""
        from obsstore.otel.mapping import attribute_text

        identity = [
            sorted((k, attribute_text(v)) for k, v in self.resource.items()),
            self.scope_name,
            self.scope_version,
            self.name,
        ]
        return hashlib.sha256(json.dumps(identity, separators=(",", ":")).encode() + b"\n")

    @cached_property
    def resource_fields(self) -> dict[str, str | None]:
        from obsstore.otel.mapping import resource_fields

        return resource_fields(self.resource)


@dataclass(frozen=True)
class Buckets:
    """One side of an exponential histogram: counts of consecutive buckets from ``offset``."""

    offset: int = 0
    counts: tuple[int, ...] = ()


@dataclass(frozen=True)
class Point:
    """One data point. Numbers use ``value``; histograms the rest (``value`` holds the sum)."""

    attributes: Mapping[str, Any]
    start_ns: int
    time_ns: int
    value: float = 0.0
    count: int = 0
    bounds: tuple[float, ...] = ()
    bucket_counts: tuple[int, ...] = ()
    min: float | None = None
    max: float | None = None
    # Exponential histograms only.
    scale: int = 0
    zero_count: int = 0
    zero_threshold: float = 0.0
    positive: Buckets = Buckets()
    negative: Buckets = Buckets()
