"""``methods.toml`` is a validated model: a misspelt or unknown key anywhere is a ConfigError naming it.

Reproduces issue 13 §2: ``minSigm = 1`` in a control list was silently accepted (and score.py
swallowed every warning, including the one that would have told).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from biotracker.errors import ConfigError
from biotracker.scoring.detectors.api import DegenerateHistoryWarning
from biotracker.scoring.score import METHODS_FILE, MethodChoice, _log_warnings, load_method_config

GOOD = METHODS_FILE.read_text(encoding="utf-8")


def _load(tmp_path, text: str):
    path = tmp_path / "methods.toml"
    path.write_text(text, encoding="utf-8")
    return load_method_config(path)


def test_the_shipped_file_loads_into_typed_choices():
    config = load_method_config()
    assert config.long.choice().method == "farringtonFlexible" and config.long.min_history_weeks == 264
    assert config.short.choice().label == "earsC2" and config.short.choice().config.minSigma == 1


@pytest.mark.parametrize("edit, fragments", [
    (("minSigma = 1 }", "minSigm = 1 }"), ["[short]", "'minSigm'", "did you mean 'minSigma'"]),
    (("b = 5, w = 3,", "b = 5, ww = 3,"), ["[long]", "'ww'"]),
    (('method = "earsC"', 'method = "earsC"\nminSigma = 1'), ["short.minSigma", "Extra inputs"]),
    (("min_history_weeks = 264", "min_history_week = 264"), ["long.min_history_week"]),
    (('method = "earsC"', 'method = "ears"'), ["short.method", "'ears' is not one of"]),
    (("version = 1", "version = 2"), ["version"]),
    (("[short]", "[shrot]"), ["shrot", "short"]),
    (("min_history_weeks = 264", "min_history_weeks = -1"), ["min_history_weeks"]),
])
def test_a_wrong_key_or_value_is_a_config_error_naming_it(tmp_path, edit, fragments):
    old, new = edit
    assert old in GOOD
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, GOOD.replace(old, new, 1))
    for fragment in fragments:
        assert fragment in str(raised.value), (fragment, str(raised.value))


def test_an_override_is_checked_like_the_rest(tmp_path):
    text = GOOD + '\n[[override]]\nseries = "Avian influenza|*"\nmethod = "earsC"\ncontrol = { method = "C1", alhpa = 0.01 }\n'
    with pytest.raises(ConfigError, match=r"\[\[override\]\] series = 'Avian influenza\|\*' control entry 'alhpa'"):
        _load(tmp_path, text)
    ok = _load(tmp_path, text.replace("alhpa", "alpha"))
    assert ok.override[0].choice().label == "earsC1"


def test_scoring_logs_unexpected_warnings_instead_of_swallowing_them(caplog):
    choice = load_method_config().short.choice()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("all-zero history", DegenerateHistoryWarning, stacklevel=1)
        warnings.warn("overflow in exp", RuntimeWarning, stacklevel=1)
        warnings.warn("overflow in exp", RuntimeWarning, stacklevel=1)
    with caplog.at_level(logging.INFO, logger="biotracker.scoring.score"):
        _log_warnings(caught, choice)
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert (logging.WARNING, "scoring with earsC2: RuntimeWarning: overflow in exp") in levels
    assert sum("overflow" in m for _, m in levels) == 1
    assert any(lvl == logging.INFO and "all-zero" in m for lvl, m in levels)


def test_choices_are_hashable_group_keys_with_typed_defaults():
    a = MethodChoice("earsC", (("method", "C3"),))
    assert hash(a) == hash(MethodChoice("earsC", (("method", "C3"),))) and a.config.alpha == 0.025
    assert np.isclose(MethodChoice("farringtonFlexible", ()).config.weightsThreshold, 2.58)
