"""Cheap re-checks, at the write boundary, of the invariants the storages rely on.

A record that exists was validated, except when someone bypassed that (``model_construct``,
``model_copy(update=...)``, which carry a mark, or writing to ``__dict__``, which does not).
These checks run over a whole batch with C-level ``map`` calls and say only whether it looks
sound; a batch that does not is validated again in full, which names the item and field."""

from __future__ import annotations

from datetime import datetime
from itertools import compress, pairwise, repeat
from math import isfinite
from operator import attrgetter, gt, is_not
from typing import Any

from obsstore.models._fields import EPOCH, UTC
from obsstore.models.metrics import MAX_BUCKET_COUNT, MetricRecord, MetricType
from obsstore.models.traces import SpanRecord

_FLOAT = {float}
_UTC = {UTC}
_METRIC_TYPE = {MetricType}
_value = attrgetter("value")
_timestamp = attrgetter("timestamp")
_tzinfo = attrgetter("tzinfo")
_type = attrgetter("type")
_bounds = attrgetter("bucket_boundaries")
_counts = attrgetter("bucket_counts")
_started = attrgetter("started_at")
_ended = attrgetter("ended_at")


def _utc_moments(moments: list[datetime]) -> bool:
    """Every moment is an aware UTC datetime no earlier than the epoch (as validation leaves
    it: the upper end, year 9999, is where datetime ends anyway)."""
    return not moments or (set(map(_tzinfo, moments)) == _UTC and min(moments) >= EPOCH)


def _finite_floats(values: list[Any]) -> bool:
    return set(map(type, values)) <= _FLOAT and all(map(isfinite, values))


def _buckets_sound(record: MetricRecord) -> bool:
    bounds, counts = record.bucket_boundaries, record.bucket_counts
    if bounds is None or counts is None or record.type is not MetricType.HISTOGRAM:
        return False
    if not (_finite_floats(bounds) and len(counts) == len(bounds) + 1):
        return False
    if any(not a < b for a, b in pairwise(bounds)):
        return False
    return set(map(type, counts)) <= {int} and all(0 <= c <= MAX_BUCKET_COUNT for c in counts)


def metric_records_look_sound(records: list[MetricRecord]) -> bool:
    try:
        if not _finite_floats(list(map(_value, records))):
            return False
        if not _utc_moments(list(map(_timestamp, records))):
            return False
        if not set(map(type, map(_type, records))) <= _METRIC_TYPE:
            return False
        bounds, counts = list(map(_bounds, records)), list(map(_counts, records))
        if bounds.count(None) == counts.count(None) == len(records):
            return True
        histograms = compress(records, map(is_not, bounds, repeat(None)))
        with_counts = compress(records, map(is_not, counts, repeat(None)))
        return all(map(_buckets_sound, histograms)) and all(map(_buckets_sound, with_counts))
    except (AttributeError, TypeError, ValueError, OverflowError):
        return False  # a value of the wrong type: full validation says which


def spans_look_sound(spans: list[SpanRecord]) -> bool:
    try:
        starts = list(map(_started, spans))
        ends = list(map(_ended, spans))
        ended = list(map(is_not, ends, repeat(None)))
        ends_given = list(compress(ends, ended))
        if not (_utc_moments(starts) and _utc_moments(ends_given)):
            return False
        # ended_at is never before started_at.
        return not any(map(gt, compress(starts, ended), ends_given))
    except (AttributeError, TypeError, ValueError, OverflowError):
        return False
