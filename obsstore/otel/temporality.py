"""Cumulative streams turned into deltas, and delta up-down sums into levels, per stream.

obsstore stores a counter point as the delta of its interval and a gauge as the current
value. Senders choose their temporality: an OTLP sender (a collector, another language's SDK)
often sends cumulative sums and histograms; obsstore's own exporter asks for deltas. This
module keeps, per stream and attribute set, what the previous point said, and answers the
point obsstore stores. A cumulative stream restarts when its start time changes or its total
falls: the new point then counts from its own start."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from obsstore.otel.mapping import attribute_text
from obsstore.otel.model import Point, Stream

# Streams remembered at most (least recently seen forgotten first): bounded memory for
# unbounded attribute cardinality; a forgotten stream starts again as a reset.
MAX_STREAMS = 100_000


@dataclass
class _Last:
    start_ns: int
    time_ns: int
    point: Point


def _key(stream: Stream, point: Point) -> tuple[Any, ...]:
    return (
        tuple(sorted((k, attribute_text(v)) for k, v in stream.resource.items())),
        stream.scope_name,
        stream.name,
        stream.kind,
        tuple(sorted((k, attribute_text(v)) for k, v in point.attributes.items())),
    )


class DeltaConverter:
    """Thread-safe state of every stream seen; ``convert`` returns the point to store, or
    None when there is nothing new (a repeated cumulative point)."""

    def __init__(self, max_streams: int = MAX_STREAMS) -> None:
        self._last: OrderedDict[tuple[Any, ...], _Last] = OrderedDict()
        self._levels: OrderedDict[tuple[Any, ...], float] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_streams

    def convert(self, stream: Stream, point: Point) -> Point | None:
        if stream.kind == "gauge":
            return point
        if stream.kind == "sum" and not stream.monotonic:
            return self._level(stream, point)
        if stream.temporality != "cumulative":
            return point
        return self._delta(stream, point)

    def _remember(self, table: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self._max:
            table.popitem(last=False)

    def _level(self, stream: Stream, point: Point) -> Point:
        """An up-down sum's current value: cumulative points are it; deltas add up to it."""
        if stream.temporality != "delta":
            return point
        key = _key(stream, point)
        with self._lock:
            level = self._levels.get(key, 0.0) + point.value
            self._remember(self._levels, key, level)
        return replace(point, value=level)

    def _delta(self, stream: Stream, point: Point) -> Point | None:
        key = _key(stream, point)
        with self._lock:
            last = self._last.get(key)
            if (
                last is not None
                and point.time_ns <= last.time_ns
                and (point.start_ns == last.start_ns)
            ):
                return None  # a repeat or an older point of the same run: nothing new
            self._remember(self._last, key, _Last(point.start_ns, point.time_ns, point))
        if last is None or point.start_ns != last.start_ns or _fell(stream, point, last.point):
            return point  # first point of a run: the whole total is new since its start
        return _difference(stream, point, last.point, last.time_ns)


def _fell(stream: Stream, point: Point, previous: Point) -> bool:
    if stream.kind == "sum":
        return point.value < previous.value
    return point.count < previous.count


def _difference(stream: Stream, point: Point, previous: Point, previous_ns: int) -> Point:
    if stream.kind == "sum":
        return replace(point, start_ns=previous_ns, value=point.value - previous.value)
    same_layout = point.bounds == previous.bounds and len(point.bucket_counts) == len(
        previous.bucket_counts
    )
    counts = (
        tuple(a - b for a, b in zip(point.bucket_counts, previous.bucket_counts, strict=True))
        if same_layout and stream.kind == "histogram"
        else point.bucket_counts
    )
    if stream.kind == "exponential_histogram":
        # Exponential layouts move with the data: subtracting bucket by bucket needs the same
        # scale and offsets; otherwise the point is kept whole as a reset.
        if (point.scale, point.positive.offset, point.negative.offset) != (
            previous.scale,
            previous.positive.offset,
            previous.negative.offset,
        ):
            return point
        return replace(
            point,
            start_ns=previous_ns,
            value=point.value - previous.value,
            count=point.count - previous.count,
            zero_count=point.zero_count - previous.zero_count,
            positive=_minus(point.positive, previous.positive),
            negative=_minus(point.negative, previous.negative),
            min=None,
            max=None,
        )
    if not same_layout:
        return point
    return replace(
        point,
        start_ns=previous_ns,
        value=point.value - previous.value,
        count=point.count - previous.count,
        bucket_counts=counts,
        # The extremes of the interval alone are not knowable from two cumulative points.
        min=None,
        max=None,
    )


def _minus(current: Any, previous: Any) -> Any:
    padded = list(previous.counts) + [0] * (len(current.counts) - len(previous.counts))
    return replace(current, counts=tuple(a - b for a, b in zip(current.counts, padded)))  # noqa: B905
