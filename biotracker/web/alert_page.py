"""Everything the alert page shows, read from the caller's scope: why it is an alert (rules, the
detector's numbers), its weekly series, its place, the incident's reports with the extractor's
evidence marked in their text, the risk lens's findings with the agent lists' citations, and the
alert's history, assignee and the caller's relevance label."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection, func, select

from biotracker.access import Principal
from biotracker.alerts import lifecycle
from biotracker.db.tables import alert_feedback, incident_assessments, incident_reports, reports, signals
from biotracker.incidents.scopes import Scope
from biotracker.outputs.charts import countries, world_map_svg
from biotracker.outputs.records import SeriesPoint
from biotracker.schema import AlertStatus, AlertTier, Tlp
from biotracker.scoring.risk.agents import Citation, load_agents
from biotracker.scoring.risk.flag_words import AgentFlag, AgentFlags, agent_flag_words
from biotracker.server.context import ServerContext
from biotracker.server.visibility import public_id
from biotracker.web.reads import Seen
from biotracker.web.trend import trend_svg

#: Weeks of series shown (at most) before the alert's first week, and after its last.
WEEKS_BEFORE, WEEKS_AFTER = 26, 8
#: Reports the alert page shows with their marked text (the first by publication); the incident
#: page lists every one. An incident of 137 reports made a 150 kB alert page and its slowest
#: answers under load (benchmarks/serve.py --pages).
REPORTS_SHOWN = 20


@dataclass(frozen=True)
class Segment:
    """A piece of a report's text; ``evidence`` names what the extractor read there (None: plain)."""

    text: str
    evidence: str | None = None


@dataclass(frozen=True)
class ReportView:
    report_id: str
    title: list[Segment]
    text: list[Segment]
    url: str | None
    source: str
    published_at: dt.datetime | None
    tlp: Tlp
    link: str | None
    reason: str | None


@dataclass(frozen=True)
class Detector:
    method: str
    week: dt.date
    observed: int
    expected: float | None
    upperbound: float | None
    alarm: bool | None
    baseline: str


@dataclass(frozen=True)
class FlagView:
    words: str
    citations: list[Citation]


@dataclass(frozen=True)
class AlertView:
    alert_id: str
    row: Mapping[str, Any]
    tier: AlertTier
    status: AlertStatus
    tlp: Tlp
    incident_id: str | None
    detector: Detector | None
    chart: Markup
    map: Markup
    country_name: str | None
    #: the first :data:`REPORTS_SHOWN` of the incident's reports
    reports: list[ReportView]
    report_count: int
    agent: str | None
    flags: list[FlagView]
    assessment: Mapping[str, Any]
    history: list[dict]
    assignee: str | None
    my_label: str | None
    next_statuses: list[AlertStatus] = field(default_factory=list)


def segments(text: str, spans: list[tuple[int, int, str]]) -> list[Segment]:
    """``text`` cut at the evidence spans (overlaps merged, out-of-range spans dropped)."""
    usable = sorted((a, b, what) for a, b, what in spans if 0 <= a < b <= len(text))
    merged: list[list[Any]] = []
    for a, b, what in usable:
        if merged and a < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
            if what not in merged[-1][2]:
                merged[-1][2] += f", {what}"
        else:
            merged.append([a, b, what])
    out, at = [], 0
    for a, b, what in merged:
        if a > at:
            out.append(Segment(text[at:a]))
        out.append(Segment(text[a:b], what))
        at = b
    if at < len(text):
        out.append(Segment(text[at:]))
    return out


