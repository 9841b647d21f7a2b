"""Analyst worksheets for natural versus unnatural origin: the Grunow-Finke tool (GFT) and its modification (mGFT).

Unlike the Radosavljević screen, these tools are filled in by people: each assessor gives each
criterion 0-3 points with the evidence behind them; points × weight, summed, give the total, and
total / maximum is the likelihood of an unnatural origin that the papers report (mGFT: more than
30 of 60 points means unnatural). Several assessors score the same incident independently, as in
the published applications (three assessors each), so the worksheet keeps every assessor's scores
and reports the agreement between them as well as a consensus.

The criteria and weights are data (``data/worksheets.toml``), with citations. The published
weights could not be found in the public material available (see ``docs/RISK_LENS.md``); the tools
therefore load without weights, and any total raises :class:`MissingWeightError` until the weights
are supplied from the paper, in the data file or through :meth:`WorksheetTool.with_weights`. We
check supplied weights against what *is* published: the maximum totals (GFT 54, mGFT 60).
"""

from __future__ import annotations

import csv
import statistics
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from importlib import resources

from biotracker.errors import BiotrackerError
from biotracker.scoring.risk.agents import DATA_PACKAGE, RiskDataError, load_citations


class MissingWeightError(RiskDataError):
    """A total was asked for but some criterion weights are unknown: add them from the paper."""


class WorksheetScoreError(BiotrackerError, ValueError):
    """A score does not fit the worksheet (unknown criterion, points out of range, no evidence)."""


@dataclass(frozen=True)
class Criterion:
    """One criterion of a worksheet; ``weight`` is None when the published weight is not known to us."""

    criterion_id: str
    number: int
    name: str
    weight: int | None = None
    weight_source: str | None = None


@dataclass(frozen=True)
class WorksheetTool:
    """A scoring tool: its criteria, point range, published maximum and decision threshold."""

    key: str
    title: str
    citation: str
    criteria: tuple[Criterion, ...]
    max_total: int
    points_min: int = 0
    points_max: int = 3
    unnatural_above: int | None = None  # total strictly above this = unnatural; None = not published

    @property
    def weights_known(self) -> bool:
        return all(c.weight is not None for c in self.criteria)

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.criterion_id == criterion_id:
                return c
        raise WorksheetScoreError(
            f"{self.key} has no criterion {criterion_id!r}; known: {', '.join(c.criterion_id for c in self.criteria)}"
        )

    def with_weights(self, weights: Mapping[str, int], source: str) -> WorksheetTool:
        """A copy with the given weights (all criteria), checked against the published maximum total.

        ``source`` names where the weights come from (e.g. "Chen et al. 2019, Table I"), so that a
        total can always be traced to its weights.
        """
        unknown = set(weights) - {c.criterion_id for c in self.criteria}
        missing = {c.criterion_id for c in self.criteria} - set(weights)
        if unknown or missing:
            raise RiskDataError(
                f"weights for {self.key}: unknown criteria {sorted(unknown)}, missing {sorted(missing)}"
            )
        tool = replace(
            self,
            criteria=tuple(
                replace(c, weight=int(weights[c.criterion_id]), weight_source=source) for c in self.criteria
            ),
        )
        tool.check_weights()
        return tool

    def check_weights(self) -> None:
        """Weights × maximum points must add up to the published maximum total (54 or 60)."""
        if not self.weights_known:
            return
        implied = sum(c.weight or 0 for c in self.criteria) * self.points_max
        if implied != self.max_total:
            raise RiskDataError(
                f"{self.key}: weights sum to {implied // self.points_max} so the maximum would be {implied},"
                f" but the published maximum is {self.max_total}; check the weights against the paper"
            )

    def weighted_total(self, points: Mapping[str, int]) -> int:
        """Σ points × weight over all criteria; every criterion needs points and a known weight."""
        missing_weights = [c.criterion_id for c in self.criteria if c.weight is None]
        if missing_weights:
            raise MissingWeightError(
                f"{self.title}: no published weight on file for {', '.join(missing_weights)}. Add the weights "
                "from the paper to biotracker/scoring/risk/data/worksheets.toml (with weight_source) or use "
                "WorksheetTool.with_weights(); see docs/RISK_LENS.md for why they are missing."
            )
        missing_points = [c.criterion_id for c in self.criteria if c.criterion_id not in points]
        if missing_points:
            raise WorksheetScoreError(f"{self.key}: no points for {', '.join(missing_points)}")
        return sum(points[c.criterion_id] * (c.weight or 0) for c in self.criteria)

    def likelihood(self, total: float) -> float:
        """The 'likelihood of unnatural origin' the papers report: total / maximum total."""
        return likelihood(total, self.max_total)

    def is_unnatural(self, total: float) -> bool | None:
        """True above the published threshold, False at or below it, None where no threshold is published."""
        return None if self.unnatural_above is None else total > self.unnatural_above


