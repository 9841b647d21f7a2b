"""``biotracker incident ID``: the analyst's page for one incident."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from biotracker.cli.operator_errors import fail

console = Console()
BARS = " ▁▂▃▄▅▆▇█"


def incident(
    incident_id: str,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    plot: Path | None = typer.Option(None, help="Also draw the weekly series with its bounds to this PNG."),
) -> None:
    """Agent flags, unusualness flags, indicator score and verdict, cues with their sentences, the series,
    the reports (with why each was merged) and the alerts — every claim with its evidence."""
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.incidents.page import IncidentNotFound, incident_page
    from biotracker.scoring.risk.flag_words import agent_flag_words

    try:
        page = incident_page(open_store(load_settings()), incident_id)
    except IncidentNotFound as exc:
        fail(str(exc), code=1)
    if plot and page["series"]:
        _plot(page, plot)
    if as_json:
        print(json.dumps(page, default=str, indent=2))
        return
    inc, a = page["incident"], page["assessment"] or {}
    console.rule(f"[bold]{inc['title']}[/bold]")
    console.print(
        f"{inc['incident_id']} · {inc['disease'] or 'unknown disease'} · {inc['country_iso3'] or '?'} · "
        f"host {inc['host'] or '?'} · first seen {inc['first_seen_at']} · {inc['tlp']} · "
        f"{inc.get('report_count') or len(page['reports'])} report(s), corroboration {inc.get('corroboration')}"
    )
    console.print(
        f"\n[bold]Agent[/bold]: {a.get('agent_name') or 'not in the agents table'} {a.get('agent_id') or ''}"
    )
    for words in agent_flag_words(a.get("agent_flags")):
        console.print(f"  - {words}")
    console.print("\n[bold]Unusualness[/bold]")
    for f in a.get("unusual") or [{"flag": "none", "evidence": "no flag holds"}]:
        console.print(f"  - {f['flag']}: {f['evidence']}")
    console.print(
        f"\n[bold]Radosavljević & Belojević[/bold]: {a.get('indicator_total', 0)} of 14 — {a.get('verdict')}"
    )
    for ind in a.get("indicators") or []:
        console.print(f"  - {ind['number']}. {ind['indicator']}: {ind['evidence']}")
    console.print("\n[bold]Cues[/bold]")
    for c in a.get("cues") or []:
        console.print(f"  - {c['category']}: “{c['text']}” in “{c['sentence']}” ({c['report_id']})")
    if not a.get("cues"):
        console.print("  none")
    if page["series"]:
        weeks = page["series"]["weeks"]
        top = max(w["observed"] for w in weeks) or 1
        line = "".join(BARS[round(w["observed"] / top * 8)] for w in weeks)
        console.print(
            f"\n[bold]Series[/bold] {page['series']['series_key']} ({weeks[0]['week']} to {weeks[-1]['week']}): {line}"
        )
        for w in weeks[-4:]:
            console.print(
                f"  {w['week']}: observed {w['observed']}, upper bound {w['upperbound']}, alarm {w['alarm']}"
                + (f" ({w['method']})" if w["method"] else "")
            )
    console.print("\n[bold]Reports[/bold]")
    for r in page["reports"]:
        console.print(
            f"  - {r['published_at']} {r['source']}: {r['title']} {r['url'] or ''}\n    {r.get('reason') or ''}"
        )
    console.print("\n[bold]Alerts[/bold]")
    for al in page["alerts"]:
        console.print(f"  - {al['alert_id']} {al['tier']} {al['status']}: {al['headline']}")


def _plot(page: dict, path: Path) -> None:
    import numpy as np

    from biotracker.scoring.detectors.plot import plot_detection

    weeks = page["series"]["weeks"]
    nan = float("nan")
    plot_detection(
        path,
        np.arange(1, len(weeks) + 1),
        np.array([w["observed"] for w in weeks], dtype=float),
        np.array([w["upperbound"] if w["upperbound"] is not None else nan for w in weeks], dtype=float),
        np.array([float(w["alarm"]) if w["alarm"] is not None else nan for w in weeks], dtype=float),
        title=page["series"]["series_key"],
        dates=np.array([w["week"] for w in weeks], dtype="datetime64[D]"),
    )
    console.print(f"series plot: {path}")


def register(app: typer.Typer) -> None:
    app.command()(incident)
