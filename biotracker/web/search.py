"""``/search?q=TEXT``: reports and incidents matching some words, through the access policy.

The store's full-text index (``db/fulltext.py``) finds candidate reports; the policy
(``Rules.of_report`` + ``may_see``) keeps only those the caller may see, and withdrawn reports
never show. Incidents come from the caller's visibility scope (``web.reads.caller_scope``, as the
queue's alerts): one holding a matching report the caller may see shows when the caller may also see
every one of its reports (``may_see_derived``, as for alerts) and none of them was withdrawn (the
next pipeline run rebuilds it without the tombstone).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, select

from biotracker.access import Principal, Visibility, may_see_derived
from biotracker.db.fulltext import matching_report_ids, words_of
from biotracker.db.tables import incident_reports, incidents, reports
from biotracker.incidents.scopes import Scope
from biotracker.schema import Tlp
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import audit
from biotracker.server.routes.common import RESTRICTED
from biotracker.server.visibility import REPORT_ACCESS_COLUMNS, Rules, public_id
from biotracker.web.reads import caller_scope
from biotracker.web.render import PageCaller, context_of, render

router = APIRouter(tags=["pages"])
#: Candidates read from the index before the policy filters them; results shown per kind.
CANDIDATES = 500
SHOWN = 50
SNIPPET = 240


@dataclass(frozen=True)
class ReportHit:
    report_id: str
    title: str
    snippet: str
    source: str
    url: str | None
    country_iso3: str | None
    disease: str | None
    published_at: dt.datetime | None
    tlp: Tlp


@dataclass(frozen=True)
class IncidentHit:
    incident_id: str
    title: str
    disease: str | None
    country_iso3: str | None
    first_seen_at: dt.datetime | None
    report_count: int
    tlp: Tlp


@dataclass(frozen=True)
class SearchResults:
    query: str
    reports: list[ReportHit]
    incidents: list[IncidentHit]


def _snippet(summary: str, text: str) -> str:
    body = " ".join((summary or text or "").split())
    return body if len(body) <= SNIPPET else body[: SNIPPET - 1] + "…"


def visible_reports(
    conn: Connection, rules: Rules, principal: Principal | None, report_ids: list[str]
) -> list[ReportHit]:
    """The reports of ``report_ids`` (kept in that order) the caller may see, withdrawn ones left out."""
    if not report_ids:
        return []
    rows = {
        r["report_id"]: r
        for r in conn.execute(
            select(reports).where(reports.c.report_id.in_(report_ids), reports.c.withdrawn_at.is_(None))
        ).mappings()
    }
    hits = []
    for report_id in report_ids:
        row = rows.get(report_id)
        if row is None:
            continue
        vis = rules.of_report(row)
        if not rules.sees(principal, vis):
            continue
        hits.append(
            ReportHit(
                report_id=report_id,
                title=row["title"],
                snippet=_snippet(row["summary"], row["text"]),
                source=row["source"],
                url=row["url"],
                country_iso3=row["country_iso3"],
                disease=row["disease"],
                published_at=row["published_at"],
                tlp=vis.tlp,
            )
        )
    return hits


def incident_members(
    conn: Connection, rules: Rules, incident_ids: set[str]
) -> dict[str, list[tuple[Visibility, bool]]]:
    """incident_id -> (visibility, withdrawn) of each of its reports."""
    if not incident_ids:
        return {}
    query = select(incident_reports.c.incident_id, reports.c.withdrawn_at, *REPORT_ACCESS_COLUMNS).join(
        reports, reports.c.report_id == incident_reports.c.report_id
    )
    found: dict[str, list[tuple[Visibility, bool]]] = {}
    for r in conn.execute(query.where(incident_reports.c.incident_id.in_(incident_ids))).mappings():
        found.setdefault(r["incident_id"], []).append((rules.of_report(r), r["withdrawn_at"] is not None))
    return found


def visible_incidents_of(
    conn: Connection, rules: Rules, principal: Principal | None, scope: Scope, report_ids: list[str]
) -> list[IncidentHit]:
    """Incidents of ``scope`` holding any of ``report_ids`` that the caller may see whole, in the
    order of their best-ranked report."""
    if not report_ids:
        return []
    links = conn.execute(
        select(incident_reports.c.incident_id, incident_reports.c.report_id).where(
            incident_reports.c.report_id.in_(report_ids), incident_reports.c.scope == scope.key
        )
    ).all()
    order = {rid: i for i, rid in enumerate(report_ids)}
    first_hit: dict[str, int] = {}
    for incident_id, report_id in links:
        first_hit[incident_id] = min(first_hit.get(incident_id, len(order)), order[report_id])
    members = incident_members(conn, rules, set(first_hit))
    rows = {
        r["incident_id"]: r
        for r in conn.execute(select(incidents).where(incidents.c.incident_id.in_(set(first_hit)))).mappings()
    }
    found = []
    for incident_id in sorted(first_hit, key=lambda i: (first_hit[i], i)):
        row, inputs = rows.get(incident_id), members.get(incident_id, [])
        if row is None or not inputs or any(withdrawn for _, withdrawn in inputs):
            continue
        if not may_see_derived(principal, [v for v, _ in inputs], allow_anonymous=rules.allow_anonymous):
            continue
        found.append(
            IncidentHit(
                incident_id=public_id(scope, incident_id),
                title=row["title"],
                disease=row["disease"],
                country_iso3=row["country_iso3"],
                first_seen_at=row["first_seen_at"],
                report_count=len(inputs),
                tlp=max((v.tlp for v, _ in inputs), key=lambda t: t.rank),
            )
        )
    return found


def search(
    conn: Connection, rules: Rules, principal: Principal | None, query: str, scope: Scope
) -> SearchResults:
    """Reports and incidents matching every word of ``query`` that the caller may see, best first."""
    candidates = matching_report_ids(conn, query, limit=CANDIDATES)
    found = visible_reports(conn, rules, principal, candidates)
    seen = [h.report_id for h in found]
    return SearchResults(
        query=query,
        reports=found[:SHOWN],
        incidents=visible_incidents_of(conn, rules, principal, scope, seen)[:SHOWN],
    )


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request, who: PageCaller, q: Annotated[str, Query(max_length=500)] = ""
) -> HTMLResponse:
    ctx = context_of(request)
    results = None
    if words_of(q):
        with ctx.engine.connect() as conn:
            results = search(conn, ctx.rules, who.principal, q, caller_scope(conn, ctx, who.principal))
        restricted = tuple(h.report_id for h in results.reports if h.tlp in RESTRICTED)
        restricted += tuple(h.incident_id for h in results.incidents if h.tlp in RESTRICTED)
        if restricted:  # reads of AMBER, AMBER+STRICT and RED records are audited, as through the API
            audit(
                ctx,
                request,
                Action.READ,
                Outcome.OK,
                principal=who.principal,
                record_ids=restricted,
                detail="search page",
            )
    return render(request, who, "search.html", q=q, results=results)
