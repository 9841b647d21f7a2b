"""Radosavljević & Belojević (2012) screen: 14 indicators from incident features, each with evidence."""

from __future__ import annotations

import dataclasses

import pytest

from biotracker.scoring.risk.indicators import (
    RULES,
    IncidentFeatures,
    Verdict,
    assess_radosavljevic,
    load_indicator_specs,
    verdict_for,
)

#: For each indicator, the feature that makes it fire on its own.
TRIGGERS = {
    "unusual_disease": {"unusual_manifestation": True},
    "therapy_or_immunisation_failure": {"treatment_failure": True},
    "coexisting_unexplained_syndromes": {"coexisting_syndromes": True},
    "sudden_unexplained_increase": {"statistical_alarm": True},
    "higher_morbidity_mortality": {"high_cfr": True},
    "syndromic_clustering": {"syndromic_cluster": True},
    "unusual_geography": {"unusual_geography": True},
    "nonendemic_or_eradicated": {"non_endemic": True},
    "common_exposure": {"common_exposure": True},
    "simultaneous_locations": {"multiple_simultaneous": True},
    "first_occurrence": {"first_occurrence": True},
    "unusual_season": {"out_of_season": True},
    "simultaneous_epidemics_epizootics": {"concurrent_epizootic": True},
    "explosive_point_source": {"point_source": True},
}


def _all(value: bool) -> IncidentFeatures:
    fields = {f for trig in TRIGGERS.values() for f in trig}
    fields |= {"unusual_host", "vaccine_failure", "eradicated_agent"}
    return IncidentFeatures(**{f: value for f in fields})


def test_there_are_fourteen_indicators_in_published_order():
    specs = load_indicator_specs()
    assert [s.number for s in specs] == list(range(1, 15))
    assert [s.category for s in specs] == ["cases"] * 6 + ["place"] * 4 + ["time"] * 4
    assert set(TRIGGERS) == set(RULES) == {s.indicator_id for s in specs}


@pytest.mark.parametrize(
    ("total", "verdict"),
    [(0, Verdict.NATURAL), (1, Verdict.NATURAL), (4, Verdict.NATURAL), (5, Verdict.PROBABLE),
     (9, Verdict.PROBABLE), (10, Verdict.HIGHLY_PROBABLE), (14, Verdict.HIGHLY_PROBABLE)],
)
def test_published_bands_1_4_natural_5_9_probable_10_14_highly_probable(total, verdict):
    assert verdict_for(total) is verdict


def test_totals_outside_0_14_are_refused():
    with pytest.raises(ValueError):
        verdict_for(15)


@pytest.mark.parametrize("indicator_id", sorted(TRIGGERS))
def test_each_indicator_fires_from_its_own_feature_alone(indicator_id):
    result = assess_radosavljevic(IncidentFeatures(**TRIGGERS[indicator_id]))
    fired = [r.indicator_id for r in result.indicators if r.fired]
    assert fired == [indicator_id]
    assert result.total == 1
    evidence = next(r.evidence for r in result.indicators if r.fired)
    assert evidence and "no information" not in evidence


def test_all_indicators_present_is_highly_probable():
    result = assess_radosavljevic(_all(True))
    assert result.total == 14
    assert result.verdict is Verdict.HIGHLY_PROBABLE
    assert result.unknown == ()


def test_all_indicators_absent_is_natural_and_fully_assessed():
    result = assess_radosavljevic(_all(False))
    assert result.total == 0
    assert result.verdict is Verdict.NATURAL
    assert result.unknown == ()
    assert all("no information" not in r.evidence for r in result.indicators)


def test_unknown_features_do_not_fire_and_are_reported_as_unknown():
    result = assess_radosavljevic(IncidentFeatures())
    assert result.total == 0
    assert len(result.unknown) == 14
    assert all("no information" in r.evidence for r in result.indicators)


def test_five_indicators_make_a_probable_unnatural_outbreak():
    features = IncidentFeatures(statistical_alarm=True, unusual_geography=True, first_occurrence=True,
                                point_source=True, common_exposure=True)
    result = assess_radosavljevic(features)
    assert result.total == 5
    assert result.verdict is Verdict.PROBABLE


def test_an_eradicated_agent_fires_the_nonendemic_indicator_from_the_agents_data():
    result = assess_radosavljevic(IncidentFeatures(agent="smallpox"))
    fired = {r.indicator_id: r.evidence for r in result.indicators if r.fired}
    assert set(fired) == {"nonendemic_or_eradicated"}
    assert "eradicated" in fired["nonendemic_or_eradicated"]
    assert "eradicated worldwide" in result.agent_context


def test_a_non_eradicated_agent_does_not():
    result = assess_radosavljevic(IncidentFeatures(agent="anthrax"))
    assert result.total == 0
    assert any("Tier 1" in c for c in result.agent_context)


def test_case_fatality_above_expectation_is_computed_from_counts():
    high = assess_radosavljevic(IncidentFeatures(cases=20, deaths=8, expected_cfr=0.1))
    low = assess_radosavljevic(IncidentFeatures(cases=20, deaths=1, expected_cfr=0.1))
    by_id = {r.indicator_id: r for r in high.indicators}
    assert by_id["higher_morbidity_mortality"].fired
    assert "40%" in by_id["higher_morbidity_mortality"].evidence
    assert not {r.indicator_id: r for r in low.indicators}["higher_morbidity_mortality"].fired
    assert "higher_morbidity_mortality" not in low.unknown


def test_intent_cues_are_reported_but_never_scored():
    result = assess_radosavljevic(IncidentFeatures(laboratory_link=True, claim_of_responsibility=True))
    assert result.total == 0
    assert set(result.intent_cues) == {"link to a laboratory", "claim of responsibility"}


def test_an_agent_outside_the_table_is_unknown_not_an_error():
    result = assess_radosavljevic(IncidentFeatures(agent="Legionella pneumophila", point_source=True))
    assert result.agent is None
    assert result.total == 1


def test_the_function_is_pure_and_deterministic():
    features = IncidentFeatures(agent="ricin", point_source=True, common_exposure=True, cases=3, deaths=0)
    before = dataclasses.asdict(features)
    assert assess_radosavljevic(features) == assess_radosavljevic(features)
    assert dataclasses.asdict(features) == before
