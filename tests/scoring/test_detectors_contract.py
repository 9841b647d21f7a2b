"""The detector contract of docs/CONVENTIONS.md, checked for every method."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biotracker.scoring.detectors import METHODS, detect

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "surveillance"
CONTROLS = {
    "farringtonFlexible": {"noPeriods": 10, "pastWeeksNotIncluded": 26, "thresholdMethod": "nbPlugin"},
    "farrington": {},
    "earsC": {"method": "C2"},
    "cusum": {},
}


def _two_series() -> np.ndarray:
    a = pd.read_csv(FIXTURES / "salmonella_agona" / "input.csv")["observed"].to_numpy(dtype=float)
    b = pd.read_csv(FIXTURES / "influMen_meningococcus" / "input.csv")["observed"].to_numpy(dtype=float)
    return np.vstack([a, b[: len(a)]])


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_and_does_not_mutate_input(method: str) -> None:
    observed = _two_series()
    before = observed.copy()
    first = detect(method, observed, None, CONTROLS[method], (270, 312))
    second = detect(method, observed, None, CONTROLS[method], (270, 312))
    np.testing.assert_array_equal(observed, before)
    for name in ("upperbound", "expected", "alarm"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert first.upperbound.shape == (2, 312 - 270 + 1)


@pytest.mark.parametrize("method", METHODS)
def test_missing_observation_stays_missing_never_zero(method: str) -> None:
    observed = _two_series()
    observed[0, 299] = np.nan  # t = 300 is missing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = detect(method, observed, None, CONTROLS[method], (280, 312))
    column = 300 - 280
    assert np.isnan(result.alarm[0, column]), "an alarm on a missing count must be missing, not 0"
    assert not np.isnan(result.alarm[1]).any(), "the other series is unaffected"


@pytest.mark.parametrize("method", METHODS)
def test_all_zero_history_warns_instead_of_crashing(method: str) -> None:
    observed = np.zeros((1, 320))
    observed[0, -3:] = [2, 0, 9]
    with pytest.warns(UserWarning, match="all-zero history"):
        result = detect(method, observed, None, CONTROLS[method], (300, 320))
    assert result.alarm.shape == (1, 21)


def test_an_outbreak_on_a_flat_background_alarms_in_every_method() -> None:
    rng = np.random.default_rng(7)
    observed = rng.poisson(10, size=(1, 320)).astype(float)
    observed[0, 309] = 60  # t = 310
    for method in METHODS:
        result = detect(method, observed, None, CONTROLS[method], (300, 315))
        assert result.alarm[0, 310 - 300] == 1, method


def test_detector_class_follows_fit_score_contract() -> None:
    from biotracker.errors import NotFittedError
    from biotracker.scoring.detectors.detector import SurveillanceDetector

    observed = _two_series()
    detector = SurveillanceDetector("farringtonFlexible", CONTROLS["farringtonFlexible"])
    with pytest.raises(NotFittedError):
        detector.score()
    assert detector.fit(observed[:, :300]) is detector
    new_weeks = detector.score(observed[:, 300:310])
    direct = detect("farringtonFlexible", observed[:, :310], None, CONTROLS["farringtonFlexible"], (301, 310))
    np.testing.assert_array_equal(new_weeks.t, np.arange(301, 311))
    np.testing.assert_array_equal(new_weeks.upperbound, direct.upperbound)
    np.testing.assert_array_equal(new_weeks.alarm, direct.alarm)


@pytest.mark.parametrize("method", METHODS)
def test_score_above_one_means_beyond_the_bound(method: str) -> None:
    observed = _two_series()
    result = detect(method, observed, None, CONTROLS[method], (270, 312))
    assert result.score.shape == result.alarm.shape
    if method == "cusum":
        np.testing.assert_array_equal(result.score >= 1, result.alarm == 1)
    elif method != "farringtonFlexible":  # R's nbPlugin score is on a log scale (its quirk)
        np.testing.assert_array_equal(result.score > 1, result.alarm == 1)
