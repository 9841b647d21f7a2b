"""``biotracker incidents``: rebuild incidents, see why reports were merged, and undo a merge.

A merge is undone by *detaching* a report: an override stored in ``incident_overrides`` that every
later clustering run respects (the report becomes an incident of its own and takes part in no
link). ``join`` removes the override. Both rebuild the incidents straight away.
"""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.console import Console
from rich.table import Table

from biotracker.cli.operator_errors import fail

console = Console()

incidents_app = typer.Typer(
    name="incidents",
    help="Incidents (clusters of reports): rebuild them, show why reports were merged, split a report off.",
    no_args_is_help=True,
)


def _engine():
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store

    return open_store(load_settings())


def _incident_of(engine, report_id: str) -> str | None:
    from biotracker.incidents.build import incident_of_report

    with engine.connect() as conn:
        return incident_of_report(conn, report_id)


@incidents_app.command("build")
def build(as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON.")) -> None:
    """Cluster every report into incidents again (what the pipeline does after normalising)."""
    from biotracker.incidents.build import build_every_scope

    built = build_every_scope(_engine())
    summary = list(built.values())[-1].summary() if built else {}
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    console.print(
        f"{summary['reports']} reports -> {summary['incidents']} incidents "
        f"({summary['merged']} merged, {summary['duplicates']} duplicates, "
        f"{summary['corroborated']} corroborated by 2+ independent sources)"
    )


@incidents_app.command("show")
def show(
    incident_id: str = typer.Argument(..., help="Incident id (inc-…), or a report id: shows its incident."),
    as_json: bool = typer.Option(False, "--json", help="Print the members as JSON."),
) -> None:
    """List an incident's reports with the link that brought each one in."""
    from sqlalchemy import select

    from biotracker.db.tables import incidents
    from biotracker.incidents.build import incident_members

    engine = _engine()
    if not incident_id.startswith("inc-"):
        incident_id = _incident_of(engine, incident_id) or incident_id
    with engine.connect() as conn:
        row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().first()
    if row is None:
        fail(f"no incident {incident_id}; list them with SQL or the JSON export", code=1)
    members = incident_members(engine, incident_id)
    if as_json:
        print(json.dumps({"incident": dict(row), "reports": members}, indent=2, default=str))
        return
    console.print(f"[bold]{incident_id}[/bold] {row['title']}")
    console.print(
        f"{row['report_count']} reports, corroboration {row['corroboration']} "
        f"(independent sources), reliability {row['reliability']}, best tier {row['source_tier']}"
    )
    table = Table()
    for name in ("report", "source", "when", "link", "why"):
        table.add_column(name)
    for m in members:
        table.add_row(m["report_id"], m["source"], str(m["at"])[:10], m["link"] or "", m["reason"] or "")
    console.print(table)


@incidents_app.command("split")
def split(
    incident_id: str = typer.Argument(..., help="The incident the report is in now."),
    report_id: str = typer.Argument(..., help="The report to take out of it."),
    note: str = typer.Option("", help="Why (kept with the override)."),
) -> None:
    """Take a report out of its incident for good: it becomes an incident of its own, and re-runs keep
    it apart. Undo with ``biotracker incidents join REPORT_ID``."""
    from biotracker.incidents.build import build_every_scope, detach_report

    engine = _engine()
    current = _incident_of(engine, report_id)
    if current != incident_id:
        where = f"it is in {current}" if current else "it is in no incident"
        fail(
            f"report {report_id} is not in incident {incident_id} ({where}); check with `biotracker incidents show`",
            code=1,
        )
    detach_report(engine, report_id, note, dt.datetime.now(dt.UTC))
    build_every_scope(engine)
    console.print(
        f"{report_id} detached: now in {_incident_of(engine, report_id)}; "
        f"the rest of {incident_id} is in {_remaining(engine, incident_id, report_id)}"
    )


def _remaining(engine, incident_id: str, report_id: str) -> str:
    from sqlalchemy import select

    from biotracker.db.tables import incidents

    with engine.connect() as conn:
        query = select(incidents.c.incident_id).where(incidents.c.incident_id == incident_id)
        exists = conn.execute(query).first()
    return incident_id if exists else "other incident(s) (the split report was its seed)"


@incidents_app.command("join")
def join(report_id: str = typer.Argument(..., help="A report detached earlier with `split`.")) -> None:
    """Remove a split override: the report is clustered normally again."""
    from biotracker.incidents.build import build_every_scope, reattach_report

    engine = _engine()
    if not reattach_report(engine, report_id):
        fail(f"report {report_id} has no override", code=1)
    build_every_scope(engine)
    console.print(f"{report_id} rejoined: now in {_incident_of(engine, report_id)}")


def register(app: typer.Typer) -> None:
    """Attach ``biotracker incidents …`` to the main app."""
    app.add_typer(incidents_app, name="incidents")
