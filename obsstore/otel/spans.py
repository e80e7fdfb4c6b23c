"""OpenTelemetry spans as obsstore ``SpanRecord``s, field by field:

========================  ==================================================================
SpanRecord field          from the OpenTelemetry span
========================  ==================================================================
trace_id                  trace id, 32 lowercase hex digits
span_id                   span id, 16 lowercase hex digits
parent_span_id            the parent's span id (hex), None for a root
name                      name
span_type                 kind: internal, server, client, producer or consumer
started_at / ended_at     start and end time (microseconds; nanoseconds are truncated)
error                     None unless the status is ERROR; then {"message": status
                          description, "exceptions": [{"type", "message", "stacktrace",
                          "timestamp"} of each "exception" event]}
attributes                span attributes (sequences as lists, bytes as hex)
metadata                  {"status_code", "status_description", "events": [{"name",
                          "timestamp", "attributes"}], "links": [{"trace_id", "span_id",
                          "attributes"}], "resource": resource attributes, "trace_state"}
scope                     {"name", "version"} of the instrumentation scope
service_name              resource ``service.name``
environment               resource ``deployment.environment.name`` (or
                          ``deployment.environment``)
========================  =================================================================="""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from obsstore.models import SpanRecord
from obsstore.otel.mapping import ns_to_datetime, resource_fields

SPAN_KINDS = ("internal", "server", "client", "producer", "consumer")


@dataclass(frozen=True)
class SpanParts:
    """A span in neutral form (from the SDK's ReadableSpan or an OTLP request)."""

    trace_id: int | bytes
    span_id: int | bytes
    parent_span_id: int | bytes | None
    name: str
    kind: str
    start_ns: int
    end_ns: int | None
    status_code: str  # UNSET, OK or ERROR
    status_description: str | None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # (name, time in ns, attributes)
    events: list[tuple[str, int, Mapping[str, Any]]] = field(default_factory=list)
    # (trace id, span id, attributes)
    links: list[tuple[int | bytes, int | bytes, Mapping[str, Any]]] = field(default_factory=list)
    resource: Mapping[str, Any] = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""
    trace_state: str = ""


def hex_id(value: int | bytes, width: int) -> str:
    if isinstance(value, bytes):
        return value.hex().rjust(width, "0")
    return format(value, f"0{width}x")


def json_attribute(value: Any) -> Any:
    """An attribute value as JSON: sequences as lists, bytes as hex, non-finite floats as
    text (JSON has no NaN)."""
    if isinstance(value, (list, tuple)):
        return [json_attribute(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def json_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): json_attribute(v) for k, v in attributes.items()}


def _iso(ns: int) -> str:
    return ns_to_datetime(ns).isoformat()


def to_span(parts: SpanParts) -> SpanRecord:
    parent = parts.parent_span_id
    parent_hex = hex_id(parent, 16) if parent not in (None, 0, b"") else None
    events = [
        {"name": name, "timestamp": _iso(ns), "attributes": json_attributes(attrs)}
        for name, ns, attrs in parts.events
    ]
    error: dict[str, Any] | None = None
    if parts.status_code == "ERROR":
        error = {
            "message": parts.status_description,
            "exceptions": [
                {
                    "type": attrs.get("exception.type"),
                    "message": attrs.get("exception.message"),
                    "stacktrace": attrs.get("exception.stacktrace"),
                    "timestamp": _iso(ns),
                }
                for name, ns, attrs in parts.events
                if name == "exception"
            ],
        }
    metadata: dict[str, Any] = {
        "status_code": parts.status_code,
        "status_description": parts.status_description,
        "events": events,
        "links": [
            {
                "trace_id": hex_id(trace, 32),
                "span_id": hex_id(span, 16),
                "attributes": json_attributes(attrs),
            }
            for trace, span, attrs in parts.links
        ],
        "resource": json_attributes(parts.resource),
        "trace_state": parts.trace_state or None,
    }
    kind = parts.kind if parts.kind in SPAN_KINDS else "internal"
    started = ns_to_datetime(parts.start_ns)
    ended = None if parts.end_ns is None else max(ns_to_datetime(parts.end_ns), started)
    return SpanRecord.model_validate(
        {
            "trace_id": hex_id(parts.trace_id, 32),
            "span_id": hex_id(parts.span_id, 16),
            "parent_span_id": parent_hex,
            "name": parts.name[:255] or "(unnamed)",
            "span_type": kind,
            "started_at": started,
            "ended_at": ended,
            "error": error,
            "attributes": json_attributes(parts.attributes),
            "metadata": metadata,
            "scope": {"name": parts.scope_name, "version": parts.scope_version or None},
            **resource_fields(parts.resource),
        }
    )
