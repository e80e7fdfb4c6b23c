"""``obsstore export | import | copy``: move points and spans between files and storages
(status 0 done, 2 bad input or a storage error, 3 a database unreachable)."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Annotated, Any

import typer

from obsstore.cli.common import UrlOption, console, open_storage, parse_moment, reported_errors

export_app = typer.Typer(help="Write metrics or traces to a file.", no_args_is_help=True)

FileArgument = Annotated[
    str, typer.Argument(help='output path ("-" is not supported; .gz compresses)')
]
SinceOption = Annotated[
    str | None, typer.Option(help="ISO 8601 time or a duration ago (1h)", show_default=False)
]
UntilOption = Annotated[
    str | None, typer.Option(help="ISO 8601 time or a duration ago", show_default=False)
]
ServiceOption = Annotated[str | None, typer.Option(help="service name", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
    app.command("import", help="Read a JSON lines export (gzip or not).")(import_command)
    app.command("copy", help="Copy every point and span between storages.")(copy_command)


def _report(what: str, count: int, stats: Any) -> None:
    rate = count / stats.seconds if stats.seconds else 0.0
    print(f"obsstore: {what} {count} in {stats.seconds:.2f}s ({rate:,.0f}/s)", file=sys.stderr)


def _common_filters(since: str | None, until: str | None, service: str | None) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if (start := parse_moment(since, "--since")) is not None:
        filters["start_time"] = start
    if (end := parse_moment(until, "--until")) is not None:
        filters["end_time"] = end
    if service is not None:
        filters["service_name"] = service
    return filters


@export_app.command("metrics", help="Export points: jsonl (default), csv, parquet, openmetrics.")
def export_metrics_command(
    file: FileArgument,
    format: Annotated[str, typer.Option(help="jsonl, csv, parquet or openmetrics")] = "jsonl",
    name: Annotated[
        list[str] | None, typer.Option(help="metric name (repeatable)", show_default=False)
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    service: ServiceOption = None,
    url: UrlOption = None,
) -> None:
    from obsstore.export import export_metrics

    filters = _common_filters(since, until, service)
    if name:
        filters["name"] = name
    with reported_errors(), open_storage(url, create=True) as storage:
        with console(stderr=True).status("exporting points…"):
            stats = export_metrics(storage, file, format=format, filters=filters or None)
    _report("exported points:", stats.metrics, stats)


@export_app.command("traces", help="Export spans: jsonl (default) or otlp-json.")
def export_traces_command(
    file: FileArgument,
    format: Annotated[str, typer.Option(help="jsonl or otlp-json")] = "jsonl",
    name: Annotated[
        list[str] | None,
        typer.Option(help="root span name (given twice, the first counts)", show_default=False),
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    service: ServiceOption = None,
    url: UrlOption = None,
) -> None:
    from obsstore.export import export_traces

    filters = _common_filters(since, until, service)
    if name:
        filters["name"] = name[0]  # as the argparse command had it: one shared --name option
    with reported_errors(), open_storage(url, create=True) as storage:
        with console(stderr=True).status("exporting spans…"):
            stats = export_traces(storage, file, format=format, filters=filters or None)
    _report("exported spans:", stats.spans, stats)


def import_command(
    file: Annotated[str, typer.Argument(help="a JSON lines export, .gz or not")],
    url: UrlOption = None,
) -> None:
    from obsstore.export import import_data

    with reported_errors(), open_storage(url, create=True) as storage:
        with console(stderr=True).status("importing…"):
            stats = import_data(storage, file)
    _report(f"imported points ({stats.metrics_stored} new):", stats.metrics, stats)
    _report(f"imported spans ({stats.spans_stored} new):", stats.spans, stats)


def copy_command(
    source: Annotated[str, typer.Option("--from", help="source URL or kind")],
    target: Annotated[str, typer.Option("--to", help="target URL or kind")],
    batch_size: Annotated[int, typer.Option(min=1)] = 10_000,
) -> None:
    from rich.progress import Progress

    from obsstore.export.copy import copy_storage

    with reported_errors(), ExitStack() as stack:
        origin = stack.enter_context(open_storage(source, create=True))
        destination = stack.enter_context(open_storage(target, create=True))
        progress = stack.enter_context(Progress(console=console(stderr=True), transient=True))
        task = progress.add_task("copying points and spans", total=origin.count_metrics())
        stats = copy_storage(
            origin,
            destination,
            batch_size=batch_size,
            progress=lambda done: progress.update(task, completed=done.metrics),
        )
    _report(f"copied points ({stats.metrics_stored} new):", stats.metrics, stats)
    _report(f"copied spans ({stats.spans_stored} new):", stats.spans, stats)
