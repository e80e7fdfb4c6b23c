"""``obsstore routes`` and ``obsstore operations``: requests (operations) per period and key:
how many, how many failed, average, p95 and p99 duration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from obsstore.cli.common import (
    JsonOption,
    UrlOption,
    console,
    duration_ms,
    open_storage,
    parse_moment,
    print_json,
    reported_errors,
    short_time,
    zone,
)
from obsstore.cli.render import table

SinceOption = Annotated[str, typer.Option(help="start: a duration ago (24h) or an ISO time")]
UntilOption = Annotated[
    str | None, typer.Option(help="end: a duration ago or an ISO time (default: now)")
]
PeriodOption = Annotated[str, typer.Option(help="period width: 5m, 1h, 1d (aligned)")]


def register(app: typer.Typer) -> None:
    app.command("routes")(routes_command)
    app.command("operations")(operations_command)


def routes_command(
    route: Annotated[str | None, typer.Option(help="only this route template")] = None,
    method: Annotated[str | None, typer.Option(help="only this HTTP method")] = None,
    since: SinceOption = "24h",
    until: UntilOption = None,
    period: PeriodOption = "1h",
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """HTTP requests per route, method and period (http.server.request.duration)."""
    from obsstore.routes import route_metrics

    _show(
        lambda storage, window: route_metrics(storage, route, method, **window),
        ("route", "method"),
        lambda row: [row.route or "-", row.method or "-"],
        since=since,
        until=until,
        period=period,
        json=json,
        url=url,
    )


def operations_command(
    operation: Annotated[str | None, typer.Argument(help="only this operation")] = None,
    since: SinceOption = "24h",
    until: UntilOption = None,
    period: PeriodOption = "1h",
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Named operations per period (obsstore.operation.duration)."""
    from obsstore.routes import operation_metrics

    _show(
        lambda storage, window: operation_metrics(storage, operation, **window),
        ("operation",),
        lambda row: [row.operation or "-"],
        since=since,
        until=until,
        period=period,
        json=json,
        url=url,
    )


def _show(
    query: Callable[[Any, dict[str, Any]], list[Any]],
    keys: tuple[str, ...],
    key_cells: Callable[[Any], list[str]],
    *,
    since: str,
    until: str | None,
    period: str,
    json: bool,
    url: str | None,
) -> None:
    """Run one per-period query over the --since/--until window and print it (or its JSON)."""
    with reported_errors(), open_storage(url) as storage:
        window = {
            "start_time": parse_moment(since, "--since"),
            "end_time": parse_moment(until, "--until"),
            "period": period,
        }
        rows = query(storage, window)
    if json:
        print_json(rows)
        return
    _print(rows, keys, key_cells)


def _print(rows: list[Any], keys: tuple[str, ...], key_cells: Callable[[Any], list[str]]) -> None:
    numbers = ("reqs", "ok %", "avg", "p95", "p99")
    output = table(f"period ({zone()})", *keys, *numbers, right=numbers)
    for row in rows:
        output.add_row(
            short_time(row.period_start)[:-3],
            *key_cells(row),
            f"{row.total_requests:,}",
            f"{row.success_rate:.0%}",
            duration_ms(row.avg_duration_ms),
            duration_ms(row.p95_duration_ms),
            duration_ms(row.p99_duration_ms),
            style="red" if row.failed else None,
        )
    console().print(output)
