"""Read what the outputs publish: alerts, incidents and reports with their origins, series and source health.

Origins matter for safety: each record is wrapped in an :class:`~biotracker.outputs.audience.Item`
that knows the connectors it came from, so the audience filter can hold back law-enforcement intake.
An alert's origin is every report of every incident in its series and week (the same grouping
``derive_alerts`` uses), so an alert never escapes the restrictions of any report behind it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from biotracker.db.tables import alerts, incident_reports, incidents, reports, signals, source_health
from biotracker.incidents.series import series_key, week_start
from biotracker.outputs.audience import Item, registered_source_kinds
from biotracker.schema import Alert, Incident, Report, SourceKind, Tlp, Window, as_utc, most_restrictive


@dataclass(frozen=True)
class SeriesPoint:
    period_start: dt.date
    observed: int
    expected: float | None = None
    upperbound: float | None = None
    alarm: bool | None = None


@dataclass
class OutputData:
    """Everything an output may draw on, before any audience filter."""

    alerts: list[Item] = field(default_factory=list)
    incidents: list[Item] = field(default_factory=list)
    reports: list[Item] = field(default_factory=list)
    #: Weekly scored series by series key ("disease|ISO3"), oldest first.
    series: dict[str, list[SeriesPoint]] = field(default_factory=dict)
    #: Incident items by series key and week, to recount series for audiences that may not see all.
    incidents_by_week: dict[tuple[str, dt.date], list[Item]] = field(default_factory=dict)
    health: list[dict] = field(default_factory=list)
    source_kinds: Mapping[str, SourceKind] = field(default_factory=dict)

    @property
    def items(self) -> list[Item]:
        return [*self.alerts, *self.incidents, *self.reports]


def alert_series_key(alert: Alert) -> str:
    """The series an alert belongs to (``derive_alerts`` builds it as disease|country)."""
    return series_key(alert.disease, alert.country_iso3)


def _row(row: Mapping) -> dict:
    """A database row as a dict, with datetimes made timezone-aware UTC (SQLite returns them naive)."""
    return {k: as_utc(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}


def load_output_data(
    engine: Engine,
    window: Window | None = None,
    *,
    source_kinds: Mapping[str, SourceKind] | None = None,
) -> OutputData:
    """Alerts with ``period_start`` in ``window`` (all when None), the incidents and reports behind them.

    Incidents are those first seen in the window, plus any an alert in the window points to.
    """
    kinds = registered_source_kinds() if source_kinds is None else source_kinds
    with engine.connect() as conn:
        alert_q = select(alerts)
        if window is not None:
            alert_q = alert_q.where(alerts.c.period_start >= window.start.date(),
                                    alerts.c.period_start < window.end.date())
        alert_rows = [_row(r) for r in conn.execute(alert_q.order_by(alerts.c.alert_id)).mappings()]
        incident_rows = [_row(r) for r in conn.execute(select(incidents).order_by(incidents.c.incident_id)).mappings()]
        links = conn.execute(select(incident_reports.c.incident_id, incident_reports.c.report_id)).all()
        report_rows = {r["report_id"]: _row(r) for r in conn.execute(select(reports)).mappings()}
        signal_rows = [_row(r) for r in conn.execute(
            select(signals.c.series_key, signals.c.period_start, signals.c.observed, signals.c.expected,
                   signals.c.upperbound, signals.c.alarm, signals.c.method)
            .order_by(signals.c.series_key, signals.c.period_start, signals.c.method)).mappings()]
        health = [_row(r) for r in conn.execute(select(source_health).order_by(source_health.c.source)).mappings()]

    report_ids_of: dict[str, list[str]] = defaultdict(list)
    for incident_id, report_id in links:
        report_ids_of[incident_id].append(report_id)

    def sources_of(incident_id: str) -> frozenset[str]:
        return frozenset(report_rows[r]["source"] for r in report_ids_of.get(incident_id, []) if r in report_rows)

    def le(sources: frozenset[str]) -> bool:
        return any(kinds.get(s) == SourceKind.LAW_ENFORCEMENT for s in sources)

    incident_items: dict[str, Item] = {}
    by_week: dict[tuple[str, dt.date], list[Item]] = defaultdict(list)
    for row in incident_rows:
        record = Incident.model_validate({**row, "report_ids": sorted(report_ids_of.get(row["incident_id"], []))})
        srcs = sources_of(record.incident_id)
        inherited = most_restrictive(Tlp(report_rows[r]["tlp"]) for r in record.report_ids if r in report_rows)
        item = Item(record=record, sources=srcs, law_enforcement=le(srcs), inherited=inherited)
        incident_items[record.incident_id] = item
        if record.first_seen_at is not None and record.disease:
            by_week[(series_key(record.disease, record.country_iso3), week_start(as_utc(record.first_seen_at)))].append(item)

    alert_items = []
    wanted_incidents: set[str] = set()
    for row in alert_rows:
        record = Alert.model_validate(row)
        members = by_week.get((alert_series_key(record), record.period_start), [])
        if record.incident_id and record.incident_id in incident_items:
            members = [*members, incident_items[record.incident_id]]
        srcs = frozenset(s for m in members for s in m.sources)
        # An alert is as restricted as the most restricted incident behind it.
        alert_items.append(Item(record=record, sources=srcs, inherited=most_restrictive(m.tlp for m in members),
                                law_enforcement=le(srcs) or any(m.law_enforcement for m in members)))
        wanted_incidents |= {m.key for m in members}

    def in_window(item: Item) -> bool:
        seen = item.record.first_seen_at  # type: ignore[union-attr]
        return window is None or (seen is not None and as_utc(seen) in window)

    chosen = [i for k, i in incident_items.items() if k in wanted_incidents or in_window(i)]
    chosen_reports = sorted({r for i in chosen for r in i.record.report_ids})  # type: ignore[union-attr]
    report_items = []
    for rid in chosen_reports:
        if rid not in report_rows:
            continue
        row = dict(report_rows[rid])
        row.pop("report_id", None)
        record = Report.model_validate(row)
        report_items.append(Item(record=record, sources=frozenset({record.source}),
                                 law_enforcement=kinds.get(record.source) == SourceKind.LAW_ENFORCEMENT))

    series: dict[str, list[SeriesPoint]] = defaultdict(list)
    seen_weeks: set[tuple[str, dt.date]] = set()
    for s in signal_rows:  # one method per week: the first by name
        if (s["series_key"], s["period_start"]) in seen_weeks:
            continue
        seen_weeks.add((s["series_key"], s["period_start"]))
        series[s["series_key"]].append(SeriesPoint(s["period_start"], s["observed"], s["expected"], s["upperbound"], s["alarm"]))
    return OutputData(alerts=alert_items, incidents=chosen, reports=report_items, series=dict(series),
                      incidents_by_week=dict(by_week), health=health, source_kinds=kinds)
