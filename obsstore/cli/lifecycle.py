"""``obsstore rollup`` and ``obsstore prune`` (levels and retention from the
OBSERVABILITY_METRICS_ROLLUPS / *_RETENTION_DAYS settings; see obsstore/lifecycle)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from obsstore.cli.common import UrlOption, console, open_storage, reported_errors
from obsstore.lifecycle.policy import PruneReport


def register(app: typer.Typer) -> None:
    app.command(
        "rollup",
        help="Materialise every complete rollup bucket (levels from "
        "OBSERVABILITY_METRICS_ROLLUPS).",
    )(rollup_command)
    app.command(
        "prune",
        help="Roll up, then delete data older than the retention settings "
        "(OBSERVABILITY_METRICS_RETENTION_DAYS, OBSERVABILITY_METRICS_ROLLUPS, "
        "OBSERVABILITY_TRACES_RETENTION_DAYS).",
    )(prune_command)


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise typer.BadParameter("needs a UTC offset, such as 2026-01-01T00:00:00+00:00")
    return value


def rollup_command(
    until: Annotated[
        datetime | None,
        typer.Option(parser=_instant, help="ISO 8601 time with offset (default: now)"),
    ] = None,
    url: UrlOption = None,
) -> None:
    with reported_errors(), open_storage(url, create=True) as storage:
        with console(stderr=True).status("rolling up…"):
            written = storage.rollup(until=until)
    print(f"rollup rows written: {written}")


def prune_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, delete nothing")] = False,
    reclaim: Annotated[bool, typer.Option("--reclaim", help="return freed space to the disk")] = (
        False
    ),
    now: Annotated[datetime | None, typer.Option(parser=_instant, hidden=True)] = None,
    url: UrlOption = None,
) -> None:
    with reported_errors(), open_storage(url, create=True) as storage:
        with console(stderr=True).status("pruning…"):
            report = storage.prune(now=now, dry_run=dry_run, reclaim=reclaim)
    print(describe(report))


def describe(report: PruneReport) -> str:
    verb = "would delete" if report.dry_run else "deleted"
    return (
        f"{verb}: {report.points_deleted} raw points, {report.rollup_rows_deleted} rollup rows, "
        f"{report.traces_deleted} traces ({report.spans_deleted} spans); "
        f"rollup rows written: {report.rollup_rows_written}; {report.seconds:.2f} s"
    )
