"""Spans for the in-memory backend, kept per trace."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from obsstore.errors import ObsstoreError
from obsstore.models._fields import utc_now
from obsstore.models._json import json_scalar_matches
from obsstore.models.queries import Pagination
from obsstore.models.traces import (
    TRACE_EQUALITY_FILTERS,
    SpanRecord,
    SpanUpdate,
    TraceFilters,
    TraceOrderBy,
    TraceSummary,
)
from obsstore.storage.traces_base import SpanKey, TraceStorage, apply_updates, sort_traces


class OpenLock:
    """A re-entrant lock that cannot be taken once its storage is closed: every read and write
    of the memory backend holds one, so each raises after ``close()``, as the SQL backends'
    calls do."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._closed = False

    def __enter__(self) -> None:
        self._lock.acquire()
        if self._closed:
            self._lock.release()
            raise ObsstoreError("this storage is closed")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()

    @contextmanager
    def closing(self) -> Iterator[None]:
        """Held while the storage lets go of its data; closed from then on (closing twice is
        fine)."""
        with self._lock:
            self._closed = True
            yield


def trace_matches(filters: TraceFilters, root: SpanRecord, has_child_error: bool) -> bool:
    """Whether a root span passes ``filters`` (the rule the SQL backends reproduce)."""
    for field in TRACE_EQUALITY_FILTERS:
        wanted = getattr(filters, field)
        if wanted is not None and getattr(root, field) != wanted:
            return False
    if filters.status is not None and root.status is not filters.status:
        return False
    if filters.has_child_error is not None and has_child_error != filters.has_child_error:
        return False
    if filters.start_time is not None and root.started_at < filters.start_time:
        return False
    if filters.end_time is not None and root.started_at > filters.end_time:
        return False
    if filters.tags and not set(filters.tags) <= set(root.tags or ()):
        return False
    for key, expected in (filters.metadata or {}).items():
        metadata = root.metadata if isinstance(root.metadata, dict) else {}
        if key not in metadata or not json_scalar_matches(metadata[key], expected):
            return False
    return True


class MemoryTraces(TraceStorage):
    """Spans kept per trace, under their own lock."""

    def __init__(self) -> None:
        self._spans_lock = OpenLock()
        self._traces: dict[str, dict[str, SpanRecord]] = {}

    def _count_spans(self) -> int:
        with self._spans_lock:
            return sum(map(len, self._traces.values()))

    def _clear_spans(self) -> None:
        with self._spans_lock:
            self._traces = {}

    def _close_spans(self) -> None:
        with self._spans_lock.closing():
            self._traces = {}

    def _create_spans(self, spans: list[SpanRecord]) -> int:
        now = utc_now()
        with self._spans_lock:
            traces = self._traces
            # Every stored copy is made before the first is stored: a failure stores nothing.
            new = [
                s.model_copy(update={"created_at": now, "updated_at": now})
                for s in spans
                if s.span_id not in traces.get(s.trace_id, {})
            ]
            for span in new:
                traces.setdefault(span.trace_id, {})[span.span_id] = span
            return len(new)

    def _update_spans(self, updates: list[SpanUpdate]) -> int:
        now = utc_now()
        with self._spans_lock:
            stored = {
                u.key: self._traces[u.trace_id][u.span_id]
                for u in updates
                if u.span_id in self._traces.get(u.trace_id, {})
            }
            changed = apply_updates(stored, updates)
            copies = {
                key: span.model_copy(update={"updated_at": now}) for key, span in changed.items()
            }
            for (trace_id, span_id), span in copies.items():
                self._traces[trace_id][span_id] = span
            return len(copies)

    def _get_span(self, trace_id: str, span_id: str) -> SpanRecord | None:
        with self._spans_lock:
            return self._traces.get(trace_id, {}).get(span_id)

    def _get_trace_spans(self, trace_id: str, *, roots_only: bool) -> list[SpanRecord]:
        with self._spans_lock:
            spans = list(self._traces.get(trace_id, {}).values())
        if roots_only:
            spans = [s for s in spans if s.parent_span_id is None]
        return sorted(spans, key=lambda s: (s.started_at, s.span_id))

    def _list_traces(
        self, filters: TraceFilters, pagination: Pagination, order_by: TraceOrderBy
    ) -> tuple[list[TraceSummary], int]:
        with self._spans_lock:
            summaries = []
            for spans in self._traces.values():
                child_error = any(
                    s.error is not None for s in spans.values() if s.parent_span_id is not None
                )
                for root in spans.values():
                    if root.parent_span_id is None and trace_matches(filters, root, child_error):
                        summaries.append(
                            TraceSummary.model_construct(**dict(root), has_child_error=child_error)
                        )
        summaries = sort_traces(order_by, summaries)
        page = summaries[pagination.offset : pagination.offset + pagination.limit]
        return page, len(summaries)

    def _delete_traces(self, trace_ids: list[str]) -> int:
        with self._spans_lock:
            return sum(len(self._traces.pop(t, {})) for t in trace_ids)

    def _iter_spans(self, batch_size: int) -> Iterator[SpanRecord]:
        # The keys as they stand at the first read, sorted once; each batch is read under the
        # lock, and a span deleted meanwhile is skipped.
        with self._spans_lock:
            keys = sorted((t, sid) for t, by_id in self._traces.items() for sid in by_id)
        for start in range(0, len(keys), batch_size):
            with self._spans_lock:
                batch = [
                    span
                    for t, sid in keys[start : start + batch_size]
                    if (span := self._traces.get(t, {}).get(sid)) is not None
                ]
            yield from batch


__all__ = ["MemoryTraces", "OpenLock", "SpanKey", "trace_matches"]
