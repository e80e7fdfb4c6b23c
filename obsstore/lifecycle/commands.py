"""The ``obsstore rollup`` and ``obsstore prune`` commands (registered by obsstore/cli.py)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from obsstore.errors import ObsstoreError
from obsstore.lifecycle.policy import PruneReport

COMMANDS = ("rollup", "prune")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rollup = commands.add_parser(
        "rollup",
        help="materialise every complete rollup bucket (levels from OBSERVABILITY_METRICS_ROLLUPS)",
    )
    rollup.add_argument("--until", type=_instant, help="ISO 8601 time with offset (default: now)")
    prune = commands.add_parser(
        "prune",
        help="roll up, then delete data older than the retention settings "
        "(OBSERVABILITY_METRICS_RETENTION_DAYS, OBSERVABILITY_METRICS_ROLLUPS, "
        "OBSERVABILITY_TRACES_RETENTION_DAYS)",
    )
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    prune.add_argument("--reclaim", action="store_true", help="return freed space to the disk")
    prune.add_argument("--now", type=_instant, help=argparse.SUPPRESS)


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("needs a UTC offset, such as 2026-01-01T00:00:00+00:00")
    return value


def run(args: argparse.Namespace) -> int:
    from obsstore.storage import create_storage

    try:
        with create_storage(args.url) as storage:
            storage.init()
            if args.command == "rollup":
                written = storage.rollup(until=args.until)
                print(f"rollup rows written: {written}")
                return 0
            report = storage.prune(now=args.now, dry_run=args.dry_run, reclaim=args.reclaim)
    except ObsstoreError as exc:
        print(f"obsstore: {exc}", file=sys.stderr)
        return 2
    print(describe(report))
    return 0


def describe(report: PruneReport) -> str:
    verb = "would delete" if report.dry_run else "deleted"
    return (
        f"{verb}: {report.points_deleted} raw points, {report.rollup_rows_deleted} rollup rows, "
        f"{report.traces_deleted} traces ({report.spans_deleted} spans); "
        f"rollup rows written: {report.rollup_rows_written}; {report.seconds:.2f} s"
    )
