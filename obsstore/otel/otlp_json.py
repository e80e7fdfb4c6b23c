"""OTLP/JSON differs from protobuf's standard JSON mapping in one place: trace and span ids
are hex strings, not base64. These convert between the two so protobuf's own JSON parser
(and printer) can be used."""

from __future__ import annotations

import base64
from typing import Any

_ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def _convert(node: Any, convert: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: convert(v) if k in _ID_KEYS and isinstance(v, str) else _convert(v, convert)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_convert(v, convert) for v in node]
    return node


def _hex_to_base64(value: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        return value  # not hex: left for the parser to refuse


def ids_hex_to_base64(document: Any) -> Any:
    """An OTLP/JSON document with its ids as protobuf JSON wants them (base64)."""
    return _convert(document, _hex_to_base64)
