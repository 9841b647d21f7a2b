"""Read what the outputs publish: alerts, incidents and reports with their origins, series and source health.

Origins matter for safety: each record is wrapped in an :class:`~biotracker.outputs.audience.Item`
that knows the connectors it came from and the markings of what it was built from, so the audience
filter can hold back law-enforcement intake and never let a record escape the restrictions of what
is behind it. An alert's origin is deliberately wide (a superset of what the alert rules used, so
that it stays right when the rules change): its incident, every incident holding one of its source
links, and every incident and report of its disease and country in the weeks it covers.

Derived rows are read from one visibility scope (``incidents/scopes.py``): the one the audience is
cleared for, so every count, flag and alert shown was computed only from records it may see. The
item filter still applies on top (defence in depth). Only what the listed alerts reference is
read, so the cost follows the digest, not the store.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, Engine, Select, func, select

from biotracker.db.batches import select_in
from biotracker.db.tables import (
    alert_events,
    alert_feedback,
    alerts,
    incident_assessments,
    incident_reports,
    incidents,
    reports,
    signals,
)
from biotracker.incidents.scopes import (
    STANDARD_SCOPES,
    Scope,
    canonical,
    configured_community_org,
    intake_sources,
    originator_allows,
    present_classes,
    scope_for,
    scope_has_rows,
)
from biotracker.incidents.series import week_start
from biotracker.outputs.audience import INTERNAL, AnalystNote, Audience, Item, registered_source_kinds
from biotracker.schema import Alert, Incident, Report, SourceKind, Tlp, Window, as_utc, most_restrictive


@dataclass(frozen=True)
class SeriesPoint:
    period_start: dt.date
    observed: int
    expected: float | None = None
    upperbound: float | None = None
    alarm: bool | None = None


#: (disease, country ISO3) -- how the outputs group records into one topic and place.
Topic = tuple[str | None, str | None]


@dataclass
class OutputData:
    """Everything an output may draw on, before any audience filter."""

    alerts: list[Item] = field(default_factory=list)
    incidents: list[Item] = field(default_factory=list)
    reports: list[Item] = field(default_factory=list)
    #: Analysts' notes on the alerts (status changes with a note, relevance feedback), oldest first.
    notes: list[Item] = field(default_factory=list)
    #: Scored weekly series by series key, oldest first, and the signal each alert points to.
    series: dict[str, list[SeriesPoint]] = field(default_factory=dict)
    signal_series: dict[str, str] = field(default_factory=dict)
    #: Every report of the listed alerts' topics (all weeks up to the alert) by (disease, country):
    #: its week and a stand-in item carrying its marking and source, to count series per audience.
    report_weeks: dict[Topic, list[tuple[dt.date, Item]]] = field(default_factory=dict)
    health: list[dict] = field(default_factory=list)
    #: Risk-lens assessment of the alerts' incidents (unusual flags, Radosavljevic indicators, cues).
    assessments: dict[str, dict] = field(default_factory=dict)
    source_kinds: Mapping[str, SourceKind] = field(default_factory=dict)
    #: the visibility scope the derived rows were read from (incidents/scopes.py)
    scope: str = ""

    @property
    def items(self) -> list[Item]:
        return [*self.alerts, *self.incidents, *self.reports, *self.notes]

    def notes_of(self, alert_id: str) -> list[Item]:
        return [n for n in self.notes if n.note.alert_id == alert_id]

    def scored_series(self, alert: Alert) -> list[SeriesPoint]:
        """The detector's series behind the alert's signal, up to the alert's week (empty without a signal)."""
        key = self.signal_series.get(alert.signal_id or "")
        return [p for p in self.series.get(key, []) if p.period_start <= alert.period_start] if key else []


