"""What every ``obsstore`` command shares: exit statuses, one-line errors, opening the storage
(``--url`` or the environment), parsing times and printing results (``--json`` or a table that
fits 80 columns, times in local time with the zone)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from obsstore.errors import ObsstoreError, StorageUnavailableError
from obsstore.models._fields import utc_now
from obsstore.models.queries import parse_interval

EXIT_OK = 0
EXIT_BEHIND = 1  # `check` only: the schema is behind head
EXIT_CONFIGURATION = 2  # a bad setting or argument, a schema error, bad input
EXIT_UNAVAILABLE = 3  # the database is unreachable or locked

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="SQLAlchemy URL or backend kind (default: OBSERVABILITY_METRICS_*)",
        metavar="URL",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON document")]


@dataclass
class CliState:
    """``obj`` of an invocation (``app(obj=CliState(storage))``, ``CliRunner.invoke(...,
    obj=...)``): an already-open storage to use instead of opening one from ``--url`` (the
    tests hand the in-process memory backend over this way). The root callback puts it in
    :data:`STATE` for the command that runs."""

    storage: Any = None


def fail(error: Exception | str, status: int = EXIT_CONFIGURATION) -> NoReturn:
    """Print ``obsstore: <message>`` as one line on stderr and exit with ``status``."""
    message = " ".join(str(error).split())  # one line, whatever the driver's message held
    print(f"obsstore: {message}", file=sys.stderr)
    raise typer.Exit(status)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn obsstore's typed errors (and bad input) into one line and the documented status."""
    try:
        yield
    except StorageUnavailableError as exc:
        fail(exc, EXIT_UNAVAILABLE)
    except (ObsstoreError, ValidationError, OSError, ValueError) as exc:
        fail(_validation_message(exc) if isinstance(exc, ValidationError) else exc)


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "value"
    return f"{where}: {first['msg']}"


@contextmanager
def open_storage(url: str | None, *, init: bool = True, create: bool = False) -> Iterator[Any]:
    """The storage a command works on: the one in ``ctx.obj`` if a caller handed one over,
    else ``create_storage(url)`` (closed afterwards). Unless ``create``, a SQLite or DuckDB
    file that does not exist is an error rather than a new empty database."""
    state = _state()
    if state.storage is not None:
        yield state.storage
        return
    from obsstore import create_storage
    from obsstore.config import resolve_target

    missing = None if create else resolve_target(url).database_file
    if missing is not None and not missing.exists():
        raise ObsstoreError(f"no database at {missing}")
    storage = create_storage(url)
    with storage:
        if init:
            storage.init()
        yield storage


STATE: ContextVar[CliState | None] = ContextVar("obsstore_cli_state", default=None)


def _state() -> CliState:
    return STATE.get() or CliState()


def parse_moment(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 time (with an offset; ``Z`` is UTC), or a duration before now (15m, 2h, 7d)."""
    if text is None:
        return None
    try:
        interval = parse_interval(text)
    except ValueError:
        interval = None
    if interval is not None:
        return utc_now() - interval
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO 8601 time nor a duration such as 15m, 2h or 7d",
            param_hint=option,
        ) from None
    if value.tzinfo is None:
        raise typer.BadParameter(
            "needs a UTC offset, such as 2026-01-01T00:00:00+00:00", param_hint=option
        )
    return value


def parse_labels(pairs: list[str] | None) -> dict[str, str] | None:
    """``["k=v", ...]`` as a dict (``--label route=/x``)."""
    if not pairs:
        return None
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--label")
        labels[key] = value
    return labels


def local_time(value: datetime | None) -> str:
    """A time as people read it in this terminal: local time with the zone."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def zone() -> str:
    """The local time zone's name, for column headers of :func:`short_time` values."""
    return datetime.now().astimezone().strftime("%Z")


def short_time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%m-%d %H:%M:%S")


def number(value: float | int | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def duration_ms(value: float | None) -> str:
    """Milliseconds, shortened to seconds from 10 s up."""
    if value is None:
        return "-"
    if value >= 1_000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # named tuples (AggregatePoint)
        return jsonable(value._asdict())
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(jsonable(value), ensure_ascii=False) + "\n")


def print_json_line(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that fits the terminal, 80 columns when not a terminal."""
    return Console(stderr=stderr, highlight=False, soft_wrap=False)
