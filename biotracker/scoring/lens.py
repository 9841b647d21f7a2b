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
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from biotracker.db.tables import incident_assessments, incident_reports, incidents, reports, signals
from biotracker.db.upsert import upsert
from biotracker.incidents.series import load_incident_frame
from biotracker.schema import Window
from biotracker.scoring.risk.agents import Agent, AgentTable, load_agents
from biotracker.scoring.risk.indicators import IncidentFeatures, assess_radosavljevic

log = logging.getLogger(__name__)

NOVELTY_WEEKS = 52
SEASON_MIN_YEARS = 3
SEASON_MIN_REPORTS = 10
HOST_MIN_REPORTS = 20
SIMULTANEOUS_COUNTRIES = 3
CFR_MIN_CASES = 5
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

    def summary(self) -> dict[str, int]:
        return asdict(self)


@cache
def load_endemicity() -> dict[str, set[str]]:
    text = (
        resources.files("biotracker.scoring.risk").joinpath("data/endemicity.csv").read_text(encoding="utf-8")
    )
    rows = csv.DictReader(
        io.StringIO("".join(line for line in text.splitlines(True) if not line.startswith("#")))
    )
    return {r["agent_key"]: {c for c in r["endemic_iso3"].split("|") if c} for r in rows}


def resolve_agent(
    table: AgentTable, extraction: dict[str, Any] | None, disease: str | None, pathogen: str | None
) -> Agent | None:
    """The agents-table row for a report: by extracted agent id, else by pathogen or disease name."""
    for finding in (extraction or {}).get("diseases", []):
        if finding.get("agent_id"):
            agent = table.by_agent_id(finding["agent_id"])
            if agent is not None:
                return agent
    for name in (pathogen, disease):
        if isinstance(name, str) and name:
            agent = table.get(name)
            if agent is not None:
                return agent
    return None


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


def _history(frame: pd.DataFrame) -> dict[str, Any]:
    """Lookups over all counted reports that the unusualness flags compare against."""
    by_dc: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    months: dict[tuple[str, str], Counter] = defaultdict(Counter)
    hosts: dict[str, Counter] = defaultdict(Counter)
    countries_week: dict[tuple[str, dt.date], set[str]] = defaultdict(set)
    for row in frame.itertuples(index=False):
        if row.country_iso3:
            by_dc[(row.disease, row.country_iso3)].append(row.period_start)
            months[(row.disease, row.country_iso3)][row.period_start.month] += 1
            countries_week[(row.disease, row.period_start)].add(row.country_iso3)
        hosts[row.disease][row.host or "*"] += 1
    start = min(frame["period_start"]) if not frame.empty else None
    return {
        "by_dc": {k: sorted(v) for k, v in by_dc.items()},
        "months": months,
        "hosts": hosts,
        "countries_week": countries_week,
        "start": start,
    }


