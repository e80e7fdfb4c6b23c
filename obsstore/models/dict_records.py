"""A fast path for metric points given as plain dicts of the common shapes.

``record_values`` applies exactly the rules of ``MetricRecord`` (see ``_fields`` and the model
validators) to one dict and returns the validated field values in field order, or ``None``
when the dict is not of a shape it handles or breaks any rule. ``None`` sends the caller to the
pydantic model path, which then accepts the dict or raises the ``ValidationError`` that names
item and field: so this path never decides about an invalid dict, it only skips pydantic's
per-field machinery for valid ones. A property-based test (``tests/models``) holds it to
the model path on valid and invalid input alike.

Handled: exact ``dict``s whose keys are fields of ``MetricRecord``; ``str`` texts, ``float``
or ``int`` numbers, ``datetime`` timestamps (naive or aware), label dicts of ``str`` keys and
``str``/``int``/``bool`` values, and histogram buckets given as lists. Anything else (ISO
strings, subclasses, tuples, ``start_timestamp`` or the histogram summary set) goes to
pydantic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from itertools import chain, islice
from math import isfinite
from operator import lt
from typing import Any

from obsstore.models._fields import (
    _FORBIDDEN_CHARS,
    MAX_ID_LENGTH,
    MAX_KEY_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_LABELS,
    MAX_NAME_LENGTH,
    UTC,
    new_id,
    utc_now,
)
from obsstore.models.metrics import MAX_BUCKET_COUNT, MetricRecord, MetricType

FIELDS: tuple[str, ...] = tuple(MetricRecord.model_fields)
_ALLOWED = frozenset(FIELDS)
_RESOURCE_FIELDS = ("organization_id", "environment", "service_name", "trace_id", "span_id")
# Set to anything but None, these go to pydantic (OpenTelemetry's path builds models anyway).
_RARE_FIELDS = ("start_timestamp", "histogram_count", "histogram_min", "histogram_max")
_CORE = frozenset({"id", "timestamp", "name", "type", "value", "labels"})
_NO_RESOURCES = (None,) * len(_RESOURCE_FIELDS)
_TYPES: dict[Any, str] = {member.value: member.value for member in MetricType}
_TYPES.update({member: member.value for member in MetricType})
_TYPE_OF = {member.value: member for member in MetricType}
_HISTOGRAM = MetricType.HISTOGRAM.value
_NO_LABELS: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
_TYPE_INPUTS = frozenset({str, MetricType})
_STR = frozenset({str})
_INT = frozenset({int})
_NUMBER = frozenset({float, int})
_search = _FORBIDDEN_CHARS.search
_MISSING: Any = object()
_BOOL_TEXT = {True: "true", False: "false"}

# Texts and label sets already found valid (see _known_text and _labels), each bounded.
_KNOWN_TEXTS = 10_000
_KNOWN_LABEL_SETS = 100_000
_REMEMBERED_LABELS = 8  # longer label sets are checked each time (rarely repeated, costly keys)
_known_names: set[str] = set()
_known_resources: set[str] = set()
_known_fields: dict[tuple[str, ...], tuple[str, ...]] = {}
_known_labels: dict[tuple[tuple[str, str], ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}

_new = object.__new__
_set = object.__setattr__


def _text(value: Any, limit: int) -> bool:
    """``value`` is a ``str`` no longer than ``limit`` (its characters are checked later)."""
    return type(value) is str and len(value) <= limit


def _name(value: Any, limit: int) -> bool:
    return type(value) is str and 0 < len(value) <= limit and not value.isspace()


def _remember(known: set[str] | dict[Any, Any], size: int) -> None:
    if len(known) >= size:
        known.clear()  # unbounded variety costs the checks it would cost anyway, never memory


def _known_text(value: Any, known: set[str], check: Callable[[Any], bool]) -> bool:
    """``value`` passes ``check`` and has no forbidden character: remembered for texts that
    recur (metric names, services), so a batch checks each distinct one once."""
    if type(value) is str and value in known:
        return True
    if not check(value) or _search(value) is not None:
        return False
    _remember(known, _KNOWN_TEXTS)
    known.add(value)
    return True


def _name_text(value: Any) -> bool:
    return _name(value, MAX_NAME_LENGTH)


def _resource_text(value: Any) -> bool:
    return _text(value, MAX_NAME_LENGTH)


def _labels(given: Any) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The label dict as (keys, values), checked in one pass over its texts; label sets of
    text only (most of them) are remembered, by their items, once they passed."""
    if type(given) is not dict or len(given) > MAX_LABELS:
        return None
    if not given:
        return _NO_LABELS
    items = tuple(given.items())
    known = _known_labels.get(items)
    # Only text equals text: a hit means every key and value is a str equal to a checked one
    # (the type test keeps out str subclasses, which pydantic would turn into str).
    if known is not None and _STR.issuperset(map(type, chain.from_iterable(items))):
        return known
    keys = tuple(given)
    values = tuple(given.values())
    if not (
        _STR.issuperset(map(type, keys))
        and min(map(len, keys)) > 0
        and max(map(len, keys)) <= MAX_KEY_LENGTH
        and not any(map(str.isspace, keys))
    ):
        return None
    only_text = _STR.issuperset(map(type, values))
    if not only_text:
        values = tuple(map(_label_text, values))
    if max(map(len, values)) > MAX_LABEL_VALUE_LENGTH:
        return None
    if _search("".join(keys) + "".join(values)) is not None:
        return None
    labels = keys, values
    if only_text and len(items) <= _REMEMBERED_LABELS:
        _remember(_known_labels, _KNOWN_LABEL_SETS)
        _known_labels[items] = labels
    return labels


