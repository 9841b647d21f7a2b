"""The law-enforcement lens over incidents (``assess_incidents``): agent flags, unusualness flags,
intent and accident cues, and the Radosavljević & Belojević indicator score — each with evidence.

Everything here is computed from the store (reports, their extraction evidence and cues, signals)
and the risk data files; results go to ``incident_assessments`` (one row per incident, upserted).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select

from biotracker.db.batches import in_batches
from biotracker.db.tables import incident_assessments, incident_reports, incidents, signals
from biotracker.db.upsert import upsert
from biotracker.incidents.build import first_week
from biotracker.incidents.changes import Changes
from biotracker.incidents.scopes import INTERNAL, Scope
from biotracker.incidents.series_counts import (
    countries_per_week,
    country_month_totals,
    country_weeks,
    disease_counts,
    hosts_before,
    last_weeks_before,
)
from biotracker.schema import Window
from biotracker.scoring.incident_members import CountedMembers, agents_and_cues, counted_members
from biotracker.scoring.risk.agents import Agent, AgentTable, load_agents
from biotracker.scoring.risk.indicators import IncidentFeatures, assess_radosavljevic
from biotracker.scoring.unusual import (
    Before,
    Flag,
    History,
    IncidentFacts,
    UnusualConfig,
    meaningful_flags,
    needs_every_earlier_week,
    unusual_flags,
)

log = logging.getLogger(__name__)


class StaleCounts(RuntimeError):
    """The derived weekly counts disagree with each other (a store changed outside the chain)."""


CFR_MIN_CASES = UnusualConfig().cfr_min_cases
CUE_INDICATORS = {
    "laboratory": "laboratory_link",
    "lab_acquired_infection": "laboratory_link",
    "escape_release": "laboratory_link",
    "theft_diversion": "theft_or_loss",
    "smuggling_seizure": "theft_or_loss",
    "claim_threat": "threat",
}


@dataclass
class LensSummary:
    incidents: int = 0
    with_agent: int = 0
    flagged: int = 0
    with_cues: int = 0
    #: the changes passed in, plus the series weeks of every incident assessed (for ``derive_alerts``)
    changes: Changes | None = None

    def summary(self) -> dict[str, object]:
        # not asdict(): it would deep-copy the changes only to drop them
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "changes"}
        return out | {"changes": self.changes.summary() if self.changes else None}


@cache
def load_endemicity() -> dict[str, set[str]]:
    text = (
        resources.files("biotracker.scoring.risk").joinpath("data/endemicity.csv").read_text(encoding="utf-8")
    )
    rows = csv.DictReader(
        io.StringIO("".join(line for line in text.splitlines(True) if not line.startswith("#")))
    )
    return {r["agent_key"]: {c for c in r["endemic_iso3"].split("|") if c} for r in rows}


def agent_flags(agent: Agent | None) -> dict[str, Any]:
    if agent is None:
        return {}
    return {
        "select_agent": agent.select_agent.value if agent.select_agent else None,
        "tier1": bool(agent.tier1),
        "cdc_category": agent.cdc_category.value if agent.cdc_category else None,
        "australia_group": bool(agent.australia_group),
        "woah_listed": bool(agent.woah_listed),
        "who_priority": bool(agent.who_priority),
        "ihr_always_notifiable": bool(agent.ihr_always_notifiable),
        "eradicated": agent.eradicated,
    }


def _incidents_to_assess(
    conn: Connection, scope: Scope, window: Window | None, changes: Changes | None
) -> set[str] | None:
    """Incident ids to (re-)assess; None means every incident of the scope.

    With ``changes``: the changed incidents, and every incident with a counted report of a disease
    whose counts changed, from that disease's earliest changed week on (their as-of history, and
    the signals of their series, may have changed; earlier weeks' answers cannot).
    """
    if changes is not None and changes.full:
        return None
    if changes is None:
        if window is None:
            return None
        query = select(incidents.c.incident_id).where(
            incidents.c.scope == scope.key,
            incidents.c.first_seen_at >= window.start,
            incidents.c.first_seen_at < window.end,
        )
        return set(conn.execute(query).scalars())
    wanted = set(changes.incident_ids)
    for disease, since in changes.disease_since().items():
        query = select(incident_reports.c.incident_id).where(
            incident_reports.c.scope == scope.key,
            incident_reports.c.disease == disease
            if disease is not None
            else incident_reports.c.disease.is_(None),
            incident_reports.c.period_start >= since,
            incident_reports.c.duplicate_of.is_(None),
        )
        wanted.update(conn.execute(query.distinct()).scalars())
    return wanted


def _reusable(
    conn: Connection, wanted: set[str] | None, changes: Changes | None
) -> dict[str, dict[str, Any]]:
    """Assessments whose incident and reports did not change: only their history-dependent flags
    can differ, so their agent and cues are kept and their reports' evidence is not read again."""
    if wanted is None or changes is None:
        return {}
    cols = (
        incident_assessments.c.incident_id,
        incident_assessments.c.agent_key,
        incident_assessments.c.agent_id,
        incident_assessments.c.cues,
    )
    out: dict[str, dict[str, Any]] = {}
    for ids in in_batches(sorted(wanted - changes.incident_ids)):
        for row in conn.execute(select(*cols).where(incident_assessments.c.incident_id.in_(ids))).mappings():
            if row["agent_key"] is None or row["agent_id"] is not None:
                out[row["incident_id"]] = dict(row)
    return out


