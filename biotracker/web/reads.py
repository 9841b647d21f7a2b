"""What a caller may read, decided exactly as the API decides it.

A caller reads derived rows (alerts, incidents) of its one visibility scope
(:func:`biotracker.server.visibility.scope_of`), sees them under their natural ids and under the
marking the API shows (raised to the intake floor where law-enforcement intake fed them), so a page
never shows an alert the API would answer 404 for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, select

from biotracker.access import Principal
from biotracker.alerts import lifecycle
from biotracker.db.tables import alert_events, alerts, users
from biotracker.incidents.scopes import Scope
from biotracker.schema import Tlp
from biotracker.server.context import ServerContext
from biotracker.server.routes.common import intake_incidents, marking
from biotracker.server.visibility import public_id, scope_of, stored_id


@dataclass(frozen=True)
class Seen:
    """A derived row the caller may see: its stored row, the id the caller knows it by, its marking."""

    row: Mapping
    public_id: str
    marking: Tlp


def caller_scope(conn: Connection, ctx: ServerContext, principal: Principal) -> Scope:
    return scope_of(conn, principal, ctx.rules)


def shown(conn: Connection, ctx: ServerContext, scope: Scope, rows: Iterable[Mapping]) -> list[Seen]:
    """Alert rows of ``scope`` as the API shows them (natural ids, markings raised where intake fed them)."""
    rows = list(rows)
    floored = intake_incidents(
        conn, scope, ctx.rules.intake, {r["incident_id"] for r in rows if r["incident_id"]}
    )
    return [
        Seen(r, public_id(scope, r["alert_id"]), marking(r["tlp"], r["incident_id"] in floored)) for r in rows
    ]


def visible_alert(
    conn: Connection, ctx: ServerContext, principal: Principal, alert_id: str
) -> tuple[Scope, Seen] | None:
    """The caller's copy of the alert it knows as ``alert_id``, or None when its view has none."""
    scope = caller_scope(conn, ctx, principal)
    row = (
        conn.execute(
            select(alerts).where(alerts.c.scope == scope.key, alerts.c.alert_id == stored_id(scope, alert_id))
        )
        .mappings()
        .first()
    )
    return (scope, shown(conn, ctx, scope, [row])[0]) if row else None


def assignees(conn: Connection, org: str, alert_ids: Iterable[str]) -> dict[str, str | None]:
    """Stored alert id -> its assignee as ``org`` recorded it: the lifecycle's reading of the history
    entries of ``org``'s users only (as the API's alert answer reads them: notes and assignments are
    an organisation's own)."""
    ids = sorted(set(alert_ids))
    events: dict[str, list[dict]] = {i: [] for i in ids}
    colleagues = select(users.c.username).where(users.c.org == org)
    for start in range(0, len(ids), 500):
        query = (
            select(alert_events.c.alert_id, alert_events.c.note, alert_events.c.at)
            .where(
                alert_events.c.alert_id.in_(ids[start : start + 500]), alert_events.c.actor.in_(colleagues)
            )
            .order_by(alert_events.c.at)
        )
        for r in conn.execute(query).mappings():
            events[r["alert_id"]].append(dict(r))
    return {i: lifecycle.assignee(e) for i, e in events.items()}
