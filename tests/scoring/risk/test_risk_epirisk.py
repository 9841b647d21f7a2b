"""EpiRisk: the nine calibration outbreaks of Lesmanawati et al. 2020, Table 2, are the golden tests."""

from __future__ import annotations

import pytest

from biotracker.scoring.risk.epirisk import (
    EpiRiskInputError,
    EpiRiskTier,
    epirisk_tier,
    load_calibration_cases,
    load_parameters,
    score_epirisk,
)

CASES = load_calibration_cases()


def test_nine_published_calibration_outbreaks_are_shipped():
    assert [c.case_id for c in CASES] == [
        "hepatitis_a_australia", "measles_japan", "hepatitis_a_italy", "ebola_usa", "zika_brazil",
        "diphtheria_bangladesh", "cholera_south_sudan", "ebola_sierra_leone", "lassa_fever_nigeria",
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.case_id for c in CASES])
def test_scores_recomputed_from_published_levels_match_published_totals_and_class(case):
    result = score_epirisk(case.levels)
    assert result.country_score == case.published_country_score
    assert result.disease_score == case.published_disease_score
    assert result.total == case.published_overall_score
    assert result.tier is case.published_classification


def test_published_overall_scores_as_printed():
    assert {c.case_id: c.published_overall_score for c in CASES} == {
        "hepatitis_a_australia": 24, "measles_japan": 29, "hepatitis_a_italy": 27, "ebola_usa": 29,
        "zika_brazil": 31, "diphtheria_bangladesh": 34, "cholera_south_sudan": 33, "ebola_sierra_leone": 33,
        "lassa_fever_nigeria": 39,
    }


@pytest.mark.parametrize(
    ("total", "tier"),
    [(14, EpiRiskTier.LOW), (20, EpiRiskTier.LOW), (21, EpiRiskTier.MODERATE), (29, EpiRiskTier.MODERATE),
     (30, EpiRiskTier.HIGH), (37, EpiRiskTier.HIGH), (38, EpiRiskTier.EXTREME), (42, EpiRiskTier.EXTREME)],
)
def test_published_tier_boundaries(total, tier):
    assert epirisk_tier(total) is tier


def test_fourteen_parameters_seven_country_seven_disease():
    params = load_parameters()
    assert len(params) == 14
    assert sum(p.group == "country" for p in params) == 7


def test_a_missing_parameter_is_refused_not_defaulted():
    levels = dict(CASES[0].levels)
    levels.pop("vaccine_availability")
    with pytest.raises(EpiRiskInputError, match="vaccine_availability"):
        score_epirisk(levels)


@pytest.mark.parametrize("bad", [0, 4, 2.5])
def test_levels_outside_1_to_3_are_refused(bad):
    levels = dict(CASES[0].levels, pathogen=bad)
    with pytest.raises(EpiRiskInputError, match="pathogen"):
        score_epirisk(levels)
