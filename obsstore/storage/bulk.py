"""Records and spans as columns for the bulk-write paths, built with C-level ``map`` calls
instead of a Python loop per record, and JSON text of label sets remembered (the same few
hundred label sets recur in every batch, and encoding is the costliest step of building a row).

Every builder returns the table's columns in table order, in the form the backends' bulk hooks
take: JSON as text, timestamps as aware datetimes or (``epoch_us``) integer microseconds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import compress, repeat
from operator import attrgetter, floordiv, is_not, sub
from typing import Any

from obsstore.models import MetricRecord, MetricType, SpanRecord
from obsstore.models._fields import EPOCH, ONE_MICROSECOND
from obsstore.models.dict_columns import MetricColumns
from obsstore.models.traces import SPAN_JSON_FIELDS, SPAN_TEXT_FIELDS
from obsstore.schema import metrics, spans
from obsstore.sqltypes import dump_json

COLUMNS = [c.name for c in metrics.columns]
SPAN_COLUMNS = [c.name for c in spans.columns]
_TEXT_COLUMNS = ("id", "name", "organization_id", "environment", "service_name")
_TYPE_TEXT = {t: t.value for t in MetricType}
_LABEL_CACHE_LIMIT = 100_000
# Longer JSON is encoded each time: cached, it would hold its text (and, through its key, the
# label strings) long after the batch; label sets that long are rare enough not to repeat.
_CACHED_TEXT_LIMIT = 4096
_CACHE_TEXT_BUDGET = 64 * 1024 * 1024  # characters of cached JSON in all, at most


class _JsonCache:
    """Encoded JSON per distinct value; emptied when it grows past its limits (entries and
    characters), so unbounded label cardinality costs the encoding it would cost anyway, never
    unbounded memory."""

    def __init__(self) -> None:
        self.texts: dict[tuple[Any, ...], str] = {}
        self.size = 0  # characters of the cached texts
        self.lock = threading.Lock()

    def encode(
        self, values: list[Any], keys: Iterable[tuple[Any, ...]], key: Callable[[Any], Any]
    ) -> list[str]:
        """JSON of each value; ``keys`` are ``key(value)`` for each, computed lazily so that no
        key outlives its lookup (a batch of surviving tuples would trigger full collections)."""
        texts = list(map(self.texts.get, keys))
        if None in texts:
            with self.lock:
                for i, text in enumerate(texts):
                    if text is None:
                        texts[i] = text = dump_json(values[i])
                        if len(text) <= _CACHED_TEXT_LIMIT:
                            self._remember(key(values[i]), text)
        return texts  # type: ignore[return-value]

    def _remember(self, key: tuple[Any, ...], text: str) -> None:
        if len(self.texts) >= _LABEL_CACHE_LIMIT or self.size + len(text) > _CACHE_TEXT_BUDGET:
            self.texts.clear()
            self.size = 0
        if key not in self.texts:
            self.size += len(text)
        self.texts[key] = text


_labels_json = _JsonCache()
_bounds_json = _JsonCache()


def _items(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(labels.items())


def _dump_or_none(value: Any) -> str | None:
    return None if value is None else dump_json(value)


def labels_json(records: list[MetricRecord]) -> list[str]:
    labels = list(map(attrgetter("labels"), records))
    return _labels_json.encode(labels, map(tuple, map(dict.items, labels)), _items)


def bucket_bounds_json(records: list[MetricRecord]) -> list[str | None]:
    bounds = list(map(attrgetter("bucket_boundaries"), records))
    if bounds.count(None) == len(bounds):  # not any(): an empty list (no explicit bounds) is JSON
        return bounds
    present = [i for i, b in enumerate(bounds) if b is not None]
    used = [bounds[i] for i in present]
    texts = _bounds_json.encode(used, map(tuple, used), tuple)
    result: list[str | None] = [None] * len(bounds)
    for i, text in zip(present, texts, strict=True):
        result[i] = text
    return result


def metric_columns(
    records: list[MetricRecord],
    *,
    epoch_us: bool,
    counts_as_json: bool = True,
    labels_as_json: bool = True,
) -> dict[str, list[Any]]:
    """Every column of ``obsstore_metrics`` as a list, in table order. Timestamps are aware
    datetimes, or integer microseconds since the epoch with ``epoch_us``; labels and buckets
    are JSON text (bucket counts stay lists of ints without ``counts_as_json``, for a database
    that turns them into JSON itself; labels stay dicts without ``labels_as_json``, for a
    database that stores them as a map)."""
    get = {name: list(map(attrgetter(name), records)) for name in _TEXT_COLUMNS}
    counts = list(map(attrgetter("bucket_counts"), records))
    timestamps: list[Any] = list(map(attrgetter("timestamp"), records))
    if epoch_us:
        timestamps = list(
            map(floordiv, map(sub, timestamps, repeat(EPOCH)), repeat(ONE_MICROSECOND))
        )
    columns = {
        "id": get["id"],
        "timestamp": timestamps,
        "name": get["name"],
        "type": list(map(_TYPE_TEXT.__getitem__, map(attrgetter("type"), records))),
        "value": list(map(attrgetter("value"), records)),
        "labels": labels_json(records)
        if labels_as_json
        else list(map(attrgetter("labels"), records)),
        "organization_id": get["organization_id"],
        "environment": get["environment"],
        "service_name": get["service_name"],
        "trace_id": list(map(attrgetter("trace_id"), records)),
        "span_id": list(map(attrgetter("span_id"), records)),
        "bucket_boundaries": bucket_bounds_json(records),
        "bucket_counts": counts if not counts_as_json else list(map(_dump_or_none, counts)),
        **_otel_columns(records, epoch_us=epoch_us),
    }
    assert list(columns) == COLUMNS
    return columns


def _labels(records: list[MetricRecord]) -> list[dict[str, str]]:
    return list(map(attrgetter("labels"), records))


def validated_dict_columns(
    batch: MetricColumns, *, epoch_us: bool, counts_as_json: bool = True
) -> dict[str, list[Any]]:
    """What ``metric_columns`` gives, for a batch of dicts the validator took column by
    column (``models.dict_columns``): its columns as they are, no record built."""
    count = len(batch.id)
    timestamps: list[Any] = batch.timestamp
    if epoch_us:
        timestamps = list(
            map(floordiv, map(sub, timestamps, repeat(EPOCH)), repeat(ONE_MICROSECOND))
        )
    bounds: list[Any] = batch.bucket_boundaries
    counts: list[Any] = batch.bucket_counts
    if bounds.count(None) != count:
        present = list(compress(bounds, map(is_not, bounds, repeat(None))))
        texts = iter(_bounds_json.encode(present, present, tuple))
        bounds = [None if b is None else next(texts) for b in bounds]
        if counts_as_json:
            counts = list(map(_int_list_json, counts))
    nones = [None] * count
    columns = {
        "id": batch.id,
        "timestamp": timestamps,
        "name": batch.name,
        "type": batch.type,
        "value": batch.value,
        "labels": batch.labels_json,
        "organization_id": batch.organization_id,
        "environment": batch.environment,
        "service_name": batch.service_name,
        "trace_id": batch.trace_id,
        "span_id": batch.span_id,
        "bucket_boundaries": bounds,
        "bucket_counts": counts,
        "unit": batch.unit,
        "start_timestamp": nones,
        "histogram_count": nones,
        "histogram_min": nones,
        "histogram_max": nones,
    }
    assert list(columns) == COLUMNS
    return columns


def _int_list_json(counts: list[int] | None) -> str | None:
    # Validated counts are lists of exact ints: their JSON is their decimal digits (what
    # dump_json writes too), without the encoder's per-call overhead.
    return None if counts is None else "[" + ",".join(map(str, counts)) + "]"


def _otel_columns(records: list[MetricRecord], *, epoch_us: bool) -> dict[str, list[Any]]:
    starts: list[Any] = list(map(attrgetter("start_timestamp"), records))
    if epoch_us:
        starts = list(map(_epoch_us, starts))
    return {
        "unit": list(map(attrgetter("unit"), records)),
        "start_timestamp": starts,
        "histogram_count": list(map(attrgetter("histogram_count"), records)),
        "histogram_min": list(map(attrgetter("histogram_min"), records)),
        "histogram_max": list(map(attrgetter("histogram_max"), records)),
    }


def _epoch_us(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - EPOCH) // ONE_MICROSECOND


def span_columns(
    batch: list[SpanRecord], written_at: datetime, *, epoch_us: bool
) -> dict[str, list[Any]]:
    """Every column of ``obsstore_spans`` as a list, in table order; ``written_at`` becomes both
    ``created_at`` and ``updated_at``."""
    moment: Callable[[datetime | None], Any] = _epoch_us if epoch_us else _same
    columns: dict[str, list[Any]] = {
        name: list(map(attrgetter(name), batch))
        for name in ("trace_id", "span_id", "parent_span_id", "name", "span_type", "is_event")
    }
    columns["started_at"] = list(map(moment, map(attrgetter("started_at"), batch)))
    columns["ended_at"] = list(map(moment, map(attrgetter("ended_at"), batch)))
    for name in (*SPAN_JSON_FIELDS, "tags"):
        columns[name] = list(map(_dump_or_none, map(attrgetter(name), batch)))
    for name in SPAN_TEXT_FIELDS:
        columns[name] = list(map(attrgetter(name), batch))
    columns["created_at"] = columns["updated_at"] = [moment(written_at)] * len(batch)
    ordered = {name: columns[name] for name in SPAN_COLUMNS}
    assert len(ordered) == len(columns)
    return ordered


def _same(value: Any) -> Any:
    return value
