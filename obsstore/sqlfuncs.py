"""SQL expressions that each dialect spells differently, one construct each, with the handlers
side by side. Query code builds dialect-neutral Core from these; a dialect without a handler
fails at compile time instead of producing wrong SQL.

Every bound value a construct needs (a JSON path, a microsecond count, a fraction) is a bound
parameter it creates when it is built and lists in ``_traverse_internals``, never one made while
compiling: SQLAlchemy then caches the compiled statement and extracts fresh values from each new
statement, so a query that differs only in its values is not compiled again. The two trace
filters at the end are the exception: the shape of their SQL follows their values (a JSON type,
a number of tags), so they bind while compiling and opt out of the cache."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from obsstore.models._json import json_kind
from obsstore.sqltypes import UTCTimestamp, dump_json

_ONE_US = timedelta(microseconds=1)


def _bind(value: Any, type_: sa.types.TypeEngine[Any] | None = None) -> Any:
    return sa.bindparam(None, value, type_=type_, unique=True)


_CLAUSE = InternalTraversal.dp_clauseelement


class _Construct(ColumnElement[Any]):
    """Base of the column constructs below: they read from the tables their operands read from.
    ``_operands`` are the child elements (columns and bound parameters) that make up the
    construct; subclasses list them in ``_traverse_internals`` too, for the cache key."""

    inherit_cache = True
    _operands: tuple[str, ...] = ()
    _traverse_internals: Any = []

    @property
    def _from_objects(self) -> list[Any]:
        return [f for name in self._operands for f in getattr(self, name)._from_objects]

    def get_children(self, **kw: Any) -> list[Any]:
        return [getattr(self, name) for name in self._operands]


def _internals(*names: str) -> list[tuple[str, Any]]:
    return [(name, _CLAUSE) for name in names]


def _unsupported(element: ColumnElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError(
        f"{type(element).__name__} has no handler for dialect {compiler.dialect.name!r}"
    )


# --- time_bucket(ts, interval): start of the interval-wide bucket, aligned to the epoch -------


class time_bucket(_Construct):
    inherit_cache = True
    _operands = ("timestamp", "micros", "interval")
    _traverse_internals = _internals(*_operands)
    type = UTCTimestamp()

    def __init__(self, timestamp: ColumnElement[Any], interval: timedelta) -> None:
        self.timestamp = timestamp
        micros = interval // _ONE_US
        self.micros = _bind(micros, sa.BigInteger())
        self.interval = _bind(timedelta(microseconds=micros), sa.Interval())


compiles(time_bucket)(_unsupported)


@compiles(time_bucket, "postgresql")
def _time_bucket_pg(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    interval = compiler.process(element.interval, **kw)
    ts = compiler.process(element.timestamp, **kw)
    return f"date_bin({interval}, {ts}, TIMESTAMPTZ '1970-01-01 00:00:00+00')"


@compiles(time_bucket, "duckdb")
def _time_bucket_duckdb(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    micros = compiler.process(element.micros, **kw)
    ts = compiler.process(element.timestamp, **kw)
    return f"time_bucket(to_microseconds({micros}), {ts}, TIMESTAMP '1970-01-01 00:00:00')"


@compiles(time_bucket, "sqlite")
def _time_bucket_sqlite(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    # Timestamps are integer microseconds on SQLite (see sqltypes), never negative.
    micros = compiler.process(element.micros, **kw)
    ts = compiler.process(element.timestamp, **kw)
    return f"({ts} - ({ts} % {micros}))"


@compiles(time_bucket, "clickhousedb")
def _time_bucket_clickhouse(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    # Integer division of microseconds: toStartOfInterval's weeks start on Mondays, not at the
    # epoch.
    micros = compiler.process(element.micros, **kw)
    ts = compiler.process(element.timestamp, **kw)
    return (
        f"fromUnixTimestamp64Micro(intDiv(toUnixTimestamp64Micro({ts}), {micros}) * {micros}, "
        "'UTC')"
    )


# SQLite matches the label of a quoted path ($."key") against the key as the stored JSON text
# spells it, escapes included, and cannot escape a quote itself: keys holding a character that
# JSON escapes (quote, backslash, control characters) are named only by json_each's keys.
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')


def sqlite_path_names(key: str) -> bool:
    """Whether SQLite's quoted JSON path ``$."key"`` names the object key ``key``."""
    return _JSON_ESCAPED.search(key) is None


# --- label_value(labels, key): the text value of one label, NULL when absent ------------------


class label_value(_Construct):
    """Each dialect names the key its own way (the key, a JSON pointer, a JSON path): all three
    are bound here and each handler renders the one it needs."""

    inherit_cache = True
    _operands = ("labels", "key_param", "pointer", "path")
    _traverse_internals = [
        *_internals(*_operands),
        ("needs_entries", InternalTraversal.dp_boolean),
    ]
    type = sa.String()

    def __init__(self, labels: ColumnElement[Any], key: str) -> None:
        self.labels = labels
        self.key_param = _bind(key, sa.Text())
        # A JSON pointer names any key exactly once ~ and / are escaped (RFC 6901).
        self.pointer = _bind("/" + key.replace("~", "~0").replace("/", "~1"), sa.Text())
        self.path = _bind(f'$."{key}"', sa.Text())
        # Keys a quoted SQLite path cannot name are looked up among the entries instead (a
        # different statement, hence part of the cache key).
        self.needs_entries = not sqlite_path_names(key)


