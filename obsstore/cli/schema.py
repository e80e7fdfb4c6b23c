"""``obsstore migrate | downgrade | current | check``: the schema commands for deployments.

Exit status: 0 the schema is at head (or the command did its work), 1 the schema is behind
(``check``; a database with no obsstore schema, or no database file yet, is behind), 2 a
configuration or schema error (a bad setting, the memory backend, a revision newer than this
obsstore), 3 the database is unreachable or locked."""

from __future__ import annotations

from typing import Annotated

import typer

from obsstore import migrate
from obsstore.cli.common import (
    EXIT_BEHIND,
    EXIT_CONFIGURATION,
    EXIT_OK,
    UrlOption,
    fail,
    reported_errors,
)


def register(app: typer.Typer) -> None:
    app.command("migrate", help="Upgrade the schema (default: to head).")(migrate_command)
    app.command("downgrade", help="Downgrade the schema to a revision.")(downgrade_command)
    app.command("current", help="Print the database's revision and the code's head.")(
        current_command
    )
    app.command("check", help="Exit 0 at head, 1 behind (a deploy gate).")(check_command)


def migrate_command(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
    url: UrlOption = None,
) -> None:
    _run("migrate", revision, url)


def downgrade_command(
    revision: Annotated[str, typer.Argument(help='a revision id, or "base" for no tables')],
    url: UrlOption = None,
) -> None:
    _run("downgrade", revision, url)


def current_command(url: UrlOption = None) -> None:
    _run("current", None, url)


def check_command(url: UrlOption = None) -> None:
    _run("check", None, url)


def _run(command: str, revision: str | None, url: str | None) -> None:
    with reported_errors():
        status = _schema(command, revision, url)
    if status != EXIT_OK:
        raise typer.Exit(status)


def _schema(command: str, revision: str | None, url: str | None) -> int:
    from obsstore.config import resolve_target
    from obsstore.storage.migration import migration_connection

    head = migrate.head_revision()
    missing = resolve_target(url).database_file
    if command != "migrate" and missing is not None and not missing.exists():
        # Connecting would create an empty file; only `migrate` may do that.
        if command == "downgrade":
            fail(f"no database at {missing}: nothing to downgrade", EXIT_CONFIGURATION)
        print(f"database revision: (none), no database at {missing}; head: {head}")
        return EXIT_BEHIND if command == "check" else EXIT_OK
    with migration_connection(url) as connection:
        if command == "migrate":
            migrate.run(connection, "upgrade", revision or "head")
        elif command == "downgrade":
            migrate.run(connection, "downgrade", revision or "base")
        if command == "check":  # a revision from a newer obsstore is an error, not "behind"
            current = migrate.check_known_revision(connection)
        else:
            current = migrate.current_revision(connection)
    print(f"database revision: {current or '(none)'}; head: {head}")
    if command == "check" and current != head:
        return EXIT_BEHIND
    return EXIT_OK