def load_history(
    conn: Connection,
    scope: Scope,
    diseases: Collection[Any],
    *,
    from_week: dt.date | None = None,
    asked: Collection[tuple[Any, Any, dt.date]] = (),
    hosts_only: bool = False,
) -> History:
    """Weekly counts (and case fatality ratios) of ``diseases`` in the scope: the lens's history.

    The weekly counts come from ``series_counts`` summed by country and by host, so their size is
    countries (or hosts) x weeks of the diseases assessed, not their reports; the fatality ratios
    from the links with enough cases, by index range. ``hosts_only`` reads the hosts alone (what
    the alerts stage asks: which hosts are usual for a disease).

    With ``from_week`` the history answers for weeks from it on (a daily run assesses the last
    few) and the weeks before are read summed (:class:`Before`): rows per country x month instead
    of per week. ``asked`` are the (disease, country, week) an incident will be judged by: a series
    back after a silence gets every earlier week read, for its usual gap (``reemergence``).
    """
    ordered = sorted(diseases, key=lambda d: (d is None, d or ""))  # None (unknown) last
    by_country: list[tuple[Any, Any, dt.date, int]] = []
    by_host: list[tuple[Any, Any, dt.date, int]] = []
    fatality: list[tuple[Any, dt.date, float]] = []
    before = Before(from_week) if from_week is not None else None
    asked_countries: dict[Any, set[str]] = defaultdict(set)
    for disease, country, _ in asked:
        if country:
            asked_countries[disease].add(country)
    for disease in ordered:
        countries, hosts = disease_counts(
            conn, scope.key, disease, by_country=not hosts_only, since=from_week
        )
        by_country += [(disease, c, w, n) for c, w, n in countries]
        by_host += [(disease, h, w, n) for h, w, n in hosts]
        if before is not None:
            _read_before(
                conn, scope, disease, before, countries, asked_countries[disease], hosts_only=hosts_only
            )
        if not hosts_only:
            fatality += _fatality_ratios(conn, scope, disease)
    start = first_week(conn, scope.key)
    if hosts_only:
        return History.from_aggregates(start, [], by_host, before=before)
    history = History.from_aggregates(
        start, by_country, by_host, fatality, _source_starts(conn, scope), before=before
    )
    if before is not None:  # series back after a silence: every earlier week, for their usual gap
        wanted: dict[Any, set[str]] = defaultdict(set)
        for disease, country, week in asked:
            if (disease, country) in history.truncated and needs_every_earlier_week(
                disease, country, week, history
            ):
                wanted[disease].add(country)
        for disease, names in wanted.items():
            for country, weeks in country_weeks(conn, scope.key, disease, names, before.week).items():
                history.complete_weeks(disease, country, weeks)
    return history


def _read_before(
    conn: Connection,
    scope: Scope,
    disease: Any,
    before: Before,
    recent: list[tuple[str, dt.date, int]],
    asked: set[str],
    *,
    hosts_only: bool,
) -> None:
    """Add to ``before`` what ``disease``'s weeks before ``before.week`` hold, summed: its hosts'
    totals, and unless ``hosts_only`` each country's months (every week's total less ``recent``,
    the weeks read), the last earlier week of the countries ``asked`` about and the number of
    countries of every week."""
    before.hosts[disease] = hosts_before(conn, scope.key, disease, before.week)
    if hosts_only:
        return
    totals = country_month_totals(conn, scope.key, disease)
    for country, week, n in recent:
        if country not in totals:
            raise StaleCounts(
                f"{disease} in {country} has weekly counts but no country_months row in scope {scope.key}: "
                "run `biotracker rebuild` to recompute the derived tables"
            )
        totals[country][week.month - 1] -= n
    summed = {country for country, row in totals.items() if any(row)}
    before.months.update({(disease, country): totals[country] for country in summed})
    for country, week in last_weeks_before(conn, scope.key, disease, summed & asked, before.week).items():
        before.last[(disease, country)] = week
    weekly = countries_per_week(conn, scope.key, disease)
    before.country_count.update({(disease, w): k for w, k in weekly.items()})


