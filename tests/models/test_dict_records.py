"""The dict fast paths (one dict at a time, ``dict_records``; a batch column by column,
``dict_columns``) against the pydantic model path: on every input, valid or not, either a fast
path declines or it gives exactly the record the model gives; so a batch of dicts is accepted,
or refused with the same ValidationError, whichever path it takes."""

from __future__ import annotations

import gc
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from obsstore import MetricRecord
from obsstore.models.dict_columns import MetricColumns, metric_columns_of
from obsstore.models.dict_records import (
    build_record,
    fast_records,
    record_values,
    row_of_record,
)
from obsstore.models.metrics import MetricType
from obsstore.sqltypes import dump_json
from obsstore.storage.base import coerce_records
from obsstore.storage.bulk import metric_columns, validated_dict_columns

_adapter: TypeAdapter[list[MetricRecord]] = TypeAdapter(list[MetricRecord])
_UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

# Texts around every rule: lengths at and past each limit, whitespace, control characters,
# surrogates, non-str values.
_odd_texts = st.sampled_from(
    [
        "",
        " ",
        "\t",
        " \u3000",
        "a\x00b",
        "a\nb",
        "a\x7f",
        "a\x9f",
        "a\ud800b",
        "\udc00",
        "é",
        "\u3000x",
        "x" * 128,
        "x" * 129,
        "x" * 255,
        "x" * 256,
        "x" * 4096,
        "x" * 4097,
    ]
)
_texts = st.one_of(st.text(max_size=6), _odd_texts, st.sampled_from(["cpu", "http.duration"]))
_not_texts = st.one_of(st.none(), st.integers(-3, 3), st.booleans(), st.just(b"ab"), st.floats())
_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.sampled_from([0, -0.0, 0.0, 10**400, -(10**400), 2**63, 1e308, True, False, "1.5"]),
)
_zones = st.one_of(
    st.none(),
    st.just(timezone.utc),
    st.timedeltas(-timedelta(hours=23, minutes=59), timedelta(hours=23, minutes=59)).map(timezone),
)
_datetimes = st.one_of(
    st.datetimes(datetime(1900, 1, 1), datetime(9999, 12, 31, 23, 59), timezones=_zones),
    st.sampled_from(
        [
            datetime(1969, 12, 31, 23, 59, 59, 999999),
            datetime(1970, 1, 1),
            datetime(1970, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
            "2026-11-01T00:00:00Z",
            "2026-11-01",
            1_700_000_000,
            None,
        ]
    ),
)
_label_values = st.one_of(
    _texts, st.integers(), st.booleans(), st.floats(), st.none(), st.just(["a"])
)
_labels = st.one_of(
    st.dictionaries(st.one_of(_texts, st.integers(0, 3)), _label_values, max_size=4),
    st.dictionaries(st.sampled_from(["route", "method"]), st.sampled_from(["GET", "/a"])),
    st.sampled_from(
        [{f"k{i}": "v" for i in range(64)}, {f"k{i}": "v" for i in range(65)}, None, [("k", "v")]]
    ),
)
_bounds = st.one_of(
    st.lists(st.one_of(st.floats(-1e3, 1e3), st.integers(-5, 5)), max_size=4).map(sorted),
    st.lists(_numbers, max_size=4),
    st.sampled_from([[-0.0, 1.0], [1.0, 1.0], (1.0, 2.0), None]),
)
_counts = st.one_of(
    st.lists(st.integers(0, 9), max_size=5),
    st.lists(
        st.one_of(st.integers(), st.booleans(), st.floats(), st.just(2**63 - 1), st.just(2**63)),
        max_size=5,
    ),
    st.none(),
)
_types = st.sampled_from(
    ["gauge", "counter", "histogram", "GAUGE", MetricType.HISTOGRAM, MetricType.GAUGE, None, 1]
)
_resource = st.one_of(st.none(), _texts, _not_texts)

_good_texts = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=8),
    st.sampled_from(["é", "x" * 128, "x" * 255, "a b"]),
)
_good_labels = st.dictionaries(
    st.one_of(st.sampled_from(["route", "x" * 128]), _good_texts),
    st.one_of(_good_texts, st.integers(), st.booleans(), st.just("")),
    max_size=4,
)
_histogram = st.integers(0, 4).flatmap(
    lambda n: st.tuples(
        st.lists(
            st.one_of(st.floats(-1e6, 1e6), st.integers(-99, 99)),
            min_size=n,
            max_size=n,
            unique=True,
        ).map(sorted),
        st.lists(st.integers(0, 2**63 - 1), min_size=n + 1, max_size=n + 1),
    )
)
# Mostly valid points, so that acceptance is exercised as much as refusal.
_good_points = st.fixed_dictionaries(
    {
        "name": _good_texts,
        "value": st.one_of(st.floats(-1e300, 1e300), st.integers(-(2**70), 2**70)),
    },
    optional={
        "id": _good_texts,
        "timestamp": st.datetimes(datetime(1971, 1, 1), datetime(9998, 1, 1), timezones=_zones),
        "type": st.sampled_from(["gauge", "counter", MetricType.COUNTER]),
        "labels": _good_labels,
        "service_name": st.one_of(st.none(), _good_texts),
        "environment": st.one_of(st.none(), _good_texts),
        "unit": st.one_of(st.none(), _good_texts),
        "histogram_max": st.none(),
    },
)
_good_histograms = st.tuples(_good_points, _histogram).map(
    lambda p: {**p[0], "type": "histogram", "bucket_boundaries": p[1][0], "bucket_counts": p[1][1]}
)
_any_points = st.fixed_dictionaries(
    {"name": st.one_of(_texts, _not_texts), "value": _numbers},
    optional={
        "id": st.one_of(_texts, _not_texts),
        "timestamp": _datetimes,
        "type": _types,
        "labels": _labels,
        "organization_id": _resource,
        "environment": _resource,
        "service_name": _resource,
        "trace_id": _resource,
        "span_id": _resource,
        "unit": _resource,
        "bucket_boundaries": _bounds,
        "bucket_counts": _counts,
        "start_timestamp": st.one_of(st.none(), _datetimes),
        "histogram_count": st.one_of(st.none(), st.integers(0, 3)),
        "histogram_min": st.one_of(st.none(), st.floats()),
        "histogram_max": st.none(),
        "extra": st.just(1),
    },
)
_points = st.one_of(_any_points, _good_points, _good_histograms)


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    # The context holds the ValueError raised, which compares by identity: its text is the msg.
    return exc.errors(include_context=False)


