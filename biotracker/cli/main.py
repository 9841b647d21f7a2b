"""Entry point of the ``biotracker`` command: assembles the topic modules into one typer app."""

from __future__ import annotations

import importlib
import logging

import typer

from biotracker.cli.operator_errors import OneLineErrors

#: Topic modules under ``biotracker.cli``; each defines ``register(app: typer.Typer) -> None``.
COMMAND_MODULES = [
    "pipeline",
    "alerts",
    "incident",
    "agents",
    "incidents",
    "connectors",
    "detect",
    "extract",
    "export",
    "models",
    "rebuild",
    "backtest",
    "access",
    "serve",
]

app = typer.Typer(
    name="biotracker",
    help=(
        "Biotracker: early warning of biological incidents for law-enforcement analysts.\n\n"
        "Feeds are fetched into a raw archive, normalised into reports, clustered into incidents, "
        "scored for anomalies and turned into alerts and a daily digest. Settings come from "
        "BIOTRACKER_* environment variables or the TOML file named by BIOTRACKER_CONFIG."
    ),
    no_args_is_help=True,
    add_completion=False,
    cls=OneLineErrors,  # operator mistakes: one line on stderr, exit 2 (see operator_errors)
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what each stage does (INFO level)."),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for _name in COMMAND_MODULES:
    importlib.import_module(f"biotracker.cli.{_name}").register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
