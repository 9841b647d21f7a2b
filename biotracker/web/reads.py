"""What a caller may read, decided exactly as the API decides it.

A caller reads derived rows (alerts, incidents) of one visibility scope, and of those only the
alerts :func:`biotracker.server.visibility.alert_visible` lets through: the API's own check, so a
page never shows an alert the API would answer 404 for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, select

from biotracker.access import Principal
from biotracker.db.tables import alerts
from biotracker.incidents.scopes import Scope, canonical, intake_sources, present_classes, scope_named
from biotracker.schema import Tlp
from biotracker.server.context import ServerContext
from biotracker.server.visibility import alert_inputs, alert_visible

#: What a member of the community organisation reads: feed records up to AMBER+STRICT and intake.
COMMUNITY_READS = scope_named("le:amber+strict")
#: What a member of any other organisation reads: what the whole community may see.
MEMBER_READS = scope_named("tlp:green")


def caller_scope(conn: Connection, ctx: ServerContext, principal: Principal) -> Scope:
    """The one scope whose derived rows ``principal`` reads (the materialised scope that sees what
    its organisation is cleared for); the per-alert check below still applies on top."""
    wanted = COMMUNITY_READS if principal.org == ctx.rules.community_org else MEMBER_READS
    return canonical(wanted, present_classes(conn, intake_sources(ctx.rules.source_kinds)))


@dataclass(frozen=True)
class Seen:
    """An alert row the caller may see, with the marking it is shown under."""

    row: Mapping
    marking: Tlp


def visible(
    conn: Connection, ctx: ServerContext, principal: Principal, rows: Iterable[Mapping]
) -> list[Seen]:
    """The rows (in order) the caller may see, each with its shown marking: the API's check."""
    rows = list(rows)
    inputs = alert_inputs(conn, ctx.rules, rows)
    found = []
    for row in rows:
        ok, marking = alert_visible(principal, ctx.rules, row, inputs[row["alert_id"]])
        if ok:
            found.append(Seen(row, marking))
    return found


def visible_alert(conn: Connection, ctx: ServerContext, principal: Principal, alert_id: str) -> Seen | None:
    """One alert of the caller's scope, or None when it does not exist there or the caller may not see it."""
    scope = caller_scope(conn, ctx, principal)
    row = (
        conn.execute(select(alerts).where(alerts.c.alert_id == alert_id, alerts.c.scope == scope.key))
        .mappings()
        .first()
    )
    if row is None:
        return None
    seen = visible(conn, ctx, principal, [row])
    return seen[0] if seen else None