def _label_text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return _BOOL_TEXT[value]
    if kind is int:
        return str(value)  # ValueError beyond the int-to-str digit limit, as in pydantic
    raise TypeError("not a label value this path handles")


def _buckets(bounds: Any, counts: Any) -> tuple[tuple[float, ...], tuple[int, ...]] | None:
    if type(bounds) is not list or type(counts) is not list or len(counts) != len(bounds) + 1:
        return None
    if not _INT.issuperset(map(type, counts)) or min(counts) < 0 or max(counts) > MAX_BUCKET_COUNT:
        return None
    kinds = set(map(type, bounds))
    if not _NUMBER.issuperset(kinds):
        return None
    result = tuple(map(float, bounds)) if int in kinds else tuple(bounds)
    if not all(map(isfinite, result)) or not all(map(lt, result, islice(result, 1, None))):
        return None
    if 0.0 in result:  # -0.0 becomes 0.0, as FiniteFloat makes it
        result = tuple([bound + 0.0 for bound in result])
    return result, tuple(counts)


def _timestamp(value: Any) -> datetime | None:
    if type(value) is not datetime:
        return None
    zone = value.tzinfo
    if zone is None:
        value = value.replace(tzinfo=UTC)
    elif zone is not UTC:
        value = value.astimezone(UTC)  # OverflowError near the ends of the calendar: pydantic's
    return value if value.year >= 1970 else None