compiles(label_value)(_unsupported)


@compiles(label_value, "postgresql")
def _label_value_pg(element: label_value, compiler: SQLCompiler, **kw: Any) -> str:
    # ->> with a text operand is a literal key lookup, whatever the key contains.
    key = compiler.process(element.key_param, **kw)
    return f"({compiler.process(element.labels, **kw)} ->> {key})"


@compiles(label_value, "duckdb")
def _label_value_duckdb(element: label_value, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        f"json_extract_string({compiler.process(element.labels, **kw)}, "
        f"{compiler.process(element.pointer, **kw)})"
    )


@compiles(label_value, "sqlite")
def _label_value_sqlite(element: label_value, compiler: SQLCompiler, **kw: Any) -> str:
    labels = compiler.process(element.labels, **kw)
    if element.needs_entries:
        # Both fragments are compiled SQL; the key is a bound parameter.
        key = compiler.process(element.key_param, **kw)
        return f"(SELECT value FROM json_each({labels}) WHERE key = {key})"  # noqa: S608
    return f"json_extract({labels}, {compiler.process(element.path, **kw)})"


@compiles(label_value, "clickhousedb")
def _label_value_clickhouse(element: label_value, compiler: SQLCompiler, **kw: Any) -> str:
    # Labels are a Map, where a missing key reads as '': mapContains tells them apart.
    labels = compiler.process(element.labels, **kw)
    key = compiler.process(element.key_param, **kw)
    return f"if(mapContains({labels}, {key}), {labels}[{key}], NULL)"


# --- labels_match(labels, pairs): every pair present with exactly that value -------------------


class labels_match(_Construct):
    inherit_cache = True
    _operands = ("labels", "each_pair", "document")
    _traverse_internals = _internals(*_operands)
    type = sa.Boolean()

    def __init__(self, labels: ColumnElement[Any], pairs: dict[str, str]) -> None:
        self.labels = labels
        clauses = [label_value(labels, k) == v for k, v in pairs.items()]
        self.each_pair = sa.and_(sa.true(), *clauses)
        self.document = _bind(dump_json(pairs), sa.Text())


@compiles(labels_match)
def _labels_match_default(element: labels_match, compiler: SQLCompiler, **kw: Any) -> str:
    # Parenthesised: dialects without a boolean type append "= 1" to a boolean in WHERE.
    return f"({compiler.process(element.each_pair, **kw)})"


@compiles(labels_match, "postgresql")
def _labels_match_pg(element: labels_match, compiler: SQLCompiler, **kw: Any) -> str:
    # Containment is what the GIN (jsonb_path_ops) index on labels answers.
    doc = compiler.process(element.document, **kw)
    return f"({compiler.process(element.labels, **kw)} @> CAST({doc} AS JSONB))"


class labels_match_in_window(labels_match):
    """``labels_match`` on rows a time window already narrows: the window's range index should
    lead and the labels be checked on its rows. Other dialects compile it as ``labels_match``."""

    inherit_cache = True


@compiles(labels_match_in_window, "postgresql")
def _labels_match_in_window_pg(
    element: labels_match_in_window, compiler: SQLCompiler, **kw: Any
) -> str:
    # The same containment as a function call, which no index serves: otherwise the planner
    # ANDs the GIN scan of every point with these labels in the whole history (estimated far
    # too cheap) with the window's (name, timestamp) range, and a fixed window grows with the
    # store (bench/README.md, growth rows).
    doc = compiler.process(element.document, **kw)
    return f"jsonb_contains({compiler.process(element.labels, **kw)}, CAST({doc} AS JSONB))"


# --- code_point(text): compare and sort computed text by code point ----------------------------


class code_point(_Construct):
    inherit_cache = True
    _operands = ("operand",)
    _traverse_internals = _internals(*_operands)
    type = sa.String()

    def __init__(self, operand: ColumnElement[Any]) -> None:
        self.operand = operand


@compiles(code_point)
def _code_point_default(element: code_point, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite and DuckDB compare UTF-8 bytes, which is code-point order.
    return compiler.process(element.operand, **kw)


@compiles(code_point, "postgresql")
def _code_point_pg(element: code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.operand, **kw)} COLLATE "C")'


# --- percentile_cont(value, fraction): linear interpolation between closest ranks -------------


class percentile_cont(_Construct):
    inherit_cache = True
    _operands = ("value", "fraction")
    _traverse_internals = _internals(*_operands)
    type = sa.Double()

    def __init__(self, value: ColumnElement[Any], fraction: float) -> None:
        self.value = value
        self.fraction = _bind(float(fraction), sa.Double())


compiles(percentile_cont)(_unsupported)


