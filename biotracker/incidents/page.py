"""Everything an analyst needs about one incident, every claim with its evidence.

Assembled from the store: the incident and its reports (with merge reasons), the risk-lens
assessment (agent flags, unusualness flags, cues with their sentences, indicator score and verdict),
its weekly series with the detector's bounds, and the alerts it belongs to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select

from biotracker.db.tables import alerts, incident_assessments, incident_reports, incidents, reports, signals
from biotracker.errors import BiotrackerError
from biotracker.incidents.series import load_incident_frame, weekly_counts

SERIES_WEEKS = 26


class IncidentNotFound(BiotrackerError, LookupError):
    """No incident has this id."""


def incident_page(engine: Engine, incident_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        incident = (
            conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().first()
        )
        if incident is None:
            raise IncidentNotFound(
                f"no incident {incident_id!r}; find ids with `biotracker alerts show ALERT_ID --json`"
            )
        members = [
            dict(r)
            for r in conn.execute(
                select(
                    reports.c.report_id,
                    reports.c.source,
                    reports.c.title,
                    reports.c.url,
                    reports.c.published_at,
                    reports.c.tlp,
                    incident_reports.c.link,
                    incident_reports.c.reason,
                    incident_reports.c.duplicate_of,
                )
                .join(incident_reports, incident_reports.c.report_id == reports.c.report_id)
                .where(incident_reports.c.incident_id == incident_id)
                .order_by(reports.c.published_at)
            ).mappings()
        ]
        assessment = (
            conn.execute(
                select(incident_assessments).where(incident_assessments.c.incident_id == incident_id)
            )
            .mappings()
            .first()
        )
        scope = incident["scope"]
        key = conn.execute(
            select(incident_reports.c.series_key)
            .where(
                incident_reports.c.incident_id == incident_id, incident_reports.c.period_start.is_not(None)
            )
            .order_by(incident_reports.c.period_start, incident_reports.c.report_id)
            .limit(1)
        ).scalar()
    series: dict[str, Any] = {}
    linked: list[dict[str, Any]] = []
    if key is not None:
        frame = load_incident_frame(engine, scope=scope, series_keys=[key])
        rows = frame[frame["incident_id"] == incident_id]
        last = max(rows["period_start"]) if not rows.empty else max(frame["period_start"])
        counts = weekly_counts(frame, last + dt.timedelta(days=7))[key]
        counts = counts.iloc[-SERIES_WEEKS:]
        with engine.connect() as conn:
            bounds = {
                s.period_start: s
                for s in conn.execute(
                    select(
                        signals.c.period_start, signals.c.upperbound, signals.c.alarm, signals.c.method
                    ).where(signals.c.series_key == key, signals.c.scope == scope)
                )
            }
            linked = [
                dict(r._mapping)
                for r in conn.execute(
                    select(
                        alerts.c.alert_id,
                        alerts.c.tier,
                        alerts.c.status,
                        alerts.c.features,
                        alerts.c.headline,
                    ).where(alerts.c.scope == scope, alerts.c.series_key == key)
                )
            ]
        series = {
            "series_key": key,
            "weeks": [
                {
                    "week": w.date().isoformat(),
                    "observed": int(n),
                    "upperbound": bounds[w.date()].upperbound if w.date() in bounds else None,
                    "alarm": bounds[w.date()].alarm if w.date() in bounds else None,
                    "method": bounds[w.date()].method if w.date() in bounds else None,
                }
                for w, n in counts.items()
            ],
        }
    keys = {series.get("series_key")}
    return {
        "incident": dict(incident),
        "reports": members,
        "assessment": dict(assessment) if assessment else None,
        "series": series,
        "alerts": [a | {"features": None} for a in linked if (a["features"] or {}).get("series_key") in keys],
    }
