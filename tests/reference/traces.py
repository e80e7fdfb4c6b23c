"""The traces half of the reference model: every stored span in one list, every query a plain
loop over it, written to be read against the README's Traces section."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from obsstore.errors import NotFoundError
from obsstore.models import Pagination
from obsstore.models.traces import (
    SPAN_TEXT_FIELDS,
    SpanRecord,
    SpanUpdate,
    TraceFilters,
    TraceOrderBy,
    TraceSummary,
)
from obsstore.storage.traces_base import TraceStorage

# Filters that a root span's field must equal.
EQUALITY_FILTERS = ("trace_id", "name", "span_type", *SPAN_TEXT_FIELDS)


class ReferenceTraces(TraceStorage):
    """Spans as a list of records, in the order they were created."""

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def _find(self, trace_id: str, span_id: str) -> int | None:
        """The position of the span in ``self.spans``, or None."""
        for position, span in enumerate(self.spans):
            if span.trace_id == trace_id and span.span_id == span_id:
                return position
        return None

    def _create_spans(self, spans: list[SpanRecord]) -> int:
        now = datetime.now(timezone.utc)
        created = 0
        for span in spans:
            if self._find(span.trace_id, span.span_id) is not None:
                continue  # the first write of a key wins
            self.spans.append(span.model_copy(update={"created_at": now, "updated_at": now}))
            created += 1
        return created

    def _update_spans(self, updates: list[SpanUpdate]) -> int:
        missing: list[tuple[str, ...]] = []
        for update in updates:
            key = (update.trace_id, update.span_id)
            if self._find(*key) is None and key not in missing:
                missing.append(key)
        if missing:
            missing.sort()
            raise NotFoundError(
                "no such spans (trace_id, span_id): " + ", ".join(map(repr, missing)),
                missing=missing,
            )
        # Work on a copy so that an update that fails validation leaves nothing applied.
        now = datetime.now(timezone.utc)
        result = list(self.spans)
        updated_keys = []
        for update in updates:
            position = self._find(update.trace_id, update.span_id)
            assert position is not None
            fields = result[position].model_dump(exclude={"status"})
            for field, value in update.changes().items():
                fields[field] = value
            fields["updated_at"] = now
            result[position] = SpanRecord.model_validate(fields)  # may raise ValidationError
            if (update.trace_id, update.span_id) not in updated_keys:
                updated_keys.append((update.trace_id, update.span_id))
        self.spans = result
        return len(updated_keys)

    def _get_span(self, trace_id: str, span_id: str) -> SpanRecord | None:
        position = self._find(trace_id, span_id)
        return None if position is None else self.spans[position]

    def _get_trace_spans(self, trace_id: str, *, roots_only: bool) -> list[SpanRecord]:
        chosen = []
        for span in self.spans:
            if span.trace_id != trace_id:
                continue
            if roots_only and span.parent_span_id is not None:
                continue
            chosen.append(span)
        return sorted(chosen, key=lambda span: (span.started_at, span.span_id))

    def _has_child_error(self, trace_id: str) -> bool:
        """Whether a span of the trace other than a root has an error."""
        for span in self.spans:
            if span.trace_id == trace_id and span.parent_span_id is not None:
                if span.error is not None:
                    return True
        return False

    def _list_traces(
        self, filters: TraceFilters, pagination: Pagination, order_by: TraceOrderBy
    ) -> tuple[list[TraceSummary], int]:
        summaries = []
        for span in self.spans:
            if span.parent_span_id is not None:
                continue
            child_error = self._has_child_error(span.trace_id)
            if root_matches(filters, span, child_error):
                fields = {name: getattr(span, name) for name in SpanRecord.model_fields}
                summaries.append(
                    TraceSummary.model_construct(**fields, has_child_error=child_error)
                )

        def sort_key(summary: TraceSummary) -> tuple[Any, ...]:
            # Running spans (no moment) count as the latest: last ascending, first descending.
            moment = getattr(summary, order_by.field)
            if moment is None:
                return (1, datetime.min, summary.span_id, summary.trace_id)
            return (0, moment, summary.span_id, summary.trace_id)

        if order_by.field == "duration":
            ordered = by_duration(summaries, descending=order_by.direction == "desc")
        else:
            ordered = sorted(summaries, key=sort_key, reverse=order_by.direction == "desc")
        page = ordered[pagination.offset : pagination.offset + pagination.limit]
        return page, len(summaries)

    def _iter_spans(self, batch_size: int) -> Iterator[SpanRecord]:
        return iter(sorted(self.spans, key=lambda span: (span.trace_id, span.span_id)))

    def _delete_traces(self, trace_ids: list[str]) -> int:
        kept = [span for span in self.spans if span.trace_id not in trace_ids]
        deleted = len(self.spans) - len(kept)
        self.spans = kept
        return deleted


def by_duration(summaries: list[TraceSummary], *, descending: bool) -> list[TraceSummary]:
    """Finished root spans by how long they took (ties by span_id, then trace_id, in the same
    direction), then the running ones (no duration yet) by span_id and trace_id."""
    finished = []
    running = []
    for summary in summaries:
        if summary.ended_at is None:
            running.append(summary)
        else:
            finished.append(summary)
    finished.sort(
        key=lambda s: (s.ended_at - s.started_at, s.span_id, s.trace_id),  # type: ignore[operator]
        reverse=descending,
    )
    running.sort(key=lambda s: (s.span_id, s.trace_id), reverse=descending)
    return finished + running


def root_matches(filters: TraceFilters, root: SpanRecord, has_child_error: bool) -> bool:
    """Whether a root span passes every set filter."""
    for field in EQUALITY_FILTERS:
        wanted = getattr(filters, field)
        if wanted is not None and getattr(root, field) != wanted:
            return False
    if filters.status is not None and root.status != filters.status:
        return False
    if filters.has_child_error is not None and has_child_error != filters.has_child_error:
        return False
    if filters.start_time is not None and root.started_at < filters.start_time:
        return False
    if filters.end_time is not None and root.started_at > filters.end_time:
        return False
    for tag in filters.tags or []:
        if tag not in (root.tags or []):
            return False
    for key, wanted in (filters.metadata or {}).items():
        metadata = root.metadata if isinstance(root.metadata, dict) else {}
        if key not in metadata or not same_json_scalar(metadata[key], wanted):
            return False
    return True


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: True is an int in Python, not in JSON
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def same_json_scalar(stored: Any, wanted: Any) -> bool:
    """The metadata filter rule: the same JSON type and an equal value (5 equals 5.0)."""
    return json_type(stored) == json_type(wanted) and bool(stored == wanted)
