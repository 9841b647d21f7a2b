"""Read what the outputs publish: alerts, incidents and reports with their origins, series and source health.

Origins matter for safety: each record is wrapped in an :class:`~biotracker.outputs.audience.Item`
that knows the connectors it came from and the markings of what it was built from, so the audience
filter can hold back law-enforcement intake and never let a record escape the restrictions of what
is behind it. An alert's origin is deliberately wide (a superset of what the alert rules used, so
that it stays right when the rules change): its incident, every incident holding one of its source
links, and every incident and report of its disease and country in the weeks it covers.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

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
from biotracker.incidents.series import week_start
from biotracker.outputs.audience import AnalystNote, Item, registered_source_kinds
from biotracker.schema import Alert, Incident, Report, SourceKind, Window, as_utc, most_restrictive


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
    #: Every report (all times) by (disease, country): its week and item, to count series per audience.
    report_weeks: dict[Topic, list[tuple[dt.date, Item]]] = field(default_factory=dict)
    health: list[dict] = field(default_factory=list)
    #: Risk-lens assessment of the alerts' incidents (unusual flags, Radosavljevic indicators, cues).
    assessments: dict[str, dict] = field(default_factory=dict)
    source_kinds: Mapping[str, SourceKind] = field(default_factory=dict)

    @property
    def items(self) -> list[Item]:
        return [*self.alerts, *self.incidents, *self.reports, *self.notes]

    def notes_of(self, alert_id: str) -> list[Item]:
        return [n for n in self.notes if n.record.alert_id == alert_id]  # type: ignore[union-attr]

    def scored_series(self, alert: Alert) -> list[SeriesPoint]:
        """The detector's series behind the alert's signal, up to the alert's week (empty without a signal)."""
        key = self.signal_series.get(alert.signal_id or "")
        return [p for p in self.series.get(key, []) if p.period_start <= alert.period_start] if key else []


