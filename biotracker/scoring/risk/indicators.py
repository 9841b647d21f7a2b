"""Natural / accidental / deliberate: the Radosavljević & Belojević (2012) 14-indicator screen.

The screen is meant for the first hours of an unusual event, before an investigation: 14 yes/no
indicators about the cases, the place and the time; 1-4 present suggests a natural epidemic, 5-9 a
probable deliberate or accidental outbreak, 10-14 a highly probable one. We compute it from an
:class:`IncidentFeatures` object with a pure function, so the lead can feed it from incidents and
detectors and an analyst can replay it by hand. Every indicator says *why* it fired or did not:
an unexplained score is of no use to an investigator.

Unknown is not "no": a feature left as ``None`` does not fire its indicator, and the evidence says
the information was missing, so a low total with many unknowns reads as "not assessed", not
"natural". Intent cues (laboratory link, theft, claim, threat) are not among the 14 indicators;
they are reported next to the total, never added to it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from importlib import resources

from biotracker.scoring.risk.agents import DATA_PACKAGE, Agent, AgentTable, RiskDataError, load_agents
from biotracker.scoring.risk.flag_words import AgentFlag, agent_flag_words

#: A rule answers True / False, or None when the incident carries no information on it.
Rule = Callable[["IncidentFeatures", "Agent | None"], "tuple[bool | None, str]"]


@dataclass(frozen=True)
class IncidentFeatures:
    """What is known about one incident, as the screen needs it. ``None`` = not known.

    The unusualness flags come from detectors and normalisation (e.g. ``statistical_alarm`` from an
    EARS/Farrington alarm, ``non_endemic`` from a country-agent endemicity list); the intent cues
    from the text of law-enforcement or open-source reports.
    """

    agent: str | None = None  # name, synonym or agent_id, resolved against the agents table
    host: str | None = None  # e.g. "human", "cattle", "human+animal"
    cases: int | None = None
    deaths: int | None = None
    expected_cfr: float | None = None  # usual case-fatality ratio of this disease here, 0..1
    # cases
    unusual_manifestation: bool | None = (
        None  # atypical signs/route (e.g. inhalational anthrax) or fulminant course
    )
    unusual_host: bool | None = None  # disease in a host species it does not usually affect
    treatment_failure: bool | None = None
    vaccine_failure: bool | None = None  # illness in an immunised population
    coexisting_syndromes: bool | None = None
    statistical_alarm: bool | None = None  # sudden unexplained increase flagged by a detector
    high_cfr: bool | None = None  # morbidity/mortality above expectation, asserted by a source
    syndromic_cluster: bool | None = None  # fever / respiratory / lymphadenopathy cluster
    # place
    unusual_geography: bool | None = None
    non_endemic: bool | None = None
    eradicated_agent: bool | None = None
    common_exposure: bool | None = None
    multiple_simultaneous: bool | None = None  # simultaneous outbreaks at different locations
    # time
    first_occurrence: bool | None = None  # first time in the region, or after a long absence
    out_of_season: bool | None = None
    concurrent_epizootic: bool | None = None  # human epidemic and animal epizootic at the same time
    point_source: bool | None = None  # explosive epidemic curve pointing to a point source
    # intent cues: reported, not scored
    laboratory_link: bool | None = None
    theft_or_loss: bool | None = None
    claim_of_responsibility: bool | None = None
    threat: bool | None = None


class Verdict(str, Enum):
    """The three bands of the published screen."""

    NATURAL = "natural epidemic"
    PROBABLE = "probable deliberate or accidental outbreak"
    HIGHLY_PROBABLE = "highly probable deliberate or accidental outbreak"


@dataclass(frozen=True)
class IndicatorSpec:
    """One of the 14 indicators as published (wording paraphrased in radosavljevic_indicators.csv)."""

    number: int
    indicator_id: str
    category: str  # cases / place / time
    variable_type: str  # qualitative / quantitative
    indicator: str
    inputs: str
    citation: str


@dataclass(frozen=True)
class IndicatorResult:
    """Whether one indicator fired, and the evidence an analyst can check."""

    number: int
    indicator_id: str
    indicator: str
    fired: bool
    evidence: str


@dataclass(frozen=True)
class RadosavljevicAssessment:
    """The screen's outcome for one incident."""

    indicators: tuple[IndicatorResult, ...]
    total: int
    verdict: Verdict
    unknown: tuple[str, ...]  # indicator ids that could not be evaluated for lack of data
    agent: Agent | None
    agent_context: tuple[str, ...] = field(default=())  # list memberships worth an analyst's attention
    intent_cues: tuple[str, ...] = field(default=())  # not scored

    def fired(self) -> tuple[IndicatorResult, ...]:
        return tuple(r for r in self.indicators if r.fired)