def evidence_spans(evidence: Mapping[str, Any] | None) -> dict[str, list[tuple[int, int, str]]]:
    """field ("title", "text", ...) -> (start, end, what) of every value the extractor read there."""
    found: dict[str, list[tuple[int, int, str]]] = {}
    extraction = (evidence or {}).get("extraction") or {}

    def add(ev: Any, what: str) -> None:
        if isinstance(ev, dict) and isinstance(ev.get("span"), list) and len(ev["span"]) == 2:
            a, b = ev["span"]
            if isinstance(a, int) and isinstance(b, int):
                found.setdefault(str(ev.get("field")), []).append((a, b, what))

    for d in extraction.get("diseases") or []:
        add(d.get("evidence"), f"disease: {d.get('name')}")
    for p in extraction.get("places") or []:
        add(p.get("evidence"), f"place: {p.get('admin_area') or p.get('iso3')}")
    for h in extraction.get("hosts") or []:
        add(h.get("evidence"), f"host: {h.get('host')}")
    add(extraction.get("cases_evidence"), f"cases: {extraction.get('cases')}")
    add(extraction.get("deaths_evidence"), f"deaths: {extraction.get('deaths')}")
    for d in extraction.get("event_dates") or []:
        if isinstance(d, dict):
            add(d.get("evidence"), "event date")
    return found


def incident_report_views(
    conn: Connection,
    ctx: ServerContext,
    principal: Principal,
    scope: Scope,
    incident_id: str,
    texts: int | None = None,
) -> list[ReportView] | None:
    """The incident's reports; None when any is not the caller's to see (the API's defence in depth:
    the scope admits none such). Every report is checked; only the first ``texts`` (default: all)
    get their text cut at the evidence, the others an empty text and a plain title."""
    query = (
        select(reports, incident_reports.c.link, incident_reports.c.reason)
        .join(incident_reports, incident_reports.c.report_id == reports.c.report_id)
        .where(incident_reports.c.scope == scope.key, incident_reports.c.incident_id == incident_id)
        .order_by(reports.c.published_at, reports.c.report_id)
    )
    views: list[ReportView] = []
    for r in conn.execute(query).mappings():
        vis = ctx.rules.of_report(r)
        if not ctx.rules.sees(principal, vis):
            return None
        with_text = texts is None or len(views) < texts
        spans = evidence_spans(r["evidence"]) if with_text else {}
        body_field = "text" if r["text"] else "summary"
        views.append(
            ReportView(
                report_id=r["report_id"],
                title=segments(r["title"], spans.get("title", [])),
                text=segments(r[body_field] or "", spans.get(body_field, [])) if with_text else [],
                url=r["url"],
                source=r["source"],
                published_at=r["published_at"],
                tlp=vis.tlp,
                link=r["link"],
                reason=r["reason"],
            )
        )
    return views


def _series(conn: Connection, scope: Scope, row: Mapping) -> tuple[list[SeriesPoint], Detector | None]:
    """The alert's series week by week around its weeks: the detector's numbers where it scored the
    week (its signal's method, else the method with the most weeks), the scope's report count of the
    series elsewhere; and the detector's numbers at the alert's week."""
    if not row["series_key"]:
        return [], None
    first = row["period_start"] - dt.timedelta(weeks=WEEKS_BEFORE)
    last = (row["last_period"] or row["period_start"]) + dt.timedelta(weeks=WEEKS_AFTER)
    in_scope = (signals.c.scope == scope.key, signals.c.series_key == row["series_key"])
    method = None
    if row["signal_id"]:
        method = conn.execute(
            select(signals.c.method).where(signals.c.signal_id == row["signal_id"])
        ).scalar()
    if method is None:
        method = conn.execute(
            select(signals.c.method).where(*in_scope).group_by(signals.c.method).order_by(func.count().desc())
        ).scalar()
    scored = {
        s["period_start"]: s
        for s in conn.execute(
            select(signals).where(
                *in_scope, signals.c.method == method, signals.c.period_start.between(first, last)
            )
        ).mappings()
    }
    counted: dict[dt.date, int] = dict(
        conn.execute(
            select(incident_reports.c.period_start, func.count(func.distinct(incident_reports.c.report_id)))
            .where(
                incident_reports.c.scope == scope.key,
                incident_reports.c.series_key == row["series_key"],
                incident_reports.c.period_start.between(first, last),
            )
            .group_by(incident_reports.c.period_start)
        ).all()
    )
    weeks = [*scored, *counted]
    if not weeks:
        return [], None
    week, end = min([*weeks, row["period_start"]]), max([*weeks, row["last_period"] or row["period_start"]])
    points, detector = [], None
    while week <= end:
        s = scored.get(week)
        if s is None:
            points.append(SeriesPoint(week, counted.get(week, 0)))
        else:
            points.append(SeriesPoint(week, s["observed"], s["expected"], s["upperbound"], s["alarm"]))
            if week == row["period_start"]:
                detector = Detector(
                    method=s["method"],
                    week=week,
                    observed=s["observed"],
                    expected=s["expected"],
                    upperbound=s["upperbound"],
                    alarm=s["alarm"],
                    baseline=str((s["details"] or {}).get("baseline") or ""),
                )
        week += dt.timedelta(weeks=1)
    return points, detector


