"""The ``obsstore`` typer app: one module per command group registers its commands here."""

from __future__ import annotations

from typing import Annotated

import typer

import obsstore
from obsstore.cli import dashboard, data, lifecycle, metrics, routes, schema, serve, status, traces
from obsstore.cli.common import STATE, CliState

app = typer.Typer(
    name="obsstore",
    help="Store, query and watch observability data. The database comes from --url or "
    "OBSERVABILITY_METRICS_STORAGE / OBSERVABILITY_METRICS_DATABASE_URL.",
    epilog="Exit status: 0 done (check: at head), 1 behind (check), 2 configuration, "
    "argument or schema error, 3 database unreachable or locked.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"obsstore {obsstore.__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """Store, query and watch observability data."""
    STATE.set(ctx.obj if isinstance(ctx.obj, CliState) else CliState())


for module in (schema, lifecycle, data, serve, status, metrics, traces, routes, dashboard):
    module.register(app)
