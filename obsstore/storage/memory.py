"""The in-memory backend: pure Python, tested like every other backend against the plain
reference model in ``tests/reference``.

Points are held column by column (arrays of numbers, interned strings and label sets) so that a
stored point costs a couple of hundred bytes instead of a pydantic object's kilobyte."""

from __future__ import annotations

import heapq
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate, chain, compress, repeat
from operator import attrgetter, floordiv, is_not, mod, sub
from typing import Any

from obsstore import registry
from obsstore.models import (
    AggregatePoint,
    Aggregation,
    Health,
    MetricFilters,
    MetricRecord,
    MetricType,
    OrderBy,
    Pagination,
)
from obsstore.models._fields import EPOCH, ONE_MICROSECOND, from_epoch_us
from obsstore.models._trusted import trusted_builder
from obsstore.models.queries import COLUMN_GROUP_KEYS
from obsstore.storage.aggregate_math import float_sum, percentile_cont
from obsstore.storage.base import ObservabilityStorage, prefix_upper_bound
from obsstore.storage.memory_histograms import MemoryHistograms
from obsstore.storage.memory_rollups import MemoryRollups, PointOfSeries
from obsstore.storage.memory_traces import MemoryTraces, OpenLock
from obsstore.storage.ranking import ranked_points

_TYPES = list(MetricType)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPES)}
_NO_MATCH = -1
_NO_EXEMPLAR = (None, None)
_record = trusted_builder(MetricRecord)
_ID, _TIMESTAMP, _VALUE = attrgetter("id"), attrgetter("timestamp"), attrgetter("value")
_NAME, _TYPE, _LABELS = attrgetter("name"), attrgetter("type"), attrgetter("labels")
_ORGANIZATION, _ENVIRONMENT = attrgetter("organization_id"), attrgetter("environment")
_SERVICE, _TRACE, _SPAN = attrgetter("service_name"), attrgetter("trace_id"), attrgetter("span_id")
_BOUNDS, _COUNTS = attrgetter("bucket_boundaries"), attrgetter("bucket_counts")
_OTEL = attrgetter("unit", "start_timestamp", "histogram_count", "histogram_min", "histogram_max")
_NO_OTEL = (None, None, None, None, None)


def _label_key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(labels.items())


_EPOCHS, _MICROSECONDS = repeat(EPOCH), repeat(ONE_MICROSECOND)
_ARRAY_COLUMNS = (
    "timestamp",
    "value",
    "name",
    "type",
    "labels",
    "organization_id",
    "environment",
    "service_name",
    "bounds",
)
_ALL_ARRAY_COLUMNS = (*_ARRAY_COLUMNS, "counts_at", "counts")
_STRING_COLUMNS = ("name", "organization_id", "environment", "service_name")


class _Interner:
    """Maps values to small ints and back; index 0 is ``None``."""

    def __init__(self) -> None:
        self.values: list[Any] = [None]
        self.codes: dict[Any, int] = {None: 0}

    def code(self, value: Any) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code

    def codes_of(
        self,
        values: Iterable[Any],
        key: Callable[[Any], Any] | None = None,
        keys: Iterable[Any] | None = None,
    ) -> list[int]:
        """``code`` of each value (or of ``key(value)``, which ``keys`` may hold already), in
        one C-level lookup pass when all are known already."""
        values = list(values)
        if keys is None:
            keys = values if key is None else map(key, values)
        found = list(map(self.codes.get, keys))
        if None in found:
            for i, code in enumerate(found):
                if code is None:
                    found[i] = self.code(values[i] if key is None else key(values[i]))
        return found  # type: ignore[return-value]

    def find(self, value: Any) -> int:
        return self.codes.get(value, _NO_MATCH)

    def truncate(self, size: int) -> None:
        """Forget the values coded since the interner held ``size`` (a failed write's)."""
        for value in self.values[size:]:
            del self.codes[value]
        del self.values[size:]

    def compacted(self, live: set[int]) -> tuple[_Interner, list[int]]:
        """An interner of only the ``live`` codes' values, and each old code's new code (0 for
        the dropped ones, which no stored row uses)."""
        fresh = _Interner()
        remap = [0] * len(self.values)
        for code in sorted(live - {0}):
            remap[code] = fresh.code(self.values[code])
        return fresh, remap


