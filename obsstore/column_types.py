"""Column types a dialect profile (``obsstore.registry``) may name where SQLAlchemy's generic
ones do not fit a database, with their DDL spelled per dialect. Nothing here imports a driver.

ClickHouse (dialect ``clickhousedb``) holds JSON documents as text (its own JSON type reorders
keys and changes number types), label sets as ``Map(String, String)`` and instants as
``DateTime64(6, 'UTC')``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import UserDefinedType


class TextJSON(sa.JSON):
    """SQLAlchemy's JSON (encoded and decoded in Python), stored as plain text."""

    __visit_name__ = "obsstore_text_json"


@compiles(TextJSON, "clickhousedb")
def _text_json_clickhouse(element: TextJSON, compiler: Any, **kw: Any) -> str:
    return "String"


class LabelMap(UserDefinedType[dict[str, str]]):
    """A label set as a map of text to text (a dict in Python)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "Map(String, String)"


class DateTime64UTC(UserDefinedType[datetime]):
    """A UTC instant with microseconds (``DateTime64(6, 'UTC')``). Values bind as text in UTC
    (the driver's own formatting of a datetime drops microseconds) and read as naive UTC."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "DateTime64(6, 'UTC')"

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: datetime | None) -> str | None:
            return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        return None
