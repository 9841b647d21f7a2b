"""Analyst commands: ``alerts list|show|set-status`` and ``feedback``."""

from __future__ import annotations

import datetime as dt
import getpass
import json

import typer
from rich.console import Console
from rich.table import Table

from biotracker.cli.operator_errors import fail
from biotracker.cli.options import one_of
from biotracker.schema import AlertStatus, AlertTier

console = Console()
alerts_app = typer.Typer(
    help="List, inspect and triage alerts (lifecycle: new → triaged → escalated/dismissed → closed).",
    no_args_is_help=True,
)


def _engine():
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store

    return open_store(load_settings())


def _rows(status: str | None, tier: str | None, limit: int) -> list[dict]:
    from sqlalchemy import select

    from biotracker.db.tables import alerts
    from biotracker.outputs.audience import INTERNAL, registered_source_kinds
    from biotracker.outputs.records import reading_scope

    engine = _engine()
    query = select(alerts).where(
        alerts.c.scope == reading_scope(engine, INTERNAL, registered_source_kinds()).key
    )
    if status:
        query = query.where(alerts.c.status == status)
    if tier:
        query = query.where(alerts.c.tier == tier)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    rows.sort(key=lambda r: (AlertTier(r["tier"]).rank, -(r["last_period"] or r["period_start"]).toordinal()))
    return rows[:limit]


@alerts_app.command("list")
def list_alerts(
    status: str | None = typer.Option(
        None,
        callback=one_of(*(s.value for s in AlertStatus)),
        help="Only this status (new, triaged, escalated, dismissed, closed).",
    ),
    tier: str | None = typer.Option(
        None,
        callback=one_of(*(t.value for t in AlertTier)),
        help="Only this tier (critical, high, medium, low).",
    ),
    limit: int = typer.Option(50, min=1, help="At most this many, most urgent and most recent first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Alerts ranked by tier, then most recent week."""
    rows = _rows(status, tier, limit)
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    table = Table(title=f"{len(rows)} alert(s)")
    for col in ("alert", "tier", "status", "weeks", "country", "disease", "headline", "TLP"):
        table.add_column(col)
    for r in rows:
        weeks = f"{r['period_start']}" + (
            f"…{r['last_period']}" if r["last_period"] and r["last_period"] != r["period_start"] else ""
        )
        table.add_row(
            r["alert_id"],
            r["tier"],
            r["status"],
            weeks,
            r["country_iso3"] or "",
            r["disease"] or "",
            r["headline"][:70],
            r["tlp"],
        )
    console.print(table)


@alerts_app.command("show")
def show(alert_id: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """One alert: reasons, sources, facts and its status history."""
    from sqlalchemy import select

    from biotracker.alerts.lifecycle import history
    from biotracker.db.tables import alerts

    engine = _engine()
    with engine.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)).mappings().first()
    if row is None:
        fail(f"no alert {alert_id!r}; list them with `biotracker alerts list`", code=1)
    data = dict(row) | {"history": history(engine, alert_id)}
    if as_json:
        print(json.dumps(data, default=str, indent=2))
        return
    console.print(f"[bold]{data['headline']}[/bold]  ({data['alert_id']})")
    console.print(
        f"tier {data['tier']} · status {data['status']} · {data['tlp']} · week {data['period_start']}"
        + (f" to {data['last_period']}" if data["last_period"] else "")
    )
    console.print("Why:")
    for reason in data["reasons"]:
        console.print(f"  - {reason}")
    console.print("Sources:")
    for url in data["source_urls"]:
        console.print(f"  - {url}")
    for event in data["history"]:
        console.print(
            f"{event['at']}: {event['actor']} {event['from_status']} → {event['to_status']} {event['note']}"
        )


@alerts_app.command("set-status")
def set_status_cmd(
    alert_id: str,
    status: str = typer.Argument(..., help="triaged, escalated, dismissed or closed"),
    note: str = typer.Option("", help="Why (kept in the alert's history)."),
    actor: str = typer.Option(None, help="Who (default: the current user)."),
) -> None:
    """Move an alert along its lifecycle; the change is recorded with who and when."""
    from biotracker.alerts.lifecycle import AlertNotFound, TransitionError, set_status

    try:
        target = AlertStatus(status)
    except ValueError:
        raise typer.BadParameter(f"status must be one of {[s.value for s in AlertStatus]}") from None
    try:
        before = set_status(
            _engine(), alert_id, target, actor or getpass.getuser(), dt.datetime.now(dt.UTC), note
        )
    except (AlertNotFound, TransitionError) as exc:
        fail(str(exc), code=1)
    console.print(f"{alert_id}: {before.value} → {target.value}")


def feedback(
    alert_id: str,
    label: str = typer.Argument(..., help="relevant or not-relevant (for law enforcement)"),
    note: str = typer.Option("", help="Free text kept with the label."),
    actor: str = typer.Option(None, help="Who (default: the current user)."),
) -> None:
    """Label an alert relevant or not for law enforcement; the relevance model learns from these labels."""
    from biotracker.alerts.lifecycle import LABELS, AlertNotFound, record_feedback

    if label not in LABELS:
        raise typer.BadParameter(f"label must be one of {LABELS}")
    try:
        record_feedback(_engine(), alert_id, label, actor or getpass.getuser(), dt.datetime.now(dt.UTC), note)
    except AlertNotFound as exc:
        fail(str(exc), code=1)
    console.print(f"{alert_id}: labelled {label}")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
    app.command()(feedback)