def _row(row: Mapping) -> dict:
    """A database row as a dict, with datetimes made timezone-aware UTC (SQLite returns them naive)."""
    return {k: as_utc(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}


def _fields(model: type[BaseModel], row: Mapping) -> dict:
    """The row's values for the model's fields: columns added by later migrations are not the outputs' business."""
    fields = model.model_fields
    # NULL in a column the model gives a default (rows written before a migration): use the default.
    return {k: v for k, v in row.items() if k in fields and not (v is None and not fields[k].is_required())}


def _key(disease: str | None, country: str | None) -> Topic:
    return ((disease or "").casefold() or None, country or None)


def report_week(row: Mapping) -> dt.date | None:
    seen = row.get("observed_at") or row.get("published_at")
    return week_start(as_utc(seen)) if seen else None


def reading_scope(engine: Engine, audience: Audience, source_kinds: Mapping[str, SourceKind]) -> Scope:
    """The scope whose rows ``audience`` reads: the most visible scope it is cleared for that has rows.

    After ``refresh_derived`` that is the audience's own scope, or the narrower scope that sees the
    same reports (``incidents.scopes.canonical``); a narrower scope never shows more than the
    audience may see.
    """
    own = scope_for(audience.clearance, audience.law_enforcement)
    with engine.connect() as conn:
        present = present_classes(conn, intake_sources(source_kinds))
        target = canonical(own, present)
        if scope_has_rows(conn, target):
            return target
        within = [s for s in STANDARD_SCOPES if own.sees_all_of(s) and scope_has_rows(conn, s)]
    return within[-1] if within else target


def _select_in(conn: Connection, query: Select, column: ColumnElement, values: Iterable[Any]) -> list[dict]:
    return [_row(r) for r in select_in(conn, query, column, values)]


def load_output_data(
    engine: Engine,
    window: Window | None = None,
    *,
    source_kinds: Mapping[str, SourceKind] | None = None,
    health_at: dt.datetime | None = None,
    audience: Audience = INTERNAL,
    scope: Scope | None = None,
    community_org: str | None = None,
) -> OutputData:
    """Alerts with ``period_start`` in ``window`` (all when None), the incidents and reports behind them,
    read from the scope ``audience`` may see (``scope`` overrides it).

    Only what the listed alerts reference is read: their incidents and the reports of their
    disease and country in the weeks they cover, the incidents first seen in the window, their
    series and notes. Incidents are those first seen in the window, plus any behind an alert in the
    window. Source health is judged at ``health_at`` (default: the window's end; none without a window).
    """
    kinds = registered_source_kinds() if source_kinds is None else source_kinds
    community = configured_community_org() if community_org is None else community_org
    scope = scope or reading_scope(engine, audience, kinds)
    # every output is the community's, or an organisation's read of its own scope (API exports)
    viewer = scope.org or community
    with engine.connect() as conn:
        alert_q = select(alerts).where(alerts.c.scope == scope.key)
        if window is not None:
            alert_q = alert_q.where(
                alerts.c.period_start >= window.start.date(), alerts.c.period_start < window.end.date()
            )
        alert_rows = [_row(r) for r in conn.execute(alert_q.order_by(alerts.c.alert_id)).mappings()]
        alert_ids = [r["alert_id"] for r in alert_rows]
        # the reports behind each alert: its series' disease and country in the weeks it covers
        behind_links: dict[str, list[dict]] = {}
        for row in alert_rows:
            first = row["period_start"]
            last = max(first, row.get("last_period") or first)
            query = select(
                incident_reports.c.incident_id, incident_reports.c.report_id, incident_reports.c.period_start
            ).where(
                incident_reports.c.scope == scope.key,
                incident_reports.c.disease == row["disease"]
                if row["disease"] is not None
                else incident_reports.c.disease.is_(None),
                incident_reports.c.country_iso3 == row["country_iso3"]
                if row["country_iso3"] is not None
                else incident_reports.c.country_iso3.is_(None),
                incident_reports.c.period_start >= first,
                incident_reports.c.period_start <= last,
            )
            behind_links[row["alert_id"]] = [dict(r) for r in conn.execute(query).mappings()]
        incident_ids = {r["incident_id"] for r in alert_rows if r.get("incident_id")}
        incident_ids |= {link["incident_id"] for links in behind_links.values() for link in links}
        if window is not None:
            incident_ids |= set(
                conn.execute(
                    select(incidents.c.incident_id).where(
                        incidents.c.scope == scope.key,
                        incidents.c.first_seen_at >= window.start,
                        incidents.c.first_seen_at < window.end,
                    )
                ).scalars()
            )
            incident_rows = _select_in(conn, select(incidents), incidents.c.incident_id, incident_ids)
        else:
            incident_rows = [
                _row(r)
                for r in conn.execute(select(incidents).where(incidents.c.scope == scope.key)).mappings()
            ]
        incident_rows.sort(key=lambda r: r["incident_id"])
        link_q = select(incident_reports.c.incident_id, incident_reports.c.report_id)
        links = [
            (r["incident_id"], r["report_id"])
            for r in _select_in(
                conn, link_q, incident_reports.c.incident_id, [r["incident_id"] for r in incident_rows]
            )
        ]
        report_rows = {
            r["report_id"]: r
            for r in _select_in(conn, select(reports), reports.c.report_id, {rid for _, rid in links})
        }
        signal_ids = {r["signal_id"] for r in alert_rows if r.get("signal_id")}
        signal_cols = select(
            signals.c.signal_id,
            signals.c.series_key,
            signals.c.period_start,
            signals.c.observed,
            signals.c.expected,
            signals.c.upperbound,
            signals.c.alarm,
            signals.c.method,
        )
        series_of = {
            r["signal_id"]: r["series_key"]
            for r in _select_in(conn, signal_cols, signals.c.signal_id, signal_ids)
        }
        signal_rows = _select_in(
            conn, signal_cols.where(signals.c.scope == scope.key), signals.c.series_key, series_of.values()
        )
        signal_rows.sort(key=lambda s: (s["series_key"], s["period_start"], s["method"]))
        topic_weeks = _topic_weeks(conn, scope, alert_rows)
        event_rows = _select_in(
            conn, select(alert_events).where(alert_events.c.note != ""), alert_events.c.alert_id, alert_ids
        )
        event_rows.sort(key=lambda r: (r["at"], r["event_id"]))
        alert_incidents = {r["incident_id"] for r in alert_rows if r.get("incident_id")}
        assessments = {
            r["incident_id"]: r
            for r in _select_in(
                conn, select(incident_assessments), incident_assessments.c.incident_id, alert_incidents
            )
        }
        feedback_rows = _select_in(conn, select(alert_feedback), alert_feedback.c.alert_id, alert_ids)
        feedback_rows.sort(key=lambda r: (r["at"], r["feedback_id"]))

    def is_le(source: str) -> bool:
        return kinds.get(source) == SourceKind.LAW_ENFORCEMENT

    report_items: dict[str, Item] = {}
    by_url: dict[str, list[str]] = defaultdict(list)
    for rid in sorted(report_rows):
        record = Report.model_validate(_fields(Report, report_rows[rid]))
        report_items[rid] = Item(
            record=record,
            sources=frozenset({record.source}),
            law_enforcement=is_le(record.source),
            foreign=not originator_allows(viewer, report_rows[rid], community),
        )
        if record.url:
            by_url[record.url].append(rid)

    report_ids_of: dict[str, list[str]] = defaultdict(list)
    incidents_of_report: dict[str, list[str]] = defaultdict(list)
    for incident_id, report_id in links:
        report_ids_of[incident_id].append(report_id)
        incidents_of_report[report_id].append(incident_id)

    incident_items: dict[str, Item] = {}
    for row in incident_rows:
        rids = sorted(report_ids_of.get(row["incident_id"], []))
        incident_record = Incident.model_validate({**_fields(Incident, row), "report_ids": rids})
        members = [report_items[r] for r in rids if r in report_items]
        incident_items[incident_record.incident_id] = Item(
            record=incident_record,
            sources=frozenset(s for m in members for s in m.sources),
            law_enforcement=any(m.law_enforcement for m in members),
            inherited=most_restrictive(m.tlp for m in members),
            foreign=any(m.foreign for m in members),
        )

    alert_items: list[Item] = []
    wanted: set[str] = set()
    for row in alert_rows:
        alert_record = Alert.model_validate(_fields(Alert, row))
        behind_reports = [
            report_items[link["report_id"]]
            for link in behind_links[alert_record.alert_id]
            if link["report_id"] in report_items
        ]
        behind_reports += [report_items[r] for u in alert_record.source_urls for r in by_url.get(u, [])]
        behind = {
            link["incident_id"]: incident_items[link["incident_id"]]
            for link in behind_links[alert_record.alert_id]
            if link["incident_id"] in incident_items
        }
        for rep in behind_reports:
            behind.update(
                {
                    iid: incident_items[iid]
                    for iid in incidents_of_report.get(rep.key, [])
                    if iid in incident_items
                }
            )
        if alert_record.incident_id in incident_items:
            behind[alert_record.incident_id] = incident_items[alert_record.incident_id]
        origin = [*behind.values(), *behind_reports]
        alert_items.append(
            Item(
                record=alert_record,
                sources=frozenset(s for o in origin for s in o.sources),
                law_enforcement=any(o.law_enforcement for o in origin),
                inherited=most_restrictive(o.tlp for o in origin),
                foreign=any(o.foreign for o in origin),
            )
        )
        wanted |= set(behind)

    alert_by_id = {i.key: i for i in alert_items}
    notes = []
    for row in event_rows:
        notes.append(
            (
                row["at"],
                f"event:{row['event_id']}",
                row["alert_id"],
                row["actor"],
                row["note"],
                f"status {row['from_status']} -> {row['to_status']}",
            )
        )
    for row in feedback_rows:
        notes.append(
            (
                row["at"],
                f"feedback:{row['feedback_id']}",
                row["alert_id"],
                row["actor"],
                row["note"],
                f"feedback: {row['label']}",
            )
        )
    note_items = []
    for at, note_id, alert_id, actor, text, what in sorted(notes, key=lambda n: (n[0], n[1])):
        parent = alert_by_id[alert_id]
        noted = parent.alert
        note = AnalystNote(
            note_id=note_id,
            alert_id=alert_id,
            actor=actor,
            at=at,
            text=text,
            what=what,
            disease=noted.disease,
            country_iso3=noted.country_iso3,
        )
        # A note is as restricted as its alert (and everything behind it), and never below ANALYST_NOTE_TLP.
        note_items.append(
            Item(
                record=note,
                sources=parent.sources,
                law_enforcement=parent.law_enforcement,
                inherited=parent.tlp,
                foreign=parent.foreign,
            )
        )

    def in_window(item: Item) -> bool:
        seen = item.incident.first_seen_at
        return window is None or (seen is not None and as_utc(seen) in window)

    chosen = [i for k, i in incident_items.items() if k in wanted or in_window(i)]
    chosen_reports = sorted({r for i in chosen for r in i.incident.report_ids})

    series: dict[str, list[SeriesPoint]] = defaultdict(list)
    seen_weeks: set[tuple[str, dt.date]] = set()
    for s in signal_rows:
        if (s["series_key"], s["period_start"]) in seen_weeks:  # one method per week: the first by name
            continue
        seen_weeks.add((s["series_key"], s["period_start"]))
        series[s["series_key"]].append(
            SeriesPoint(s["period_start"], s["observed"], s["expected"], s["upperbound"], s["alarm"])
        )

    at = health_at or (window.end if window is not None else None)
    health = source_health_rows(engine, at, kinds) if at is not None else []
    return OutputData(
        alerts=alert_items,
        incidents=chosen,
        reports=[report_items[r] for r in chosen_reports if r in report_items],
        notes=note_items,
        series=dict(series),
        signal_series=series_of,
        report_weeks=_report_weeks(topic_weeks, is_le),
        health=health,
        assessments=assessments,
        source_kinds=kinds,
        scope=scope.key,
    )


def _topic_weeks(conn: Connection, scope: Scope, alert_rows: list[dict]) -> list[tuple[Any, ...]]:
    """Reports per (disease, country, week, marking, source) of the listed alerts' topics, every week
    up to the latest alert: what the digest's per-audience sparklines count, aggregated by the database."""
    topics: dict[tuple[Any, Any], dt.date] = {}
    for row in alert_rows:
        key = (row["disease"], row["country_iso3"])
        topics[key] = max(row["period_start"], topics.get(key, row["period_start"]))
    out: list[tuple[Any, ...]] = []
    n = func.count().label("n")
    for (disease, country), until in sorted(topics.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        query = (
            select(
                incident_reports.c.period_start,
                reports.c.disease,
                reports.c.country_iso3,
                reports.c.tlp,
                reports.c.source,
                n,
            )
            .join(reports, reports.c.report_id == incident_reports.c.report_id)
            .where(
                incident_reports.c.scope == scope.key,
                incident_reports.c.disease == disease
                if disease is not None
                else incident_reports.c.disease.is_(None),
                incident_reports.c.country_iso3 == country
                if country is not None
                else incident_reports.c.country_iso3.is_(None),
                incident_reports.c.period_start <= until,
            )
            .group_by(
                incident_reports.c.period_start,
                reports.c.disease,
                reports.c.country_iso3,
                reports.c.tlp,
                reports.c.source,
            )
        )
        out += [tuple(r) for r in conn.execute(query)]
    return out


def _report_weeks(
    rows: list[tuple[Any, ...]], is_le: Callable[[str], bool]
) -> dict[Topic, list[tuple[dt.date, Item]]]:
    """One entry per report (the same stand-in item repeated: only its marking and source matter)."""
    out: dict[Topic, list[tuple[dt.date, Item]]] = defaultdict(list)
    for week, disease, country, tlp, source, count in sorted(rows, key=lambda r: tuple(str(v) for v in r)):
        stand_in = Report.model_construct(
            report_id=f"{source}:*", source=source, disease=disease, country_iso3=country, tlp=Tlp(tlp)
        )
        item = Item(record=stand_in, sources=frozenset({source}), law_enforcement=is_le(source))
        out[_key(disease, country)].extend([(week, item)] * int(count))
    return dict(out)


def topic_of(alert: Alert) -> Topic:
    return _key(alert.disease, alert.country_iso3)


#: The digest's words for the operators' source states (``biotracker status``).
STATE_WORDS = {"ok": "fresh", "silent": "silent", "failing": "failing", "never fetched": "never fetched"}


def source_health_rows(engine: Engine, at: dt.datetime, kinds: Mapping[str, SourceKind]) -> list[dict]:
    """Per-source health as ``biotracker status`` judges it at ``at``, with the digest's state words."""
    from biotracker.ingest.health import source_statuses

    rows = []
    for st in source_statuses(engine, at):
        kind = kinds.get(st.source)
        rows.append(
            {
                "source": st.source,
                "title": st.title,
                "status": STATE_WORDS.get(st.state, st.state),
                "law_enforcement": st.kind == SourceKind.LAW_ENFORCEMENT.value
                or kind == SourceKind.LAW_ENFORCEMENT,
                "last_success_at": st.last_success_at,
                "last_failure_at": st.last_failure_at,
                "last_error": st.last_error,
                "items": st.items,
                "quarantined": st.quarantined,
            }
        )
    return rows
