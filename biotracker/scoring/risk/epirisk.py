"""EpiRisk (Lesmanawati et al., BMJ Global Health 2020): how bad could this outbreak get, here?

The natural/unnatural tools ask *where an outbreak came from*; EpiRisk asks *how much it matters*:
seven country parameters (income, health spending, peace, borders, physicians, hospital beds,
population density) and seven disease parameters (pathogen, R0, transmission mode, asymptomatic
stage, CFR, therapy, vaccine), each at level 1 (low), 2 or 3 (high), summed to 14-42 and banded
low (< 21), moderate (21-29), high (30-37) or extreme (> 37). Analysts use it to rank which alert
deserves a response first.

The paper's Table 1 (the cut-offs that turn raw country and disease data into levels) could not be
retrieved, so :func:`score_epirisk` takes the levels as input; the published calibration outbreaks
(Table 2) are shipped as data and are the golden tests.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from importlib import resources

from biotracker.errors import BiotrackerError
from biotracker.scoring.risk.agents import DATA_PACKAGE, RiskDataError, load_citations


class EpiRiskInputError(BiotrackerError, ValueError):
    """EpiRisk levels are missing, unknown or outside 1-3."""


class EpiRiskTier(str, Enum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    EXTREME = "extreme"


@dataclass(frozen=True)
class EpiRiskParameter:
    parameter_id: str
    group: str  # "country" or "disease"
    name: str
    citation: str


@dataclass(frozen=True)
class EpiRiskResult:
    """Total, the two sub-totals the paper reports, and the tier."""

    country_score: int
    disease_score: int
    total: int
    tier: EpiRiskTier
    levels: Mapping[str, int]


@lru_cache(maxsize=1)
def load_parameters() -> tuple[EpiRiskParameter, ...]:
    """The 14 EpiRisk parameters (epirisk_parameters.csv)."""
    text = resources.files(DATA_PACKAGE).joinpath("epirisk_parameters.csv").read_text(encoding="utf-8")
    params = tuple(
        EpiRiskParameter(r["parameter_id"], r["group"], r["name"], r["citation"])
        for r in csv.DictReader(text.splitlines())
    )
    citations = load_citations()
    groups = [p.group for p in params]
    if len(params) != 14 or groups.count("country") != 7 or groups.count("disease") != 7:
        raise RiskDataError("epirisk_parameters.csv must hold 7 country and 7 disease parameters")
    for p in params:
        if p.citation not in citations:
            raise RiskDataError(f"epirisk_parameters.csv: unknown citation {p.citation!r}")
    return params


def epirisk_tier(total: int) -> EpiRiskTier:
    """Published bands: low < 21, moderate 21-29, high 30-37, extreme > 37."""
    if not 14 <= total <= 42:
        raise EpiRiskInputError(f"an EpiRisk total lies between 14 and 42, got {total}")
    if total < 21:
        return EpiRiskTier.LOW
    if total <= 29:
        return EpiRiskTier.MODERATE
    if total <= 37:
        return EpiRiskTier.HIGH
    return EpiRiskTier.EXTREME


def score_epirisk(levels: Mapping[str, int]) -> EpiRiskResult:
    """Sum the 14 levels (1-3 each) and band the total. Every parameter must be given: no silent defaults."""
    params = load_parameters()
    known = {p.parameter_id for p in params}
    unknown = set(levels) - known
    missing = known - set(levels)
    if unknown or missing:
        raise EpiRiskInputError(f"EpiRisk levels: unknown {sorted(unknown)}, missing {sorted(missing)}")
    for name, value in levels.items():
        if value not in (1, 2, 3):
            raise EpiRiskInputError(f"EpiRisk level for {name} must be 1, 2 or 3, got {value!r}")
    country = sum(levels[p.parameter_id] for p in params if p.group == "country")
    disease = sum(levels[p.parameter_id] for p in params if p.group == "disease")
    total = country + disease
    return EpiRiskResult(country, disease, total, epirisk_tier(total), dict(levels))


@dataclass(frozen=True)
class CalibrationCase:
    """One of the nine historic outbreaks of the paper's Table 2, with its published scores."""

    case_id: str
    disease: str
    country: str
    cases: int
    deaths: int
    levels: Mapping[str, int]
    published_country_score: int
    published_disease_score: int
    published_overall_score: int
    published_classification: EpiRiskTier
    citation: str


@lru_cache(maxsize=1)
def load_calibration_cases() -> tuple[CalibrationCase, ...]:
    """The published calibration outbreaks (epirisk_calibration.csv)."""
    ids = [p.parameter_id for p in load_parameters()]
    text = resources.files(DATA_PACKAGE).joinpath("epirisk_calibration.csv").read_text(encoding="utf-8")
    return tuple(
        CalibrationCase(
            case_id=r["case_id"],
            disease=r["disease"],
            country=r["country"],
            cases=int(r["cases"]),
            deaths=int(r["deaths"]),
            levels={i: int(r[i]) for i in ids},
            published_country_score=int(r["published_country_score"]),
            published_disease_score=int(r["published_disease_score"]),
            published_overall_score=int(r["published_overall_score"]),
            published_classification=EpiRiskTier(r["published_classification"]),
            citation=r["citation"],
        )
        for r in csv.DictReader(text.splitlines())
    )