def verdict_for(total: int) -> Verdict:
    """Published bands: 1-4 natural, 5-9 probable, 10-14 highly probable deliberate or accidental.

    The paper does not band a total of 0; no indicator present is read as natural.
    """
    if not 0 <= total <= 14:
        raise ValueError(f"a Radosavljević total is between 0 and 14, got {total}")
    if total >= 10:
        return Verdict.HIGHLY_PROBABLE
    if total >= 5:
        return Verdict.PROBABLE
    return Verdict.NATURAL


def _flag(value: bool | None, yes: str, no: str, field_name: str) -> tuple[bool | None, str]:
    if value is None:
        return None, f"no information ({field_name} unknown)"
    return (True, yes) if value else (False, no)


def _any(*checks: tuple[bool | None, str]) -> tuple[bool | None, str]:
    """Fired if any check fired; unknown only if every check is unknown."""
    fired = [text for ok, text in checks if ok]
    if fired:
        return True, "; ".join(fired)
    if all(ok is None for ok, _ in checks):
        return None, "; ".join(text for _, text in checks)
    return False, "; ".join(text for ok, text in checks if ok is False)


def _unusual_disease(f: IncidentFeatures, a: Agent | None) -> tuple[bool | None, str]:
    return _any(
        _flag(
            f.unusual_manifestation,
            "atypical manifestation or fulminant course reported",
            "manifestation typical",
            "unusual_manifestation",
        ),
        _flag(f.unusual_host, f"unusual host ({f.host or 'host not named'})", "usual host", "unusual_host"),
    )


def _therapy_failure(f: IncidentFeatures, a: Agent | None) -> tuple[bool | None, str]:
    return _any(
        _flag(
            f.treatment_failure, "no response to usual therapy", "therapy works as usual", "treatment_failure"
        ),
        _flag(
            f.vaccine_failure,
            "illness despite immunisation",
            "no illness in the immunised",
            "vaccine_failure",
        ),
    )


def _higher_mortality(f: IncidentFeatures, a: Agent | None) -> tuple[bool | None, str]:
    checks = [
        _flag(f.high_cfr, "source reports mortality above expectation", "mortality as expected", "high_cfr")
    ]
    if f.cases and f.deaths is not None and f.expected_cfr is not None:
        cfr = f.deaths / f.cases
        text = f"case-fatality {cfr:.0%} ({f.deaths}/{f.cases}) vs expected {f.expected_cfr:.0%}"
        checks.append((cfr > f.expected_cfr, text))
    else:
        checks.append((None, "CFR not computable (needs cases, deaths and expected_cfr)"))
    return _any(*checks)


def _nonendemic_or_eradicated(f: IncidentFeatures, a: Agent | None) -> tuple[bool | None, str]:
    agent_check: tuple[bool | None, str]
    if a is None:
        agent_check = (None, "agent unknown: eradication status not checked")
    elif a.eradicated:
        agent_check = (True, f"{a.name} is eradicated worldwide (eradicated_agents.csv)")
    else:
        agent_check = (False, f"{a.name} is not an eradicated agent")
    return _any(
        _flag(f.non_endemic, "not endemic here (imported or new)", "endemic here", "non_endemic"),
        _flag(
            f.eradicated_agent,
            "source reports a previously eradicated disease",
            "not an eradicated disease",
            "eradicated_agent",
        ),
        agent_check,
    )


def _simple(field_name: str, yes: str, no: str) -> Rule:
    def rule(f: IncidentFeatures, a: Agent | None) -> tuple[bool | None, str]:
        return _flag(getattr(f, field_name), yes, no, field_name)

    return rule


