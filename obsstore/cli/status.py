"""``obsstore status``: ``storage.health()`` as a table (exit 3 when unreachable)."""

from __future__ import annotations

import typer

from obsstore.cli.common import (
    EXIT_UNAVAILABLE,
    JsonOption,
    UrlOption,
    console,
    open_storage,
    print_json,
    reported_errors,
)
from obsstore.cli.render import table


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)


def status_command(json: JsonOption = False, url: UrlOption = None) -> None:
    """Whether the database answers, how fast, its schema revision and what it holds."""
    with reported_errors(), open_storage(url, init=False) as storage:
        health = storage.health()
    if json:
        print_json(health)
    else:
        output = table("", "")
        output.show_header = False
        rows = {
            "backend": health.backend,
            "url": health.url,
            "reachable": "yes" if health.reachable else "NO",
            "latency": "-" if health.latency_ms is None else f"{health.latency_ms:.1f} ms",
            "schema revision": health.schema_revision or "-",
            "head revision": health.head_revision or "-",
            "points": "-" if health.points is None else f"{health.points:,}",
            "spans": "-" if health.spans is None else f"{health.spans:,}",
        }
        if health.error:
            rows["error"] = health.error
        for key, value in rows.items():
            output.add_row(key, value, style="red" if key in ("error",) else None)
        console().print(output)
    if not health.reachable:
        raise typer.Exit(EXIT_UNAVAILABLE)
