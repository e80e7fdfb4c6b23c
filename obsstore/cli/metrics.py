"""``obsstore metrics names | labels | values | query | top | summary | tail``."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from obsstore.cli.common import (
    JsonOption,
    UrlOption,
    console,
    local_time,
    number,
    open_storage,
    parse_labels,
    parse_moment,
    print_json,
    print_json_line,
    reported_errors,
    short_time,
    zone,
)
from obsstore.cli.render import group_label, parse_aggregation, sparkline, table

metrics_app = typer.Typer(
    help="List, query, rank, summarise and tail metrics.", no_args_is_help=True
)

SinceOption = Annotated[str, typer.Option(help="start: a duration ago (24h) or an ISO 8601 time")]
UntilOption = Annotated[
    str | None, typer.Option(help="end: a duration ago or an ISO 8601 time (default: now)")
]
LabelOption = Annotated[
    list[str] | None,
    typer.Option("--label", metavar="KEY=VALUE", help="a label the points carry (repeatable)"),
]
ServiceOption = Annotated[str | None, typer.Option(help="service name", show_default=False)]
AggOption = Annotated[str, typer.Option("--agg", help="sum, avg, min, max, count, last, pNN")]
ByOption = Annotated[
    list[str] | None,
    typer.Option("--by", metavar="KEY", help="group key: a label or a column (repeatable)"),
]


def register(app: typer.Typer) -> None:
    app.add_typer(metrics_app, name="metrics")


def _filters(
    name: str | None,
    since: str | None,
    until: str | None,
    labels: list[str] | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    filters: dict[str, Any] = {
        "name": name,
        "start_time": parse_moment(since, "--since"),
        "end_time": parse_moment(until, "--until"),
        "labels": parse_labels(labels),
        "service_name": service,
    }
    return {k: v for k, v in filters.items() if v is not None}


@metrics_app.command("names")
def names_command(
    prefix: Annotated[str | None, typer.Option(help="only names starting with this")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many")] = None,
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Metric names, in code-point order."""
    with reported_errors(), open_storage(url) as storage:
        names = storage.list_metric_names(prefix=prefix, limit=limit)
    _print_list(names, json)


