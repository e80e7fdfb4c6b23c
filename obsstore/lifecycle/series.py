"""The series key of rollup rows, as the SQLite backend computes it in Python (the other SQL
dialects compute the same shape with md5() in the database, see ``sqlfuncs.series_key``)."""

from __future__ import annotations

import hashlib


def series_key(
    name: str,
    type_: str,
    labels: str,
    organization_id: str | None,
    environment: str | None,
    service_name: str | None,
) -> str:
    optional = (
        "-" if part is None else "+" + part for part in (organization_id, environment, service_name)
    )
    text = "\x1f".join((name, type_, labels, *optional))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