def unusual_flags(
    disease: str,
    country: str | None,
    host: str | None,
    week: dt.date,
    cases: int | None,
    deaths: int | None,
    agent: Agent | None,
    alarm: dict | None,
    history: dict[str, Any],
    cfr_norm: dict[str, float],
) -> list[dict[str, str]]:
    """Each unusualness flag that holds for this incident, with the evidence in words."""
    flags: list[dict[str, str]] = []
    if country:
        earlier = [w for w in history["by_dc"].get((disease, country), []) if w < week]
        if history["start"] and (week - history["start"]).days > 7 * NOVELTY_WEEKS:
            if not earlier:
                flags.append(
                    {
                        "flag": "first_occurrence",
                        "evidence": f"no earlier report of {disease} in {country} since the data begin ({history['start']})",
                    }
                )
            elif (week - earlier[-1]).days > 7 * NOVELTY_WEEKS:
                flags.append(
                    {
                        "flag": "first_occurrence",
                        "evidence": f"first report of {disease} in {country} after a gap: previous in the week of {earlier[-1]}",
                    }
                )
        span_years = (week - history["start"]).days / 365.25 if history["start"] else 0
        months = history["months"].get((disease, country), Counter())
        total = sum(months.values())
        if span_years >= SEASON_MIN_YEARS and total >= SEASON_MIN_REPORTS:
            near = sum(months[((week.month - 1 + d) % 12) + 1] for d in (-1, 0, 1))
            if near / total < 0.05:
                flags.append(
                    {
                        "flag": "out_of_season",
                        "evidence": f"only {near} of {total} earlier reports of {disease} in {country} fell within a month of "
                        f"{week.strftime('%B')}",
                    }
                )
        endemic = load_endemicity().get(agent.key) if agent else None
        if endemic is not None and country not in endemic:
            flags.append(
                {
                    "flag": "non_endemic",
                    "evidence": f"{agent.name} is not endemic in {country} (endemicity table: "
                    f"{', '.join(sorted(endemic)) or 'no country'})",
                }
            )
    hosts = history["hosts"].get(disease, Counter())
    if host and sum(hosts.values()) >= HOST_MIN_REPORTS and hosts[host] <= 1:
        usual = ", ".join(h for h, _ in hosts.most_common(3))
        flags.append(
            {
                "flag": "unusual_host",
                "evidence": f"{disease} in {host}: first time in {sum(hosts.values())} reports (usual hosts: {usual})",
            }
        )
    if agent is not None and agent.eradicated:
        flags.append({"flag": "eradicated_agent", "evidence": f"{agent.name} is eradicated worldwide"})
    if alarm:
        flags.append(
            {
                "flag": "statistical_alarm",
                "evidence": f"{alarm['method']}: {alarm['observed']} this week above the upper bound {alarm['upperbound']:.2f}",
            }
        )
    elsewhere = history["countries_week"].get((disease, week), set())
    if len(elsewhere) >= SIMULTANEOUS_COUNTRIES:
        flags.append(
            {
                "flag": "multiple_simultaneous",
                "evidence": f"{disease} reported in {len(elsewhere)} countries the same week: {', '.join(sorted(elsewhere)[:8])}",
            }
        )
    norm = cfr_norm.get(disease)
    if norm is not None and cases and cases >= CFR_MIN_CASES and deaths is not None:
        cfr = deaths / cases
        if cfr > max(2 * norm, norm + 0.1):
            flags.append(
                {
                    "flag": "high_cfr",
                    "evidence": f"case fatality {cfr:.0%} ({deaths}/{cases}) against a usual {norm:.0%} for {disease} in the data",
                }
            )
    return flags


def _cfr_norms(frame: pd.DataFrame, facts: pd.DataFrame) -> dict[str, float]:
    """Median case fatality per disease over reports with at least CFR_MIN_CASES cases."""
    usable = facts[(facts["cases"].fillna(0) >= CFR_MIN_CASES) & facts["deaths"].notna()]
    if usable.empty:
        return {}
    ratios = usable.assign(cfr=usable["deaths"] / usable["cases"]).groupby("disease")["cfr"]
    return {d: float(v) for d, v in ratios.median().items() if ratios.size()[d] >= 3}