def _same_record(fast: MetricRecord, model: MetricRecord, given: dict[str, Any]) -> None:
    assert fast.model_fields_set == model.model_fields_set == set(given)
    assert list(fast.__dict__) == list(model.__dict__)
    for field, value in model.__dict__.items():
        mine = fast.__dict__[field]
        if field == "id" and "id" not in given:
            assert _UUID7.fullmatch(mine)
        elif field == "timestamp" and "timestamp" not in given:
            assert mine.tzinfo is timezone.utc
            assert abs(mine - value) < timedelta(minutes=1)
        else:
            assert mine == value, field
            assert type(mine) is type(value), field
            if isinstance(value, (list, dict)):
                assert mine is not given.get(field)  # a copy, as pydantic makes
                assert [type(v) for v in mine] == [type(v) for v in value]
            if isinstance(value, dict):
                assert [type(v) for v in mine.values()] == [type(v) for v in value.values()]
            if isinstance(value, float):
                assert str(mine) == str(value), field  # -0.0 normalised alike
            if isinstance(value, datetime):
                assert mine.tzinfo is value.tzinfo, field


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_points)
def test_fast_path_agrees_with_the_model(point: dict[str, Any]) -> None:
    try:
        expected: list[MetricRecord] | ValidationError = _adapter.validate_python([point])
    except ValidationError as exc:
        expected = exc
    values = record_values(point)
    if values is not None:
        assert not isinstance(expected, ValidationError), expected
        _same_record(build_record(values), expected[0], point)
        assert build_record(row_of_record(expected[0])) == expected[0]
    columns = metric_columns_of([point])
    if columns is not None:
        assert not isinstance(expected, ValidationError), expected
        _same_columns(columns, expected, [point])
    # Through the bulk entry point: the same records, or the same errors.
    try:
        got: list[MetricRecord] | ValidationError = coerce_records([point])
    except ValidationError as exc:
        got = exc
    if isinstance(expected, ValidationError):
        assert isinstance(got, ValidationError)
        assert _errors(got) == _errors(expected)
    else:
        assert not isinstance(got, ValidationError)
        _same_record(got[0], expected[0], point)


@settings(max_examples=100, deadline=None)
@given(st.lists(_points, min_size=1, max_size=4))
def test_a_batch_is_refused_naming_the_item(points: list[dict[str, Any]]) -> None:
    try:
        expected: Any = _adapter.validate_python(points)
    except ValidationError as exc:
        expected = _errors(exc)
    try:
        got: Any = coerce_records(points)
    except ValidationError as exc:
        got = _errors(exc)
    if isinstance(expected, list) and expected and isinstance(expected[0], MetricRecord):
        assert len(got) == len(expected)
        for mine, theirs, point in zip(got, expected, points, strict=True):
            _same_record(mine, theirs, point)
    else:
        assert got == expected
    columns = metric_columns_of(points)
    if columns is not None:
        assert isinstance(expected, list) and isinstance(expected[0], MetricRecord), expected
        _same_columns(columns, expected, points)


