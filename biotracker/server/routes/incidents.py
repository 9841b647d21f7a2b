"""Incidents: the list and one incident with the reports behind it, read from the caller's scope."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Connection, and_, or_, select

from biotracker.db.tables import incident_reports, incidents, reports
from biotracker.incidents.scopes import Scope
from biotracker.schema import most_restrictive
from biotracker.server import visibility
from biotracker.server.auth import CallerDep
from biotracker.server.routes import common

router = APIRouter(tags=["incidents"])
FIELDS = (
    "incident_id",
    "title",
    "disease",
    "pathogen",
    "host",
    "country_iso3",
    "first_seen_at",
    "last_seen_at",
    "cases",
    "deaths",
    "tlp",
    "report_count",
    "corroboration",
    "reliability",
    "source_tier",
)
REPORT_FIELDS = ("report_id", "source", "title", "url", "published_at", "country_iso3", "disease", "tlp")


def _shown(conn: Connection, request: Request, scope: Scope, rows: list[dict]) -> list[dict]:
    floored = common.intake_incidents(
        conn, scope, common.ctx_of(request).rules.intake, {r["incident_id"] for r in rows}
    )
    return [
        {k: common.jsonable(row[k]) for k in FIELDS}
        | {
            "incident_id": visibility.public_id(scope, row["incident_id"]),
            "tlp": common.marking(row["tlp"], row["incident_id"] in floored).value,
        }
        for row in rows
    ]


@router.get("/incidents")
def list_incidents(
    request: Request,
    c: CallerDep,
    country: Annotated[str | None, Query(max_length=3)] = None,
    disease: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Incidents in the caller's view, most recently begun first (undated ones last); pass ``next``
    back as ``cursor`` for the next page."""
    with common.ctx_of(request).engine.connect() as conn:
        scope = common.caller_scope(conn, request, c)
        query = select(incidents).where(incidents.c.scope == scope.key)
        query = common.on_topic(query, incidents, country, disease)
        if cursor:
            seen_text, after = common.decode_cursor(cursor, 2)
            seen, last_id = common.parse_time(seen_text, dt.datetime), visibility.stored_id(scope, str(after))
            later_id = and_(incidents.c.first_seen_at.is_(None), incidents.c.incident_id > last_id)
            if seen is None:
                query = query.where(later_id)
            else:
                query = query.where(
                    or_(
                        incidents.c.first_seen_at < seen,
                        and_(incidents.c.first_seen_at == seen, incidents.c.incident_id > last_id),
                        incidents.c.first_seen_at.is_(None),
                    )
                )
        order = (incidents.c.first_seen_at.desc().nulls_last(), incidents.c.incident_id)
        rows = [dict(r) for r in conn.execute(query.order_by(*order).limit(limit + 1)).mappings()]
        page = _shown(conn, request, scope, rows[:limit])
    common.audit_reads(request, c, page, "incident_id", "incidents list")
    more = len(rows) > limit
    return {
        "items": page,
        "next": common.encode_cursor(page[-1]["first_seen_at"], page[-1]["incident_id"]) if more else None,
    }


@router.get("/incidents/{incident_id}")
def get_incident(request: Request, c: CallerDep, incident_id: str) -> dict[str, Any]:
    """One incident with the reports behind it (all of which the caller may see: the incident was
    built from them alone); 404 when the caller's view has no such incident."""
    ctx = common.ctx_of(request)
    with ctx.engine.connect() as conn:
        scope = common.caller_scope(conn, request, c)
        stored = visibility.stored_id(scope, incident_id)
        row = (
            conn.execute(
                select(incidents).where(incidents.c.scope == scope.key, incidents.c.incident_id == stored)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise common.not_found(request, c, "incident", incident_id)
        item = _shown(conn, request, scope, [dict(row)])[0]
        members = (
            select(reports, incident_reports.c.duplicate_of)
            .join(incident_reports, incident_reports.c.report_id == reports.c.report_id)
            .where(incident_reports.c.scope == scope.key, incident_reports.c.incident_id == stored)
            .order_by(reports.c.published_at, reports.c.report_id)
        )
        found = [dict(r) for r in conn.execute(members).mappings()]
    shown = []
    for r in found:
        vis = ctx.rules.of_report(r)
        if not ctx.rules.sees(c.principal, vis):  # defence in depth: the scope admits none of these
            raise common.not_found(request, c, "incident", incident_id)
        shown.append(
            {k: common.jsonable(r[k]) for k in REPORT_FIELDS}
            | {"tlp": vis.tlp.value, "duplicate_of": r["duplicate_of"]}
        )
    if shown:
        item["tlp"] = most_restrictive(
            [common.marking(item["tlp"], False), *(common.marking(s["tlp"], False) for s in shown)]
        ).value
    item["reports"] = shown
    common.audit_reads(request, c, [item], "incident_id", "incident")
    common.audit_reads(request, c, shown, "report_id", f"reports of incident {incident_id}")
    return item