@compiles(percentile_cont, "postgresql")
def _percentile_pg(element: percentile_cont, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL interpolates as a + (b - a) * f, which is infinite when b - a is beyond the
    # float range. Halving the values first and doubling the result gives the same result
    # exactly (bar subnormal values, off by at most one in the last place), and the halves'
    # difference always fits. The least subnormal, whose half is zero (an "underflow" error
    # to PostgreSQL), counts as zero.
    fraction = compiler.process(element.fraction, **kw)
    value = compiler.process(element.value, **kw)
    half = (
        f"CASE WHEN abs({value}) < CAST(1e-323 AS DOUBLE PRECISION) THEN 0"
        f" ELSE {value} * CAST(0.5 AS DOUBLE PRECISION) END"
    )
    return f"(percentile_cont({fraction}) WITHIN GROUP (ORDER BY {half}) * 2)"


@compiles(percentile_cont, "duckdb")
def _percentile_duckdb(element: percentile_cont, compiler: SQLCompiler, **kw: Any) -> str:
    fraction = compiler.process(element.fraction, **kw)
    return f"quantile_cont({compiler.process(element.value, **kw)}, {fraction})"


@compiles(percentile_cont, "clickhousedb")
def _percentile_clickhouse(element: percentile_cont, compiler: SQLCompiler, **kw: Any) -> str:
    # The one ClickHouse quantile that interpolates as percentile_cont does; on halves, doubled,
    # so that the difference of extremes stays finite (as on PostgreSQL, above).
    fraction = compiler.process(element.fraction, **kw)
    value = compiler.process(element.value, **kw)
    half = f"if(abs({value}) < 1e-323, 0., {value} * 0.5)"
    return f"(quantileExactInclusive({fraction})({half}) * 2)"


@compiles(percentile_cont, "sqlite")
def _percentile_sqlite(element: percentile_cont, compiler: SQLCompiler, **kw: Any) -> str:
    # A Python aggregate the SQLite backend registers on every connection.
    fraction = compiler.process(element.fraction, **kw)
    return f"obsstore_percentile_cont({compiler.process(element.value, **kw)}, {fraction})"


# --- float_sum(value): the sum of doubles, ±inf beyond the float range (never an error) -------


class float_sum(_Construct):
    inherit_cache = True
    _operands = ("value",)
    _traverse_internals = _internals(*_operands)
    type = sa.Double()

    def __init__(self, value: ColumnElement[Any]) -> None:
        self.value = value


@compiles(float_sum)
def _float_sum_default(element: float_sum, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite and DuckDB sum doubles to ±inf when the sum leaves the float range.
    return f"sum({compiler.process(element.value, **kw)})"


# Values of magnitude 1 or more times 2**-64 are exact (no underflow), and no sum of up to 2**63
# of them can overflow; values below 1 sum to less than 2**63 unscaled.
_SCALE_DOWN = "CAST(5.421010862427522e-20 AS DOUBLE PRECISION)"  # 2**-64
_SCALE_UP = "CAST(18446744073709551616 AS DOUBLE PRECISION)"  # 2**64
_SCALED_LIMIT = "CAST(9.745314011399998e+288 AS DOUBLE PRECISION)"  # float max * 2**-64


@compiles(float_sum, "postgresql")
def _float_sum_pg(element: float_sum, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL raises "value out of range" when float arithmetic overflows (or a product
    # underflows to zero). So values of magnitude 1 or more are summed at 2**-64 scale and
    # scaled back (±Infinity where that is beyond the float range), and smaller ones are summed
    # as they are and added. Each repeated sum is one aggregate to the planner, computed once.
    value = compiler.process(element.value, **kw)
    large = f"coalesce(sum({value} * {_SCALE_DOWN}) FILTER (WHERE abs({value}) >= 1), 0)"
    small = f"coalesce(sum({value}) FILTER (WHERE abs({value}) < 1), 0)"
    return (
        f"(CASE WHEN abs({large}) > {_SCALED_LIMIT}"
        f" THEN sign({large}) * CAST('Infinity' AS DOUBLE PRECISION)"
        f" ELSE {large} * {_SCALE_UP} + {small} END)"
    )


# --- last_value(value, ts, id): value of the latest point, ties to the greatest id ------------


class last_value(_Construct):
    inherit_cache = True
    _operands = ("value", "timestamp", "id")
    _traverse_internals = _internals(*_operands)
    type = sa.Double()

    def __init__(
        self, value: ColumnElement[Any], timestamp: ColumnElement[Any], id_: ColumnElement[Any]
    ) -> None:
        self.value, self.timestamp, self.id = value, timestamp, id_


compiles(last_value)(_unsupported)


def _last_parts(element: last_value, compiler: SQLCompiler, kw: Any) -> tuple[str, str, str]:
    return (
        compiler.process(element.value, **kw),
        compiler.process(element.timestamp, **kw),
        compiler.process(element.id, **kw),
    )


@compiles(last_value, "postgresql")
def _last_pg(element: last_value, compiler: SQLCompiler, **kw: Any) -> str:
    value, ts, id_ = _last_parts(element, compiler, kw)
    return f"(array_agg({value} ORDER BY {ts} DESC, {id_} DESC))[1]"


@compiles(last_value, "duckdb")
def _last_duckdb(element: last_value, compiler: SQLCompiler, **kw: Any) -> str:
    value, ts, id_ = _last_parts(element, compiler, kw)
    return f"first({value} ORDER BY {ts} DESC, {id_} DESC)"


@compiles(last_value, "clickhousedb")
def _last_clickhouse(element: last_value, compiler: SQLCompiler, **kw: Any) -> str:
    value, ts, id_ = _last_parts(element, compiler, kw)
    return f"argMax({value}, ({ts}, {id_}))"


@compiles(last_value, "sqlite")
def _last_sqlite(element: last_value, compiler: SQLCompiler, **kw: Any) -> str:
    value, ts, id_ = _last_parts(element, compiler, kw)
    return f"obsstore_last({value}, {ts}, {id_})"


# --- mean(total, count): total / count as a double, never an error -----------------------------


class mean(_Construct):
    inherit_cache = True
    _operands = ("total", "count")
    _traverse_internals = _internals(*_operands)
    type = sa.Double()

    def __init__(self, total: ColumnElement[Any], count: ColumnElement[Any]) -> None:
        self.total, self.count = total, count


@compiles(mean)
def _mean_default(element: mean, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite and DuckDB divide a double by an integer as doubles, to 0 or ±inf, never raising.
    total, count = compiler.process(element.total, **kw), compiler.process(element.count, **kw)
    return f"({total} / {count})"


@compiles(mean, "postgresql")
def _mean_pg(element: mean, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL raises "underflow" where a nonzero quotient rounds to zero: totals that small
    # (below 1e-290) count as zero.
    total, count = compiler.process(element.total, **kw), compiler.process(element.count, **kw)
    return (
        f"(CASE WHEN abs({total}) < CAST(1e-290 AS DOUBLE PRECISION) THEN 0"
        f" ELSE {total} / {count} END)"
    )


# --- json_item(doc, index), json_length(doc): integers of a JSON array ------------------------


class json_item(_Construct):
    """The ``index``-th (from 0) element of a JSON array of integers, as a BIGINT."""

    inherit_cache = True
    _operands = ("doc", "index", "path")
    _traverse_internals = _internals(*_operands)
    type = sa.BigInteger()

    def __init__(self, doc: ColumnElement[Any], index: int) -> None:
        self.doc = doc
        self.index = _bind(int(index), sa.Integer())
        self.path = _bind(f"$[{int(index)}]", sa.Text())


compiles(json_item)(_unsupported)


@compiles(json_item, "postgresql")
def _json_item_pg(element: json_item, compiler: SQLCompiler, **kw: Any) -> str:
    doc, index = compiler.process(element.doc, **kw), compiler.process(element.index, **kw)
    return f"CAST(({doc} ->> {index}) AS BIGINT)"


@compiles(json_item, "duckdb")
def _json_item_duckdb(element: json_item, compiler: SQLCompiler, **kw: Any) -> str:
    doc, path = compiler.process(element.doc, **kw), compiler.process(element.path, **kw)
    return f"CAST(json_extract({doc}, {path}) AS BIGINT)"


@compiles(json_item, "sqlite")
def _json_item_sqlite(element: json_item, compiler: SQLCompiler, **kw: Any) -> str:
    doc, path = compiler.process(element.doc, **kw), compiler.process(element.path, **kw)
    return f"json_extract({doc}, {path})"


@compiles(json_item, "clickhousedb")
def _json_item_clickhouse(element: json_item, compiler: SQLCompiler, **kw: Any) -> str:
    # Documents are JSON text; JSON indexes count from 1 there, and an index past the end (or
    # a NULL document) reads NULL.
    doc, index = compiler.process(element.doc, **kw), compiler.process(element.index, **kw)
    return f"JSONExtract({doc}, {index} + 1, 'Nullable(Int64)')"


class json_length(_Construct):
    """How many elements a JSON array has (NULL for NULL)."""

    inherit_cache = True
    _operands = ("doc",)
    _traverse_internals = _internals(*_operands)
    type = sa.Integer()

    def __init__(self, doc: ColumnElement[Any]) -> None:
        self.doc = doc


@compiles(json_length)
def _json_length_default(element: json_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array_length({compiler.process(element.doc, **kw)})"


@compiles(json_length, "postgresql")
def _json_length_pg(element: json_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"jsonb_array_length({compiler.process(element.doc, **kw)})"


@compiles(json_length, "clickhousedb")
def _json_length_clickhouse(element: json_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"JSONLength({compiler.process(element.doc, **kw)})"


# --- elapsed(start, end): end minus start, comparable (only ever sorted on) -------------------


class elapsed(_Construct):
    """How long from ``start`` to ``end`` in the dialect's own comparable form (an interval on
    PostgreSQL, microseconds on DuckDB, SQLite and ClickHouse); NULL where ``end`` is NULL."""

    inherit_cache = True
    _operands = ("start", "end")
    _traverse_internals = _internals(*_operands)
    type = sa.types.NullType()

    def __init__(self, start: ColumnElement[Any], end: ColumnElement[Any]) -> None:
        self.start, self.end = start, end


compiles(elapsed)(_unsupported)


@compiles(elapsed, "postgresql")
@compiles(elapsed, "sqlite")  # timestamps are integer microseconds there (see sqltypes)
def _elapsed_difference(element: elapsed, compiler: SQLCompiler, **kw: Any) -> str:
    end, start = compiler.process(element.end, **kw), compiler.process(element.start, **kw)
    return f"({end} - {start})"


@compiles(elapsed, "duckdb")
def _elapsed_duckdb(element: elapsed, compiler: SQLCompiler, **kw: Any) -> str:
    end, start = compiler.process(element.end, **kw), compiler.process(element.start, **kw)
    return f"(epoch_us({end}) - epoch_us({start}))"


@compiles(elapsed, "clickhousedb")
def _elapsed_clickhouse(element: elapsed, compiler: SQLCompiler, **kw: Any) -> str:
    # DateTime64 minus DateTime64 is not defined there: microseconds, as on DuckDB.
    end, start = compiler.process(element.end, **kw), compiler.process(element.start, **kw)
    return f"(toUnixTimestamp64Micro({end}) - toUnixTimestamp64Micro({start}))"


# --- label_entries(labels): table-valued (key, value) rows of a labels object -----------------


class label_entries(FunctionElement[Any]):
    """Use as ``label_entries(t.c.labels).table_valued("key")`` in a FROM list."""

    name = "json_each"
    inherit_cache = True


@compiles(label_entries)
def _label_entries_default(element: label_entries, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


@compiles(label_entries, "postgresql")
def _label_entries_pg(element: label_entries, compiler: SQLCompiler, **kw: Any) -> str:
    return f"jsonb_each({compiler.process(element.clauses, **kw)})"


__all__ = [
    "any_of",
    "any_pair_of",
    "code_point",
    "elapsed",
    "float_sum",
    "json_array_contains_all",
    "json_item",
    "json_length",
    "json_scalar_equals",
    "label_entries",
    "label_value",
    "labels_match",
    "labels_match_in_window",
    "last_value",
    "mean",
    "percentile_cont",
    "time_bucket",
]


# --- any_of(column, values): the text column equals one of the values, however many ----------


class any_of(_Construct):
    """A long list travels as one bound parameter (an array, or a JSON array the database
    unpacks), not one parameter per value: a statement may bind at most 65,535 parameters on
    PostgreSQL and 32,766 on SQLite. Short lists stay a plain IN, which planners know best;
    which of the two a dialect renders is part of the cache key."""

    inherit_cache = True
    _operands = ("column", "items", "array", "document")
    _traverse_internals = [
        *_internals(*_operands),
        ("long", InternalTraversal.dp_boolean),
    ]
    type = sa.Boolean()
    # A predicate as it is: no "= 1" appended where booleans are integers (SQLite), which
    # would hide the IN from the planner and its index.
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any], values: Sequence[str]) -> None:
        self.column = column
        self.items: sa.BindParameter[Any] = sa.bindparam(
            None, list(values), expanding=True, unique=True
        )
        self.long = len(values) > _LONG_LIST
        # Only a long list is bound whole; each dialect renders the form it reads.
        self.array = _bind(list(values) if self.long else [], sa.ARRAY(sa.Text()))
        self.document = _bind(dump_json(list(values)) if self.long else "[]", sa.Text())


_LONG_LIST = 1000


def _any_of_in_list(element: any_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.column.in_(element.items), **kw)})"


compiles(any_of)(_any_of_in_list)


@compiles(any_of, "postgresql")
def _any_of_pg(element: any_of, compiler: SQLCompiler, **kw: Any) -> str:
    if not element.long:
        return _any_of_in_list(element, compiler, **kw)
    column = compiler.process(element.column, **kw)
    return f"({column} = ANY({compiler.process(element.array, **kw)}))"


@compiles(any_of, "duckdb")
def _any_of_duckdb(element: any_of, compiler: SQLCompiler, **kw: Any) -> str:
    if not element.long:
        return _any_of_in_list(element, compiler, **kw)
    column = compiler.process(element.column, **kw)
    document = compiler.process(element.document, **kw)
    return f"""({column} IN (SELECT unnest(from_json({document}, '["VARCHAR"]'))))"""


@compiles(any_of, "sqlite")
def _any_of_sqlite(element: any_of, compiler: SQLCompiler, **kw: Any) -> str:
    if not element.long:
        return _any_of_in_list(element, compiler, **kw)
    column = compiler.process(element.column, **kw)
    document = compiler.process(element.document, **kw)
    return f"({column} IN (SELECT value FROM json_each({document})))"  # noqa: S608 (compiled)


@compiles(any_of, "clickhousedb")
def _any_of_clickhouse(element: any_of, compiler: SQLCompiler, **kw: Any) -> str:
    # A long list is one array parameter: IN takes it as it is.
    if not element.long:
        return _any_of_in_list(element, compiler, **kw)
    column = compiler.process(element.column, **kw)
    return f"({column} IN {compiler.process(element.array, **kw)})"


# --- any_pair_of(first, second, pairs): (first, second) is one of the pairs -------------------


class any_pair_of(_Construct):
    """A row-value IN: two parameters a pair by default, so callers keep lists within the
    drivers' limits (see any_of). PostgreSQL plans a long row-value IN list as as many OR'ed
    comparisons, too slow: its storage looks spans up by key another way."""

    inherit_cache = True
    _operands = ("first", "second", "items", "document")
    _traverse_internals = _internals(*_operands)
    type = sa.Boolean()
    # A predicate as it is: no "= 1" appended where booleans are integers (SQLite), which
    # would hide the IN from the planner and its index.
    _is_implicitly_boolean = True

    def __init__(
        self,
        first: ColumnElement[Any],
        second: ColumnElement[Any],
        pairs: Sequence[tuple[str, str]],
    ) -> None:
        self.first, self.second = first, second
        self.items: sa.BindParameter[Any] = sa.bindparam(
            None, list(pairs), expanding=True, unique=True
        )
        self.document = _bind(dump_json([list(pair) for pair in pairs]), sa.Text())


@compiles(any_pair_of)
def _any_pair_of_default(element: any_pair_of, compiler: SQLCompiler, **kw: Any) -> str:
    pair = sa.tuple_(element.first, element.second)
    return f"({compiler.process(pair.in_(element.items), **kw)})"


@compiles(any_pair_of, "sqlite")
def _any_pair_of_sqlite(element: any_pair_of, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite scans the whole table for a row-value IN (VALUES ...), but searches its index for
    # the pairs of a subquery: here, of a JSON array of pairs.
    first, second = compiler.process(element.first, **kw), compiler.process(element.second, **kw)
    document = compiler.process(element.document, **kw)
    pair = "json_extract(value, '$[0]'), json_extract(value, '$[1]')"
    pairs = f"SELECT {pair} FROM json_each({document})"  # noqa: S608 (compiled fragments)
    return f"(({first}, {second}) IN ({pairs}))"


# --- json_scalar_equals(doc, key, value): doc[key] is that JSON scalar, types respected ------


class json_scalar_equals(_Construct):
    """True when the object ``doc`` has ``key`` holding ``value``: a string equals only a
    string, a boolean only a boolean, null only null, and numbers compare by exact value (5
    matches 5 and 5.0, never "5"), the way Python compares them."""

    inherit_cache = False  # the SQL's shape follows the value's JSON type: not cacheable
    _operands = ("doc",)
    type = sa.Boolean()

    def __init__(self, doc: ColumnElement[Any], key: str, value: Any) -> None:
        self.doc = doc
        self.json_key = key
        self.value = value


compiles(json_scalar_equals)(_unsupported)


def _exact_number_forms(value: float) -> tuple[int | None, float | None]:
    """The integer and the float equal to ``value`` by Python's exact rule, where there are
    such: 2**60 == float(2**60), but no float equals 2**53 + 1 and no integer equals 0.5."""
    as_int = int(value) if isinstance(value, int) or value.is_integer() else None
    as_float = float(value) if not isinstance(value, int) or float(value) == value else None
    return as_int, as_float


@compiles(json_scalar_equals, "postgresql")
def _json_equals_pg(element: json_scalar_equals, compiler: SQLCompiler, **kw: Any) -> str:
    doc = compiler.process(element.doc, **kw)
    key = compiler.process(_bind(element.json_key, sa.Text()))
    if json_kind(element.value) != "number":
        # jsonb equality: the same type and value.
        value = compiler.process(_bind(dump_json(element.value), sa.Text()))
        return f"(({doc} -> {key}) = CAST({value} AS JSONB))"
    # JSONB keeps numbers as numeric, and a float as the shortest decimal that reads back as
    # it (2.0**60 as 1152921504606847000.0, not the exact 1152921504606846976): a stored
    # number with a decimal point (dump_json writes every float with one) is a float and is
    # compared as one; any other is an integer, compared as an exact numeric.
    as_int, as_float = _exact_number_forms(element.value)
    text = f"({doc} ->> {key})"
    float_test = int_test = "FALSE"
    if as_float is not None:
        as_float_sql = compiler.process(_bind(as_float, sa.Double()))
        float_test = f"CAST({text} AS DOUBLE PRECISION) = {as_float_sql}"
    if as_int is not None:
        as_int_sql = compiler.process(_bind(str(as_int), sa.Text()))
        int_test = f"CAST({text} AS NUMERIC) = CAST({as_int_sql} AS NUMERIC)"
    return (
        f"(CASE WHEN jsonb_typeof({doc} -> {key}) = 'number' THEN "
        f"CASE WHEN strpos({text}, '.') > 0 THEN {float_test} ELSE {int_test} END "
        "ELSE FALSE END)"
    )


@compiles(json_scalar_equals, "duckdb")
def _json_equals_duckdb(element: json_scalar_equals, compiler: SQLCompiler, **kw: Any) -> str:
    doc = compiler.process(element.doc, **kw)
    # A JSON pointer names any key exactly (~ and / escaped, RFC 6901).
    pointer = compiler.process(
        _bind("/" + element.json_key.replace("~", "~0").replace("/", "~1"), sa.Text())
    )
    kind = f"json_type({doc}, {pointer})"
    text = f"json_extract_string({doc}, {pointer})"
    value = element.value
    if json_kind(value) == "null":
        return f"({kind} = 'NULL')"
    if json_kind(value) == "boolean":
        return f"({kind} = 'BOOLEAN' AND {text} = {'true' if value else 'false'!r})"
    if json_kind(value) == "string":
        return f"({kind} = 'VARCHAR' AND {text} = {compiler.process(_bind(value, sa.Text()))})"
    # Stored integers are int64 and read as BIGINT; floats read as DOUBLE.
    as_int, as_float = _exact_number_forms(value)
    branches = ["FALSE"]
    if as_int is not None and _INT64_MIN <= as_int <= _INT64_MAX:
        param = compiler.process(_bind(as_int, sa.BigInteger()))
        branches.append(
            f"({kind} IN ('BIGINT', 'UBIGINT') AND TRY_CAST({text} AS HUGEINT) = {param})"
        )
    if as_float is not None:
        param = compiler.process(_bind(as_float, sa.Double()))
        branches.append(f"({kind} = 'DOUBLE' AND TRY_CAST({text} AS DOUBLE) = {param})")
    return "(" + " OR ".join(branches) + ")"


@compiles(json_scalar_equals, "clickhousedb")
def _json_equals_clickhouse(element: json_scalar_equals, compiler: SQLCompiler, **kw: Any) -> str:
    # Documents are JSON text; JSONType names a value's type ('Null' for a missing key too,
    # so JSONHas tells null from missing). Integers compare by their text, exactly.
    doc = compiler.process(element.doc, **kw)
    key = compiler.process(_bind(element.json_key, sa.Text()))
    kind = f"JSONType({doc}, {key})"
    value = element.value
    if json_kind(value) == "null":
        return f"(JSONHas({doc}, {key}) = 1 AND {kind} = 'Null')"
    if json_kind(value) == "boolean":
        return f"({kind} = 'Bool' AND JSONExtractBool({doc}, {key}) = {int(value)})"
    if json_kind(value) == "string":
        text = compiler.process(_bind(value, sa.Text()))
        return f"({kind} = 'String' AND JSONExtractString({doc}, {key}) = {text})"
    as_int, as_float = _exact_number_forms(value)
    branches = ["0"]
    if as_int is not None:
        param = compiler.process(_bind(str(as_int), sa.Text()))
        branches.append(
            f"({kind} IN ('Int64', 'UInt64') AND JSONExtractRaw({doc}, {key}) = {param})"
        )
    if as_float is not None:
        param = compiler.process(_bind(as_float, sa.Double()))
        branches.append(f"({kind} = 'Double' AND JSONExtractFloat({doc}, {key}) = {param})")
    return "(" + " OR ".join(branches) + ")"


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SQLITE_JSON_TYPES = {"string": "'text'", "number": "'integer', 'real'", "null": "'null'"}


@compiles(json_scalar_equals, "sqlite")
def _json_equals_sqlite(element: json_scalar_equals, compiler: SQLCompiler, **kw: Any) -> str:
    # json_type() names the JSON type; integer/real comparisons in SQLite are exact.
    doc = compiler.process(element.doc, **kw)
    kind = json_kind(element.value)
    if kind == "boolean":
        types, compare = ("'true'" if element.value else "'false'"), None
    else:
        types = _SQLITE_JSON_TYPES[kind]
        compare = None if kind == "null" else compiler.process(_bind(element.value))
    if not sqlite_path_names(element.json_key):
        key = compiler.process(_bind(element.json_key, sa.Text()))
        value_test = "" if compare is None else f" AND value = {compare}"
        return (
            f"EXISTS (SELECT 1 FROM json_each({doc}) "  # noqa: S608 (compiled fragments)
            f"WHERE key = {key} AND type IN ({types}){value_test})"
        )
    path = compiler.process(_bind(f'$."{element.json_key}"', sa.Text()))
    value_test = "" if compare is None else f" AND json_extract({doc}, {path}) = {compare}"
    return f"(json_type({doc}, {path}) IN ({types}){value_test})"


# --- json_array_contains_all(doc, items): every string in items is an element of doc --------


class json_array_contains_all(_Construct):
    inherit_cache = False  # one test per item: the SQL's shape follows the list
    _operands = ("doc",)
    type = sa.Boolean()

    def __init__(self, doc: ColumnElement[Any], items: list[str]) -> None:
        self.doc = doc
        self.items = list(items)


compiles(json_array_contains_all)(_unsupported)


@compiles(json_array_contains_all, "postgresql")
def _contains_all_pg(element: json_array_contains_all, compiler: SQLCompiler, **kw: Any) -> str:
    items = compiler.process(_bind(dump_json(element.items), sa.Text()))
    return f"({compiler.process(element.doc, **kw)} @> CAST({items} AS JSONB))"


@compiles(json_array_contains_all, "duckdb")
def _contains_all_duckdb(element: json_array_contains_all, compiler: SQLCompiler, **kw: Any) -> str:
    elements = f"json_extract_string({compiler.process(element.doc, **kw)}, '$[*]')"
    tests = [
        f"list_contains({elements}, {compiler.process(_bind(item, sa.Text()))})"
        for item in element.items
    ]
    return "(" + " AND ".join(tests or ["TRUE"]) + ")"


@compiles(json_array_contains_all, "sqlite")
def _contains_all_sqlite(element: json_array_contains_all, compiler: SQLCompiler, **kw: Any) -> str:
    doc = compiler.process(element.doc, **kw)
    tests = [
        f"EXISTS (SELECT 1 FROM json_each({doc}) "  # noqa: S608 (compiled fragments)
        f"WHERE type = 'text' AND value = {compiler.process(_bind(item, sa.Text()))})"
        for item in element.items
    ]
    return "(" + " AND ".join(tests or ["1"]) + ")"


@compiles(json_array_contains_all, "clickhousedb")
def _contains_all_clickhouse(
    element: json_array_contains_all, compiler: SQLCompiler, **kw: Any
) -> str:
    # Elements as their JSON text, which dump_json wrote: a string's text is its encoding.
    elements = f"JSONExtractArrayRaw(ifNull({compiler.process(element.doc, **kw)}, ''))"
    tests = [
        f"has({elements}, {compiler.process(_bind(dump_json(item), sa.Text()))})"
        for item in element.items
    ]
    return "(" + " AND ".join(tests or ["1"]) + ")"


# --- series_key(name, type, labels, organization, environment, service): a rollup series ------


class series_key(_Construct):
    """A hash naming one series of points: equal inputs give equal keys (labels compared as
    the database holds their text, so one series may get two keys where its labels were
    written in another key order; rollups stay correct, since reads regroup rows)."""

    inherit_cache = True
    _operands = (
        "metric_name",
        "metric_type",
        "labels",
        "organization_id",
        "environment",
        "service_name",
    )
    _traverse_internals = _internals(*_operands)
    type = sa.String()

    def __init__(self, *columns: ColumnElement[Any]) -> None:
        for operand, column in zip(self._operands, columns, strict=True):
            setattr(self, operand, column)


compiles(series_key)(_unsupported)


def _series_parts(element: series_key, compiler: SQLCompiler, kw: Any) -> list[str]:
    return [compiler.process(getattr(element, name), **kw) for name in element._operands]


def _md5_series(element: series_key, compiler: SQLCompiler, **kw: Any) -> str:
    # Unit separators between the parts (stored text has no control characters); a missing
    # optional part is "-", a present one "+" and its text, so they never collide.
    name, type_, labels, *optional = _series_parts(element, compiler, kw)
    parts = [name, type_, f"CAST({labels} AS VARCHAR)"]
    parts += [f"coalesce('+' || {part}, '-')" for part in optional]
    return "md5(" + " || chr(31) || ".join(parts) + ")"


compiles(series_key, "duckdb")(_md5_series)


@compiles(series_key, "postgresql")
def _series_key_pg(element: series_key, compiler: SQLCompiler, **kw: Any) -> str:
    name, type_, labels, *optional = _series_parts(element, compiler, kw)
    parts = [name, type_, f"CAST({labels} AS TEXT)"]
    parts += [f"coalesce('+' || {part}, '-')" for part in optional]
    return "md5(" + " || chr(31) || ".join(parts) + ")"


@compiles(series_key, "sqlite")
def _series_key_sqlite(element: series_key, compiler: SQLCompiler, **kw: Any) -> str:
    # A deterministic Python function the SQLite backend registers on every connection.
    return "obsstore_series_key(" + ", ".join(_series_parts(element, compiler, kw)) + ")"


@compiles(series_key, "clickhousedb")
def _series_key_clickhouse(element: series_key, compiler: SQLCompiler, **kw: Any) -> str:
    name, type_, labels, *optional = _series_parts(element, compiler, kw)
    parts = [name, type_, f"toString({labels})"]
    parts += [f"coalesce('+' || {part}, '-')" for part in optional]
    return "lower(hex(MD5(" + " || char(31) || ".join(parts) + ")))"


# --- sketch_bin(value): the quantile-sketch bin of a value (obsstore/lifecycle/sketch.py) -----


class sketch_bin(_Construct):
    inherit_cache = True
    _operands = ("value", "ln_gamma", "offset")
    _traverse_internals = _internals(*_operands)
    type = sa.Integer()

    def __init__(self, value: ColumnElement[Any], ln_gamma: float, offset: int) -> None:
        self.value = value
        self.ln_gamma = _bind(ln_gamma, sa.Double())
        self.offset = _bind(offset, sa.BigInteger())


compiles(sketch_bin)(_unsupported)


# SQLite has ln() and ceil() in builds with math functions; the SQLite backend registers Python
# ones where they are missing.
@compiles(sketch_bin, "postgresql")
@compiles(sketch_bin, "duckdb")
@compiles(sketch_bin, "sqlite")
@compiles(sketch_bin, "clickhousedb")
def _sketch_bin_ln(element: sketch_bin, compiler: SQLCompiler, **kw: Any) -> str:
    v = compiler.process(element.value, **kw)
    ln_gamma = compiler.process(element.ln_gamma, **kw)
    offset = compiler.process(element.offset, **kw)
    return (
        f"(CASE WHEN {v} > 0 THEN CAST(ceil(ln({v}) / {ln_gamma}) AS BIGINT) + {offset} "
        f"WHEN {v} < 0 THEN -(CAST(ceil(ln(-({v})) / {ln_gamma}) AS BIGINT) + {offset}) "
        "ELSE 0 END)"
    )
