"""The R control-list layer: R's defaults per function, and clear errors for lists R would reject."""

from __future__ import annotations

import numpy as np
import pytest

from biotracker.errors import ConfigError
from biotracker.scoring.detectors import detect, parse_control
from biotracker.scoring.detectors.control import EarsControl, FarringtonFlexibleControl


def test_ears_alpha_default_depends_on_method_as_in_r() -> None:
    assert parse_control("earsC", {"method": "C3"}).alpha == 0.025
    assert parse_control("earsC", {"method": "C1"}).alpha == 0.001
    assert parse_control("earsC", {"method": "C2", "alpha": None}).alpha == 0.001


def test_r_null_means_default_and_scalars_may_be_one_element_lists() -> None:
    control = parse_control("farringtonFlexible", {"b": [3], "w": None, "pastWeeksNotIncluded": None})
    assert isinstance(control, FarringtonFlexibleControl)
    assert (control.b, control.w, control.past_weeks_not_included) == (3, 3, 3)


def test_farrington_flexible_defaults_are_rs_formals() -> None:
    control = parse_control("farringtonFlexible", {})
    assert control.noPeriods == 1 and control.thresholdMethod == "delta"
    assert control.weightsThreshold == 2.58 and control.pThresholdTrend == 0.05
    assert control.limit54 == (5, 4) and control.powertrans == "2/3"


def test_match_arg_prefixes_are_accepted_like_r() -> None:
    assert parse_control("farringtonFlexible", {"thresholdMethod": "nbP"}).thresholdMethod == "nbPlugin"
    assert parse_control("cusum", {"trans": "anscombe"}).trans == "anscombe"


@pytest.mark.parametrize(
    "method, control, fragment",
    [
        ("farringtonFlexible", {"alpha": 1.5}, "alpha"),
        ("farringtonFlexible", {"b": 2.5}, "whole number"),
        ("farringtonFlexible", {"limit54": [5]}, "limit54"),
        ("farringtonFlexible", {"thresholdMethod": "quantile"}, "thresholdMethod"),
        ("farringtonFlexible", {"powertrans": "1/3"}, "powertrans"),
        ("earsC", {"method": "C4"}, "method"),
        ("earsC", {"baseline": 2}, "baseline"),
        ("earsC", {"minSigma": -1}, "minSigma"),
        ("cusum", {"trans": "log"}, "trans"),
        ("cusum", {"m": "glm"}, "m="),
        ("farrington", {"reweight": "maybe"}, "reweight"),
        ("noufaily", {}, "unknown detection method"),
    ],
)
def test_bad_control_lists_fail_with_a_message_naming_the_entry(
    method: str, control: dict, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_control(method, control)


@pytest.mark.parametrize("method, control, name, suggestion", [
    ("earsC", {"baseLine": 7}, "baseLine", "baseline"),
    ("earsC", {"minSigm": 1}, "minSigm", "minSigma"),
    ("farringtonFlexible", {"b": 5, "pThresholdTrnd": 1}, "pThresholdTrnd", "pThresholdTrend"),
    ("farrington", {"weightsThreshold": 2.58}, "weightsThreshold", None),  # a farringtonFlexible setting
    ("cusum", {"k": 1, "zzz": 0}, "zzz", None),
])
def test_an_unknown_or_misspelt_entry_is_a_config_error_naming_it(method, control, name, suggestion) -> None:
    with pytest.raises(ConfigError, match=f"'{name}' is not a setting of {method}") as raised:
        parse_control(method, control)
    if suggestion:
        assert f"did you mean '{suggestion}'" in str(raised.value)


def test_entries_r_uses_only_for_display_are_accepted() -> None:
    assert parse_control("earsC", {"verbose": True, "plot": False}).method == "C1"


@pytest.mark.parametrize("model", [EarsControl, FarringtonFlexibleControl])
def test_configurations_are_frozen_and_forbid_unknown_fields(model) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model(minSigm=1)
    config = model()
    with pytest.raises(ValidationError, match="frozen"):
        config.alpha = 0.5


def test_range_too_early_for_the_history_is_a_config_error() -> None:
    observed = np.ones((1, 300))
    with pytest.raises(ConfigError, match="range"):
        detect("farringtonFlexible", observed, None, {"b": 5, "w": 3}, (100, 120))
    with pytest.raises(ConfigError, match="range"):
        detect("earsC", observed, None, {"method": "C3"}, (5, 20))
    with pytest.raises(ConfigError, match="range"):
        detect("cusum", observed, None, {}, None)


def test_cusum_range_from_week_one_uses_week_one_as_m_like_r() -> None:
    """R computes m = mean(observed[1:0]) = observed[1] when the range starts at t = 1.

    Golden values from R 4.2.2 / surveillance 1.20.3:
    ``cusum(sts(c(4, 9, 1, 16), start = c(2000, 1), frequency = 52), control = list(range = 1:4))``
    gives m = 4 and upperbound 11, 11, 8, 11.
    """
    observed = np.array([[4.0, 9.0, 1.0, 16.0]])
    result = detect("cusum", observed, None, {}, (1, 4))
    np.testing.assert_array_equal(result.expected[0], [4.0, 4.0, 4.0, 4.0])
    np.testing.assert_array_equal(result.upperbound[0], [11.0, 11.0, 8.0, 11.0])


def test_range_may_come_inside_the_control_list() -> None:
    observed = np.arange(40, dtype=float)[None, :] % 7
    inside = detect("earsC", observed, None, {"method": "C1", "range": [20, 30]})
    outside = detect("earsC", observed, None, {"method": "C1"}, (20, 30))
    assert isinstance(inside.control, EarsControl)
    np.testing.assert_array_equal(inside.t, np.arange(20, 31))
    np.testing.assert_array_equal(inside.upperbound, outside.upperbound)
