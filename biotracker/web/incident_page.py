"""What the incident page shows: the incident of the caller's scope, its reports grouped by the link
that merged each one in, the analysts' overrides on them, the Radosavljević screen with its evidence,
and the GFT/mGFT worksheets with every assessor's latest totals and the history of versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from biotracker.access import Principal
from biotracker.db.tables import alerts, incident_assessments, incident_overrides, incidents
from biotracker.incidents.cluster import LinkKind
from biotracker.incidents.scopes import Scope
from biotracker.schema import Tlp, most_restrictive
from biotracker.scoring.risk.indicators import load_indicator_specs
from biotracker.scoring.risk.worksheet_entries import (
    TOOLS,
    Totals,
    WorksheetEntry,
    current_sheet,
    entries,
    latest_by_assessor,
    totals,
)
from biotracker.scoring.risk.worksheets import WorksheetTool, load_tool
from biotracker.server.context import ServerContext
from biotracker.server.routes.common import intake_incidents, marking
from biotracker.server.visibility import public_id, stored_id
from biotracker.web.alert_page import ReportView, incident_report_views
from biotracker.web.reads import caller_scope

#: How each kind of link reads on the page (the clustering's own kinds, docs/CLUSTERING.md).
LINK_LABELS = {
    LinkKind.SEED: "First report (the incident starts here)",
    LinkKind.SAME_URL: "Same URL (a duplicate)",
    LinkKind.SAME_CONTENT: "Same title and text (a duplicate)",
    LinkKind.NEAR_DUPLICATE: "Nearly the same text from another source",
    LinkKind.SAME_EVENT: "Same agent and country within the time gap",
    LinkKind.DETACHED: "Split off by an analyst",
    LinkKind.MERGED: "Merged in by an analyst",
}


@dataclass(frozen=True)
class LinkGroup:
    kind: str
    label: str
    reports: list[ReportView]


@dataclass(frozen=True)
class IndicatorView:
    number: int
    indicator: str
    fired: bool
    evidence: str


@dataclass(frozen=True)
class Version:
    entry: WorksheetEntry
    totals: Totals


@dataclass(frozen=True)
class WorksheetView:
    tool: WorksheetTool
    latest: list[Version]
    history: list[Version]
    #: share of criteria on which the assessors' latest versions agree (None: fewer than two assessors)
    agreement: float | None


@dataclass(frozen=True)
class IncidentView:
    incident_id: str
    stored_id: str
    row: Mapping[str, Any]
    tlp: Tlp
    groups: list[LinkGroup]
    #: member reports an analyst split off (an override keeps them apart; undoable)
    detached: frozenset[str]
    assessment: Mapping[str, Any] | None
    indicators: list[IndicatorView]
    worksheets: list[WorksheetView]
    #: the alerts of the caller's scope on this incident (alert_id as the caller knows it)
    alerts: list[dict[str, Any]]

    @property
    def report_count(self) -> int:
        return sum(len(g.reports) for g in self.groups)


def visible_incident(
    conn: Connection, ctx: ServerContext, principal: Principal, incident_id: str
) -> tuple[Scope, Mapping[str, Any]] | None:
    """The caller's copy of the incident it knows as ``incident_id``, or None when its view has none."""
    scope = caller_scope(conn, ctx, principal)
    query = select(incidents).where(
        incidents.c.scope == scope.key, incidents.c.incident_id == stored_id(scope, incident_id)
    )
    row = conn.execute(query).mappings().first()
    return (scope, dict(row)) if row else None


def _groups(members: list[ReportView]) -> list[LinkGroup]:
    out: list[LinkGroup] = []
    for kind in LinkKind:
        chosen = [r for r in members if (r.link or LinkKind.SEED.value) == kind.value]
        if chosen:
            out.append(LinkGroup(kind.value, LINK_LABELS[kind], chosen))
    return out


def _indicators(assessment: Mapping[str, Any] | None) -> list[IndicatorView]:
    """All the screen's indicators, those that fired with the lens's evidence."""
    fired = {i["number"]: i["evidence"] for i in (assessment or {}).get("indicators") or []}
    return [
        IndicatorView(s.number, s.indicator, s.number in fired, fired.get(s.number, ""))
        for s in load_indicator_specs()
    ]


def worksheet_views(stored: str, saved: list[WorksheetEntry]) -> list[WorksheetView]:
    views = []
    for key in TOOLS:
        tool = load_tool(key)
        latest = latest_by_assessor(saved, key)
        sheet = current_sheet(stored, tool, saved) if latest else None
        views.append(
            WorksheetView(
                tool,
                [Version(e, totals(tool, e.points())) for e in latest],
                [Version(e, totals(tool, e.points())) for e in saved if e.tool == key],
                sheet.agreement() if sheet is not None and len(latest) > 1 else None,
            )
        )
    return views


def load_incident_view(
    conn: Connection, ctx: ServerContext, principal: Principal, incident_id: str
) -> IncidentView | None:
    """The page's data; None when the caller's view has no such incident, or (defence in depth, as
    the API) when one of its reports is not the caller's to see."""
    found = visible_incident(conn, ctx, principal, incident_id)
    if found is None:
        return None
    scope, row = found
    stored = row["incident_id"]
    members = incident_report_views(conn, ctx, principal, scope, stored)
    if members is None:
        return None
    ids = [m.report_id for m in members]
    detached = frozenset(
        conn.execute(
            select(incident_overrides.c.report_id).where(
                incident_overrides.c.report_id.in_(ids), incident_overrides.c.action == "detach"
            )
        ).scalars()
    )
    found_assessment = (
        conn.execute(select(incident_assessments).where(incident_assessments.c.incident_id == stored))
        .mappings()
        .first()
    )
    assessment = dict(found_assessment) if found_assessment else None
    floored = stored in intake_incidents(conn, scope, ctx.rules.intake, {stored})
    tlp = most_restrictive([marking(row["tlp"], floored), *(m.tlp for m in members)])
    linked = conn.execute(
        select(alerts.c.alert_id, alerts.c.headline, alerts.c.tier, alerts.c.status, alerts.c.period_start)
        .where(alerts.c.scope == scope.key, alerts.c.incident_id == stored)
        .order_by(alerts.c.period_start, alerts.c.alert_id)
    ).mappings()
    return IncidentView(
        incident_id=public_id(scope, stored),
        stored_id=stored,
        row=row,
        tlp=tlp,
        groups=_groups(members),
        detached=detached,
        assessment=assessment,
        indicators=_indicators(assessment),
        worksheets=worksheet_views(stored, entries(conn, stored)),
        alerts=[dict(a) | {"alert_id": public_id(scope, a["alert_id"])} for a in linked],
    )
