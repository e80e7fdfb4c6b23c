"""JSON values as obsstore stores them: what every backend can hold and give back unchanged."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator

MAX_JSON_DEPTH = 64
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1  # int64: exact in every backend, filters included
# NUL (PostgreSQL's JSONB cannot hold it) and lone surrogates (not encodable as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _clean_text(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def reject_unstorable(text: str) -> str:
    """``text`` unchanged when every backend can store it (no NUL, no lone surrogate)."""
    if _UNSTORABLE.search(text):
        raise ValueError("must not contain NUL characters or lone surrogates")
    return text


def clean_json(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON (dict, list, str, int, float, bool, None), with NUL and lone
    surrogates replaced by U+FFFD so one odd model output never loses a span. Non-finite
    floats, integers beyond 64 bits, non-string keys and other types are errors."""
    if value is None or isinstance(value, (bool, str)):
        return _clean_text(value) if isinstance(value, str) else value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError("JSON integers must fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("JSON numbers must be finite (no NaN or infinity)")
        return value
    if depth >= MAX_JSON_DEPTH:
        raise ValueError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, (list, tuple)):
        return [clean_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"JSON object keys must be strings, not {type(key).__name__}")
            cleaned[_clean_text(key)] = clean_json(item, depth + 1)
        return cleaned
    raise ValueError(f"{type(value).__name__} is not a JSON value")


def _clean_object(value: Any) -> Any:
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"must be a JSON object (dict), not {type(value).__name__}")
    return clean_json(value)


def _clean_scalar(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        raise ValueError("metadata filters compare scalars: str, int, float, bool or None")
    return clean_json(value)


JsonValue = Annotated[Any, AfterValidator(clean_json)]
JsonObject = Annotated[Any, AfterValidator(_clean_object)]
JsonScalar = Annotated[Any, AfterValidator(_clean_scalar)]
# A key of a JSON object: any text a stored object's key can be (tabs and quotes included).
JsonKey = Annotated[str, AfterValidator(reject_unstorable)]


def json_kind(value: Any) -> str:
    """The JSON type of a Python JSON value: null, boolean, number, string, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def json_scalar_matches(actual: Any, expected: Any) -> bool:
    """The metadata filter rule: same JSON type, equal value (numbers by exact value)."""
    return json_kind(actual) == json_kind(expected) and bool(actual == expected)