@metrics_app.command("labels")
def labels_command(
    name: Annotated[str | None, typer.Argument(help="only labels of this metric")] = None,
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Label keys (of one metric, or of all)."""
    with reported_errors(), open_storage(url) as storage:
        keys = storage.list_label_keys(name)
    _print_list(keys, json)


@metrics_app.command("values")
def values_command(
    key: Annotated[str, typer.Argument(help="label key")],
    name: Annotated[str | None, typer.Option(help="only points of this metric")] = None,
    prefix: Annotated[str | None, typer.Option(help="only values starting with this")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many")] = None,
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Values of one label key."""
    with reported_errors(), open_storage(url) as storage:
        values = storage.list_label_values(key, name=name, prefix=prefix, limit=limit)
    _print_list(values, json)


def _print_list(items: list[str], as_json: bool) -> None:
    if as_json:
        print_json(items)
        return
    for item in items:
        print(item)


@metrics_app.command("query")
def query_command(
    name: Annotated[str, typer.Argument(help="metric name")],
    agg: AggOption = "avg",
    interval: Annotated[str | None, typer.Option(help="bucket width: 30s, 5m, 1h, 1d")] = None,
    by: ByOption = None,
    since: SinceOption = "24h",
    until: UntilOption = None,
    label: LabelOption = None,
    service: ServiceOption = None,
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Aggregate one metric, per time bucket and group."""
    aggregation = {**parse_aggregation(agg), "interval": interval, "group_by": by or []}
    filters = _filters(name, since, until, label, service)
    with reported_errors(), open_storage(url) as storage:
        points = storage.aggregate_metrics(aggregation, filters)
    if json:
        print_json(points)
        return
    output = table(f"time ({zone()})", *(by or []), agg, "points", right=(agg, "points"))
    for point in points:
        output.add_row(
            short_time(point.timestamp) if interval else "(range)",
            *("-" if point.group.get(k) is None else str(point.group[k]) for k in by or []),
            number(point.value),
            f"{point.count:,}",
        )
    console().print(output)


@metrics_app.command("top")
def top_command(
    name: Annotated[str, typer.Argument(help="metric name")],
    by: Annotated[list[str], typer.Option("--by", metavar="KEY", help="group key (repeatable)")],
    agg: AggOption = "p95",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="how many groups")] = 10,
    ascending: Annotated[bool, typer.Option("--asc", help="lowest first")] = False,
    interval: Annotated[
        str | None, typer.Option(help="also a trend per group, in buckets of this width")
    ] = None,
    since: SinceOption = "24h",
    until: UntilOption = None,
    label: LabelOption = None,
    service: ServiceOption = None,
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """The top groups of one metric by an aggregate over the range (highest first)."""
    base = {**parse_aggregation(agg), "group_by": by}
    ranked = {**base, "order": "value_asc" if ascending else "value_desc", "limit": limit}
    filters = _filters(name, since, until, label, service)
    with reported_errors(), open_storage(url) as storage:
        totals = storage.aggregate_metrics(ranked, filters)
        trends = (
            storage.aggregate_metrics({**ranked, "interval": interval}, filters) if interval else []
        )
    if json:
        print_json(totals)
        return
    lines: dict[str, list[float | None]] = {}
    for point in trends:
        lines.setdefault(group_label(point.group), []).append(point.value)
    output = table(
        "#",
        " ".join(by),
        agg,
        "points",
        *(["trend"] if interval else []),
        right=("#", agg, "points"),
    )
    for rank, point in enumerate(totals, 1):
        label_text = group_label(point.group)
        trend = [sparkline(lines.get(label_text, []), 20)] if interval else []
        output.add_row(str(rank), label_text, number(point.value), f"{point.count:,}", *trend)
    console().print(output)


@metrics_app.command("summary")
def summary_command(
    name: Annotated[list[str] | None, typer.Option(help="metric name (repeatable)")] = None,
    since: SinceOption = "24h",
    until: UntilOption = None,
    compare: Annotated[
        str | None, typer.Option(help="previous_period, previous_day or previous_week")
    ] = None,
    label: LabelOption = None,
    service: ServiceOption = None,
    json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Count, avg, min, max, last and p50/p95/p99 per metric name."""
    filters = _filters(None, since, until, label, service)
    if name:
        filters["name"] = name
    with reported_errors(), open_storage(url) as storage:
        summaries = storage.summarize_metrics(filters, compare=compare)
    if json:
        print_json(summaries)
        return
    columns = ["name", "count", "avg", "p50", "p95", "p99", "max"]
    if compare:
        columns.append("Δ avg")
    output = table(*columns, right=columns[1:])
    for summary in summaries:
        row = [
            summary.name,
            f"{summary.count:,}",
            number(summary.avg),
            *(number(summary.percentiles.get(p)) for p in (0.5, 0.95, 0.99)),
            number(summary.max),
        ]
        if compare:
            change = summary.change.avg if summary.change is not None else None
            row.append("-" if change is None else f"{change:+.0%}")
        output.add_row(*row)
    console().print(output)


@metrics_app.command("tail")
def tail_command(
    name: Annotated[str | None, typer.Argument(help="only this metric")] = None,
    since: Annotated[
        str | None, typer.Option(help="also show points since then (default: new ones only)")
    ] = None,
    label: LabelOption = None,
    service: ServiceOption = None,
    every: Annotated[float, typer.Option(min=0.05, help="seconds between polls")] = 1.0,
    count: Annotated[
        int | None, typer.Option(min=1, help="exit after this many points (default: never)")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="JSON lines, one point each")] = False,
    url: UrlOption = None,
) -> None:
    """Follow new points as they are stored (Ctrl-C stops)."""
    from obsstore.models._fields import utc_now

    filters = _filters(name, None, None, label, service)
    cursor = parse_moment(since, "--since") or utc_now()
    seen: set[str] = set()  # ids already printed at the cursor's timestamp
    printed = 0
    out = console()
    with reported_errors(), open_storage(url) as storage:
        try:
            while count is None or printed < count:
                page = storage.list_metrics(
                    {**filters, "start_time": cursor},
                    {"limit": 1000},
                    {"field": "timestamp", "direction": "asc"},
                )
                fresh = [p for p in page.data if p.id not in seen]
                for point in fresh[: None if count is None else count - printed]:
                    if json:
                        print_json_line(point)
                    else:
                        labels = ",".join(f"{k}={v}" for k, v in sorted(point.labels.items()))
                        out.print(
                            f"{local_time(point.timestamp)}  {point.name}"
                            f"{'{' + labels + '}' if labels else ''}  {number(point.value, 6)}",
                            markup=False,
                        )
                    printed += 1
                if fresh:
                    newest = fresh[-1].timestamp
                    if newest != cursor:
                        seen.clear()
                    cursor = newest
                    seen.update(p.id for p in fresh if p.timestamp == newest)
                if not page.has_more:
                    time.sleep(every)
        except KeyboardInterrupt:
            return