def _flags(assessment: Mapping[str, Any] | None) -> tuple[str | None, list[FlagView]]:
    """The agent's name and its flags in words, each with the lists (citations) it comes from."""
    if not assessment or not assessment.get("agent_key"):
        return None, []
    agent = load_agents().get(assessment["agent_key"])
    stored = AgentFlags.of(assessment.get("agent_flags") or {})
    cited = {c.key: c for c in agent.citations} if agent else {}
    views = []
    for flag in AgentFlag:
        words = agent_flag_words(stored, include=(flag,))
        if not words:
            continue
        source = agent.sources.get(flag.value) if agent else None
        citations = [cited[k] for k in (source.citations if source else ()) if k in cited]
        views.append(FlagView(words[0], citations))
    return assessment.get("agent_name") or assessment["agent_key"], views


def load_alert_view(
    conn: Connection,
    ctx: ServerContext,
    principal: Principal,
    scope: Scope,
    seen: Seen,
    answer: Mapping[str, Any],
) -> AlertView | None:
    """The page's data for an alert of the caller's scope, with the history and assignee of the API's
    ``answer`` for it (the caller's organisation's entries only); None when its incident holds a
    report the caller may not see (then the page answers 404, as the API does)."""
    row = seen.row
    incident_id = row["incident_id"]
    found = (
        incident_report_views(conn, ctx, principal, scope, incident_id, REPORTS_SHOWN) if incident_id else []
    )
    if found is None:
        return None
    assessment: dict[str, Any] | None = None
    if incident_id:
        stored = (
            conn.execute(
                select(incident_assessments).where(incident_assessments.c.incident_id == incident_id)
            )
            .mappings()
            .first()
        )
        assessment = dict(stored) if stored else None
    agent, flags = _flags(assessment)
    points, detector = _series(conn, scope, row)
    weeks = (row["period_start"], row["last_period"] or row["period_start"])
    label = f"Reports per week, {row['disease'] or 'unknown disease'} in {row['country_iso3'] or 'unknown country'}"
    country = countries().get(row["country_iso3"] or "")
    history = [e | {"at": dt.datetime.fromisoformat(e["at"])} for e in answer["history"]]
    my_label = conn.execute(
        select(alert_feedback.c.label)
        .where(alert_feedback.c.alert_id == row["alert_id"], alert_feedback.c.actor == principal.username)
        .order_by(alert_feedback.c.at.desc())
    ).scalar()
    status = AlertStatus(row["status"])
    return AlertView(
        alert_id=seen.public_id,
        row=row,
        tier=AlertTier(row["tier"]),
        status=status,
        tlp=seen.marking,
        incident_id=public_id(scope, incident_id) if incident_id else None,
        detector=detector,
        chart=trend_svg(points, label=label, alert_weeks=weeks),
        map=world_map_svg(
            {row["country_iso3"]: 1} if row["country_iso3"] else {},
            title=f"Where: {country.name if country else row['country_iso3'] or 'no country'}",
            focus=row["country_iso3"],
        ),
        country_name=country.name if country else None,
        reports=found[:REPORTS_SHOWN],
        report_count=len(found),
        agent=agent,
        flags=flags,
        assessment=assessment or {},
        history=history,
        assignee=answer["assignee"],
        my_label=my_label,
        next_statuses=sorted(lifecycle.TRANSITIONS[status], key=lambda s: list(AlertStatus).index(s)),
    )
