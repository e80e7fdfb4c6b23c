"""Column types whose storage differs by dialect. Query code sees aware UTC datetimes and plain
JSON values; how each database holds them is decided here and only here."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from obsstore import ddl as ddl  # registers the dialects' column DDL
from obsstore import registry
from obsstore.models._fields import UTC, from_epoch_us, to_epoch_us
from obsstore.registry import TimestampStorage

# ensure_ascii=False keeps non-ASCII keys verbatim, which SQLite's JSON paths match on. One
# encoder for the process: json.dumps() with options builds a new encoder on every call.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def dump_json(value: Any) -> str:
    """Compact JSON text that every backend stores and returns unchanged in value and type.

    Floats that ``repr`` writes with an exponent are rewritten positionally with a decimal
    point: PostgreSQL's JSONB keeps numbers as ``numeric`` and would hand ``1e+16`` back as
    the integer ``10000000000000000``."""
    text = _encode_json(value)
    if ("e+" in text or "e-" in text) and _EXPONENT.search(text):  # substring test first: cheap
        return _dump_positional(value)
    return text


# How repr() writes an exponent (1e+16, 2.5e-07); text such as "type-e-3" rarely matches, and a
# false match only costs the slow path.
_EXPONENT = re.compile(r"[0-9]e[+-][0-9]")


def _positional_float(number: float) -> str:
    text = repr(number)
    if "e" not in text:
        return text
    fixed = format(Decimal(text), "f")  # the same decimal digits, without the exponent
    return fixed if "." in fixed else fixed + ".0"


def _dump_positional(value: Any) -> str:
    # The slow path, taken only when the fast text shows what looks like an exponent.
    if isinstance(value, float):
        return _positional_float(value)
    if isinstance(value, dict):
        items = (f"{_dump_positional(str(k))}:{_dump_positional(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_dump_positional(item) for item in value) + "]"
    return _encode_json(value)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware_from_naive(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _aware_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _identity(value: Any) -> Any:
    return value


# How each way of holding a UTC instant (a dialect profile's ``timestamps``) maps to a column
# type and back: (column type, to database, from database).
_TIMESTAMP_STORAGE: dict[
    TimestampStorage,
    tuple[sa.types.TypeEngine[Any], Callable[[datetime], Any], Callable[[Any], datetime]],
] = {
    "epoch_us": (sa.BigInteger(), to_epoch_us, from_epoch_us),
    "naive_utc": (sa.DateTime(timezone=False), _naive_utc, _aware_from_naive),
    "aware": (sa.DateTime(timezone=True), _identity, _aware_utc),
    # The profile's timestamp_type (DateTime64 on ClickHouse) holding UTC wall time.
    "datetime64": (sa.DateTime(timezone=False), _naive_utc, _aware_from_naive),
}


def _timestamp_storage(
    dialect_name: str,
) -> tuple[sa.types.TypeEngine[Any], Callable[[datetime], Any], Callable[[Any], datetime]]:
    return _TIMESTAMP_STORAGE[registry.profile_for(dialect_name).timestamps]


class UTCTimestamp(sa.TypeDecorator[datetime]):
    """An aware UTC instant with microsecond precision on every dialect."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        own_type = registry.profile_for(dialect.name).timestamp_type
        if own_type is not None:
            return own_type
        return dialect.type_descriptor(_timestamp_storage(dialect.name)[0])

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        return None if value is None else _timestamp_storage(dialect.name)[1](value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else _timestamp_storage(dialect.name)[2](value)


def from_database_timestamp(dialect_name: str) -> Callable[[Any], datetime]:
    return _timestamp_storage(dialect_name)[2]


def json_document() -> sa.types.TypeEngine[Any]:
    """A JSON document column: JSON, or the dialect profile's own type (an indexable one).
    Python ``None`` is SQL NULL, never the JSON text ``null``."""
    column_type: sa.types.TypeEngine[Any] = sa.JSON(none_as_null=True)
    for profile in registry.profiles():
        if profile.json_type is not None:
            column_type = column_type.with_variant(profile.json_type, profile.dialect)
    return column_type


def labels_document() -> sa.types.TypeEngine[Any]:
    """A label set's column: a JSON document, or the profile's labels type (a map)."""
    column_type: sa.types.TypeEngine[Any] = sa.JSON(none_as_null=True)
    for profile in registry.profiles():
        own_type = profile.labels_type if profile.labels_type is not None else profile.json_type
        if own_type is not None:
            column_type = column_type.with_variant(own_type, profile.dialect)
    return column_type


def varchar(length: int) -> sa.types.TypeEngine[str]:
    """Text compared and sorted in code-point order on every dialect: where the database
    default may not compare bytes, the profile's collation does."""
    column_type: sa.types.TypeEngine[str] = sa.String(length)
    for profile in registry.profiles():
        if profile.text_collation is not None:
            collated = sa.String(length, collation=profile.text_collation)
            column_type = column_type.with_variant(collated, profile.dialect)
    return column_type
