"""Stage 3: group reports into incidents (``build_incidents``).

Schema v1 keeps one report per incident; the incident id is derived from the report id, so the
same input always gives the same incidents and re-runs update rather than duplicate.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass

from sqlalchemy import Engine, select

from biotracker.db.tables import incident_reports, incidents, reports
from biotracker.db.upsert import upsert
from biotracker.schema import Window

log = logging.getLogger(__name__)


@dataclass
class IncidentSummary:
    reports: int = 0
    incidents: int = 0

    def summary(self) -> dict[str, int]:
        return asdict(self)


def incident_id_for(report_id: str) -> str:
    return "inc-" + hashlib.sha256(report_id.encode()).hexdigest()[:20]


def build_incidents(engine: Engine, window: Window | None = None) -> IncidentSummary:
    """Upsert one incident per report published in ``window`` (all reports when None)."""
    query = select(reports)
    if window is not None:
        query = query.where(reports.c.published_at >= window.start, reports.c.published_at < window.end)
    summary = IncidentSummary()
    with engine.begin() as conn:
        rows = conn.execute(query.order_by(reports.c.report_id)).mappings().all()
        incident_rows, links = [], []
        for r in rows:
            iid = incident_id_for(r["report_id"])
            seen = r["observed_at"] or r["published_at"]
            incident_rows.append(
                {
                    "incident_id": iid,
                    "title": r["title"],
                    "disease": r["disease"],
                    "pathogen": r["pathogen"],
                    "host": r["host"],
                    "country_iso3": r["country_iso3"],
                    "first_seen_at": seen,
                    "last_seen_at": r["published_at"] or seen,
                    "cases": r["cases"],
                    "deaths": r["deaths"],
                    "tlp": r["tlp"],
                }
            )
            links.append({"incident_id": iid, "report_id": r["report_id"]})
        upsert(conn, incidents, incident_rows)
        upsert(conn, incident_reports, links, update=False)
    summary.reports = len(rows)
    summary.incidents = len(incident_rows)
    log.info("incidents: %d reports -> %d incidents", summary.reports, summary.incidents)
    return summary
