"""``biotracker serve``: the shared repository server (REST API, login, OpenAPI at /api/docs)."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (put TLS in front of it)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (more than one needs BIOTRACKER_SERVER_SECRET_KEY)."
    ),
) -> None:
    """Serve the API over the configured store until stopped; GET /api/v1/health answers 200."""
    import logging

    from biotracker.config import load_settings
    from biotracker.errors import ConfigError
    from biotracker.server.app import serve as run

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        run(load_settings(), host, port, workers)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
