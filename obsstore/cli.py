"""The ``obsstore`` command: schema migrations for deployments without the repository.

Exit status: 0 the schema is at head (or the command did its work), 1 the schema is behind
(``check``; a database with no obsstore schema, or no database file yet, is behind), 2 a
configuration or schema error (a bad setting, the memory backend, a revision newer than this
obsstore), 3 the database is unreachable or locked. Errors are one line on stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import obsstore
from obsstore import migrate
from obsstore.config import resolve_target
from obsstore.errors import ObsstoreError, StorageUnavailableError
from obsstore.export.commands import add_commands as add_data_commands
from obsstore.lifecycle import commands as lifecycle
from obsstore.storage.migration import migration_connection

EXIT_OK = 0
EXIT_BEHIND = 1
EXIT_CONFIGURATION = 2
EXIT_UNAVAILABLE = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="obsstore",
        description="Manage the obsstore schema. The database comes from --url or "
        "OBSERVABILITY_METRICS_STORAGE / OBSERVABILITY_METRICS_DATABASE_URL.",
        epilog="exit status: 0 at head, 1 behind (check), 2 configuration or schema error, "
        "3 database unreachable or locked",
    )
    parser.add_argument("--version", action="version", version=f"obsstore {obsstore.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("migrate", help="upgrade the schema (default: to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = commands.add_parser("downgrade", help="downgrade the schema to a revision")
    downgrade.add_argument("revision", help='a revision id, or "base" to remove every table')
    commands.add_parser("current", help="print the database's revision and the code's head")
    commands.add_parser("check", help="exit 0 at head, 1 behind (see the exit status below)")
    lifecycle.add_commands(commands)
    for command in commands.choices.values():
        command.add_argument("--url", help="SQLAlchemy URL (overrides the environment)")
    add_data_commands(commands)  # export, import, copy, serve (obsstore/export/commands.py)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in lifecycle.COMMANDS:
        return lifecycle.run(args)
    if hasattr(args, "run"):
        return int(args.run(args))
    try:
        return _run(args)
    except StorageUnavailableError as exc:
        return _fail(exc, EXIT_UNAVAILABLE)
    except ObsstoreError as exc:
        return _fail(exc, EXIT_CONFIGURATION)


def _run(args: argparse.Namespace) -> int:
    head = migrate.head_revision()
    missing = resolve_target(args.url).database_file
    if args.command != "migrate" and missing is not None and not missing.exists():
        # Connecting would create an empty file; only `migrate` may do that.
        if args.command == "downgrade":
            return _fail(f"no database at {missing}: nothing to downgrade", EXIT_CONFIGURATION)
        print(f"database revision: (none), no database at {missing}; head: {head}")
        return EXIT_BEHIND if args.command == "check" else EXIT_OK
    with migration_connection(args.url) as connection:
        if args.command == "migrate":
            migrate.run(connection, "upgrade", args.revision)
        elif args.command == "downgrade":
            migrate.run(connection, "downgrade", args.revision)
        if args.command == "check":  # a revision from a newer obsstore is an error, not "behind"
            current = migrate.check_known_revision(connection)
        else:
            current = migrate.current_revision(connection)
    print(f"database revision: {current or '(none)'}; head: {head}")
    if args.command == "check" and current != head:
        return EXIT_BEHIND
    return EXIT_OK


def _fail(error: Exception | str, status: int) -> int:
    message = " ".join(str(error).split())  # one line, whatever the driver's message held
    print(f"obsstore: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
