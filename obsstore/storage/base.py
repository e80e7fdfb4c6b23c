"""The storage contract every backend implements, and the argument handling they share.

Public methods validate and normalise their arguments here, once, then call a backend's
``_``-prefixed implementation with clean values. A backend never sees a raw dict or ``None``
where a model is expected."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from operator import attrgetter
from types import TracebackType
from typing import Any, ClassVar, Literal

from pydantic import TypeAdapter

from obsstore.capabilities import Capabilities
from obsstore.errors import InvalidArgumentError
from obsstore.models import (
    AggregatePoint,
    Aggregation,
    Health,
    MetricFilters,
    MetricRecord,
    MetricsPage,
    MetricSummary,
    OrderBy,
    Pagination,
)
from obsstore.models.dict_columns import MetricColumns, metric_columns_of
from obsstore.models.summaries import DEFAULT_PERCENTILES, SummaryComparison
from obsstore.storage.arguments import (
    as_model,
    check_batch,
    check_batch_size,
    check_limit,
    check_prefix,
    check_text,
)
from obsstore.storage.batches import first_of_each_key, validated_batch
from obsstore.storage.histograms import HistogramBins, HistogramPeriod, HistogramQuery
from obsstore.storage.rollups_base import RollupStorage
from obsstore.storage.summaries import summarize
from obsstore.storage.traces_base import TraceStorage
from obsstore.storage.write_checks import metric_records_look_sound

MetricsStrategy = Literal["realtime", "batch"]
TracingStrategy = Literal["realtime", "batch-with-updates", "insert-only"]

_record_id = attrgetter("id")
_records_adapter: TypeAdapter[list[MetricRecord]] = TypeAdapter(list[MetricRecord])


def coerce_records(records: Iterable[MetricRecord | Mapping[str, Any]]) -> list[MetricRecord]:
    """A batch of points, validated whole (see ``validated_batch``). A batch of plain dicts
    takes the fast path of ``dict_columns`` first; it hands anything it does not accept to
    the model path, which names the item and field."""
    batch = check_batch("records", records)
    if batch and type(batch[0]) is dict:
        columns = metric_columns_of(batch)
        if columns is not None:
            return columns.records()
    return validated_batch(
        batch,
        MetricRecord,
        _records_adapter,
        argument="records",
        looks_sound=metric_records_look_sound,
    )


class MetricsStorage(RollupStorage, ABC):
    """One storage for observability data. Use it as a context manager, or call ``close()``."""

    kind: ClassVar[str]
    capabilities: Capabilities
    # The backend returns aggregate points in the contract's order already (SQL ORDER BY), so
    # sorting them again here would only cost time.
    aggregates_sorted: ClassVar[bool] = False

    # --- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> MetricsStorage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def init(self) -> None:
        """Make the schema ready (migrating it where the version policy allows); idempotent."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. The storage cannot be used afterwards."""

    # --- writes --------------------------------------------------------------------------
    def batch_record_metrics(self, records: Iterable[MetricRecord | Mapping[str, Any]]) -> int:
        """Store a batch atomically; returns how many points were new. A point whose id is
        already stored (or appears earlier in the batch) is skipped, so retries never duplicate."""
        batch = check_batch("records", records)
        if batch and type(batch[0]) is dict:
            columns = metric_columns_of(batch)  # plain dicts: validated without models
            if columns is not None:
                return self._store_metric_columns(columns)
        unique = first_of_each_key(coerce_records(batch), _record_id)
        if not unique:
            return 0
        return self._insert_metrics(unique)

    def _store_metric_columns(self, columns: MetricColumns) -> int:
        """``batch_record_metrics`` of a batch validated column by column."""
        unique = columns.unique()
        if not unique.id:
            return 0
        return self._insert_metric_columns(unique)

    def delete_metrics(self, filters: MetricFilters | Mapping[str, Any]) -> int:
        """Delete the points matching ``filters`` (required, and not empty); returns how many."""
        if filters is None:
            raise InvalidArgumentError("delete_metrics needs filters")
        parsed = as_model(filters, MetricFilters)
        if parsed.is_empty():
            raise InvalidArgumentError(
                "delete_metrics needs at least one filter; use dangerously_clear_all() to "
                "delete everything"
            )
        return self._delete_and_refresh(parsed)

    @abstractmethod
    def dangerously_clear_all(self) -> None:
        """Delete every stored point (and span). Irreversible."""

    # --- reads ---------------------------------------------------------------------------
    def list_metrics(
        self,
        filters: MetricFilters | Mapping[str, Any] | None = None,
        pagination: Pagination | Mapping[str, Any] | None = None,
        order_by: OrderBy | Mapping[str, Any] | None = None,
    ) -> MetricsPage:
        page = as_model(pagination, Pagination)
        data, total = self._list_metrics(
            as_model(filters, MetricFilters), page, as_model(order_by, OrderBy)
        )
        return MetricsPage.of(data, total, page)

    def iter_metrics(
        self, filters: MetricFilters | Mapping[str, Any] | None = None, batch_size: int = 10_000
    ) -> Iterator[MetricRecord]:
        """Every point matching ``filters``, ordered by (timestamp, id), read ``batch_size``
        points at a time (a keyset cursor: memory stays bounded by one batch however many
        points match). Arguments are checked at the call, before the first point is read."""
        parsed = as_model(filters, MetricFilters)
        size = check_batch_size(batch_size)
        return self._iter_metrics(parsed, size)

    def count_metrics(self, filters: MetricFilters | Mapping[str, Any] | None = None) -> int:
        return self._count_metrics(as_model(filters, MetricFilters))

    def aggregate_metrics(
        self,
        aggregation: Aggregation | Mapping[str, Any],
        filters: MetricFilters | Mapping[str, Any] | None = None,
    ) -> list[AggregatePoint]:
        """Aggregated values per metric name (and bucket and group), sorted by name, group and
        bucket start, each in code-point order with missing group values first; with
        ``order="value_desc"`` / ``"value_asc"``, groups by their value over the whole range
        instead (at most ``limit`` per name), each group's buckets in time order."""
        if aggregation is None:
            raise InvalidArgumentError("aggregate_metrics needs an Aggregation")
        parsed, parsed_filters = (
            as_model(aggregation, Aggregation),
            as_model(filters, MetricFilters),
        )
        with self._one_read():  # the rollup state and the points it plans for, read together
            points, ordered = self._aggregate_by_source(parsed, parsed_filters)
        if not ordered:  # a ranked answer is always in its order
            points.sort(key=aggregate_sort_key)
        return points

    def summarize_metrics(
        self,
        filters: MetricFilters | Mapping[str, Any] | None = None,
        *,
        percentiles: Iterable[float] = DEFAULT_PERCENTILES,
        compare: SummaryComparison | None = None,
    ) -> list[MetricSummary]:
        """One ``MetricSummary`` per metric name matching ``filters``, by name: count, sum,
        avg, min, max, last and the ``percentiles``, each as ``aggregate_metrics`` computes
        it. ``compare`` ("previous_period", "previous_day", "previous_week") also summarises
        that earlier range (``filters.start_time`` required; ``end_time`` defaults to now)
        into ``.previous``, and ``.change`` holds the relative change of each statistic."""
        return summarize(self, as_model(filters, MetricFilters), percentiles, compare)

    def list_metric_names(self, prefix: str | None = None, limit: int | None = None) -> list[str]:
        return self._list_metric_names(check_prefix(prefix), check_limit(limit))

    def list_label_keys(self, name: str | None = None) -> list[str]:
        return self._list_label_keys(None if name is None else check_text("name", name))

    def list_label_values(
        self,
        key: str,
        name: str | None = None,
        prefix: str | None = None,
        limit: int | None = None,
    ) -> list[str]:
        return self._list_label_values(
            check_text("key", key),
            None if name is None else check_text("name", name),
            check_prefix(prefix),
            check_limit(limit),
        )

    # --- backend implementations ---------------------------------------------------------
    def _one_read(self) -> AbstractContextManager[None]:
        """A scope whose reads share one connection and transaction, where the backend has
        them (one round of connect, begin and commit instead of one per read)."""
        return nullcontext()

    @abstractmethod
    def _insert_metrics(self, records: list[MetricRecord]) -> int: ...

    def _insert_metric_columns(self, columns: MetricColumns) -> int:
        """``_insert_metrics`` of a batch validated column by column (unique ids); a backend
        whose bulk path takes columns overrides it to skip building the records."""
        return self._insert_metrics(columns.records())

    @abstractmethod
    def _delete_metrics(self, filters: MetricFilters) -> int: ...

    @abstractmethod
    def _list_metrics(
        self, filters: MetricFilters, pagination: Pagination, order_by: OrderBy
    ) -> tuple[list[MetricRecord], int]: ...

    @abstractmethod
    def _iter_metrics(self, filters: MetricFilters, batch_size: int) -> Iterator[MetricRecord]:
        """Matching points by (timestamp, id), fetched ``batch_size`` at a time."""

    @abstractmethod
    def _count_metrics(self, filters: MetricFilters) -> int: ...

    @abstractmethod
    def _aggregate_metrics(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]: ...

    def _histogram_periods(self, query: HistogramQuery) -> list[HistogramPeriod]:
        """Requests per period, group and outcome (see histograms.py; obsstore.routes)."""
        raise NotImplementedError(f"{type(self).__name__} does not answer request metrics")

    def _histogram_bins(self, query: HistogramQuery) -> list[HistogramBins]:
        """Bucket counts summed per period, group and boundary set (see histograms.py)."""
        raise NotImplementedError(f"{type(self).__name__} does not answer request metrics")

    @abstractmethod
    def _list_metric_names(self, prefix: str | None, limit: int | None) -> list[str]: ...

    @abstractmethod
    def _list_label_keys(self, name: str | None) -> list[str]: ...

    @abstractmethod
    def _list_label_values(
        self, key: str, name: str | None, prefix: str | None, limit: int | None
    ) -> list[str]: ...


def aggregate_sort_key(point: AggregatePoint) -> tuple[Any, ...]:
    group = tuple((value is not None, value or "") for value in point.group.values())
    return (point.name, group, point.timestamp is not None, point.timestamp)


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix``, in code-point
    order (``None`` when there is none). ``prefix <= s < bound`` is an index-friendly,
    case-sensitive prefix test with no LIKE wildcards to escape."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code == 0x10FFFF:
            chars.pop()
            continue
        code += 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates never occur in stored text
            code = 0xE000
        chars[-1] = chr(code)
        return "".join(chars)
    return None


class ObservabilityStorage(MetricsStorage, TraceStorage):
    """What ``create_storage()`` returns: one object serving metrics and traces."""

    def health(self) -> Health:
        """Whether the database answers, how fast (one trivial query), its schema revision
        beside the newest this release knows, and how many points and spans it holds. An
        unreachable or misconfigured database gives ``reachable=False`` and ``error``, never
        an exception; a closed storage raises ``ObsstoreError`` like every other call."""
        return self._health()

    @abstractmethod
    def _health(self) -> Health: ...