def likelihood(total: float, max_total: int) -> float:
    """Total as a fraction of the maximum (the papers print it as a rounded percentage)."""
    if max_total <= 0 or not 0 <= total <= max_total:
        raise ValueError(f"total {total} must lie between 0 and the maximum {max_total}")
    return total / max_total


@dataclass(frozen=True)
class CriterionScore:
    """One assessor's points for one criterion, with the evidence that justifies them."""

    criterion_id: str
    points: int
    evidence: str
    assessor: str


@dataclass(frozen=True)
class Worksheet:
    """All assessors' scores for one incident on one tool. Immutable: :meth:`add` returns a new sheet."""

    incident: str
    tool: WorksheetTool
    scores: tuple[CriterionScore, ...] = field(default=())

    def add(self, criterion_id: str, points: int, evidence: str, assessor: str) -> Worksheet:
        """Record one score; an assessor scores each criterion once, and always with evidence."""
        self.tool.criterion(criterion_id)
        if not self.tool.points_min <= points <= self.tool.points_max:
            raise WorksheetScoreError(
                f"{criterion_id}: {points} points is outside {self.tool.points_min}-{self.tool.points_max}"
            )
        if not evidence.strip():
            raise WorksheetScoreError(
                f"{criterion_id}: a score needs its evidence (what supports {points} points?)"
            )
        if any(s.criterion_id == criterion_id and s.assessor == assessor for s in self.scores):
            raise WorksheetScoreError(f"{assessor} has already scored {criterion_id} for {self.incident}")
        return replace(self, scores=(*self.scores, CriterionScore(criterion_id, points, evidence, assessor)))

    def assessors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.assessor for s in self.scores))

    def points(self, assessor: str) -> dict[str, int]:
        return {s.criterion_id: s.points for s in self.scores if s.assessor == assessor}

    def total(self, assessor: str) -> int:
        """One assessor's weighted total (needs all criteria scored and all weights known)."""
        return self.tool.weighted_total(self.points(assessor))

    def consensus_points(self) -> dict[str, int]:
        """Per criterion, the median of the assessors' points (rounded half up), a robust consensus.

        The papers reached consensus by discussion; the median is what we can compute without it
        and is what a discussion should start from.
        """
        out: dict[str, int] = {}
        for c in self.tool.criteria:
            values = [s.points for s in self.scores if s.criterion_id == c.criterion_id]
            if values:
                out[c.criterion_id] = int(statistics.median(values) + 0.5)
        return out

    def consensus_total(self) -> int:
        return self.tool.weighted_total(self.consensus_points())

    def agreement(self) -> float:
        """Share of scored criteria on which every assessor gave the same points (1.0 = unanimous)."""
        by_criterion: dict[str, set[int]] = {}
        for s in self.scores:
            by_criterion.setdefault(s.criterion_id, set()).add(s.points)
        if not by_criterion:
            raise WorksheetScoreError(f"{self.incident}: no scores yet")
        return sum(len(v) == 1 for v in by_criterion.values()) / len(by_criterion)

    def summary(self) -> dict[str, object]:
        """Totals per assessor and for the consensus, likelihood and verdict, for reports and digests."""
        consensus = self.consensus_total()
        return {
            "incident": self.incident,
            "tool": self.tool.key,
            "assessors": {a: self.total(a) for a in self.assessors()},
            "consensus_total": consensus,
            "max_total": self.tool.max_total,
            "likelihood": self.tool.likelihood(consensus),
            "unnatural": self.tool.is_unnatural(consensus),
            "agreement": self.agreement(),
            "evidence": [s.__dict__ for s in self.scores],
        }


