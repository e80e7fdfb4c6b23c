"""``obsstore traces list | show``: recent traces, and one trace as a tree of spans."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.text import Text
from rich.tree import Tree

from obsstore.cli.common import (
    EXIT_BEHIND,
    JsonOption,
    UrlOption,
    console,
    duration_ms,
    fail,
    open_storage,
    parse_moment,
    print_json,
    reported_errors,
    short_time,
    zone,
)
from obsstore.cli.render import table

traces_app = typer.Typer(help="List traces and show one as a span tree.", no_args_is_help=True)
EXIT_NOT_FOUND = EXIT_BEHIND  # 1: nothing to show, as grep says when nothing matched
STATUS_STYLE = {"error": "red", "running": "yellow", "success": "green"}


def register(app: typer.Typer) -> None:
    app.add_typer(traces_app, name="traces")


def _span_ms(started: datetime, ended: datetime | None) -> float | None:
    return None if ended is None else (ended - started).total_seconds() * 1000


@traces_app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option(help="success, error or running")] = None,
    since: Annotated[str | None, typer.Option(help="a duration ago (1h) or an ISO time")] = None,
    until: Annotated[str | None, typer.Option(help="a duration ago or an ISO time")] = None,
    name: Annotated[str | None, typer.Option(help="root span name")] = None,
    service: Annotated[str | None, typer.Option(help="service name")] = None,
    order: Annotated[str, typer.Option(help="started_at, ended_at or duration")] = "started_at",
    ascending: Annotated[bool, typer.Option("--asc", help="oldest (shortest) first")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="how many traces")] = 20,
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Traces (their root spans), newest first."""
    filters: dict[str, Any] = {
        "status": status,
        "start_time": parse_moment(since, "--since"),
        "end_time": parse_moment(until, "--until"),
        "name": name,
        "service_name": service,
    }
    order_by = {"field": order, "direction": "asc" if ascending else "desc"}
    with reported_errors(), open_storage(url) as storage:
        page = storage.list_traces(
            {k: v for k, v in filters.items() if v is not None}, {"limit": limit}, order_by
        )
    if json:
        print_json(page)
        return
    output = table(
        f"started ({zone()})", "trace", "name", "status", "duration", right=("duration",)
    )
    for root in page.data:
        state = str(root.status)
        if state == "success" and root.has_child_error:
            state = "child error"
        output.add_row(
            short_time(root.started_at),
            root.trace_id,
            root.name,
            Text(state, style=STATUS_STYLE.get(str(root.status), "red")),
            duration_ms(_span_ms(root.started_at, root.ended_at)),
        )
    out = console()
    out.print(output)
    out.print(f"{len(page.data)} of {page.total} traces", style="dim")


@traces_app.command("show")
def show_command(
    trace_id: Annotated[str, typer.Argument(help="trace id")],
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """One trace as a tree of spans with durations; failed spans in red."""
    with reported_errors(), open_storage(url) as storage:
        trace = storage.get_trace(trace_id)
    if trace is None:
        fail(f"no trace {trace_id!r}", EXIT_NOT_FOUND)
    if json:
        print_json(trace)
        return
    console().print(span_tree(trace.spans, trace.trace_id))


def span_tree(spans: list[Any], trace_id: str) -> Tree:
    """Spans under their parents (orphans under the trace), children by start time."""
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[Any]] = {}
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    tree = Tree(Text(f"trace {trace_id}", style="bold"))

    def add(node: Tree, parent: str | None) -> None:
        for span in children.get(parent, []):
            add(node.add(_span_label(span)), span.span_id)

    add(tree, None)
    return tree


def _span_label(span: Any) -> Text:
    label = Text()
    label.append(span.name, style="red bold" if span.error is not None else "bold")
    label.append(f"  {duration_ms(_span_ms(span.started_at, span.ended_at))}", style="cyan")
    label.append(f"  {span.span_type}", style="dim")
    if span.error is not None:
        label.append(f"  error: {_short(span.error)}", style="red")
    elif span.ended_at is None:
        label.append("  running", style="yellow")
    return label


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