RULES: dict[str, Rule] = {
    "unusual_disease": _unusual_disease,
    "therapy_or_immunisation_failure": _therapy_failure,
    "coexisting_unexplained_syndromes": _simple(
        "coexisting_syndromes", "several unexplained syndromes in the same cases", "no coexisting syndromes"
    ),
    "sudden_unexplained_increase": _simple(
        "statistical_alarm", "detector alarm: sudden rise in cases or deaths", "no detector alarm"
    ),
    "higher_morbidity_mortality": _higher_mortality,
    "syndromic_clustering": _simple(
        "syndromic_cluster", "cluster of fever / respiratory / lymphadenopathy cases", "no syndromic cluster"
    ),
    "unusual_geography": _simple("unusual_geography", "unusual geographic distribution", "usual geography"),
    "nonendemic_or_eradicated": _nonendemic_or_eradicated,
    "common_exposure": _simple("common_exposure", "data suggest a common exposure", "no common exposure"),
    "simultaneous_locations": _simple(
        "multiple_simultaneous", "simultaneous outbreaks at different locations", "single location"
    ),
    "first_occurrence": _simple(
        "first_occurrence",
        "first occurrence in the region, or first after a long absence",
        "known in the region",
    ),
    "unusual_season": _simple("out_of_season", "outside the usual season", "in season"),
    "simultaneous_epidemics_epizootics": _simple(
        "concurrent_epizootic",
        "human epidemic and animal epizootic at the same time",
        "no concurrent epizootic",
    ),
    "explosive_point_source": _simple(
        "point_source", "explosive epidemic curve pointing to a point source", "no point-source pattern"
    ),
}


@lru_cache(maxsize=1)
def load_indicator_specs() -> tuple[IndicatorSpec, ...]:
    """The 14 indicators (radosavljevic_indicators.csv), checked against the rules implemented here."""
    text = resources.files(DATA_PACKAGE).joinpath("radosavljevic_indicators.csv").read_text(encoding="utf-8")
    specs = tuple(
        IndicatorSpec(
            number=int(r["number"]),
            indicator_id=r["indicator_id"],
            category=r["category"],
            variable_type=r["variable_type"],
            indicator=r["indicator"],
            inputs=r["inputs"],
            citation=r["citation"],
        )
        for r in csv.DictReader(text.splitlines())
    )
    ids = [s.indicator_id for s in specs]
    if len(specs) != 14 or set(ids) != set(RULES) or [s.number for s in specs] != list(range(1, 15)):
        raise RiskDataError(
            "radosavljevic_indicators.csv must list indicators 1-14 once each, with the ids of "
            f"indicators.RULES; got {ids}"
        )
    return specs


def _agent_context(agent: Agent) -> tuple[str, ...]:
    return tuple(agent_flag_words(agent, include=_CONTEXT_FLAGS))


#: The flags that set an indicator's agent context.
_CONTEXT_FLAGS = (
    AgentFlag.SELECT_AGENT,
    AgentFlag.CDC_CATEGORY,
    AgentFlag.AUSTRALIA_GROUP,
    AgentFlag.ERADICATED,
    AgentFlag.IHR_ALWAYS_NOTIFIABLE,
)


def _intent_cues(f: IncidentFeatures) -> tuple[str, ...]:
    cues = {
        "laboratory_link": "link to a laboratory",
        "theft_or_loss": "theft or loss of material",
        "claim_of_responsibility": "claim of responsibility",
        "threat": "prior threat",
    }
    return tuple(text for name, text in cues.items() if getattr(f, name))


def assess_radosavljevic(
    features: IncidentFeatures, agents: AgentTable | None = None
) -> RadosavljevicAssessment:
    """Score the 14 indicators for one incident. Pure: same features and table, same answer.

    ``features.agent`` is resolved against ``agents`` (the bundled table by default); an agent name
    that is not in the table is treated as unknown, not as an error, because incident text often
    names agents outside the lists.
    """
    table = agents if agents is not None else load_agents()
    agent = table.get(features.agent) if features.agent else None
    results = []
    unknown: list[str] = []
    for spec in load_indicator_specs():
        fired, evidence = RULES[spec.indicator_id](features, agent)
        if fired is None:
            unknown.append(spec.indicator_id)
        results.append(IndicatorResult(spec.number, spec.indicator_id, spec.indicator, bool(fired), evidence))
    total = sum(r.fired for r in results)
    return RadosavljevicAssessment(
        indicators=tuple(results),
        total=total,
        verdict=verdict_for(total),
        unknown=tuple(unknown),
        agent=agent,
        agent_context=_agent_context(agent) if agent else (),
        intent_cues=_intent_cues(features),
    )