@cache
def load_tool(key: str) -> WorksheetTool:
    """The worksheet tool ``"mgft"`` or ``"gft"`` from worksheets.toml (weights only where published)."""
    raw = tomllib.loads(resources.files(DATA_PACKAGE).joinpath("worksheets.toml").read_text(encoding="utf-8"))
    tools = raw.get("tools", {})
    if key not in tools:
        raise RiskDataError(f"worksheets.toml has no tool {key!r}; known: {', '.join(sorted(tools))}")
    spec = tools[key]
    citations = load_citations()
    if spec["citation"] not in citations:
        raise RiskDataError(f"worksheets.toml [{key}]: unknown citation {spec['citation']!r}")
    criteria = tuple(
        Criterion(
            criterion_id=c["id"],
            number=i,
            name=c["name"],
            weight=c.get("weight"),
            weight_source=c.get("weight_source"),
        )
        for i, c in enumerate(spec["criteria"], start=1)
    )
    if len({c.criterion_id for c in criteria}) != len(criteria):
        raise RiskDataError(f"worksheets.toml [{key}]: duplicate criterion ids")
    tool = WorksheetTool(
        key=key,
        title=spec["title"],
        citation=spec["citation"],
        criteria=criteria,
        max_total=spec["max_total"],
        points_min=spec.get("points_min", 0),
        points_max=spec.get("points_max", 3),
        unnatural_above=spec.get("unnatural_above"),
    )
    tool.check_weights()
    return tool


@dataclass(frozen=True)
class PublishedResult:
    """A published application of a worksheet: its total, and whatever per-criterion points we found."""

    case_id: str
    incident: str
    tool: str
    total: int
    max_total: int
    likelihood_percent: int
    assessors: int | None
    per_criterion_published_found: str  # "false", "partial" or "true"
    citation: str
    note: str
    points: Mapping[str, int] = field(default_factory=dict)


def _read(filename: str) -> list[dict[str, str]]:
    return list(
        csv.DictReader(
            resources.files(DATA_PACKAGE).joinpath(filename).read_text(encoding="utf-8").splitlines()
        )
    )


@lru_cache(maxsize=1)
def load_published_results() -> tuple[PublishedResult, ...]:
    """Published totals (worksheet_published.csv) joined with any per-criterion points we could find."""
    citations = load_citations()
    points: dict[str, dict[str, int]] = {}
    for row in _read("worksheet_published_scores.csv"):
        points.setdefault(row["case_id"], {})[row["criterion_id"]] = int(row["points"])
    results = []
    for row in _read("worksheet_published.csv"):
        if row["citation"] not in citations:
            raise RiskDataError(f"worksheet_published.csv: unknown citation {row['citation']!r}")
        results.append(
            PublishedResult(
                case_id=row["case_id"],
                incident=row["incident"],
                tool=row["tool"],
                total=int(row["total"]),
                max_total=int(row["max_total"]),
                likelihood_percent=int(row["likelihood_percent"]),
                assessors=int(row["assessors"]) if row["assessors"] else None,
                per_criterion_published_found=row["per_criterion_published_found"],
                citation=row["citation"],
                note=row["note"],
                points=points.get(row["case_id"], {}),
            )
        )
    return tuple(results)


def worksheet_from_scores(
    incident: str, tool: WorksheetTool, scores: Iterable[tuple[str, int, str, str]]
) -> Worksheet:
    """Build a worksheet from (criterion_id, points, evidence, assessor) tuples, e.g. read from a form."""
    sheet = Worksheet(incident=incident, tool=tool)
    for criterion_id, points, evidence, assessor in scores:
        sheet = sheet.add(criterion_id, points, evidence, assessor)
    return sheet