def record_values(item: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The validated values of ``item`` as a row, or None (see the module).

    A row is a flat tuple the garbage collector need not walk (it holds only text, numbers,
    datetimes, None and tuples of those): the fields in ``FIELDS`` order, except that the
    type is its text, the labels are two tuples (keys, values), buckets are tuples, and the
    names of the fields the caller gave come last. ``build_record`` makes the record of it."""
    try:
        return _record_values(item)
    except (TypeError, ValueError, OverflowError):
        return None


def _record_values(item: Any) -> tuple[Any, ...] | None:
    if type(item) is not dict or not _ALLOWED.issuperset(item):
        return None
    get = item.get
    # The common shape (only the core fields) skips a dozen look-ups of absent keys.
    plain = _CORE.issuperset(item)
    if not plain:
        for field in _RARE_FIELDS:
            if get(field) is not None:
                return None
    name: Any = get("name")
    if not _known_text(name, _known_names, _name_text):
        return None
    texts: list[str] = []  # checked for forbidden characters at the end, in one search
    record_id = get("id", _MISSING)
    if record_id is _MISSING:
        record_id = new_id()
    elif _name(record_id, MAX_ID_LENGTH):
        texts.append(record_id)
    else:
        return None
    timestamp = get("timestamp", _MISSING)
    timestamp = utc_now() if timestamp is _MISSING else _timestamp(timestamp)
    if timestamp is None:
        return None
    kind = get("type", "gauge")
    if type(kind) not in _TYPE_INPUTS:
        return None
    metric_type = _TYPES.get(kind)
    if metric_type is None:
        return None
    value: Any = get("value")
    value_type = type(value)
    if value_type is int:
        value = float(value)
    elif value_type is not float:
        return None
    if not isfinite(value):
        return None
    labels = get("labels", _MISSING)
    labels = _NO_LABELS if labels is _MISSING else _labels(labels)
    if labels is None:
        return None
    if plain:
        resources: Any = _NO_RESOURCES
        unit = bounds = counts = None
    else:
        resources = []
        for field in _RESOURCE_FIELDS:
            text = get(field)
            if text is not None and not _known_text(text, _known_resources, _resource_text):
                return None
            resources.append(text)
        unit = get("unit")
        if unit is not None:
            if not _text(unit, MAX_NAME_LENGTH):
                return None
            texts.append(unit)
        bounds = get("bucket_boundaries")
        counts = get("bucket_counts")
        if bounds is not None or counts is not None:
            buckets = None if metric_type != _HISTOGRAM else _buckets(bounds, counts)
            if buckets is None:
                return None
            bounds, counts = buckets
    if texts and _search("".join(texts)) is not None:
        return None
    organization_id, environment, service_name, trace_id, span_id = resources
    return (
        record_id,
        timestamp,
        name,
        metric_type,
        value + 0.0,
        labels[0],
        labels[1],
        organization_id,
        environment,
        service_name,
        trace_id,
        span_id,
        bounds,
        counts,
        unit,
        None,
        None,
        None,
        None,
        _fields_given(tuple(item)),
    )


def _fields_given(fields: tuple[str, ...]) -> tuple[str, ...]:
    """The shared tuple equal to ``fields``: a row holding no new tuple is untracked by the
    garbage collector at the first collection it meets (see ``writer.buffer``)."""
    shared = _known_fields.get(fields)
    if shared is None:
        _remember(_known_fields, _KNOWN_TEXTS)
        shared = _known_fields[fields] = fields
    return shared


def build_record(row: tuple[Any, ...]) -> MetricRecord:
    """The ``MetricRecord`` of a row (see ``record_values``), without validating it again."""
    (
        record_id,
        timestamp,
        name,
        kind,
        value,
        label_keys,
        label_values,
        organization_id,
        environment,
        service_name,
        trace_id,
        span_id,
        bounds,
        counts,
        unit,
        start_timestamp,
        histogram_count,
        histogram_min,
        histogram_max,
        fields_set,
    ) = row
    record: MetricRecord = _new(MetricRecord)
    _set(
        record,
        "__dict__",
        {
            "id": record_id,
            "timestamp": timestamp,
            "name": name,
            "type": _TYPE_OF[kind],
            "value": value,
            "labels": dict(zip(label_keys, label_values, strict=True)),
            "organization_id": organization_id,
            "environment": environment,
            "service_name": service_name,
            "trace_id": trace_id,
            "span_id": span_id,
            "bucket_boundaries": None if bounds is None else list(bounds),
            "bucket_counts": None if counts is None else list(counts),
            "unit": unit,
            "start_timestamp": start_timestamp,
            "histogram_count": histogram_count,
            "histogram_min": histogram_min,
            "histogram_max": histogram_max,
        },
    )
    _set(record, "__pydantic_fields_set__", set(fields_set))
    _set(record, "__pydantic_extra__", None)
    _set(record, "__pydantic_private__", None)
    return record


def row_of_record(record: MetricRecord) -> tuple[Any, ...]:
    """The row of a validated record: what ``build_record`` turns back into an equal one."""
    fields = record.__dict__
    labels = fields["labels"]
    bounds = fields["bucket_boundaries"]
    counts = fields["bucket_counts"]
    return (
        fields["id"],
        fields["timestamp"],
        fields["name"],
        fields["type"].value,
        fields["value"],
        tuple(labels),
        tuple(labels.values()),
        fields["organization_id"],
        fields["environment"],
        fields["service_name"],
        fields["trace_id"],
        fields["span_id"],
        None if bounds is None else tuple(bounds),
        None if counts is None else tuple(counts),
        fields["unit"],
        fields["start_timestamp"],
        fields["histogram_count"],
        fields["histogram_min"],
        fields["histogram_max"],
        tuple(record.__pydantic_fields_set__),
    )


def fast_records(items: list[Any]) -> list[MetricRecord] | None:
    """Every item as a validated ``MetricRecord`` if each is a dict this path handles and
    valid; otherwise None (the model path then validates the batch and names what is wrong)."""
    rows: list[Any] = list(map(record_values, items))
    if None in rows:
        return None
    return list(map(build_record, rows))
