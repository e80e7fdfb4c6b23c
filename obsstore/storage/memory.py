"""The pure-Python reference backend. Every other backend must give the answers this one gives.

Points are held column by column (arrays of numbers, interned strings and label sets) so that a
stored point costs a couple of hundred bytes instead of a pydantic object's kilobyte."""

from __future__ import annotations

import heapq
import math
import threading
from array import array
from collections.abc import Callable, Iterable
from typing import Any

from obsstore.models import (
    AggregatePoint,
    Aggregation,
    MetricFilters,
    MetricRecord,
    MetricType,
    OrderBy,
    Pagination,
)
from obsstore.models._fields import EPOCH, ONE_MICROSECOND, from_epoch_us
from obsstore.models.queries import COLUMN_GROUP_KEYS
from obsstore.storage.aggregate_math import percentile_cont
from obsstore.storage.base import (
    Capabilities,
    ObservabilityStorage,
    StrategyInfo,
    prefix_upper_bound,
)
from obsstore.storage.memory_traces import MemoryTraces

_TYPES = list(MetricType)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPES)}
_NO_MATCH = -1


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

    def find(self, value: Any) -> int:
        return self.codes.get(value, _NO_MATCH)


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
        self.trace_id: list[str | None] = []
        self.span_id: list[str | None] = []
        self.buckets: dict[str, tuple[list[float], list[int]]] = {}  # by id; histograms only

    def __len__(self) -> int:
        return len(self.ids)


