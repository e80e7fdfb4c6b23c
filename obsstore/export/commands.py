"""The data commands of ``obsstore``: export, import, copy and serve. Each is a plain function
from parsed arguments to an exit code (0 done, 2 bad input or a storage error), registered
on the argparse command line by :func:`add_commands`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from obsstore.errors import ObsstoreError
from obsstore.models._fields import utc_now
from obsstore.models.queries import parse_interval


def _moment(text: str) -> datetime:
    """An ISO 8601 time, or a duration before now ("15m", "2h", "7d")."""
    try:
        interval = parse_interval(text)
    except ValueError:
        interval = None
    if interval is not None:
        return utc_now() - interval
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an ISO 8601 time nor a duration such as 15m, 2h or 7d"
        ) from None


def _open(url: str | None) -> Any:
    from obsstore import create_storage

    storage = create_storage(url)
    storage.init()
    return storage


def _report(what: str, count: int, stats: Any) -> None:
    rate = count / stats.seconds if stats.seconds else 0.0
    print(f"obsstore: {what} {count} in {stats.seconds:.2f}s ({rate:,.0f}/s)", file=sys.stderr)


def run_export(args: argparse.Namespace) -> int:
    from obsstore.export import export_metrics, export_traces

    storage = _open(args.url)
    with storage:
        if args.what == "metrics":
            filters: dict[str, Any] = {}
            if args.name:
                filters["name"] = args.name
            if args.since is not None:
                filters["start_time"] = args.since
            if args.until is not None:
                filters["end_time"] = args.until
            if args.service is not None:
                filters["service_name"] = args.service
            stats = export_metrics(
                storage, args.file, format=args.format or "jsonl", filters=filters or None
            )
            _report("exported points:", stats.metrics, stats)
        else:
            trace_filters: dict[str, Any] = {}
            if args.name:
                trace_filters["name"] = args.name[0]
            if args.since is not None:
                trace_filters["start_time"] = args.since
            if args.until is not None:
                trace_filters["end_time"] = args.until
            if args.service is not None:
                trace_filters["service_name"] = args.service
            stats = export_traces(
                storage, args.file, format=args.format or "jsonl", filters=trace_filters or None
            )
            _report("exported spans:", stats.spans, stats)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from obsstore.export import import_data

    storage = _open(args.url)
    with storage:
        stats = import_data(storage, args.file)
    _report(f"imported points ({stats.metrics_stored} new):", stats.metrics, stats)
    _report(f"imported spans ({stats.spans_stored} new):", stats.spans, stats)
    return 0


def run_copy(args: argparse.Namespace) -> int:
    from obsstore.export.copy import copy_storage

    source, target = _open(args.source), _open(args.target)
    with source, target:
        stats = copy_storage(source, target, batch_size=args.batch_size)
    _report(f"copied points ({stats.metrics_stored} new):", stats.metrics, stats)
    _report(f"copied spans ({stats.spans_stored} new):", stats.spans, stats)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    if args.what == "otlp":
        from obsstore.serve.otlp import main_serve as serve_otlp

        return serve_otlp(args.url, args.port or 4318, args.host)
    from obsstore.prometheus import main_serve as serve_prometheus

    return serve_prometheus(args.url, args.port or 9464, args.host)


def _guarded(run: Any) -> Any:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return int(run(args))
        except (ObsstoreError, ValidationError, OSError) as exc:
            print(f"obsstore: {exc}", file=sys.stderr)
            return 2

    return guarded


def add_commands(commands: Any) -> None:
    """Register export, import, copy and serve on the ``obsstore`` subcommand parser."""
    url_help = "SQLAlchemy URL or backend kind (overrides the environment)"
    export = commands.add_parser("export", help="write metrics or traces to a file")
    export.add_argument("what", choices=["metrics", "traces"])
    export.add_argument("file", help='output path ("-" is not supported; .gz compresses)')
    export.add_argument(
        "--format",
        help="metrics: jsonl (default), csv, parquet, openmetrics; traces: jsonl, otlp-json",
    )
    export.add_argument(
        "--name", action="append", help="metric name (repeatable) or root span name"
    )
    export.add_argument("--since", type=_moment, help="ISO 8601 time or a duration ago (1h)")
    export.add_argument("--until", type=_moment, help="ISO 8601 time or a duration ago")
    export.add_argument("--service", help="service name")
    export.add_argument("--url", help=url_help)
    export.set_defaults(run=_guarded(run_export))

    importing = commands.add_parser("import", help="read a JSON lines export (gzip or not)")
    importing.add_argument("file")
    importing.add_argument("--url", help=url_help)
    importing.set_defaults(run=_guarded(run_import))

    copy = commands.add_parser("copy", help="copy every point and span between storages")
    copy.add_argument("--from", dest="source", required=True, help="source URL or kind")
    copy.add_argument("--to", dest="target", required=True, help="target URL or kind")
    copy.add_argument("--batch-size", type=int, default=10_000)
    copy.set_defaults(run=_guarded(run_copy))

    serve = commands.add_parser("serve", help="run a receiver: otlp (4318) or prometheus (9464)")
    serve.add_argument("what", choices=["otlp", "prometheus"])
    serve.add_argument("--port", type=int)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--url", help=url_help)
    serve.set_defaults(run=_guarded(run_serve))
