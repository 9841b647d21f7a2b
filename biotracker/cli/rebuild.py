"""``biotracker rebuild``: recompute every derived table from the reports (all visibility scopes)."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from biotracker.errors import BiotrackerError

console = Console()


def rebuild(
    start: str | None = typer.Option(
        None, help="First week alerts are derived for (ISO date). Default: 104 weeks back."
    ),
    end: str | None = typer.Option(
        None, help="End of the alert window (ISO date, exclusive). Default: tomorrow."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print each scope's summary as JSON."),
) -> None:
    """Cluster every report again, re-score every series, re-assess every incident and derive the
    window's alerts, for every visibility scope (analysts' statuses are kept). The daily chain
    updates only what new reports change; this is the full recompute, e.g. after an upgrade."""
    import datetime as dt

    from biotracker.alerts.refresh import refresh_derived
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.schema import Window, as_utc
    from biotracker.scoring.relevance.tasks import models_dir

    try:
        settings = load_settings()
        until = as_utc(end) if end else as_utc(dt.date.today() + dt.timedelta(days=1))
        window = Window(as_utc(start) if start else until - dt.timedelta(weeks=104), until)
        runs = refresh_derived(open_store(settings), window, models_dir(settings), full=True)
    except (BiotrackerError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    summaries = [r.summary() for r in runs]
    if as_json:
        print(json.dumps(summaries, indent=2))
        return
    for s in summaries:
        console.print(
            f"{s['scope']}: {s['assessed']} incidents assessed, {s['signals']} signals, {s['alerts']} alerts"
        )


def register(app: typer.Typer) -> None:
    app.command("rebuild")(rebuild)
