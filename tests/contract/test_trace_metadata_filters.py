"""Metadata filters of ``list_traces``: which keys they may name and how values compare.

The memory backend's rule (``json_scalar_matches``: same JSON type, numbers by exact value as
Python compares them) is the reference every backend must follow."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from obsstore import ObservabilityStorage, SpanRecord, TraceFilters, ValidationError
from obsstore.models._json import json_scalar_matches

T0 = datetime(2024, 6, 1, 9, 0, 0, tzinfo=timezone.utc)


def root(trace_id: str, metadata: dict[str, Any]) -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id, span_id="root", name="root", started_at=T0, metadata=metadata
    )


def matching(storage: ObservabilityStorage, metadata: dict[str, Any]) -> set[str]:
    page = storage.list_traces(filters={"metadata": metadata}, pagination={"limit": 1000})
    assert page.total == len(page.data)
    return {t.trace_id for t in page.data}


# --- keys ---------------------------------------------------------------------------------

UNSTORABLE_KEYS = ["nul\x00key", "\x00", "lone\ud800", "\udfff"]


@pytest.mark.parametrize("key", UNSTORABLE_KEYS, ids=repr)
def test_unstorable_filter_keys_are_validation_errors(
    storage: ObservabilityStorage, key: str
) -> None:
    storage.batch_create_spans([root("t", {"a": 1})])
    with pytest.raises(ValidationError, match="metadata"):
        TraceFilters(metadata={key: 1})
    with pytest.raises(ValidationError, match="metadata"):
        storage.list_traces(filters={"metadata": {key: 1}})


# Keys a stored span's metadata may hold, JSON-escaped characters and path syntax included.
ODD_KEYS = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    'quote"d',
    "back\\slash",
    "ctrl\x01\x1f\x7f\x9f",
    "bell\x07\x08\x0c",
    "a.b",
    "$.x",
    "[0]",
    "~0/1",
    "/",
    "*",
    "ünï😀",
    " ",
    "",
]


@pytest.mark.parametrize("key", ODD_KEYS, ids=repr)
def test_filter_keys_name_any_stored_key(storage: ObservabilityStorage, key: str) -> None:
    storage.batch_create_spans(
        [
            root("hit", {key: "v", "other": 1}),
            root("other-value", {key: "w"}),
            root("other-key", {key + "x": "v", "x" + key: "v"}),
            root("number", {key: 7}),
        ]
    )
    assert matching(storage, {key: "v"}) == {"hit"}
    assert matching(storage, {key: 7.0}) == {"number"}
    assert matching(storage, {key: "v", "other": 1}) == {"hit"}


# --- numbers ------------------------------------------------------------------------------

TRICKY_VALUES: list[Any] = [
    0,
    0.0,
    -0.0,
    1,
    1.0,
    True,
    False,
    None,
    5,
    5.0,
    "5",
    "5.0",
    0.1,
    0.30000000000000004,
    1e-7,
    1e16,
    10**16,
    2**53,
    2**53 + 1,
    float(2**53),
    2**60,
    float(2**60),
    2**60 + 1,
    2**63 - 1,
    float(2**63 - 1),  # 2.0**63: one past the largest int64
    -(2**63),
    -(2.0**63),
    -(2**63) + 1,
    1.7976931348623157e308,
    5e-324,
    123456789.123456789,
]


def test_python_rule_is_the_reference() -> None:
    # The cases the table below turns on, as Python compares them.
    assert json_scalar_matches(2**60, float(2**60))
    assert json_scalar_matches(-(2**63), -(2.0**63))
    assert not json_scalar_matches(2**53 + 1, float(2**53 + 1))
    assert not json_scalar_matches(2**63 - 1, float(2**63 - 1))
    assert json_scalar_matches(0, -0.0) and json_scalar_matches(5, 5.0)
    assert not json_scalar_matches(5, "5") and not json_scalar_matches(1, True)


def test_numbers_compare_by_exact_value(storage: ObservabilityStorage) -> None:
    ids = {f"v{i}": value for i, value in enumerate(TRICKY_VALUES)}
    storage.batch_create_spans([root(trace_id, {"n": value}) for trace_id, value in ids.items()])
    wrong = {}
    for wanted in TRICKY_VALUES:
        expected = {t for t, stored in ids.items() if json_scalar_matches(stored, wanted)}
        found = matching(storage, {"n": wanted})
        if found != expected:
            wrong[repr(wanted)] = sorted(repr(ids[t]) for t in found ^ expected)
    assert wrong == {}, "filter value: stored values wrongly matched or missed"
