"""The traces half of the storage contract, and the argument handling every backend shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

from pydantic import TypeAdapter

from obsstore.errors import NotFoundError
from obsstore.models.queries import Pagination
from obsstore.models.traces import (
    SpanRecord,
    SpanUpdate,
    TraceFilters,
    TraceOrderBy,
    TraceRecord,
    TracesPage,
    TraceSummary,
)
from obsstore.storage.arguments import as_model, check_batch, check_batch_size, check_text
from obsstore.storage.batches import first_of_each_key, validated_batch
from obsstore.storage.write_checks import spans_look_sound

SpanKey = tuple[str, str]
_spans_adapter: TypeAdapter[list[SpanRecord]] = TypeAdapter(list[SpanRecord])
_updates_adapter: TypeAdapter[list[SpanUpdate]] = TypeAdapter(list[SpanUpdate])
_span_key = attrgetter("key")


def apply_updates(
    stored: Mapping[SpanKey, SpanRecord], updates: Sequence[SpanUpdate]
) -> dict[SpanKey, SpanRecord]:
    """The spans after ``updates`` (in order), each validated as a whole; ``NotFoundError``
    naming every missing key when an update names a span that is not stored."""
    missing = sorted({u.key for u in updates if u.key not in stored})
    if missing:
        raise NotFoundError(
            "no such spans (trace_id, span_id): " + ", ".join(map(repr, missing)),
            missing=list(missing),
        )
    result: dict[SpanKey, SpanRecord] = {}
    for update in updates:
        current = result.get(update.key) or stored[update.key]
        # The fields as they are (validation copies the JSON values it keeps).
        merged = {**vars(current), **update.changes()}
        result[update.key] = SpanRecord.model_validate(merged)
    return result


class TraceStorage(ABC):
    """Spans and traces: create, update, fetch, list and delete, on every backend alike."""

    def batch_create_spans(self, spans: Iterable[SpanRecord | Mapping[str, Any]]) -> int:
        """Store new spans atomically; returns how many were new. A span whose key is already
        stored (or appears earlier in the batch) is skipped: the first write wins."""
        valid = validated_batch(
            spans, SpanRecord, _spans_adapter, argument="spans", looks_sound=spans_look_sound
        )
        batch = first_of_each_key(valid, _span_key)
        return self._create_spans(batch) if batch else 0

    def batch_update_spans(self, updates: Iterable[SpanUpdate | Mapping[str, Any]]) -> int:
        """Apply the given fields of each update atomically; returns spans updated. Any update
        naming a missing span raises ``NotFoundError`` (listing them) and nothing is applied."""
        batch = validated_batch(updates, SpanUpdate, _updates_adapter, argument="updates")
        return self._update_spans(batch) if batch else 0

    def get_span(self, trace_id: str, span_id: str) -> SpanRecord | None:
        return self._get_span(check_text("trace_id", trace_id), check_text("span_id", span_id))

    def get_root_span(self, trace_id: str) -> SpanRecord | None:
        """The span of the trace without a parent (the earliest, should there be several)."""
        spans = self._get_trace_spans(check_text("trace_id", trace_id), roots_only=True)
        return spans[0] if spans else None

    def get_trace(self, trace_id: str) -> TraceRecord | None:
        spans = self._get_trace_spans(check_text("trace_id", trace_id), roots_only=False)
        return TraceRecord(trace_id=trace_id, spans=spans) if spans else None

    def list_traces(
        self,
        filters: TraceFilters | Mapping[str, Any] | None = None,
        pagination: Pagination | Mapping[str, Any] | None = None,
        order_by: TraceOrderBy | Mapping[str, Any] | None = None,
    ) -> TracesPage:
        """Root spans matching ``filters``, each with its status and ``has_child_error``."""
        page = as_model(pagination, Pagination)
        data, total = self._list_traces(
            as_model(filters, TraceFilters), page, as_model(order_by, TraceOrderBy)
        )
        return TracesPage.of(data, total, page)

    def iter_spans(self, batch_size: int = 1000) -> Iterator[SpanRecord]:
        """Every stored span (orphans and running spans included), ordered by (trace_id,
        span_id), read ``batch_size`` spans at a time: for exports and copies."""
        return self._iter_spans(check_batch_size(batch_size))

    def batch_delete_traces(self, trace_ids: Iterable[str]) -> int:
        """Delete every span of the given traces; returns spans deleted. Unknown ids are fine."""
        ids = sorted({check_text("trace_id", t) for t in check_batch("trace_ids", trace_ids)})
        return self._delete_traces(ids) if ids else 0

    # --- backend implementations ---------------------------------------------------------
    @abstractmethod
    def _create_spans(self, spans: list[SpanRecord]) -> int: ...

    @abstractmethod
    def _update_spans(self, updates: list[SpanUpdate]) -> int: ...

    @abstractmethod
    def _get_span(self, trace_id: str, span_id: str) -> SpanRecord | None: ...

    @abstractmethod
    def _get_trace_spans(self, trace_id: str, *, roots_only: bool) -> list[SpanRecord]:
        """Spans of the trace ordered by started_at, then span_id."""

    @abstractmethod
    def _list_traces(
        self, filters: TraceFilters, pagination: Pagination, order_by: TraceOrderBy
    ) -> tuple[list[TraceSummary], int]: ...

    @abstractmethod
    def _delete_traces(self, trace_ids: list[str]) -> int: ...

    @abstractmethod
    def _iter_spans(self, batch_size: int) -> Iterator[SpanRecord]:
        """Spans by (trace_id, span_id), fetched ``batch_size`` at a time."""


_Span = TypeVar("_Span", bound=SpanRecord)


def trace_sort_key(order_by: TraceOrderBy, span: SpanRecord) -> tuple[Any, ...]:
    """Sort key of list_traces, ascending; running spans (no ended_at) count as latest."""
    moment: datetime | None = getattr(span, order_by.field)
    return (moment is None, moment or datetime.min, span.span_id, span.trace_id)


def sort_traces(order_by: TraceOrderBy, roots: list[_Span]) -> list[_Span]:
    """``roots`` in list_traces' order (see ``TraceOrderBy``)."""
    descending = order_by.direction == "desc"
    if order_by.field != "duration":
        return sorted(roots, key=lambda s: trace_sort_key(order_by, s), reverse=descending)

    def tie(span: SpanRecord) -> tuple[str, str]:
        return (span.span_id, span.trace_id)

    done = [s for s in roots if s.ended_at is not None]
    running = sorted((s for s in roots if s.ended_at is None), key=tie, reverse=descending)
    done.sort(key=lambda s: (s.ended_at - s.started_at, *tie(s)), reverse=descending)  # type: ignore[operator]
    return done + running