def _fatality_ratios(conn: Connection, scope: Scope, disease: Any) -> list[tuple[Any, dt.date, float]]:
    """(disease, week, deaths / cases) of the counted reports of ``disease`` with enough cases."""
    links = incident_reports.c
    query = select(links.disease, links.period_start, links.cases, links.deaths).where(
        links.scope == scope.key,
        # not NULL: SQLite reads an unknown disease's ratios from the fatality index with this, but
        # walked every link of the scope by period with a range here (0.3 s a scope at 1M links)
        links.period_start.is_not(None),
        links.duplicate_of.is_(None),
        links.disease == disease if disease is not None else links.disease.is_(None),
        links.cases >= CFR_MIN_CASES,
        links.deaths.is_not(None),
    )
    return [(d, w, deaths / cases) for d, w, cases, deaths in conn.execute(query)]


def _source_starts(conn: Connection, scope: Scope) -> dict[str, dt.date]:
    """First counted week of each source in the scope: index probes on (scope, source, period_start),
    two per source, so the cost does not grow with the stored history (a skip scan over the sources,
    then each source's earliest week)."""
    links = incident_reports.c
    out: dict[str, dt.date] = {}
    source: str | None = ""
    while True:
        source = conn.execute(
            select(func.min(links.source)).where(links.scope == scope.key, links.source > source)
        ).scalar()
        if source is None:
            return out
        week = conn.execute(
            select(func.min(links.period_start)).where(
                links.scope == scope.key, links.source == source, links.period_start.is_not(None)
            )
        ).scalar()
        if week is not None:
            out[source] = week


def assess_incidents(
    engine: Engine,
    window: Window | None = None,
    *,
    scope: Scope = INTERNAL,
    changes: Changes | None = None,
) -> LensSummary:
    """Assess the scope's incidents: those ``changes`` can affect (see ``_incidents_to_assess``),
    else those first seen in ``window``, else all.

    ``summary.changes`` adds the series weeks of every incident assessed, for ``derive_alerts``.
    """
    summary = LensSummary()
    table = load_agents()
    with engine.connect() as conn:
        wanted = _incidents_to_assess(conn, scope, window, changes)
        if wanted is not None and not wanted:
            summary.changes = changes
            return summary
        reuse = _reusable(conn, wanted, changes)
        members = counted_members(conn, scope, wanted)
        evidence = agents_and_cues(conn, scope, {i: c for i, c in members.items() if i not in reuse}, table)
        for incident_id, stored in reuse.items():  # unchanged: agent and cues as assessed before
            agent = table.by_agent_id(stored["agent_id"]) if stored["agent_id"] else None
            evidence[incident_id] = (agent, list(stored["cues"] or []))
        # what the flags ask: each incident's first series week; a run that assesses a few
        # recent weeks reads the earlier ones summed (``load_history``)
        asked = {(c.disease, c.country, c.week) for c in members.values() if c.week is not None and c.disease}
        history = load_history(
            conn,
            scope,
            {c.disease for c in members.values()},
            from_week=min((w for _, _, w in asked), default=None) if wanted is not None else None,
            asked=asked,
        )
        alarm_keys = sorted({c.series_key for c in members.values()})
        alarms: dict[tuple[str, dt.date], dict[str, Any]] = {}
        signal_cols = (
            signals.c.series_key,
            signals.c.period_start,
            signals.c.method,
            signals.c.observed,
            signals.c.upperbound,
        )
        for keys in in_batches(alarm_keys):
            query = (
                select(*signal_cols)
                .where(
                    signals.c.scope == scope.key, signals.c.alarm.is_(True), signals.c.series_key.in_(keys)
                )
                .order_by(signals.c.series_key, signals.c.period_start, signals.c.method)
            )
            for s in conn.execute(query):
                alarms.setdefault((s.series_key, s.period_start), dict(s._mapping))
    rows = []
    weeks: set[tuple[str, dt.date]] = set()
    for incident_id in sorted(members):
        counted = members[incident_id]
        agent, cues = evidence[incident_id]
        rows.append(
            _assess(incident_id, counted, agent, cues, table, history, alarms, summary) | {"scope": scope.key}
        )
        weeks.update(counted.weeks)
    with engine.begin() as conn:
        if wanted is None:
            conn.execute(delete(incident_assessments).where(incident_assessments.c.scope == scope.key))
        elif changes is not None and changes.removed_incident_ids:
            for ids in in_batches(sorted(changes.removed_incident_ids)):
                conn.execute(delete(incident_assessments).where(incident_assessments.c.incident_id.in_(ids)))
        upsert(conn, incident_assessments, rows)
    summary.incidents = len(rows)
    base = changes or Changes(scope.key, full=wanted is None)
    summary.changes = base.with_series_weeks(weeks)
    log.info("lens [%s]: %s", scope, summary.summary())
    return summary


