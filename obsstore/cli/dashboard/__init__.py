"""``obsstore dashboard``: a live full-screen view of routes, operations and failed traces
(rich ``Live``), or with ``--once`` a single report on stdout."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any

import typer

from obsstore.cli.common import UrlOption, console, open_storage, parse_moment, reported_errors
from obsstore.cli.dashboard.alerts import DEFAULT_ALERTS, parse_alert
from obsstore.cli.dashboard.snapshot import period_for, take_snapshot
from obsstore.cli.dashboard.view import report
from obsstore.models._fields import utc_now
from obsstore.models.queries import parse_interval


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard_command)


def dashboard_command(
    refresh: Annotated[float, typer.Option(min=0.5, help="seconds between refreshes")] = 5.0,
    since: Annotated[str, typer.Option(help="window: the last 15m, 1h, 24h, 7d")] = "1h",
    period: Annotated[
        str | None, typer.Option(help="sparkline step (default: about 12-30 per window)")
    ] = None,
    alert: Annotated[
        list[str] | None,
        typer.Option(
            metavar="RULE",
            help="STAT<VALUE or STAT>VALUE (repeatable; replaces the defaults "
            f"{', '.join(DEFAULT_ALERTS)}); STAT: success_rate, error_rate, requests, "
            "avg, p95, p99",
        ),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="print one report and exit")] = False,
    url: UrlOption = None,
) -> None:
    """Requests, success rate, latency percentiles, busiest and slowest routes, operations and
    failed traces of the last --since, refreshed every --refresh seconds (q or Ctrl-C quits)."""
    with reported_errors():
        window, step = _window(since, period)
        alerts = [parse_alert(text) for text in (alert or DEFAULT_ALERTS)]
        with open_storage(url) as storage:
            backend = storage.kind
            if once:
                print_report(storage, since=since, period=period, alerts=alert)
                return
            from obsstore.cli.dashboard.live import run_live

            run_live(lambda: take_snapshot(storage, window, step), alerts, since, backend, refresh)


def _window(since: str, period: str | None) -> tuple[timedelta, timedelta]:
    start = parse_moment(since, "--since")
    assert start is not None
    window = utc_now() - start
    step = parse_interval(period) if period else None
    return window, step or period_for(window)


def print_report(
    storage: Any,
    *,
    since: str = "1h",
    period: str | None = None,
    alerts: Sequence[str] | None = None,
) -> None:
    """Print the one-shot dashboard of ``storage`` (what ``obsstore dashboard --once`` shows)
    on stdout; ``alerts`` default to :data:`DEFAULT_ALERTS`."""
    window, step = _window(since, period)
    parsed = [parse_alert(text) for text in (alerts or DEFAULT_ALERTS)]
    snapshot = take_snapshot(storage, window, step)
    console().print(report(snapshot, parsed, since, storage.kind))
