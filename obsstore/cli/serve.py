"""``obsstore serve otlp | prometheus``: run a receiver until interrupted."""

from __future__ import annotations

from typing import Annotated

import typer

from obsstore.cli.common import UrlOption, reported_errors

serve_app = typer.Typer(
    help="Run a receiver: otlp (port 4318) or prometheus (9464).", no_args_is_help=True
)
PortOption = Annotated[int | None, typer.Option(help="port to listen on", show_default=False)]
HostOption = Annotated[str, typer.Option(help="address to bind")]


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")


@serve_app.command("otlp", help="OTLP/HTTP receiver for metrics and traces (default port 4318).")
def serve_otlp_command(
    port: PortOption = None, host: HostOption = "127.0.0.1", url: UrlOption = None
) -> None:
    from obsstore.serve.otlp import main_serve

    with reported_errors():
        status = main_serve(url, port or 4318, host)
    raise typer.Exit(status)


@serve_app.command("prometheus", help="Prometheus /metrics endpoint (default port 9464).")
def serve_prometheus_command(
    port: PortOption = None, host: HostOption = "127.0.0.1", url: UrlOption = None
) -> None:
    from obsstore.prometheus import main_serve

    with reported_errors():
        status = main_serve(url, port or 9464, host)
    raise typer.Exit(status)