class MemoryStorage(MemoryTraces, ObservabilityStorage):
    kind = "memory"
    capabilities = Capabilities(
        metrics_strategy=StrategyInfo("realtime", ("realtime", "batch")),
        tracing_strategy=StrategyInfo(
            "realtime", ("realtime", "batch-with-updates", "insert-only")
        ),
        durable=False,
        multi_process=False,
    )

    def __init__(self) -> None:
        MemoryTraces.__init__(self)
        self._lock = threading.RLock()
        self._strings = _Interner()
        self._label_sets = _Interner()  # tuple(labels.items()) -> code; values are the tuples
        self._cols = _Columns()

    def init(self) -> None:
        pass

    def close(self) -> None:
        pass

    def dangerously_clear_all(self) -> None:
        with self._lock:
            self._cols = _Columns()
        self._clear_spans()

    # --- writes --------------------------------------------------------------------------
    def _insert_metrics(self, records: list[MetricRecord]) -> int:
        with self._lock:
            cols = self._cols
            new = [r for r in records if r.id not in cols.id_set]
            string, label_set = self._strings.code, self._label_sets.code
            cols.ids.extend(r.id for r in new)
            cols.id_set.update(r.id for r in new)
            cols.timestamp.extend((r.timestamp - EPOCH) // ONE_MICROSECOND for r in new)
            cols.value.extend(r.value for r in new)
            cols.name.extend(string(r.name) for r in new)
            cols.type.extend(_TYPE_CODE[r.type] for r in new)
            cols.labels.extend(label_set(tuple(r.labels.items())) for r in new)
            cols.organization_id.extend(string(r.organization_id) for r in new)
            cols.environment.extend(string(r.environment) for r in new)
            cols.service_name.extend(string(r.service_name) for r in new)
            cols.trace_id.extend(r.trace_id for r in new)
            cols.span_id.extend(r.span_id for r in new)
            for r in new:
                if r.bucket_boundaries is not None and r.bucket_counts is not None:
                    cols.buckets[r.id] = (list(r.bucket_boundaries), list(r.bucket_counts))
            return len(new)

    def _delete_metrics(self, filters: MetricFilters) -> int:
        with self._lock:
            doomed = set(self._matching_rows(filters))
            if doomed:
                old, keep = self._cols, [i for i in range(len(self._cols)) if i not in doomed]
                self._cols = new = _Columns()
                new.ids = [old.ids[i] for i in keep]
                new.id_set = set(new.ids)
                for column in (
                    "timestamp",
                    "value",
                    "name",
                    "type",
                    "labels",
                    "organization_id",
                    "environment",
                    "service_name",
                ):
                    source = getattr(old, column)
                    setattr(new, column, array(source.typecode, (source[i] for i in keep)))
                new.trace_id = [old.trace_id[i] for i in keep]
                new.span_id = [old.span_id[i] for i in keep]
                new.buckets = {k: v for k, v in old.buckets.items() if k in new.id_set}
            return len(doomed)

    # --- reads ---------------------------------------------------------------------------
    def _matching_rows(self, filters: MetricFilters) -> list[int]:
        """Row numbers of the points that match, in storage order; one pass per filter."""
        cols, find = self._cols, self._strings.find
        rows: Iterable[int] = range(len(cols))
        if filters.names is not None:
            names, name_col = {find(n) for n in filters.names}, cols.name
            rows = [i for i in rows if name_col[i] in names]
        if filters.types is not None:
            types, type_col = {_TYPE_CODE[t] for t in filters.types}, cols.type
            rows = [i for i in rows if type_col[i] in types]
        ts = cols.timestamp
        if filters.start_time is not None:
            start = (filters.start_time - EPOCH) // ONE_MICROSECOND
            rows = [i for i in rows if ts[i] >= start]
        if filters.end_time is not None:
            end = (filters.end_time - EPOCH) // ONE_MICROSECOND
            rows = [i for i in rows if ts[i] <= end]
        if filters.labels:
            wanted = filters.labels.items()
            label_col = cols.labels
            sets = {
                code
                for code, items in enumerate(self._label_sets.values)
                if items is not None and wanted <= dict(items).items()
            }
            rows = [i for i in rows if label_col[i] in sets]
        for field in ("organization_id", "environment", "service_name"):
            value = getattr(filters, field)
            if value is not None:
                code, column = find(value), getattr(cols, field)
                rows = [i for i in rows if column[i] == code]
        if filters.trace_id is not None:
            trace, trace_col = filters.trace_id, cols.trace_id
            rows = [i for i in rows if trace_col[i] == trace]
        return list(rows)

    def _record(self, i: int) -> MetricRecord:
        cols, strings = self._cols, self._strings.values
        buckets = cols.buckets.get(cols.ids[i])
        return MetricRecord.model_construct(
            id=cols.ids[i],
            timestamp=from_epoch_us(cols.timestamp[i]),
            name=strings[cols.name[i]],
            type=_TYPES[cols.type[i]],
            value=cols.value[i],
            labels=dict(self._label_sets.values[cols.labels[i]]),
            organization_id=strings[cols.organization_id[i]],
            environment=strings[cols.environment[i]],
            service_name=strings[cols.service_name[i]],
            trace_id=cols.trace_id[i],
            span_id=cols.span_id[i],
            bucket_boundaries=list(buckets[0]) if buckets else None,
            bucket_counts=list(buckets[1]) if buckets else None,
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

    def _count_metrics(self, filters: MetricFilters) -> int:
        with self._lock:
            return len(self._matching_rows(filters))

    def _aggregate_metrics(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        with self._lock:
            cols, strings = self._cols, self._strings.values
            width = (
                None if aggregation.interval is None else aggregation.interval // ONE_MICROSECOND
            )
            getters = [self._group_getter(key) for key in aggregation.group_by]
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i in self._matching_rows(filters):
                bucket = None if width is None else cols.timestamp[i] - cols.timestamp[i] % width
                key = (cols.name[i], bucket, *(get(i) for get in getters))
                groups.setdefault(key, []).append(i)
            points = []
            for (name, bucket, *group_values), rows in groups.items():
                points.append(
                    AggregatePoint(
                        name=strings[name],
                        timestamp=None if bucket is None else from_epoch_us(bucket),
                        group=dict(zip(aggregation.group_by, group_values, strict=True)),
                        value=self._aggregate(aggregation, rows),
                        count=len(rows),
                    )
                )
            return points

    def _group_getter(self, key: str) -> Callable[[int], str | None]:
        cols, strings, label_sets = self._cols, self._strings.values, self._label_sets.values
        if key == "type":
            return lambda i: _TYPES[cols.type[i]].value
        if key in COLUMN_GROUP_KEYS:
            column = getattr(cols, key)
            return lambda i: strings[column[i]]
        return lambda i: dict(label_sets[cols.labels[i]]).get(key)

    def _aggregate(self, aggregation: Aggregation, rows: list[int]) -> float:
        values = [self._cols.value[i] for i in rows]
        kind = aggregation.type
        if kind == "sum":
            return math.fsum(values)
        if kind == "avg":
            return math.fsum(values) / len(values)
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


def _sorted_prefixed(values: set[str], prefix: str | None, limit: int | None) -> list[str]:
    if prefix:
        upper = prefix_upper_bound(prefix)
        values = {v for v in values if v >= prefix and (upper is None or v < upper)}
    ordered = sorted(values)
    return ordered if limit is None else ordered[:limit]
