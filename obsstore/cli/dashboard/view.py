"""The dashboard as rich renderables: a header, the summary with sparklines, the alerts, the
busiest and slowest routes, operations and the newest failed traces. Colours follow the
alerts: red where one fires, yellow within 20 % of firing, green otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from rich import box
from rich.console import Group, RenderableType
from rich.layout import Layout
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from obsstore.cli.common import duration_ms, local_time, short_time
from obsstore.cli.dashboard.alerts import Alert
from obsstore.cli.dashboard.snapshot import RouteLine, Snapshot
from obsstore.cli.render import sparkline

TREND_WIDTH = 24


def _style(alerts: Sequence[Alert], statistic: str, value: float | None) -> str:
    relevant = [a for a in alerts if a.statistic == statistic]
    if value is None or not relevant:
        return ""
    if any(a.fires(value) for a in relevant):
        return "bold red"
    if any(a.near(value) for a in relevant):
        return "yellow"
    return "green"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def triggered(snapshot: Snapshot, alerts: Sequence[Alert]) -> list[Alert]:
    return [a for a in alerts if a.fires(snapshot.statistic(a.statistic))]


def header(snapshot: Snapshot, window: str, backend: str, live: bool) -> Text:
    text = Text()
    text.append("obsstore dashboard", style="bold")
    text.append(f"  {backend} · last {window} · step {_span(snapshot.period)}", style="dim")
    text.append(f"  {local_time(snapshot.taken_at) if not live else _clock(snapshot)}")
    if live:
        text.append("  q quits", style="dim")
    return text


def _clock(snapshot: Snapshot) -> str:
    return snapshot.taken_at.astimezone().strftime("%H:%M:%S %Z")


def _span(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def summary_panel(snapshot: Snapshot, alerts: Sequence[Alert]) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="left")
    grid.add_column(justify="right")
    grid.add_column(justify="left")
    rows: list[tuple[str, str, str, str]] = [
        ("requests", f"{snapshot.requests:,}", "requests", sparkline(snapshot.requests_trend)),
        ("success rate", _rate(snapshot.success_rate), "success_rate", ""),
        ("error rate", _rate(None if snapshot.success_rate is None else 1 - snapshot.success_rate),
         "error_rate", sparkline(snapshot.errors_trend)),
        ("avg duration", duration_ms(snapshot.avg_ms), "avg", ""),
        ("p95 duration", duration_ms(snapshot.p95_ms), "p95", ""),
        ("p99 duration", duration_ms(snapshot.p99_ms), "p99", ""),
    ]  # fmt: skip
    for label, value, statistic, trend in rows:
        style = _style(alerts, statistic, snapshot.statistic(statistic))
        grid.add_row(label, Text(value, style=style), Text(trend[-TREND_WIDTH:], style="cyan"))
    return Panel(grid, title="Summary", title_align="left", box=box.ROUNDED)


def alerts_panel(snapshot: Snapshot, alerts: Sequence[Alert]) -> Panel:
    fired = triggered(snapshot, alerts)
    lines = Text()
    for index, alert in enumerate(alerts):
        on = alert in fired
        lines.append("\n" if index else "")
        lines.append("● " if on else "○ ", style="bold red" if on else "green")
        lines.append(
            f"ALERT {alert.text}" if on else f"ok    {alert.text}", style="bold red" if on else ""
        )
    if not alerts:
        lines.append("no alerts set", style="dim")
    return Panel(lines, title=f"Alerts ({len(fired)} firing)", title_align="left",
                 border_style="red" if fired else "green", box=box.ROUNDED)  # fmt: skip


def routes_table(
    title: str, lines: Sequence[RouteLine], alerts: Sequence[Alert], slowest: bool
) -> Panel:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True, show_edge=False)
    table.add_column("route", overflow="ellipsis", no_wrap=True, ratio=3)
    table.add_column("reqs", justify="right")
    table.add_column("ok", justify="right")
    table.add_column("p95" if slowest else "avg", justify="right")
    table.add_column("trend", no_wrap=True, ratio=2)
    for line in lines:
        value = line.value_ms if slowest else line.avg_ms
        table.add_row(
            line.key,
            f"{line.requests:,}",
            Text(_rate(line.success_rate), style=_style(alerts, "success_rate", line.success_rate)),
            Text(duration_ms(value), style=_style(alerts, "p95" if slowest else "avg", value)),
            Text(sparkline(line.trend, TREND_WIDTH), style="cyan"),
        )
    if not lines:
        table.add_row(Text("no requests in this window", style="dim"), "", "", "", "")
    return Panel(table, title=title, title_align="left", box=box.ROUNDED)


def operations_table(lines: Sequence[RouteLine], alerts: Sequence[Alert]) -> Panel:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True, show_edge=False)
    table.add_column("operation", overflow="ellipsis", no_wrap=True, ratio=3)
    for column in ("runs", "ok", "avg"):
        table.add_column(column, justify="right")
    for line in lines:
        table.add_row(
            line.key,
            f"{line.requests:,}",
            Text(_rate(line.success_rate), style=_style(alerts, "success_rate", line.success_rate)),
            duration_ms(line.avg_ms),
        )
    if not lines:
        table.add_row(Text("no operations in this window", style="dim"), "", "", "")
    return Panel(table, title="Operations", title_align="left", box=box.ROUNDED)


def traces_table(snapshot: Snapshot) -> Panel:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True, show_edge=False)
    table.add_column("started", no_wrap=True)
    table.add_column("trace", overflow="ellipsis", no_wrap=True)
    table.add_column("name", overflow="ellipsis", no_wrap=True)
    for root in snapshot.failed_traces:
        table.add_row(short_time(root.started_at), root.trace_id, Text(root.name, style="red"))
    if not snapshot.failed_traces:
        table.add_row(Text("none", style="green"), "", "")
    return Panel(table, title="Failed traces", title_align="left", box=box.ROUNDED)


def report(
    snapshot: Snapshot, alerts: Sequence[Alert], window: str, backend: str
) -> RenderableType:
    """The one-shot report: every panel, one under another."""
    return Group(
        header(snapshot, window, backend, live=False),
        summary_panel(snapshot, alerts),
        alerts_panel(snapshot, alerts),
        routes_table("Top 5 routes by requests", snapshot.busiest, alerts, slowest=False),
        routes_table("Slowest 5 routes (p95)", snapshot.slowest, alerts, slowest=True),
        operations_table(snapshot.operations, alerts),
        traces_table(snapshot),
    )


def screen(
    snapshot: Snapshot, alerts: Sequence[Alert], window: str, backend: str
) -> RenderableType:
    """The full-screen view: summary and alerts side by side, then the route tables."""
    layout = Layout()
    top = Layout(name="top", size=8)
    top.split_row(Layout(summary_panel(snapshot, alerts), ratio=3),
                  Layout(alerts_panel(snapshot, alerts), ratio=2))  # fmt: skip
    bottom = Layout(name="bottom")
    bottom.split_row(
        Layout(operations_table(snapshot.operations, alerts)), Layout(traces_table(snapshot))
    )
    layout.split_column(
        Layout(header(snapshot, window, backend, live=True), size=1),
        top,
        Layout(routes_table("Top 5 routes by requests", snapshot.busiest, alerts, False), size=9),
        Layout(routes_table("Slowest 5 routes (p95)", snapshot.slowest, alerts, True), size=9),
        bottom,
    )
    return layout