def assess_incidents(engine: Engine, window: Window | None = None) -> LensSummary:
    """Assess every incident first seen in ``window`` (all incidents when None)."""
    frame = load_incident_frame(engine)
    summary = LensSummary()
    if frame.empty:
        return summary
    history = _history(frame)
    table = load_agents()
    query = select(incidents.c.incident_id, incidents.c.first_seen_at)
    if window is not None:
        query = query.where(incidents.c.first_seen_at >= window.start, incidents.c.first_seen_at < window.end)
    with engine.connect() as conn:
        wanted = {r.incident_id for r in conn.execute(query)}
        facts = pd.DataFrame(
            conn.execute(
                select(
                    incident_reports.c.incident_id,
                    reports.c.report_id,
                    reports.c.disease,
                    reports.c.pathogen,
                    reports.c.host,
                    reports.c.country_iso3,
                    reports.c.cases,
                    reports.c.deaths,
                    reports.c.evidence,
                )
                .join(reports, reports.c.report_id == incident_reports.c.report_id)
                .where(incident_reports.c.duplicate_of.is_(None))
            ).all(),
            columns=[
                "incident_id",
                "report_id",
                "disease",
                "pathogen",
                "host",
                "country_iso3",
                "cases",
                "deaths",
                "evidence",
            ],
        )
        alarms = {
            (s.series_key, s.period_start): dict(s._mapping)
            for s in conn.execute(
                select(
                    signals.c.series_key,
                    signals.c.period_start,
                    signals.c.method,
                    signals.c.observed,
                    signals.c.upperbound,
                ).where(signals.c.alarm.is_(True))
            )
        }
    cfr_norm = _cfr_norms(frame, facts)
    facts = facts.astype(object).where(facts.notna(), None)  # NaN -> None: pandas fills gaps with floats
    weeks = frame.groupby("incident_id").agg(
        period_start=("period_start", "min"), series_key=("series_key", "first")
    )
    rows = []
    for incident_id, members in facts[facts["incident_id"].isin(wanted)].groupby("incident_id", sort=True):
        first = members.iloc[0]
        evidence = [e or {} for e in members["evidence"]]
        agent = next(
            (
                a
                for a in (
                    resolve_agent(table, e.get("extraction"), r.disease, r.pathogen)
                    for e, r in zip(evidence, members.itertuples(index=False), strict=True)
                )
                if a
            ),
            None,
        )
        cues = [
            c | {"report_id": rid}
            for e, rid in zip(evidence, members["report_id"], strict=True)
            for c in e.get("cues", [])
        ]
        cases = max((int(v) for v in members["cases"] if v is not None), default=None)
        deaths = max((int(v) for v in members["deaths"] if v is not None), default=None)
        flags: list[dict[str, str]] = []
        if incident_id in weeks.index and first.disease:
            week, key = weeks.loc[incident_id, "period_start"], weeks.loc[incident_id, "series_key"]
            flags = unusual_flags(
                first.disease,
                first.country_iso3,
                first.host,
                week,
                cases,
                deaths,
                agent,
                alarms.get((key, week)),
                history,
                cfr_norm,
            )
        names = {f["flag"] for f in flags}
        cue_kinds = {c["category"] for c in cues}
        features = IncidentFeatures(
            agent=agent.key if agent else None,
            host=first.host,
            cases=cases,
            deaths=deaths,
            expected_cfr=cfr_norm.get(first.disease) if first.disease else None,
            **{
                name: (name in names)
                for name in (
                    "unusual_host",
                    "statistical_alarm",
                    "high_cfr",
                    "non_endemic",
                    "eradicated_agent",
                    "multiple_simultaneous",
                    "first_occurrence",
                    "out_of_season",
                )
            },
            **{field: True for kind, field in CUE_INDICATORS.items() if kind in cue_kinds},
        )
        assessment = assess_radosavljevic(features, table)
        flags_for_agent = agent_flags(agent)
        rows.append(
            {
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
                    {"number": r.number, "indicator": r.indicator, "evidence": r.evidence}
                    for r in assessment.fired()
                ],
                "rule_score": rule_score(flags_for_agent, flags, cues, assessment.total),
            }
        )
        summary.with_agent += agent is not None
        summary.flagged += bool(flags)
        summary.with_cues += bool(cues)
    with engine.begin() as conn:
        upsert(conn, incident_assessments, rows)
    summary.incidents = len(rows)
    log.info("lens: %s", summary.summary())
    return summary


def rule_score(
    flags: dict[str, Any], unusual: list[dict[str, str]], cues: list[dict], indicators: int
) -> float:
    """Law-enforcement relevance before any analyst feedback: controlled agents, oddities, intent cues."""
    score = 0.0
    score += 3.0 if flags.get("tier1") else 2.0 if flags.get("select_agent") else 0.0
    score += {"A": 2.0, "B": 1.0, "C": 0.5}.get(flags.get("cdc_category") or "", 0.0)
    score += 0.5 if flags.get("australia_group") else 0.0
    score += 1.0 * len(unusual)
    score += 1.5 * len({c["category"] for c in cues})
    score += 0.5 * indicators
    return round(score, 3)
