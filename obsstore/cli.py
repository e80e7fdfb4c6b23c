"""The ``obsstore`` command: schema migrations for deployments without the repository."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from obsstore import migrate
from obsstore.errors import ObsstoreError
from obsstore.lifecycle import commands as lifecycle


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="obsstore",
        description="Manage the obsstore schema. The database comes from --url or "
        "OBSERVABILITY_METRICS_STORAGE / OBSERVABILITY_METRICS_DATABASE_URL.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("migrate", help="upgrade the schema (default: to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = commands.add_parser("downgrade", help="downgrade the schema to a revision")
    downgrade.add_argument("revision", help='a revision id, or "base" to remove every table')
    commands.add_parser("current", help="print the database's revision and the code's head")
    commands.add_parser("check", help="exit 1 unless the schema is at head")
    lifecycle.add_commands(commands)
    for command in commands.choices.values():
        command.add_argument("--url", help="SQLAlchemy URL (overrides the environment)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in lifecycle.COMMANDS:
        return lifecycle.run(args)
    try:
        with migrate.migration_connection(args.url) as connection:
            if args.command == "migrate":
                migrate.run(connection, "upgrade", args.revision)
            elif args.command == "downgrade":
                migrate.run(connection, "downgrade", args.revision)
            current = migrate.current_revision(connection)
        head = migrate.head_revision()
    except ObsstoreError as exc:
        print(f"obsstore: {exc}", file=sys.stderr)
        return 2
    print(f"database revision: {current or '(none)'}; head: {head}")
    if args.command == "check" and current != head:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