def _row(row: Mapping) -> dict:
    """A database row as a dict, with datetimes made timezone-aware UTC (SQLite returns them naive)."""
    return {k: as_utc(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}


def _fields(model: type, row: Mapping) -> dict:
    """The row's values for the model's fields: columns added by later migrations are not the outputs' business."""
    fields = model.model_fields  # type: ignore[attr-defined]
    # NULL in a column the model gives a default (rows written before a migration): use the default.
    return {k: v for k, v in row.items() if k in fields and not (v is None and not fields[k].is_required())}


def _key(disease: str | None, country: str | None) -> Topic:
    return ((disease or "").casefold() or None, country or None)


def report_week(row: Mapping) -> dt.date | None:
    seen = row.get("observed_at") or row.get("published_at")
    return week_start(as_utc(seen)) if seen else None


def load_output_data(
    engine: Engine,
    window: Window | None = None,
    *,
    source_kinds: Mapping[str, SourceKind] | None = None,
    health_at: dt.datetime | None = None,
) -> OutputData:
    """Alerts with ``period_start`` in ``window`` (all when None), the incidents and reports behind them.

    Incidents are those first seen in the window, plus any behind an alert in the window. Source
    health is judged at ``health_at`` (default: the window's end; none without a window).
    """
    kinds = registered_source_kinds() if source_kinds is None else source_kinds
    with engine.connect() as conn:
        alert_q = select(alerts)
        if window is not None:
            alert_q = alert_q.where(
                alerts.c.period_start >= window.start.date(), alerts.c.period_start < window.end.date()
            )
        alert_rows = [_row(r) for r in conn.execute(alert_q.order_by(alerts.c.alert_id)).mappings()]
        incident_rows = [
            _row(r) for r in conn.execute(select(incidents).order_by(incidents.c.incident_id)).mappings()
        ]
        links = conn.execute(select(incident_reports.c.incident_id, incident_reports.c.report_id)).all()
        report_rows = {r["report_id"]: _row(r) for r in conn.execute(select(reports)).mappings()}
        signal_rows = [
            _row(r)
            for r in conn.execute(
                select(
                    signals.c.signal_id,
                    signals.c.series_key,
                    signals.c.period_start,
                    signals.c.observed,
                    signals.c.expected,
                    signals.c.upperbound,
                    signals.c.alarm,
                    signals.c.method,
                ).order_by(signals.c.series_key, signals.c.period_start, signals.c.method)
            ).mappings()
        ]
        alert_ids = [r["alert_id"] for r in alert_rows]
        event_rows = (
            [
                _row(r)
                for r in conn.execute(
                    select(alert_events)
                    .where(alert_events.c.alert_id.in_(alert_ids), alert_events.c.note != "")
                    .order_by(alert_events.c.at, alert_events.c.event_id)
                ).mappings()
            ]
            if alert_ids
            else []
        )
        alert_incidents = sorted({r["incident_id"] for r in alert_rows if r.get("incident_id")})
        assessments = {
            r["incident_id"]: _row(r)
            for r in conn.execute(
                select(incident_assessments).where(incident_assessments.c.incident_id.in_(alert_incidents))
            ).mappings()
        }
        feedback_rows = (
            [
                _row(r)
                for r in conn.execute(
                    select(alert_feedback)
                    .where(alert_feedback.c.alert_id.in_(alert_ids))
                    .order_by(alert_feedback.c.at, alert_feedback.c.feedback_id)
                ).mappings()
            ]
            if alert_ids
            else []
        )

    def is_le(source: str) -> bool:
        return kinds.get(source) == SourceKind.LAW_ENFORCEMENT

    report_items: dict[str, Item] = {}
    report_weeks: dict[Topic, list[tuple[dt.date, Item]]] = defaultdict(list)
    by_url: dict[str, list[str]] = defaultdict(list)
    for rid, row in report_rows.items():
        record = Report.model_validate(_fields(Report, row))
        item = Item(record=record, sources=frozenset({record.source}), law_enforcement=is_le(record.source))
        report_items[rid] = item
        week = report_week(row)
        if week is not None:
            report_weeks[_key(record.disease, record.country_iso3)].append((week, item))
        if record.url:
            by_url[record.url].append(rid)

    report_ids_of: dict[str, list[str]] = defaultdict(list)
    incidents_of_report: dict[str, list[str]] = defaultdict(list)
    for incident_id, report_id in links:
        report_ids_of[incident_id].append(report_id)
        incidents_of_report[report_id].append(incident_id)

    incident_items: dict[str, Item] = {}
    incidents_by_topic: dict[Topic, list[tuple[dt.date, Item]]] = defaultdict(list)
    for row in incident_rows:
        rids = sorted(report_ids_of.get(row["incident_id"], []))
        record = Incident.model_validate({**_fields(Incident, row), "report_ids": rids})
        members = [report_items[r] for r in rids if r in report_items]
        item = Item(
            record=record,
            sources=frozenset(s for m in members for s in m.sources),
            law_enforcement=any(m.law_enforcement for m in members),
            inherited=most_restrictive(m.tlp for m in members),
        )
        incident_items[record.incident_id] = item
        if record.first_seen_at is not None:
            incidents_by_topic[_key(record.disease, record.country_iso3)].append(
                (week_start(as_utc(record.first_seen_at)), item)
            )

    alert_items: list[Item] = []
    wanted: set[str] = set()
    for row in alert_rows:
        record = Alert.model_validate(_fields(Alert, row))
        first, last = (
            record.period_start,
            max(record.period_start, row.get("last_period") or record.period_start),
        )
        topic = _key(record.disease, record.country_iso3)
        behind_reports = [i for w, i in report_weeks.get(topic, []) if first <= w <= last]
        behind_reports += [report_items[r] for u in record.source_urls for r in by_url.get(u, [])]
        behind = {i.key: i for w, i in incidents_by_topic.get(topic, []) if first <= w <= last}
        for rep in behind_reports:
            behind.update({iid: incident_items[iid] for iid in incidents_of_report.get(rep.key, [])})
        if record.incident_id in incident_items:
            behind[record.incident_id] = incident_items[record.incident_id]
        origin = [*behind.values(), *behind_reports]
        alert_items.append(
            Item(
                record=record,
                sources=frozenset(s for o in origin for s in o.sources),
                law_enforcement=any(o.law_enforcement for o in origin),
                inherited=most_restrictive(o.tlp for o in origin),
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
        alert_record: Alert = parent.record  # type: ignore[assignment]
        note = AnalystNote(
            note_id=note_id,
            alert_id=alert_id,
            actor=actor,
            at=at,
            text=text,
            what=what,
            disease=alert_record.disease,
            country_iso3=alert_record.country_iso3,
        )
        # A note is as restricted as its alert (and everything behind it), and never below ANALYST_NOTE_TLP.
        note_items.append(
            Item(
                record=note,
                sources=parent.sources,
                law_enforcement=parent.law_enforcement,
                inherited=parent.tlp,
            )
        )

    def in_window(item: Item) -> bool:
        seen = item.record.first_seen_at  # type: ignore[union-attr]
        return window is None or (seen is not None and as_utc(seen) in window)

    chosen = [i for k, i in incident_items.items() if k in wanted or in_window(i)]
    chosen_reports = sorted({r for i in chosen for r in i.record.report_ids})  # type: ignore[union-attr]

    series: dict[str, list[SeriesPoint]] = defaultdict(list)
    signal_series: dict[str, str] = {}
    seen_weeks: set[tuple[str, dt.date]] = set()
    for s in signal_rows:
        signal_series[s["signal_id"]] = s["series_key"]
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
        signal_series=signal_series,
        report_weeks=dict(report_weeks),
        health=health,
        assessments=assessments,
        source_kinds=kinds,
    )


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
