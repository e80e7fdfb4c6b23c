"""Writers of spans: obsstore's own JSON lines, and OTLP/JSON (one ExportTraceServiceRequest
per line, as the OpenTelemetry Collector's file exporter writes them)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any, BinaryIO

from obsstore.models import SpanRecord
from obsstore.models._fields import to_epoch_us

# Read-only fields obsstore derives or sets itself: not part of what is exported.
DERIVED_SPAN_FIELDS = {"status", "created_at", "updated_at"}
_HEX = re.compile(r"[0-9a-f]+")
_KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


def write_jsonl(spans: Iterable[SpanRecord], stream: BinaryIO) -> int:
    count = 0
    for span in spans:
        stream.write(span.model_dump_json(exclude=DERIVED_SPAN_FIELDS, exclude_none=True).encode())
        stream.write(b"\n")
        count += 1
    return count


def otlp_id(value: str, width: int) -> str:
    """An id as OTLP's hex: kept when it is lowercase hex of the right width, otherwise the
    first ``width`` hex digits of its SHA-256 (obsstore ids may be any text)."""
    if len(value) == width and _HEX.fullmatch(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()[:width]


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": json.dumps(value)}


def key_values(attributes: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in (attributes or {}).items()]


def _ns(moment: Any) -> str:
    return str(to_epoch_us(moment) * 1000)


def _iso_ns(text: Any) -> str:
    from datetime import datetime

    try:
        return _ns(datetime.fromisoformat(str(text)))
    except ValueError:
        return "0"


def otlp_span(span: SpanRecord) -> dict[str, Any]:
    metadata = span.metadata if isinstance(span.metadata, dict) else {}
    code = metadata.get("status_code")
    status: dict[str, Any] = {}
    if span.error is not None:
        status = {"code": 2}
        message = span.error.get("message") if isinstance(span.error, dict) else span.error
        if message is not None:
            status["message"] = message if isinstance(message, str) else json.dumps(message)
    elif code in _STATUS:
        status = {"code": _STATUS[code]}
    out: dict[str, Any] = {
        "traceId": otlp_id(span.trace_id, 32),
        "spanId": otlp_id(span.span_id, 16),
        "name": span.name,
        "kind": _KINDS.get(span.span_type, 1),
        "startTimeUnixNano": _ns(span.started_at),
        "attributes": key_values(span.attributes),
        "status": status,
    }
    if span.parent_span_id is not None:
        out["parentSpanId"] = otlp_id(span.parent_span_id, 16)
    if span.ended_at is not None:
        out["endTimeUnixNano"] = _ns(span.ended_at)
    events = metadata.get("events")
    if isinstance(events, list):
        out["events"] = [
            {
                "name": e.get("name", ""),
                "timeUnixNano": _iso_ns(e.get("timestamp")),
                "attributes": key_values(e.get("attributes")),
            }
            for e in events
            if isinstance(e, dict)
        ]
    links = metadata.get("links")
    if isinstance(links, list):
        out["links"] = [
            {
                "traceId": otlp_id(str(link.get("trace_id", "")), 32),
                "spanId": otlp_id(str(link.get("span_id", "")), 16),
                "attributes": key_values(link.get("attributes")),
            }
            for link in links
            if isinstance(link, dict)
        ]
    return out


def _resource(span: SpanRecord) -> dict[str, Any]:
    metadata = span.metadata if isinstance(span.metadata, dict) else {}
    resource = metadata.get("resource")
    attributes = dict(resource) if isinstance(resource, dict) else {}
    if span.service_name is not None:
        attributes.setdefault("service.name", span.service_name)
    if span.environment is not None:
        attributes.setdefault("deployment.environment.name", span.environment)
    return attributes


def write_otlp_json(spans: Iterable[SpanRecord], stream: BinaryIO, batch_size: int) -> int:
    """One OTLP/JSON ExportTraceServiceRequest per line, ``batch_size`` spans at most each,
    grouped by resource and scope."""
    count = 0
    batch: list[SpanRecord] = []

    def flush() -> None:
        groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
        resources: dict[str, dict[str, Any]] = {}
        scopes: dict[str, dict[str, Any]] = {}
        for span in batch:
            resource = _resource(span)
            rkey = json.dumps(resource, sort_keys=True)
            resources[rkey] = resource
            scope = span.scope if isinstance(span.scope, dict) else {}
            skey = json.dumps(scope, sort_keys=True)
            scopes[skey] = scope
            groups.setdefault(rkey, {}).setdefault(skey, []).append(otlp_span(span))
        request = {
            "resourceSpans": [
                {
                    "resource": {"attributes": key_values(resources[rkey])},
                    "scopeSpans": [
                        {
                            "scope": {
                                k: v
                                for k, v in scopes[skey].items()
                                if k in ("name", "version") and isinstance(v, str)
                            },
                            "spans": spans_out,
                        }
                        for skey, spans_out in by_scope.items()
                    ],
                }
                for rkey, by_scope in groups.items()
            ]
        }
        stream.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")

    for span in spans:
        batch.append(span)
        count += 1
        if len(batch) >= batch_size:
            flush()
            batch = []
    if batch:
        flush()
    return count
