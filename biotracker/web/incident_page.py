"""The incident page's data: the API's own answer for the incident (its reports, all of which the
caller may see), grouped by why each report joined (the link the clustering recorded), with the
alerts of the caller's scope that point at it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from biotracker.db.tables import alerts, incident_reports
from biotracker.incidents.scopes import Scope
from biotracker.server.visibility import public_id, stored_id

#: How the clustering's link kinds read, in the order the page groups them.
LINKS = {
    "seed": "First report (the incident is named after it)",
    "same_url": "Same address",
    "same_content": "Same content",
    "near_duplicate": "Near-duplicate text",
    "same_event": "Same event (disease, place and time)",
    "detached": "Kept apart by an analyst",
}


@dataclass(frozen=True)
class ReportGroup:
    link: str
    label: str
    reports: list[dict[str, Any]]


@dataclass(frozen=True)
class IncidentView:
    incident: Mapping[str, Any]
    groups: list[ReportGroup]
    alerts: list[dict[str, Any]]


def load_incident_view(conn: Connection, scope: Scope, answer: Mapping[str, Any]) -> IncidentView:
    """``answer`` (the API's ``GET /incidents/ID``) with each report's link and reason, grouped."""
    stored = stored_id(scope, answer["incident_id"])
    why = {
        r["report_id"]: r
        for r in conn.execute(
            select(
                incident_reports.c.report_id,
                incident_reports.c.link,
                incident_reports.c.reason,
                incident_reports.c.linked_to,
            ).where(incident_reports.c.scope == scope.key, incident_reports.c.incident_id == stored)
        ).mappings()
    }
    grouped: dict[str, list[dict[str, Any]]] = {}
    for report in answer["reports"]:
        link = why.get(report["report_id"])
        kind = (link["link"] if link else None) or "same_event"
        grouped.setdefault(kind, []).append(
            report
            | {"reason": link["reason"] if link else None, "linked_to": link["linked_to"] if link else None}
        )
    order = [*LINKS, *sorted(set(grouped) - set(LINKS))]
    groups = [ReportGroup(k, LINKS.get(k, k.replace("_", " ")), grouped[k]) for k in order if k in grouped]
    pointing = conn.execute(
        select(alerts.c.alert_id, alerts.c.headline, alerts.c.tier, alerts.c.status, alerts.c.period_start)
        .where(alerts.c.scope == scope.key, alerts.c.incident_id == stored)
        .order_by(alerts.c.period_start)
    ).mappings()
    return IncidentView(
        answer, groups, [dict(a) | {"alert_id": public_id(scope, a["alert_id"])} for a in pointing]
    )
