"""``biotracker models train|list|show``: the relevance model learned from analysts' feedback."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from biotracker.cli.operator_errors import fail
from biotracker.cli.options import iso_moment

console = Console()
models_app = typer.Typer(
    help=(
        "The relevance model: trained on `biotracker feedback` labels, saved with skops and a model card "
        "under models/ (BIOTRACKER_MODELS_DIR); the newest card-validated model ranks alerts, else the rule "
        "score."
    ),
    no_args_is_help=True,
)


def _settings_and_dir(models_dir: Path | None):
    from biotracker.config import load_settings
    from biotracker.scoring.relevance.tasks import models_dir as default_dir

    settings = load_settings()
    return settings, models_dir or default_dir(settings)


@models_app.command("train")
def train(
    start: str | None = typer.Option(
        None, callback=iso_moment, help="Only labels given on or after this UTC date/time."
    ),
    end: str | None = typer.Option(
        None, callback=iso_moment, help="Only labels given before this UTC date/time."
    ),
    models_dir: Path | None = typer.Option(None, "--models-dir", help="Where to save (default: models/)."),
    rank: bool = typer.Option(True, help="Then re-rank every alert and store its relevance score."),
) -> None:
    """Train on the labels, cross-validate, save the skops artefact and its model card."""
    from biotracker.db.engine import open_store
    from biotracker.schema import Window, as_utc
    from biotracker.scoring.relevance import NotEnoughLabels, rank_alerts, train_relevance_model

    settings, folder = _settings_and_dir(models_dir)
    engine = open_store(settings)
    window = None
    if start or end:
        try:
            window = Window(as_utc(start or "1970-01-01"), as_utc(end) if end else as_utc("9999-01-01"))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    try:
        card = train_relevance_model(engine, folder, window, at=dt.datetime.now(dt.UTC))
    except NotEnoughLabels as exc:
        console.print(f"[yellow]{exc}[/yellow]")
        raise typer.Exit(1) from exc
    cv = card.cross_validation
    console.print(
        f"saved {folder / card.artefact} ({card.labels['total']} labels: {card.labels['relevant']} "
        f"relevant, {card.labels['not_relevant']} not)"
    )
    console.print(
        f"cross-validated ({cv['folds']}-fold): precision {cv['precision']:.2f}, "
        f"recall {cv['recall']:.2f}, precision@{cv['k']} {cv['precision_at_k']:.2f} "
        f"(rule score {cv['rule_precision_at_k']:.2f})"
    )
    console.print(f"card: {folder / (card.model_id + '.card.md')}")
    if rank:
        ranked = rank_alerts(engine, folder)
        console.print(f"ranked {len(ranked)} alert(s) by {ranked[0].source if ranked else '-'}")


@models_app.command("list")
def list_models(
    models_dir: Path | None = typer.Option(None, "--models-dir", help="Where to look (default: models/)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every relevance model card, newest first, and whether it would be loaded (and if not, why)."""
    from biotracker.scoring.relevance.load import load_newest_model, survey

    _settings, folder = _settings_and_dir(models_dir)
    found = survey(folder)
    # "in use" is what ranking would load, asked of the loader itself, never inferred from the list.
    loaded = load_newest_model(folder) if found else None
    in_use = (loaded.card.model_id, loaded.path.name) if loaded else None
    if as_json:
        rows = [
            {
                "card": path.name,
                "valid": problem is None,
                "in_use": card is not None and (card.model_id, card.artefact) == in_use,
                "problem": problem,
                "model": asdict(card) if card else None,
            }
            for card, path, problem in found
        ]
        print(json.dumps(rows, indent=2))
        return
    if not found:
        console.print(
            f"no relevance models in {folder}; alerts are ranked by the rule score. "
            "Train one with `biotracker models train` once analysts have labelled alerts."
        )
        return
    table = Table(
        title=f"relevance models in {folder}", caption="P, R, P@20: cross-validated; (rules): rule score"
    )
    table.add_column("model", no_wrap=True)
    for col in ("trained", "labels", "P", "R", "P@20 (rules)", "usable"):
        table.add_column(col)
    for card, path, problem in found:
        if card is None:
            table.add_row(path.name, "", "", "", "", "", f"no: {problem}")
            continue
        cv = card.cross_validation
        usable = (
            "in use" if (card.model_id, card.artefact) == in_use else (f"no: {problem}" if problem else "yes")
        )
        table.add_row(
            card.model_id,
            card.trained_at[:10],
            str(card.labels["total"]),
            f"{cv['precision']:.2f}",
            f"{cv['recall']:.2f}",
            f"{cv['precision_at_k']:.2f} ({cv['rule_precision_at_k']:.2f})",
            usable,
        )
    console.print(table)


@models_app.command("show")
def show(
    model_id: str = typer.Argument(..., help="A model id from `biotracker models list` (relevance-…)."),
    models_dir: Path | None = typer.Option(None, "--models-dir", help="Where to look (default: models/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the card as JSON."),
) -> None:
    """A model's card (markdown) and whether it passes validation."""
    from biotracker.scoring.relevance.load import InvalidModel, read_card, validate_card

    _settings, folder = _settings_and_dir(models_dir)
    card_path = folder / f"{model_id}.card.json"
    if not card_path.is_file() or card_path.parent != folder:
        fail(f"no card {card_path}; list models with `biotracker models list`", code=1)
    card, problem = None, None
    try:
        card = read_card(card_path)
        validate_card(card, folder)
    except InvalidModel as exc:
        problem = str(exc)
    if as_json:
        data = {"valid": problem is None, "problem": problem, "model": asdict(card) if card else None}
        print(json.dumps(data, indent=2))
        return
    if card is not None:
        print(card.to_markdown())
    if problem is None:
        console.print("[green]valid: would be loaded[/green]")
    else:
        console.print(f"[red]not usable: {problem}[/red]")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
