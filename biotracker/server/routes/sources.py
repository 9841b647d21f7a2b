"""Sources and their health (``source_health``), as far as the caller may see them.

A source's health carries counts of its items, so a source is listed only when the caller may see
every report it delivered: a feed of TLP:CLEAR / GREEN records to everyone, a law-enforcement
intake channel or a feed with restricted records only to callers cleared for all of them. The
check reads the source's restricted reports only (index ``ix_reports_tlp_source``), at most
:data:`CHECK_LIMIT` of them: a source with more is not listed (the answer is then "no", never a
guess)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import ColumnElement, Connection, and_, or_, select

from biotracker.access import Principal
from biotracker.db.tables import reports, source_health
from biotracker.schema import Tlp
from biotracker.server.auth import CallerDep
from biotracker.server.routes.common import ctx_of, jsonable
from biotracker.server.visibility import REPORT_ACCESS_COLUMNS, Rules

router = APIRouter(tags=["sources"])
CHECK_LIMIT = 5000
FIELDS = (
    "source",
    "last_fetch_at",
    "last_success_at",
    "last_failure_at",
    "last_error",
    "payloads",
    "items",
    "quarantined",
    "failures",
)
_OPEN = (Tlp.CLEAR.value, Tlp.GREEN.value)


def _sees_everything_of(conn: Connection, rules: Rules, principal: Principal, source: str) -> bool:
    restricted: ColumnElement[bool] = reports.c.tlp.not_in(_OPEN)
    if source in rules.intake:  # intake without an originator is AMBER+STRICT whatever it declares
        restricted = or_(restricted, reports.c.originator_org.is_(None))
    rows = (
        conn.execute(
            select(*REPORT_ACCESS_COLUMNS)
            .where(and_(reports.c.source == source, restricted))
            .limit(CHECK_LIMIT + 1)
        )
        .mappings()
        .all()
    )
    return len(rows) <= CHECK_LIMIT and all(rules.sees(principal, rules.of_report(r)) for r in rows)


@router.get("/sources")
def list_sources(request: Request, c: CallerDep) -> dict[str, Any]:
    """Every source the caller may see all reports of, with its kind and health (fetch times,
    failures, item counts)."""
    ctx = ctx_of(request)
    with ctx.engine.connect() as conn:
        rows = [
            dict(r) for r in conn.execute(select(source_health).order_by(source_health.c.source)).mappings()
        ]
        items = [
            {k: jsonable(r[k]) for k in FIELDS}
            | {
                "kind": ctx.rules.source_kinds[r["source"]].value
                if r["source"] in ctx.rules.source_kinds
                else None
            }
            for r in rows
            if _sees_everything_of(conn, ctx.rules, c.principal, r["source"])
        ]
    return {"items": items, "next": None}