class _Columns:
    """The stored points, one sequence per field, row ``i`` across all of them."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.id_set: set[str] = set()
        self.timestamp = array("q")  # microseconds since the epoch
        self.value = array("d")
        self.name = array("I")
        self.type = array("B")
        self.labels = array("I")
        self.organization_id = array("I")
        self.environment = array("I")
        self.service_name = array("I")
        # (trace_id, span_id) by row, for the few points that carry them (exemplars).
        self.exemplars: dict[int, tuple[str | None, str | None]] = {}
        # Histogram buckets: the interned boundaries (0: none) and where the row's counts start
        # in one flat array (-1: none); a row's counts are len(boundaries) + 1 long.
        self.bounds = array("I")
        self.counts_at = array("q")
        self.counts = array("q")
        # OpenTelemetry extras by row (unit, start_timestamp, histogram count, min, max), for
        # the points that carry any of them.
        self.otel: dict[int, tuple[Any, ...]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, rows: _Columns) -> None:
        """Append ``rows``, built apart with their positions in these columns already
        (``counts_at``, exemplar rows): same-typed copies only, which cannot fail half-way."""
        self.ids.extend(rows.ids)
        self.id_set.update(rows.ids)
        for column in _ALL_ARRAY_COLUMNS:
            getattr(self, column).extend(getattr(rows, column))
        self.exemplars.update(rows.exemplars)
        self.otel.update(rows.otel)


class MemoryStorage(MemoryHistograms, MemoryTraces, MemoryRollups, ObservabilityStorage):
    kind = "memory"
    capabilities = registry.get("memory").capabilities

    def __init__(self) -> None:
        MemoryTraces.__init__(self)
        MemoryRollups.__init__(self)
        self._lock = OpenLock()  # every read and write holds it, so each fails after close()
        self._empty()

    def _empty(self) -> None:
        self._strings = _Interner()
        self._label_sets = _Interner()  # tuple(labels.items()) -> code; values are the tuples
        self._bucket_bounds = _Interner()  # tuple(bucket_boundaries) -> code
        self._cols = _Columns()

    def _health(self) -> Health:
        started = time.perf_counter()
        with self._lock:
            points = len(self._cols)
        spans = self._count_spans()
        return Health(
            backend=self.kind,
            url="memory://",
            reachable=True,
            latency_ms=(time.perf_counter() - started) * 1000,
            points=points,
            spans=spans,
        )

    def init(self) -> None:
        with self._lock:  # raises once closed, like the SQL backends' init()
            pass

    def close(self) -> None:
        with self._lock.closing():
            self._empty()  # the data is unreachable from now on: let it go
        self._close_spans()
        self._close_rollups()

    def dangerously_clear_all(self) -> None:
        with self._lock:
            self._empty()
        self._clear_spans()
        self._clear_rollups()

    # --- writes --------------------------------------------------------------------------
    def _insert_metrics(self, records: list[MetricRecord]) -> int:
        with self._lock:
            cols = self._cols
            ids = list(map(_ID, records))
            if not cols.id_set.isdisjoint(ids):
                records = [r for r in records if r.id not in cols.id_set]
                ids = list(map(_ID, records))
            # All or nothing: the new rows are built apart, where a bad value can raise at any
            # column, and only then appended; interned values a failed batch added are dropped.
            interners = (self._strings, self._label_sets, self._bucket_bounds)
            sizes = [len(interner.values) for interner in interners]
            try:
                rows = self._new_rows(records, ids)
            except BaseException:
                for interner, size in zip(interners, sizes, strict=True):
                    interner.truncate(size)
                raise
            cols.extend(rows)
            return len(records)

    def _new_rows(self, records: list[MetricRecord], ids: list[str]) -> _Columns:
        """``records`` as columns to append to the stored ones (positions continue theirs)."""
        # Column by column with C-level map() calls: no Python code runs per record, and
        # no per-record container outlives its lookup (surviving ones would trigger full
        # garbage collections over everything the process holds).
        cols, rows = self._cols, _Columns()
        string_codes = self._strings.codes_of
        rows.ids = ids
        stamps = map(_TIMESTAMP, records)
        rows.timestamp = array("q", map(floordiv, map(sub, stamps, _EPOCHS), _MICROSECONDS))
        rows.value = array("d", map(_VALUE, records))
        rows.name = array("I", string_codes(map(_NAME, records)))
        rows.type = array("B", map(_TYPE_CODE.__getitem__, map(_TYPE, records)))
        labels = list(map(_LABELS, records))
        label_keys = map(tuple, map(dict.items, labels))  # C-level _label_key
        rows.labels = array("I", self._label_sets.codes_of(labels, _label_key, label_keys))
        rows.organization_id = array("I", string_codes(map(_ORGANIZATION, records)))
        rows.environment = array("I", string_codes(map(_ENVIRONMENT, records)))
        rows.service_name = array("I", string_codes(map(_SERVICE, records)))
        traces, spans = list(map(_TRACE, records)), list(map(_SPAN, records))
        if traces.count(None) < len(traces) or spans.count(None) < len(spans):
            first = len(cols)
            at = range(first, first + len(ids))
            for offset, trace, span in zip(at, traces, spans, strict=True):
                if trace is not None or span is not None:
                    rows.exemplars[offset] = (trace, span)
        self._new_buckets(rows, list(map(_BOUNDS, records)), list(map(_COUNTS, records)))
        extras = list(map(_OTEL, records))
        if extras.count(_NO_OTEL) != len(extras):
            for offset, extra in enumerate(extras, len(cols)):
                if extra != _NO_OTEL:
                    rows.otel[offset] = extra
        return rows

    def _new_buckets(self, rows: _Columns, bounds: list[Any], counts: list[Any]) -> None:
        present = list(compress(range(len(bounds)), map(is_not, bounds, repeat(None))))
        codes = [0] * len(bounds)
        starts = [-1] * len(bounds)
        if present:
            used = [counts[i] for i in present]
            found = self._bucket_bounds.codes_of([bounds[i] for i in present], tuple)
            offsets = accumulate(map(len, used), initial=len(self._cols.counts))
            for i, code, start in zip(present, found, offsets):  # noqa: B905 (offsets is longer)
                codes[i], starts[i] = code, start
            rows.counts = array("q", chain.from_iterable(used))
        rows.bounds = array("I", codes)
        rows.counts_at = array("q", starts)

    def _time_span(self, filters: MetricFilters) -> tuple[int, int] | None:
        with self._lock:
            stamps = [self._cols.timestamp[i] for i in self._matching_rows(filters)]
        return (min(stamps), max(stamps)) if stamps else None

    def _delete_metrics(self, filters: MetricFilters) -> int:
        with self._lock:
            doomed = set(self._matching_rows(filters))
            if doomed:
                # Built whole before it replaces the stored columns: a failure changes nothing.
                self._cols = self._kept_rows(doomed)
                self._compact_interners()
            return len(doomed)

    def _kept_rows(self, doomed: set[int]) -> _Columns:
        old, new = self._cols, _Columns()
        keep = [i for i in range(len(old)) if i not in doomed]
        new.ids = [old.ids[i] for i in keep]
        new.id_set = set(new.ids)
        for column in _ARRAY_COLUMNS:
            source = getattr(old, column)
            setattr(new, column, array(source.typecode, map(source.__getitem__, keep)))
        new.exemplars = {j: old.exemplars[i] for j, i in enumerate(keep) if i in old.exemplars}
        new.otel = {j: old.otel[i] for j, i in enumerate(keep) if i in old.otel}
        for i in keep:
            start, width = (
                old.counts_at[i],
                len(self._bucket_bounds.values[old.bounds[i]] or ()),
            )
            new.counts_at.append(-1 if start < 0 else len(new.counts))
            if start >= 0:
                new.counts.extend(old.counts[start : start + width + 1])
        return new

    def _compact_interners(self) -> None:
        """Drop interned values no stored row uses any more, once they are at least half of an
        interner: memory stays bounded by what is stored, and the pass that renumbers the rows'
        codes is paid for by as many deletions. Readers hold the lock, so none sees it half-done."""
        cols = self._cols
        string_columns = [getattr(cols, column) for column in _STRING_COLUMNS]
        for interner_name, columns in (
            ("_strings", string_columns),
            ("_label_sets", [cols.labels]),
            ("_bucket_bounds", [cols.bounds]),
        ):
            interner: _Interner = getattr(self, interner_name)
            live: set[int] = set().union(*columns)
            live.discard(0)
            if len(interner.values) - 1 - len(live) < max(len(live), 1):
                continue
            fresh, remap = interner.compacted(live)
            renumbered = [array(c.typecode, map(remap.__getitem__, c)) for c in columns]
            setattr(self, interner_name, fresh)
            for column, values in zip(columns, renumbered, strict=True):
                column[:] = values

    # --- reads ---------------------------------------------------------------------------
    def _matching_rows(self, filters: MetricFilters) -> list[int]:
        """Row numbers of the points that match, in storage order: one C-level pass per
        filter (``compress`` over a ``map`` of a bound comparison), over the rows still in."""
        cols, find = self._cols, self._strings.find
        rows: list[int] | None = None  # None: every row
        if filters.names is not None:
            rows = _where(rows, cols.name, {find(n) for n in filters.names}.__contains__)
        if filters.types is not None:
            rows = _where(rows, cols.type, {_TYPE_CODE[t] for t in filters.types}.__contains__)
        if filters.start_time is not None:
            start = (filters.start_time - EPOCH) // ONE_MICROSECOND
            rows = _where(rows, cols.timestamp, start.__le__)
        if filters.end_time is not None:
            end = (filters.end_time - EPOCH) // ONE_MICROSECOND
            rows = _where(rows, cols.timestamp, end.__ge__)
        if filters.labels:
            wanted = filters.labels.items()
            sets = {
                code
                for code, items in enumerate(self._label_sets.values)
                if items is not None and wanted <= dict(items).items()
            }
            rows = _where(rows, cols.labels, sets.__contains__)
        for field in ("organization_id", "environment", "service_name"):
            value = getattr(filters, field)
            if value is not None:
                rows = _where(rows, getattr(cols, field), find(value).__eq__)
        if filters.trace_id is not None:
            trace = filters.trace_id
            traced = {i for i, (t, _) in cols.exemplars.items() if t == trace}
            rows = [i for i in (range(len(cols)) if rows is None else rows) if i in traced]
        return list(range(len(cols))) if rows is None else rows

    def _record(self, i: int) -> MetricRecord:
        cols, strings = self._cols, self._strings.values
        bounds, start = self._bucket_bounds.values[cols.bounds[i]], cols.counts_at[i]
        trace, span = cols.exemplars.get(i, _NO_EXEMPLAR)
        counts = None if start < 0 else cols.counts[start : start + len(bounds) + 1].tolist()
        unit, started, count, low, high = cols.otel.get(i, _NO_OTEL)
        return _record(
            {
                "id": cols.ids[i],
                "timestamp": from_epoch_us(cols.timestamp[i]),
                "name": strings[cols.name[i]],
                "type": _TYPES[cols.type[i]],
                "value": cols.value[i],
                "labels": dict(self._label_sets.values[cols.labels[i]]),
                "organization_id": strings[cols.organization_id[i]],
                "environment": strings[cols.environment[i]],
                "service_name": strings[cols.service_name[i]],
                "trace_id": trace,
                "span_id": span,
                "bucket_boundaries": None if bounds is None else list(bounds),
                "bucket_counts": counts,
                "unit": unit,
                "start_timestamp": started,
                "histogram_count": count,
                "histogram_min": low,
                "histogram_max": high,
            }
        )

    def _list_metrics(
        self, filters: MetricFilters, pagination: Pagination, order_by: OrderBy
    ) -> tuple[list[MetricRecord], int]:
        with self._lock:
            rows = self._matching_rows(filters)
            cols, strings = self._cols, self._strings.values
            primary: Callable[[int], Any] = {
                "timestamp": lambda i: cols.timestamp[i],
                "name": lambda i: strings[cols.name[i]],
                "value": lambda i: cols.value[i],
            }[order_by.field]

            def key(i: int) -> tuple[Any, str]:
                return (primary(i), cols.ids[i])

            wanted = pagination.offset + pagination.limit
            select = heapq.nlargest if order_by.direction == "desc" else heapq.nsmallest
            page = select(wanted, rows, key=key)[pagination.offset :]
            return [self._record(i) for i in page], len(rows)

    def _iter_metrics(self, filters: MetricFilters, batch_size: int) -> Iterator[MetricRecord]:
        # The matching rows in (timestamp, id) order, sorted once; a delete replaces the
        # columns (renumbering rows), after which the rest is found again past the last key.
        last: tuple[int, str] | None = None
        cols: _Columns | None = None
        order: list[int] = []
        position = 0
        while True:
            with self._lock:
                if cols is not self._cols:
                    cols = self._cols
                    order = self._ordered_rows(filters, last)
                    position = 0
                rows = order[position : position + batch_size]
                position += len(rows)
                batch = [self._record(i) for i in rows]
                if rows:
                    last = (cols.timestamp[rows[-1]], cols.ids[rows[-1]])
            yield from batch
            if len(rows) < batch_size:
                return

    def _ordered_rows(self, filters: MetricFilters, after: tuple[int, str] | None) -> list[int]:
        cols = self._cols

        def key(i: int) -> tuple[int, str]:
            return (cols.timestamp[i], cols.ids[i])

        rows = self._matching_rows(filters)
        if after is not None:
            rows = [i for i in rows if key(i) > after]
        return sorted(rows, key=key)

    def _count_metrics(self, filters: MetricFilters) -> int:
        with self._lock:
            return len(self._matching_rows(filters))

    def _aggregate_metrics(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        if aggregation.ranked:
            return ranked_points(aggregation, lambda a: self._aggregate_metrics(a, filters))
        with self._lock:
            cols, strings = self._cols, self._strings.values
            rows = self._matching_rows(filters)
            # Key columns built with C-level maps; groups hold codes, turned into text once.
            key_columns: list[Iterable[Any]] = [map(cols.name.__getitem__, rows)]
            if aggregation.interval is not None:
                width = aggregation.interval // ONE_MICROSECOND
                stamps = list(map(cols.timestamp.__getitem__, rows))
                key_columns.append(map(sub, stamps, map(mod, stamps, repeat(width))))
            else:
                key_columns.append(repeat(None))
            decoders = []
            for group_key in aggregation.group_by:
                codes, decode = self._group_codes(group_key, rows)
                key_columns.append(codes)
                decoders.append(decode)
            groups: dict[tuple[Any, ...], list[int]] = {}
            for key, i in zip(zip(*key_columns), rows):  # noqa: B905 (repeat() is endless)
                groups.setdefault(key, []).append(i)
            points = []
            for (name, bucket, *codes), members in groups.items():
                values = [decode(c) for decode, c in zip(decoders, codes, strict=True)]
                points.append(
                    AggregatePoint(
                        strings[name],
                        None if bucket is None else from_epoch_us(bucket),
                        dict(zip(aggregation.group_by, values, strict=True)),
                        self._aggregate(aggregation, members),
                        len(members),
                    )
                )
            return points

    def _group_codes(
        self, key: str, rows: list[int]
    ) -> tuple[Iterable[Any], Callable[[Any], str | None]]:
        """What ``rows`` group by for ``key`` (codes equal exactly when the values are equal),
        and how to turn one into the value."""
        cols, strings = self._cols, self._strings.values
        if key == "type":
            return map(cols.type.__getitem__, rows), lambda code: _TYPES[code].value
        if key in COLUMN_GROUP_KEYS:
            return map(getattr(cols, key).__getitem__, rows), strings.__getitem__
        # The label's value itself (many label sets share it), looked up once per label set.
        by_set = [
            None if items is None else dict(items).get(key) for items in self._label_sets.values
        ]
        return map(by_set.__getitem__, map(cols.labels.__getitem__, rows)), _same

    def _aggregate(self, aggregation: Aggregation, rows: list[int]) -> float:
        values = [self._cols.value[i] for i in rows]
        kind = aggregation.type
        if kind == "sum":
            return float_sum(values)
        if kind == "avg":
            return float_sum(values) / len(values)
        if kind == "min":
            return min(values)
        if kind == "max":
            return max(values)
        if kind == "count":
            return float(len(values))
        if kind == "last":
            cols = self._cols
            latest = max(rows, key=lambda i: (cols.timestamp[i], cols.ids[i]))
            return cols.value[latest]
        assert aggregation.percentile is not None
        return percentile_cont(values, aggregation.percentile)

    # --- for rollups ---------------------------------------------------------------------
    def _points_between(self, start: int, end: int) -> list[PointOfSeries]:
        with self._lock:
            cols, strings, label_sets = self._cols, self._strings.values, self._label_sets.values
            return [
                (
                    cols.timestamp[i],
                    cols.ids[i],
                    cols.value[i],
                    (
                        strings[cols.name[i]],
                        _TYPES[cols.type[i]].value,
                        label_sets[cols.labels[i]],
                        strings[cols.organization_id[i]],
                        strings[cols.environment[i]],
                        strings[cols.service_name[i]],
                    ),
                    *self._histogram_of(i),
                )
                for i in range(len(cols))
                if start <= cols.timestamp[i] < end
            ]

    def _histogram_of(self, i: int) -> tuple[tuple[float, ...] | None, list[int] | None]:
        cols = self._cols
        bounds, start = self._bucket_bounds.values[cols.bounds[i]], cols.counts_at[i]
        if bounds is None or start < 0:
            return None, None
        return tuple(bounds), cols.counts[start : start + len(bounds) + 1].tolist()

    def _traces_snapshot(self) -> dict[str, dict[str, Any]]:
        with self._spans_lock:
            return {trace_id: dict(spans) for trace_id, spans in self._traces.items()}

    # --- discovery -----------------------------------------------------------------------
    def _list_metric_names(self, prefix: str | None, limit: int | None) -> list[str]:
        with self._lock:
            names = {self._strings.values[code] for code in set(self._cols.name)}
        return _sorted_prefixed(names, prefix, limit)

    def _live_label_sets(self, name: str | None) -> list[dict[str, str]]:
        cols = self._cols
        if name is None:
            codes = set(cols.labels)
        else:
            wanted = self._strings.find(name)
            codes = {cols.labels[i] for i in range(len(cols)) if cols.name[i] == wanted}
        return [dict(self._label_sets.values[code]) for code in codes]

    def _list_label_keys(self, name: str | None) -> list[str]:
        with self._lock:
            keys = {key for labels in self._live_label_sets(name) for key in labels}
        return sorted(keys)

    def _list_label_values(
        self, key: str, name: str | None, prefix: str | None, limit: int | None
    ) -> list[str]:
        with self._lock:
            values = {labels[key] for labels in self._live_label_sets(name) if key in labels}
        return _sorted_prefixed(values, prefix, limit)


def _same(value: str | None) -> str | None:
    return value


def _where(rows: list[int] | None, column: Any, test: Callable[[Any], Any]) -> list[int]:
    """The rows (``None``: every row) whose value in ``column`` passes ``test``."""
    if rows is None:
        return list(compress(range(len(column)), map(test, column)))
    return list(compress(rows, map(test, map(column.__getitem__, rows))))


def _sorted_prefixed(values: set[str], prefix: str | None, limit: int | None) -> list[str]:
    if prefix:
        upper = prefix_upper_bound(prefix)
        values = {v for v in values if v >= prefix and (upper is None or v < upper)}
    ordered = sorted(values)
    return ordered if limit is None else ordered[:limit]
