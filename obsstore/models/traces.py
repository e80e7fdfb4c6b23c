"""Spans as callers write, update and read them, and the arguments of trace queries."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    computed_field,
    model_validator,
)

from obsstore.models._fields import (
    Identifier,
    MetricName,
    ResourceText,
    UtcDatetime,
    check_name_text,
)
from obsstore.models._json import JsonKey, JsonObject, JsonScalar, JsonValue
from obsstore.models._unchecked import MarksUnchecked
from obsstore.models.queries import Page

MAX_TAGS = 128

Tag = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(check_name_text),
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]


class TraceStatus(str, Enum):
    SUCCESS = "success"
    ERROR = "error"
    RUNNING = "running"

    def __str__(self) -> str:
        return self.value


SPAN_JSON_FIELDS = ("input", "output", "error", "metadata", "attributes", "scope")


class _Attribution(BaseModel):
    """Who and what a span belongs to: plain text fields, stored and filtered as columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_type: ResourceText | None = None
    entity_id: ResourceText | None = None
    entity_name: ResourceText | None = None
    user_id: ResourceText | None = None
    organization_id: ResourceText | None = None
    resource_id: ResourceText | None = None
    run_id: ResourceText | None = None
    session_id: ResourceText | None = None
    thread_id: ResourceText | None = None
    request_id: ResourceText | None = None
    environment: ResourceText | None = None
    service_name: ResourceText | None = None
    source: ResourceText | None = None


# The attribution fields, which are text columns of the spans table.
SPAN_TEXT_FIELDS = tuple(_Attribution.model_fields)


class _SpanFields(_Attribution, MarksUnchecked):
    """The writable fields of a span (all optional here; SpanRecord makes some required)."""

    parent_span_id: Identifier | None = None
    name: MetricName | None = None
    span_type: MetricName | None = None
    started_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    is_event: StrictBool | None = None
    input: JsonValue = None
    output: JsonValue = None
    error: JsonValue = None
    metadata: JsonObject = None
    attributes: JsonObject = None
    scope: JsonObject = None
    tags: Tags | None = None


class SpanRecord(_SpanFields):
    """One span, keyed by ``(trace_id, span_id)``; ``parent_span_id=None`` marks the root.

    ``error`` holds any JSON value; a span with one failed. ``status``, ``created_at`` and
    ``updated_at`` are read-only: obsstore derives and sets them (values given are ignored)."""

    trace_id: Identifier
    span_id: Identifier
    name: MetricName
    span_type: MetricName = "span"
    started_at: UtcDatetime
    is_event: StrictBool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        # A span read back (and dumped) can be written again: derived fields are not input.
        if isinstance(data, dict) and ("status" in data or "has_child_error" in data):
            data = {k: v for k, v in data.items() if k not in ("status", "has_child_error")}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> TraceStatus:
        if self.error is not None:
            return TraceStatus.ERROR
        return TraceStatus.RUNNING if self.ended_at is None else TraceStatus.SUCCESS

    @property
    def key(self) -> tuple[str, str]:
        return (self.trace_id, self.span_id)

    @model_validator(mode="after")
    def _check(self) -> SpanRecord:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        if self.parent_span_id == self.span_id:
            raise ValueError("a span cannot be its own parent")
        return self


class SpanUpdate(_SpanFields):
    """Changes to one stored span: only the fields given are applied (give ``None`` to clear
    one, e.g. ``error=None``). The result is validated like a new SpanRecord."""

    trace_id: Identifier
    span_id: Identifier

    @property
    def key(self) -> tuple[str, str]:
        return (self.trace_id, self.span_id)

    def changes(self) -> dict[str, Any]:
        return {
            field: getattr(self, field)
            for field in self.model_fields_set
            if field not in ("trace_id", "span_id")
        }


class TraceSummary(SpanRecord):
    """A trace as ``list_traces`` shows it: its root span, plus whether any other span of the
    trace failed. Built by the storages, never validated from input."""

    has_child_error: bool = False


class TraceRecord(BaseModel):
    """Every span of one trace, ordered by ``started_at`` then ``span_id``."""

    model_config = ConfigDict(frozen=True)

    trace_id: str
    spans: list[SpanRecord]


class TraceFilters(_Attribution):
    """Which traces ``list_traces`` shows (root spans); set fields combine with AND.
    ``tags``: the root span has all of them. ``metadata``: each key of the root span's metadata
    equals the given scalar, types respected (5 matches 5 and 5.0, never "5"); a key may be
    any text a stored key can be (tabs, quotes, dots...), only NUL and lone surrogates are
    rejected: no stored key holds them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trace_id: Identifier | None = None
    name: MetricName | None = None
    span_type: MetricName | None = None
    status: TraceStatus | None = None
    has_child_error: StrictBool | None = None
    start_time: UtcDatetime | None = None
    end_time: UtcDatetime | None = None
    tags: Tags | None = None
    metadata: dict[JsonKey, JsonScalar] | None = None

    @model_validator(mode="after")
    def _check_range(self) -> TraceFilters:
        if self.start_time and self.end_time and self.end_time < self.start_time:
            raise ValueError("end_time is before start_time")
        return self


# Filter fields that are plain equality on a span column.
TRACE_EQUALITY_FILTERS = ("trace_id", "name", "span_type", *SPAN_TEXT_FIELDS)


class TraceOrderBy(BaseModel):
    """Sort order of ``list_traces``. By ``started_at`` or ``ended_at``, running spans (no
    ``ended_at``) sort first on desc and last on asc; by ``duration`` (``ended_at`` minus
    ``started_at`` of the root span) running spans sort last in both directions. Ties break
    on ``span_id``, then ``trace_id``, in the same direction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: Literal["started_at", "ended_at", "duration"] = "started_at"
    direction: Literal["asc", "desc"] = "desc"


class TracesPage(Page):
    data: list[TraceSummary]
    total: int
    limit: int
    offset: int
    has_more: bool


__all__ = [
    "SpanRecord",
    "SpanUpdate",
    "TraceFilters",
    "TraceOrderBy",
    "TraceRecord",
    "TraceStatus",
    "TraceSummary",
    "TracesPage",
]