def _assess(
    incident_id: str,
    counted: CountedMembers,
    agent: Agent | None,
    cues: list[dict[str, Any]],
    table: AgentTable,
    history: History,
    alarms: Mapping[tuple[str, dt.date], dict[str, Any]],
    summary: LensSummary,
) -> dict[str, Any]:
    """One incident's assessment row. Its facts come from its earliest counted member (ties by
    report id), so SQLite and PostgreSQL agree whatever order rows come back in."""
    cases, deaths = counted.cases, counted.deaths
    week, key, disease = counted.week, counted.series_key, counted.disease
    cfr_norm: dict[str, float] = {}
    if week is not None and disease:
        usual = history.usual_fatality(disease, week)
        cfr_norm = {disease: usual} if usual is not None else {}
    flags: list[dict[str, str]] = []
    if week is not None and disease:
        incident = IncidentFacts(
            disease,
            counted.country,
            counted.host,
            week,
            cases,
            deaths,
            agent,
            alarms.get((key, week)),
            tuple(sorted(counted.sources)),
        )
        endemic = load_endemicity().get(agent.key) if agent else None
        found = unusual_flags(incident, history, endemic, cfr_norm.get(disease))
        flags = [f.as_dict() for f in found]
    names = {f["flag"] for f in flags}
    cue_kinds = {c["category"] for c in cues}
    features = IncidentFeatures(
        agent=agent.key if agent else None,
        host=counted.host,
        cases=cases,
        deaths=deaths,
        expected_cfr=cfr_norm.get(disease) if disease else None,
        **{
            name.value: (name.value in names)
            for name in (
                Flag.UNUSUAL_HOST,
                Flag.STATISTICAL_ALARM,
                Flag.HIGH_CFR,
                Flag.NON_ENDEMIC,
                Flag.ERADICATED_AGENT,
                Flag.MULTIPLE_SIMULTANEOUS,
                Flag.FIRST_OCCURRENCE,
                Flag.OUT_OF_SEASON,
            )
        },
        **{field: True for kind, field in CUE_INDICATORS.items() if kind in cue_kinds},
    )
    assessment = assess_radosavljevic(features, table)
    flags_for_agent = agent_flags(agent)
    summary.with_agent += agent is not None
    summary.flagged += bool(meaningful_flags(names))
    summary.with_cues += bool(cues)
    return {
        "incident_id": incident_id,
        "agent_key": agent.key if agent else None,
        "agent_id": agent.agent_id if agent else None,
        "agent_name": agent.name if agent else None,
        "agent_flags": flags_for_agent,
        "unusual": flags,
        "cues": cues,
        "indicator_total": assessment.total,
        "verdict": assessment.verdict.value,
        "indicators": [
            {"number": r.number, "indicator": r.indicator, "evidence": r.evidence} for r in assessment.fired()
        ],
        "rule_score": rule_score(flags_for_agent, flags, cues, assessment.total),
    }


def rule_score(
    flags: dict[str, Any], unusual: list[dict[str, str]], cues: list[dict], indicators: int
) -> float:
    """Law-enforcement relevance before any analyst feedback: controlled agents, oddities, intent cues."""
    score = 0.0
    score += 3.0 if flags.get("tier1") else 2.0 if flags.get("select_agent") else 0.0
    score += {"A": 2.0, "B": 1.0, "C": 0.5}.get(flags.get("cdc_category") or "", 0.0)
    score += 0.5 if flags.get("australia_group") else 0.0
    score += 1.0 * len(meaningful_flags(f["flag"] for f in unusual))
    score += 1.5 * len({c["category"] for c in cues})
    score += 0.5 * indicators
    return round(score, 3)