@settings(max_examples=100, deadline=None)
@given(st.lists(_points, min_size=1, max_size=6), _bounds, st.lists(st.booleans(), min_size=6))
def test_a_shared_boundaries_list_is_checked_like_copies(
    points: list[dict[str, Any]], shared: Any, takes: list[bool]
) -> None:
    """Histograms that share one boundaries list object (a caller's constant) are refused or
    accepted as if each had its own copy: the column path checks each distinct list once."""
    points = [
        {**p, "bucket_boundaries": shared} if take and "bucket_boundaries" in p else p
        for p, take in zip(points, takes[: len(points)], strict=True)
    ]
    try:
        expected: Any = _adapter.validate_python(points)
    except ValidationError:
        expected = None
    columns = metric_columns_of(points)
    if columns is not None:
        assert expected is not None
        _same_columns(columns, expected, points)


def test_shared_boundaries_lists_give_their_own_normalised_bounds() -> None:
    when = datetime(2026, 11, 1, tzinfo=timezone.utc)
    first, second = [1, 2.5], [0.5, 3]
    points = [
        {"name": "h", "type": "histogram", "value": 1.0, "timestamp": when, **buckets}
        for buckets in (
            {"bucket_boundaries": first, "bucket_counts": [0, 1, 2]},
            {},
            {"bucket_boundaries": second, "bucket_counts": [1, 1, 1]},
            {"bucket_boundaries": first, "bucket_counts": [3, 0, 0]},
        )
    ]
    columns = metric_columns_of(points)
    assert columns is not None
    assert columns.bucket_boundaries == [(1.0, 2.5), None, (0.5, 3.0), (1.0, 2.5)]
    assert columns.bucket_counts == [[0, 1, 2], None, [1, 1, 1], [3, 0, 0]]
    _same_columns(columns, _adapter.validate_python(points), points)
    # One bad use of a shared list refuses the batch, wherever it is.
    points[3] = {**points[3], "bucket_counts": [0, 1]}
    assert metric_columns_of(points) is None


def _same_columns(
    columns: MetricColumns, expected: list[MetricRecord], points: list[dict[str, Any]]
) -> None:
    """The batch's columns hold what the model path's records hold, field by field, and the
    label JSON the storages would write for them."""
    for mine, theirs, point in zip(columns.records(), expected, points, strict=True):
        _same_record(mine, theirs, point)
    assert columns.labels_json == [dump_json(r.labels) for r in expected]
    for field in ("name", "value", "type", "service_name", "unit", "bucket_counts"):
        assert [r.__dict__[field] for r in columns.records()] == [
            r.__dict__[field] for r in expected
        ]
    assert [None if b is None else list(b) for b in columns.bucket_boundaries] == [
        r.bucket_boundaries for r in expected
    ]
    # What the SQL backends write: the same columns as from the model path's records (but
    # the id and timestamp a point without them gets).
    for epoch_us, as_json in ((False, True), (True, True), (True, False)):
        mine = validated_dict_columns(columns, epoch_us=epoch_us, counts_as_json=as_json)
        theirs = metric_columns(expected, epoch_us=epoch_us, counts_as_json=as_json)
        for name in ("id", "timestamp"):
            mine[name] = [
                m if name in p else t
                for m, t, p in zip(mine[name], theirs[name], points, strict=True)
            ]
        assert mine == theirs


def test_the_common_shapes_take_the_fast_path() -> None:
    when = datetime(2026, 11, 1, tzinfo=timezone.utc)
    points = [
        {"name": "cpu", "value": 1},
        {
            "id": "a",
            "timestamp": when,
            "name": "m",
            "type": "counter",
            "value": 2.5,
            "labels": {"route": "/a", "code": 200, "ok": True},
            "service_name": "api",
            "environment": "prod",
            "unit": "ms",
        },
        {
            "name": "h",
            "type": "histogram",
            "value": 3.0,
            "bucket_boundaries": [1, 2.5],
            "bucket_counts": [0, 1, 2],
            "timestamp": datetime(2026, 11, 1, 1),
        },
    ]
    records = fast_records(points)
    assert records is not None
    assert records[1].labels == {"route": "/a", "code": "200", "ok": "true"}
    assert records[2].bucket_boundaries == [1.0, 2.5]
    assert records[2].timestamp == datetime(2026, 11, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "point",
    [
        {"name": "cpu", "value": 1, "timestamp": "2026-11-01T00:00:00Z"},
        {"name": "cpu", "value": 1, "start_timestamp": datetime(2026, 1, 1)},
        {"name": "cpu", "value": float("nan")},
    ],
)
def test_other_shapes_go_to_the_model(point: dict[str, Any]) -> None:
    assert record_values(point) is None


def test_rows_are_not_walked_by_the_collector() -> None:
    row = record_values(
        {
            "name": "h",
            "type": "histogram",
            "value": 1.0,
            "labels": {"a": "b", "n": 1},
            "timestamp": datetime(2026, 11, 1),
            "bucket_boundaries": [1.0],
            "bucket_counts": [1, 2],
        }
    )
    assert row is not None
    gc.collect()
    gc.collect()  # a tuple is let go once the tuples in it were (one pass each)
    assert not gc.is_tracked(row)
