"""A batch of plain dicts validated column by column, for the bulk write paths.

``metric_columns_of`` applies exactly the rules of ``MetricRecord`` to a whole batch of dicts at
once: each field's values are taken out as one list and checked with C-level passes (``map``,
``set``, ``min``/``max``, one regular-expression search over the joined texts), and texts, label
sets and bucket boundaries are checked once per distinct value. No Python code runs per record,
and no model is built: the backends' bulk paths take the columns as they are.

Like ``dict_records`` (which handles one dict at a time, for ``MetricsWriter.record()``), it
never decides about an invalid batch: anything it does not handle or that breaks a rule gives
``None``, and the caller then validates the batch through the pydantic model path, which
accepts it or raises the ``ValidationError`` naming item and field. A property-based test
(``tests/models``) holds both paths to the model path."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from itertools import chain, compress, repeat
from math import isfinite
from operator import add, attrgetter, is_, is_not
from typing import Any, NamedTuple

from obsstore.models._fields import (
    EPOCH,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    UTC,
    free_of_forbidden_chars,
    new_id,
    utc_now,
)
from obsstore.models.dict_records import (
    _HISTOGRAM,
    _RARE_FIELDS,
    _REMEMBERED_LABELS,
    _RESOURCE_FIELDS,
    _TYPES,
    FIELDS,
    _buckets,
    _known_names,
    _known_resources,
    _known_text,
    _labels,
    _name_text,
    _resource_text,
    build_record,
)
from obsstore.models.metrics import MAX_BUCKET_COUNT, MetricRecord, MetricType

_ALLOWED = frozenset(FIELDS)
_get = dict.get
_tzinfo = attrgetter("tzinfo")
_isspace = str.isspace
_STR = frozenset({str})
_NUMBER = frozenset({float, int})
_FLOAT = frozenset({float})
_TEXT_OR_NONE = frozenset({str, type(None)})
_LIST = frozenset({list})
_DICT = frozenset({dict})
_DATETIME = frozenset({datetime})
_INT = frozenset({int})


class _Missing:
    """A field the dict does not have (``None`` is a value some fields refuse)."""


_MISSING = _Missing()
_TYPE_TEXT: dict[Any, str] = {**_TYPES, _MISSING: "gauge"}
_TYPE_INPUTS = frozenset({str, MetricType, _Missing})
# Label sets of text only that passed, by their items, with their JSON text; bounded in
# entries and characters (the keys hold about as much text again).
_KNOWN_LABEL_SETS = 100_000
_REMEMBERED_TEXT = 4096
_LABEL_TEXT_BUDGET = 32 * 1024 * 1024
_label_texts: dict[tuple[tuple[str, str], ...], str] = {}
_label_text_size = 0
# The JSON every backend stores labels as (``sqltypes.dump_json``): for a dict of text only
# it is this encoder's text (no number, so none of dump_json's rewriting of exponents).
_encode_labels = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Bucket boundaries that passed, as tuples, with their normalised floats; bounded.
_KNOWN_BOUNDS = 1_000
_known_bounds: dict[tuple[Any, ...], tuple[float, ...]] = {}


class MetricColumns(NamedTuple):
    """A validated batch, one list per field of ``MetricRecord`` (the rare OpenTelemetry
    fields are always ``None`` here), plus the dicts it came from (their keys are the records'
    fields-set). Types are text; labels are dicts of text (the caller's own when they needed no
    change: read them, never keep them) and ``labels_json`` their JSON; bucket boundaries are
    tuples of floats and counts lists of ints (the caller's), or ``None``."""

    items: list[dict[str, Any]]
    id: list[str]
    timestamp: list[datetime]
    name: list[str]
    type: list[str]
    value: list[float]
    labels: list[dict[str, str]]
    labels_json: list[str]
    organization_id: list[str | None]
    environment: list[str | None]
    service_name: list[str | None]
    trace_id: list[str | None]
    span_id: list[str | None]
    bucket_boundaries: list[tuple[float, ...] | None]
    bucket_counts: list[list[int] | None]
    unit: list[str | None]

    def records(self) -> list[MetricRecord]:
        """The batch as ``MetricRecord``s, without validating them again."""
        return list(
            map(
                _record,
                self.items,
                self.id,
                self.timestamp,
                self.name,
                self.type,
                self.value,
                self.labels,
                self.organization_id,
                self.environment,
                self.service_name,
                self.trace_id,
                self.span_id,
                self.bucket_boundaries,
                self.bucket_counts,
                self.unit,
            )
        )

    def unique(self) -> MetricColumns:
        """The batch without later repeats of an id: the first write wins inside a batch too."""
        ids = self.id
        if len(set(ids)) == len(ids):
            return self
        seen: set[str] = set()
        keep = [not (i in seen or seen.add(i)) for i in ids]  # type: ignore[func-returns-value]
        kept: list[Any] = [list(compress(column, keep)) for column in self]
        return MetricColumns(*kept)


def _record(
    item: dict[str, Any],
    record_id: str,
    timestamp: datetime,
    name: str,
    kind: str,
    value: float,
    labels: dict[str, str],
    organization_id: str | None,
    environment: str | None,
    service_name: str | None,
    trace_id: str | None,
    span_id: str | None,
    bounds: tuple[float, ...] | None,
    counts: list[int] | None,
    unit: str | None,
) -> MetricRecord:
    # The row build_record takes (see dict_records.record_values); no OTel extras here.
    return build_record(
        (
            record_id,
            timestamp,
            name,
            kind,
            value,
            labels.keys(),
            labels.values(),
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
            item,  # build_record keeps set(item): the fields the caller gave
        )
    )


def metric_columns_of(items: list[Any]) -> MetricColumns | None:
    """``items`` validated as columns, or None (see the module)."""
    try:
        return _columns(items)
    except (TypeError, ValueError, OverflowError, KeyError):
        return None


def _field(items: list[dict[str, Any]], name: str, default: Any = None) -> list[Any]:
    return list(map(_get, items, repeat(name), repeat(default)))


def _columns(items: list[Any]) -> MetricColumns | None:
    count = len(items)
    if not count or type(items[0]) is not dict or not _DICT.issuperset(map(type, items)):
        return None
    present = set().union(*items)
    if not _ALLOWED.issuperset(present):
        return None
    for field in _RARE_FIELDS:
        if field in present and _field(items, field).count(None) != count:
            return None
    names = _field(items, "name")
    if not _texts(names, _known_names, _name_text):
        return None
    ids = _ids(items) if "id" in present else [new_id() for _ in range(count)]
    timestamps = _timestamps(items) if "timestamp" in present else [utc_now()] * count
    values = _values(_field(items, "value"))
    kinds = _types(items) if "type" in present else ["gauge"] * count
    labels = _label_column(items) if "labels" in present else ([{}] * count, ["{}"] * count)
    if ids is None or timestamps is None or values is None or kinds is None or labels is None:
        return None
    resources = []
    for field in _RESOURCE_FIELDS:
        column = _field(items, field) if field in present else [None] * count
        if field in present and not _texts(column, _known_resources, _resource_text, True):
            return None
        resources.append(column)
    unit = _field(items, "unit") if "unit" in present else [None] * count
    if "unit" in present and not _free_texts(unit, MAX_NAME_LENGTH, optional=True):
        return None
    bounds: list[Any] = [None] * count
    counts: list[Any] = [None] * count
    if "bucket_boundaries" in present or "bucket_counts" in present:
        buckets = _bucket_columns(items, kinds)
        if buckets is None:
            return None
        bounds, counts = buckets
    organization_id, environment, service_name, trace_id, span_id = resources
    return MetricColumns(
        items,
        ids,
        timestamps,
        names,
        kinds,
        values,
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
    )


def _texts(
    column: list[Any],
    known: set[str],
    check: Callable[[Any], bool],
    optional: bool = False,
) -> bool:
    """Every value is text that passes ``check`` (or None, if ``optional``): each distinct
    one checked once, and remembered (see ``dict_records._known_text``)."""
    if not (_TEXT_OR_NONE if optional else _STR).issuperset(map(type, column)):
        return False
    distinct = set(column)
    distinct.discard(None)
    if distinct <= known:
        return True
    return all(_known_text(text, known, check) for text in distinct - known)


def _free_texts(column: list[Any], limit: int, *, optional: bool = False) -> bool:
    """Text of at most ``limit`` characters without a forbidden one (or None, if
    ``optional``); empty text passes."""
    if not (_TEXT_OR_NONE if optional else _STR).issuperset(map(type, column)):
        return False
    texts = [t for t in set(column) if t is not None] if optional else column
    if not texts:
        return True
    return max(map(len, texts)) <= limit and free_of_forbidden_chars("".join(texts))


def _ids(items: list[dict[str, Any]]) -> list[str] | None:
    ids = _field(items, "id", _MISSING)
    if not _STR.issuperset(map(type, ids)):
        # Only missing ones get a new id; a given None is an error.
        ids = [new_id() if i is _MISSING else i for i in ids]
        if not _STR.issuperset(map(type, ids)):
            return None
    lengths = set(map(len, ids))  # one pass; ids of one kind have one length
    if min(lengths) == 0 or max(lengths) > MAX_ID_LENGTH or any(map(_isspace, ids)):
        return None
    return ids if free_of_forbidden_chars("".join(ids)) else None


def _timestamps(items: list[dict[str, Any]]) -> list[datetime] | None:
    moments = _field(items, "timestamp", _MISSING)
    if not _DATETIME.issuperset(map(type, moments)):
        moments = [utc_now() if m is _MISSING else m for m in moments]
        if not _DATETIME.issuperset(map(type, moments)):
            return None
    zones = list(map(_tzinfo, moments))
    if not all(map(is_, zones, repeat(UTC))):
        moments = [_to_utc(m) for m in moments]
    return moments if min(moments) >= EPOCH else None


def _to_utc(moment: datetime) -> datetime:
    zone = moment.tzinfo
    if zone is None:
        return moment.replace(tzinfo=UTC)
    return moment if zone is UTC else moment.astimezone(UTC)  # OverflowError: pydantic's


def _values(values: list[Any]) -> list[float] | None:
    kinds = set(map(type, values))
    if not _NUMBER.issuperset(kinds):
        return None
    if not _FLOAT.issuperset(kinds):
        values = list(map(float, values))  # OverflowError beyond the float range
    if not all(map(isfinite, values)):
        return None
    if 0.0 in values:  # -0.0 becomes 0.0, as FiniteFloat makes it
        values = list(map(add, values, repeat(0.0)))
    return values


def _types(items: list[dict[str, Any]]) -> list[str] | None:
    given = _field(items, "type", _MISSING)
    if not _TYPE_INPUTS.issuperset(map(type, given)):
        return None
    return list(map(_TYPE_TEXT.__getitem__, given))  # KeyError: not a type


def _label_column(items: list[dict[str, Any]]) -> tuple[list[dict[str, str]], list[str]] | None:
    """The label dicts (normalised) and their JSON texts."""
    given = _field(items, "labels", _MISSING)
    if not _DICT.issuperset(map(type, given)):
        given = [{} if g is _MISSING else g for g in given]
        if not _DICT.issuperset(map(type, given)):
            return None
    # Only text equals text: once every key and value is a str (not a subclass), a label set
    # whose items equal a remembered one's is valid, and its JSON is the remembered text.
    if _STR.issuperset(map(type, chain.from_iterable(given))) and _STR.issuperset(
        map(type, chain.from_iterable(map(dict.values, given)))
    ):
        # The items tuples are dropped right after each lookup: a batch of surviving
        # containers would trigger collections.
        texts: list[Any] = list(map(_label_texts.get, map(tuple, map(dict.items, given))))
        if None in texts:
            for i in list(compress(range(len(texts)), map(is_, texts, repeat(None)))):
                text = _label_text(given[i])
                if text is None:
                    return None
                texts[i] = text
        return given, texts
    dicts: list[dict[str, str]] = []
    texts = []
    for labels in given:  # int and bool values become text: each set on its own
        checked = _labels(labels)
        if checked is None:
            return None
        normalised = dict(zip(*checked, strict=True))
        dicts.append(normalised)
        texts.append(_encode_labels(normalised))
    return dicts, texts


def _label_text(labels: dict[str, str]) -> str | None:
    """The JSON text of a label set of text only, if it passes; remembered then."""
    items = tuple(labels.items())
    text = _label_texts.get(items)
    if text is not None:
        return text
    if _labels(labels) is None:
        return None
    text = _encode_labels(labels)
    global _label_text_size
    if len(items) <= _REMEMBERED_LABELS and len(text) <= _REMEMBERED_TEXT:
        if len(_label_texts) >= _KNOWN_LABEL_SETS or _label_text_size > _LABEL_TEXT_BUDGET:
            _label_texts.clear()  # unbounded variety costs the checks, never memory
            _label_text_size = 0
        _label_texts[items] = text
        _label_text_size += len(text)
    return text


def _bucket_columns(
    items: list[dict[str, Any]], kinds: list[str]
) -> tuple[list[Any], list[Any]] | None:
    """Boundaries (normalised, shared tuples) and counts (the caller's lists) per point."""
    bounds = _field(items, "bucket_boundaries")
    counts = _field(items, "bucket_counts")
    given = list(map(is_not, bounds, repeat(None)))
    if given != list(map(is_not, counts, repeat(None))):
        return None  # one without the other
    some = len(given) != given.count(True)
    histograms = list(compress(kinds, given)) if some else kinds
    if histograms.count(_HISTOGRAM) != len(histograms):
        return None
    some_bounds = list(compress(bounds, given)) if some else bounds
    some_counts = list(compress(counts, given)) if some else counts
    if not _LIST.issuperset(map(type, some_bounds)) or not _LIST.issuperset(map(type, some_counts)):
        return None
    if list(map(len, some_counts)) != list(map(add, map(len, some_bounds), repeat(1))):
        return None
    flat_counts = list(chain.from_iterable(some_counts))
    if not _INT.issuperset(map(type, flat_counts)):
        return None
    if min(flat_counts) < 0 or max(flat_counts) > MAX_BUCKET_COUNT:
        return None
    # Histograms of one kind usually share one boundaries list (a constant of the caller's):
    # each distinct list object is checked and normalised once. Identity, not equality: the
    # objects are alive (the items hold them), so their ids are distinct, and a list equal to
    # another but holding other types (True for 1) is checked on its own.
    by_id = dict(zip(map(id, some_bounds), some_bounds, strict=True))
    lists = list(by_id.values())
    if not _NUMBER.issuperset(map(type, chain.from_iterable(lists))):
        return None
    checked = _normalised_bounds(lists)
    if checked is None:
        return None
    # The counts column is the caller's lists where given and None elsewhere, as it is.
    if not some and len(lists) == len(some_bounds):
        return checked, counts
    normalised: dict[int, Any] = dict(zip(by_id, checked, strict=True))
    normalised[id(None)] = None
    return list(map(normalised.__getitem__, map(id, bounds))), counts


def _normalised_bounds(lists: list[Any]) -> list[Any] | None:
    """The normalised tuple of each boundaries list (numbers already), or None if one is not
    strictly increasing and finite. Equal boundaries normalise alike (1 == 1.0, -0.0 == 0.0):
    remembered floats serve. The tuples are dropped after each lookup (surviving containers
    would trigger collections)."""
    checked = list(map(_known_bounds.get, map(tuple, lists)))
    if None in checked:
        for i in list(compress(range(len(checked)), map(is_, checked, repeat(None)))):
            key = tuple(lists[i])
            normalised = _known_bounds.get(key)
            if normalised is None:
                # The counts were checked already: _buckets checks the boundaries here.
                buckets = _buckets(lists[i], [0] * (len(key) + 1))
                if buckets is None:
                    return None
                normalised = buckets[0]
                if len(_known_bounds) >= _KNOWN_BOUNDS:
                    _known_bounds.clear()
                _known_bounds[key] = normalised
            checked[i] = normalised
    return checked
