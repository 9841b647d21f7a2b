"""Stage 5: derive alerts for a window (``derive_alerts``).

One alert per (series, week) that has a reason: a statistical alarm on its weekly count, and/or the
first report of the disease in the country for 52 weeks. Each alert lists its reasons in words,
links its source reports, and keeps the status an analyst gave it when it is derived again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass

from sqlalchemy import Engine, select

from biotracker.db.tables import alerts, incident_reports, reports, signals
from biotracker.db.upsert import upsert
from biotracker.incidents.series import load_incident_frame
from biotracker.schema import Alert, AlertStatus, AlertTier, Tlp, Window, most_restrictive

log = logging.getLogger(__name__)

NOVELTY_WEEKS = 52
MAX_LINKS = 10


@dataclass
class AlertSummary:
    alerts: int = 0
    by_tier: dict[str, int] | None = None

    def summary(self) -> dict[str, object]:
        return asdict(self)


def alert_id_for(series_key: str, period: dt.date) -> str:
    return "alert-" + hashlib.sha256(f"{series_key}|{period.isoformat()}".encode()).hexdigest()[:20]


def _alarm_reason(sig: dict) -> str:
    control = sig["details"].get("control", {})
    base = sig["details"].get("baseline")
    expected = "n/a" if sig["expected"] is None else f"{sig['expected']:.2f}"
    return (
        f"statistical alarm ({sig['method']}, alpha={control.get('alpha')}): {sig['observed']} incident(s) this "
        f"week, above the upper bound {sig['upperbound']:.2f} (expected {expected}"
        + (f"; baseline {base})" if base else ")")
    )


def derive_alerts(engine: Engine, window: Window) -> AlertSummary:
    """Upsert alerts for weeks starting in ``window``; analysts' statuses are kept."""
    frame = load_incident_frame(engine)
    summary = AlertSummary(by_tier={})
    if frame.empty:
        return summary
    start, end = window.start.date(), window.end.date()
    with engine.connect() as conn:
        alarms = {
            (s["series_key"], s["period_start"]): dict(s)
            for s in conn.execute(
                select(signals).where(signals.c.alarm.is_(True), signals.c.period_start >= start,
                                      signals.c.period_start < end)
            ).mappings()
        }
        statuses = dict(conn.execute(select(alerts.c.alert_id, alerts.c.status)).all())
        link_rows = conn.execute(
            select(incident_reports.c.incident_id, reports.c.url, reports.c.title, reports.c.tlp)
            .join(reports, reports.c.report_id == incident_reports.c.report_id)
        ).all()
    sources: dict[str, list[tuple[str | None, str, str]]] = defaultdict(list)
    for incident_id, url, title, tlp in link_rows:
        sources[incident_id].append((url, title, tlp))

    reasons_by_key: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    incidents_by_key: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    for row in frame.itertuples(index=False):
        if start <= row.period_start < end:
            incidents_by_key[(row.series_key, row.period_start)].append(row.incident_id)
    history_start = min(frame["period_start"])
    for series, weeks in frame.groupby("series_key")["period_start"]:
        ordered = sorted(set(weeks))
        for previous, week in zip([None, *ordered[:-1]], ordered, strict=True):
            if not start <= week < end:
                continue
            reference = previous if previous is not None else history_start
            if (week - reference).days <= 7 * NOVELTY_WEEKS:
                continue  # seen recently, or the data do not reach back 52 weeks to tell
            disease, country = series.split("|")
            reasons_by_key[(series, week)].append(
                f"first report of {disease} in {country} in the last {NOVELTY_WEEKS} weeks "
                f"(none since the data begin in the week of {history_start.isoformat()})" if previous is None else
                f"first report of {disease} in {country} in the last {NOVELTY_WEEKS} weeks "
                f"(previous report in the week of {previous.isoformat()})"
            )
    for key, sig in alarms.items():
        reasons_by_key[key].append(_alarm_reason(sig))

    rows = []
    for key, reasons in sorted(reasons_by_key.items()):
        if not reasons:
            continue
        series, period = key
        disease, country = series.split("|")
        members = incidents_by_key.get(key, [])
        links = [s for iid in members for s in sources.get(iid, [])]
        tier = AlertTier.HIGH if len(reasons) > 1 else AlertTier.MEDIUM
        headline = links[0][1] if len(members) == 1 and links else f"{len(members)} {disease} incident(s) in {country}"
        alert_id = alert_id_for(series, period)
        alert = Alert(
            alert_id=alert_id,
            incident_id=members[0] if members else None,
            signal_id=f"{alarms[key]['signal_id']}" if key in alarms else None,
            period_start=period,
            headline=headline,
            tier=tier,
            reasons=reasons,
            status=AlertStatus(statuses.get(alert_id, AlertStatus.NEW.value)),
            tlp=most_restrictive([Tlp(t) for _, _, t in links]),
            country_iso3=None if country == "*" else country,
            disease=disease,
            source_urls=sorted({u for u, _, _ in links if u})[:MAX_LINKS],
        )
        rows.append(alert.model_dump(mode="json"))
        summary.by_tier[tier.value] = summary.by_tier.get(tier.value, 0) + 1
    for row in rows:
        row["period_start"] = dt.date.fromisoformat(row["period_start"])
    with engine.begin() as conn:
        upsert(conn, alerts, rows)
    summary.alerts = len(rows)
    log.info("alerts: %d in %s (%s)", summary.alerts, window, summary.by_tier)
    return summary
