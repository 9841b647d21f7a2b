"""What the risk lens reads of an incident's counted members, without reading every member.

The lens judges an incident by its earliest counted (non-duplicate) member, the largest counts
its members state, their sources and series weeks, the first agent its members name, and every
intent or accident cue among them. An incident of a dense series holds thousands of reports, so
reading each member's row and evidence made the lens grow with the history's density. Here the
database groups the links by (series, week, source), one row per group; the evidence is read only
for each incident's members in order until one names an agent (usually the first), and for the
members whose links say they carry cues (``incident_reports.cues``, 0017).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from biotracker.db.batches import in_batches
from biotracker.db.tables import incident_reports, reports
from biotracker.incidents.scopes import Scope
from biotracker.incidents.series import split_series_key
from biotracker.scoring.risk.agents import Agent, AgentTable

__all__ = ["CountedMembers", "agents_and_cues", "counted_members", "resolve_agent"]

_NEVER = dt.date.max


@dataclass
class CountedMembers:
    """An incident's counted members, summarised: its first member (earliest week, then report
    id) and that member's series, the largest counts, the sources and the series weeks."""

    first_report: str
    series_key: str
    week: dt.date | None
    cases: int | None = None
    deaths: int | None = None
    sources: set[str] = field(default_factory=set)
    weeks: set[tuple[str, dt.date]] = field(default_factory=set)

    @property
    def disease(self) -> str | None:
        return split_series_key(self.series_key)[0]

    @property
    def country(self) -> str | None:
        return split_series_key(self.series_key)[1]

    @property
    def host(self) -> str | None:
        return split_series_key(self.series_key)[2]

    def order(self) -> tuple[dt.date, str]:
        return (self.week or _NEVER, self.first_report)


def _larger(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _counted(scope: Scope) -> tuple[ColumnElement[bool], ...]:
    return (incident_reports.c.scope == scope.key, incident_reports.c.duplicate_of.is_(None))


def counted_members(
    conn: Connection, scope: Scope, wanted: Collection[str] | None
) -> dict[str, CountedMembers]:
    """The summary of each incident in ``wanted`` (every incident of the scope when None), from the
    links grouped by the database: one row per (incident, series, week, source)."""
    links = incident_reports.c
    query = select(
        links.incident_id,
        links.series_key,
        links.period_start,
        links.source,
        func.min(links.report_id),
        func.max(links.cases),
        func.max(links.deaths),
    ).group_by(links.incident_id, links.series_key, links.period_start, links.source)
    queries = (
        [query.where(*_counted(scope))]
        if wanted is None
        else [query.where(*_counted(scope), links.incident_id.in_(ids)) for ids in in_batches(sorted(wanted))]
    )
    out: dict[str, CountedMembers] = {}
    for q in queries:
        for incident_id, key, week, source, first, cases, deaths in conn.execute(q):
            group = CountedMembers(first, key, week)
            summary = out.setdefault(incident_id, group)
            if group.order() < summary.order():
                summary.first_report, summary.series_key, summary.week = first, key, week
            summary.cases = _larger(summary.cases, cases)
            summary.deaths = _larger(summary.deaths, deaths)
            summary.sources.add(source)
            if week is not None:
                summary.weeks.add((key, week))
    return out


def resolve_agent(
    table: AgentTable, extraction: Mapping[str, Any] | None, disease: str | None, pathogen: str | None
) -> Agent | None:
    """The agents-table row for a report: by extracted agent id, else by pathogen or disease name."""
    for finding in (extraction or {}).get("diseases") or []:
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


_AGENT_COLUMNS = (
    reports.c.report_id,
    reports.c.disease,
    reports.c.pathogen,
    # only the part of the evidence an agent is read from, not whole evidence documents
    reports.c.evidence[("extraction", "diseases")].label("diseases"),
)


def _agent_of(table: AgentTable, row: Mapping[str, Any]) -> Agent | None:
    return resolve_agent(table, {"diseases": row["diseases"] or []}, row["disease"], row["pathogen"])


def agents_and_cues(
    conn: Connection, scope: Scope, counted: Mapping[str, CountedMembers], table: AgentTable
) -> dict[str, tuple[Agent | None, list[dict[str, Any]]]]:
    """Each incident's agent (that of its first member naming one, in member order) and its
    members' cues in member order, each with its report id."""
    agents: dict[str, Agent | None] = {}
    first_of = {c.first_report: incident_id for incident_id, c in counted.items()}
    for ids in in_batches(sorted(first_of)):
        for row in conn.execute(select(*_AGENT_COLUMNS).where(reports.c.report_id.in_(ids))).mappings():
            agents[first_of[row["report_id"]]] = _agent_of(table, dict(row))
    # an incident whose first member names no agent: its members in order until one does
    links = incident_reports.c
    unresolved = [i for i in counted if agents.get(i) is None]
    for ids in in_batches(sorted(unresolved)):
        query = (
            select(links.incident_id, links.period_start, *_AGENT_COLUMNS)
            .join(reports, reports.c.report_id == links.report_id)
            .where(*_counted(scope), links.incident_id.in_(ids))
        )
        members: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in conn.execute(query).mappings():
            members[row["incident_id"]].append(dict(row))
        for incident_id, rows in members.items():
            rows.sort(key=lambda r: (r["period_start"] or _NEVER, r["report_id"]))
            agents[incident_id] = next((a for a in (_agent_of(table, r) for r in rows) if a), None)
    cued: dict[str, list[tuple[tuple[dt.date, str], list[dict[str, Any]]]]] = defaultdict(list)
    for ids in in_batches(sorted(counted)):
        query = (
            select(
                links.incident_id,
                links.report_id,
                links.period_start,
                reports.c.evidence["cues"].label("cues"),
            )
            .join(reports, reports.c.report_id == links.report_id)
            .where(*_counted(scope), links.incident_id.in_(ids), links.cues > 0)
        )
        for row in conn.execute(query).mappings():
            report_id: str = row["report_id"]
            found = [dict(c) | {"report_id": report_id} for c in row["cues"] or []]
            cued[row["incident_id"]].append(((row["period_start"] or _NEVER, report_id), found))
    out: dict[str, tuple[Agent | None, list[dict[str, Any]]]] = {}
    for incident_id in counted:
        ordered = sorted(cued.get(incident_id, []), key=lambda pair: pair[0])
        out[incident_id] = (agents.get(incident_id), [c for _, cues in ordered for c in cues])
    return out
