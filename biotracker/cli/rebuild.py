"""``biotracker rebuild``: recompute every derived table from the reports (all visibility scopes)."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from biotracker.cli.options import iso_day

console = Console()


def rebuild(
    start: str | None = typer.Option(
        None, callback=iso_day, help="First week alerts are derived for (ISO date). Default: 104 weeks back."
    ),
    end: str | None = typer.Option(
        None, callback=iso_day, help="End of the alert window (ISO date, exclusive). Default: tomorrow."
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

    settings = load_settings()
    until = as_utc(end) if end else as_utc(dt.date.today() + dt.timedelta(days=1))
    since = as_utc(start) if start else until - dt.timedelta(weeks=104)
    if since >= until:
        raise typer.BadParameter(f"--start {start} is not before --end {end or until.date()}")
    runs = refresh_derived(open_store(settings), Window(since, until), models_dir(settings), full=True)
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
