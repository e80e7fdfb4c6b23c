"""Cheap re-checks, at the write boundary, of the invariants the storages rely on.

A record that exists was validated, except when someone bypassed that (``model_construct``,
``model_copy(update=...)``, which carry a mark, or writing to ``__dict__``, which does not).
These checks run over a whole batch with C-level ``map`` calls and say only whether it looks
sound; a batch that does not is validated again in full, which names the item and field."""

from __future__ import annotations

from datetime import datetime
from itertools import compress, repeat
from math import isfinite
from operator import attrgetter, gt, is_not

from obsstore.models._fields import EPOCH, UTC
from obsstore.models._unchecked import is_unchecked
from obsstore.models.metrics import MetricRecord
from obsstore.models.traces import SpanRecord

_UTC = {UTC}
_value = attrgetter("value")
_timestamp = attrgetter("timestamp")
_tzinfo = attrgetter("tzinfo")
_started = attrgetter("started_at")
_ended = attrgetter("ended_at")


def _utc_moments(moments: list[datetime]) -> bool:
    """Every moment is an aware UTC datetime no earlier than the epoch (as validation leaves
    it: the upper end, year 9999, is where datetime ends anyway)."""
    return not moments or (set(map(_tzinfo, moments)) == _UTC and min(moments) >= EPOCH)


def metric_records_look_sound(records: list[MetricRecord]) -> bool:
    """Finite values and UTC timestamps. The other fields (bucket bounds included) are left to
    the mark of ``model_copy``/``model_construct``: checking each of them here would cost a
    good part of what the write itself costs."""
    try:
        return all(map(isfinite, map(_value, records))) and _utc_moments(
            list(map(_timestamp, records))
        )
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


def checked_record(record: MetricRecord) -> MetricRecord:
    """One record as a batch write would take it: validated again if it was built without
    validation or its value or timestamp is off (for ``MetricsWriter.record``)."""
    try:
        sound = not is_unchecked(record) and _utc_moments([record.timestamp])
        sound = sound and isfinite(record.value)
    except (AttributeError, TypeError, ValueError, OverflowError):
        sound = False
    return record if sound else MetricRecord.model_validate(dict(record.__dict__))
