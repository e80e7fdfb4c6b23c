"""Small pieces of human output shared by the listings and the dashboard: sparklines, group
labels, aggregation names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from rich.table import Table

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], width: int | None = None) -> str:
    """Values as block characters, lowest to highest (a gap for ``None``); the last ``width``."""
    shown = list(values)[-width:] if width else list(values)
    present = [v for v in shown if v is not None]
    if not present:
        return " " * len(shown)
    low, high = min(present), max(present)
    span = high - low
    out = []
    for value in shown:
        if value is None:
            out.append(" ")
        elif span == 0:
            out.append(BARS[len(BARS) // 2] if high else BARS[0])
        else:
            out.append(BARS[round((value - low) / span * (len(BARS) - 1))])
    return "".join(out)


def group_label(group: dict[str, str | None]) -> str:
    if not group:
        return "(all)"
    values = ["-" if v is None else v for v in group.values()]
    return " ".join(values)


def parse_aggregation(text: str) -> dict[str, Any]:
    """``sum|avg|min|max|count|last`` or a percentile ``pNN`` (p50, p95, p99, p99.9)."""
    lowered = text.strip().lower()
    if lowered in ("sum", "avg", "min", "max", "count", "last"):
        return {"type": lowered}
    if lowered.startswith("p"):
        try:
            fraction = float(lowered[1:]) / 100
        except ValueError:
            fraction = -1.0
        if 0 <= fraction <= 1:
            return {"type": "percentile", "percentile": fraction}
    raise typer.BadParameter(
        f"{text!r}: use sum, avg, min, max, count, last or a percentile such as p95",
        param_hint="--agg",
    )


def table(*columns: str, title: str | None = None, right: Sequence[str] = ()) -> Table:
    """A compact table: no outer box, so 80 columns hold more."""
    from rich import box

    result = Table(
        title=title, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title_justify="left"
    )
    for column in columns:
        result.add_column(column, justify="right" if column in right else "left", overflow="fold")
    return result
