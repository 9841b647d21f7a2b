"""Analysts' GFT/mGFT worksheets for one incident, kept as versions per assessor.

Each time an assessor saves a worksheet, a new version of their scores is stored (nothing is
overwritten), so the history of a judgement is kept; the current worksheet is every assessor's
latest version, read through :class:`~biotracker.scoring.risk.worksheets.Worksheet` so the same
rules apply (points in range, evidence for every score, one score per criterion and assessor).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from biotracker.db.tables import worksheet_entries
from biotracker.scoring.risk.worksheets import (
    CriterionScore,
    Worksheet,
    WorksheetScoreError,
    WorksheetTool,
    worksheet_from_scores,
)

#: The worksheets analysts fill in (keys of data/worksheets.toml).
TOOLS = ("mgft", "gft")


@dataclass(frozen=True)
class WorksheetEntry:
    """One saved version of one assessor's worksheet for one incident."""

    incident_id: str
    tool: str
    assessor: str
    version: int
    scores: tuple[CriterionScore, ...]
    created_at: dt.datetime

    def points(self) -> dict[str, int]:
        return {s.criterion_id: s.points for s in self.scores}


@dataclass(frozen=True)
class Totals:
    """An assessor's total: weighted when the tool's weights are on file, else the plain points sum
    (``weighted`` False), over the criteria scored so far."""

    total: int
    weighted: bool
    scored: int
    criteria: int


def totals(tool: WorksheetTool, points: Mapping[str, int]) -> Totals:
    """The total the papers report when it can be computed; otherwise the unweighted sum, marked as
    such, so a partly known tool still shows how an assessor leaned."""
    complete = all(c.criterion_id in points for c in tool.criteria)
    if tool.weights_known and complete:
        return Totals(tool.weighted_total(points), True, len(points), len(tool.criteria))
    return Totals(sum(points.values()), False, len(points), len(tool.criteria))


def save_entry(
    conn: Connection,
    incident_id: str,
    tool: WorksheetTool,
    assessor: str,
    scores: Iterable[tuple[str, int, str]],
    at: dt.datetime,
) -> WorksheetEntry:
    """Store the assessor's next version: (criterion_id, points, evidence) for the criteria scored.

    Raises :class:`WorksheetScoreError` for an unknown criterion, points out of range, a score
    without evidence, or nothing scored at all.
    """
    given = [(c, p, e.strip(), assessor) for c, p, e in scores]
    if not given:
        raise WorksheetScoreError(f"{tool.key}: score at least one criterion (points and evidence)")
    sheet = worksheet_from_scores(incident_id, tool, given)  # the worksheet's own checks
    latest = conn.execute(
        select(func.max(worksheet_entries.c.version)).where(
            worksheet_entries.c.incident_id == incident_id,
            worksheet_entries.c.tool == tool.key,
            worksheet_entries.c.assessor == assessor,
        )
    ).scalar()
    version = (latest or 0) + 1
    conn.execute(
        worksheet_entries.insert().values(
            incident_id=incident_id,
            tool=tool.key,
            assessor=assessor,
            version=version,
            scores=[
                {"criterion_id": s.criterion_id, "points": s.points, "evidence": s.evidence}
                for s in sheet.scores
            ],
            created_at=at,
        )
    )
    return WorksheetEntry(incident_id, tool.key, assessor, version, sheet.scores, at)


def entries(conn: Connection, incident_id: str) -> list[WorksheetEntry]:
    """Every saved version for the incident, oldest first."""
    query = (
        select(worksheet_entries)
        .where(worksheet_entries.c.incident_id == incident_id)
        .order_by(worksheet_entries.c.created_at, worksheet_entries.c.assessor, worksheet_entries.c.version)
    )
    return [
        WorksheetEntry(
            r["incident_id"],
            r["tool"],
            r["assessor"],
            r["version"],
            tuple(
                CriterionScore(s["criterion_id"], s["points"], s["evidence"], r["assessor"])
                for s in r["scores"]
            ),
            r["created_at"],
        )
        for r in conn.execute(query).mappings()
    ]


def latest_by_assessor(saved: Iterable[WorksheetEntry], tool: str) -> list[WorksheetEntry]:
    """Each assessor's newest version of ``tool``, in the order assessors first scored."""
    out: dict[str, WorksheetEntry] = {}
    for entry in saved:
        if entry.tool == tool and (entry.assessor not in out or entry.version > out[entry.assessor].version):
            out[entry.assessor] = entry
    return list(out.values())


def current_sheet(incident_id: str, tool: WorksheetTool, saved: Iterable[WorksheetEntry]) -> Worksheet:
    """The worksheet made of every assessor's latest version (for consensus and agreement)."""
    latest = latest_by_assessor(saved, tool.key)
    return worksheet_from_scores(
        incident_id,
        tool,
        [(s.criterion_id, s.points, s.evidence, s.assessor) for e in latest for s in e.scores],
    )
