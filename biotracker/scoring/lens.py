"""The law-enforcement lens over incidents (``assess_incidents``): agent flags, unusualness flags,
intent and accident cues, and the Radosavljević & Belojević indicator score — each with evidence.

Everything here is computed from the store (reports, their extraction evidence and cues, signals)
and the risk data files; results go to ``incident_assessments`` (one row per incident, upserted).
"""

from __future__ import annotations

import csv
import io
import logging
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
from biotracker.scoring.unusual import (
    Flag,
    IncidentFacts,
    UnusualConfig,
    build_history,
    meaningful_flags,
    report_source,
    unusual_flags,
)

log = logging.getLogger(__name__)

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
    history = build_history(frame)
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
            incident = IncidentFacts(
                first.disease,
                first.country_iso3,
                first.host,
                week,
                cases,
                deaths,
                agent,
                alarms.get((key, week)),
                tuple(sorted({report_source(r) for r in members["report_id"]})),
            )
            endemic = load_endemicity().get(agent.key) if agent else None
            found = unusual_flags(incident, history, endemic, cfr_norm.get(first.disease))
            flags = [f.as_dict() for f in found]
        names = {f["flag"] for f in flags}
        cue_kinds = {c["category"] for c in cues}
        features = IncidentFeatures(
            agent=agent.key if agent else None,
            host=first.host,
            cases=cases,
            deaths=deaths,
            expected_cfr=cfr_norm.get(first.disease) if first.disease else None,
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
        summary.flagged += bool(meaningful_flags(names))
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
    score += 1.0 * len(meaningful_flags(f["flag"] for f in unusual))
    score += 1.5 * len({c["category"] for c in cues})
    score += 0.5 * indicators
    return round(score, 3)
