"""Every R reference case reproduces: same alarms, same bounds, NA where R has NA.

Tolerances are those of the reference README: integer bounds (nbPlugin, cusum "standard")
exactly, continuous ones to 1e-6 relative, alarms exactly, missing kept missing.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biotracker.scoring.detectors import detect

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "surveillance"
MANIFEST = pd.read_csv(FIXTURES / "manifest.csv")
EXTRA = [
    dict(c, folder="extra_r_cases")
    for c in json.loads((FIXTURES / "extra_r_cases" / "cases.json").read_text())
]
RANDOM = [
    dict(c, folder="random_r_cases")
    for c in json.loads((FIXTURES / "random_r_cases" / "cases.json").read_text())
    if not c["r_error"]
]


def _input(series: str) -> tuple[np.ndarray, np.ndarray | None]:
    frame = pd.read_csv(FIXTURES / series / "input.csv")
    dates = (
        None
        if frame["date"].isna().all()
        else pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]")
    )
    return frame["observed"].to_numpy(dtype=float)[None, :], dates


def _assert_matches_r(got: np.ndarray, want: np.ndarray, *, integer: bool, what: str) -> None:
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NA pattern differs from R")
    both = ~np.isnan(want)
    if integer:
        np.testing.assert_array_equal(got[both], want[both], err_msg=f"{what}: integer values differ from R")
    else:
        np.testing.assert_allclose(
            got[both], want[both], rtol=1e-6, atol=1e-12, err_msg=f"{what} differs from R"
        )


def _integer_bounds(r_function: str, control: dict) -> bool:
    if r_function == "farringtonFlexible":
        return control.get("thresholdMethod") == "nbPlugin"
    return r_function == "cusum" and control.get("trans", "standard") == "standard"


@pytest.mark.parametrize(
    "series, algorithm, r_function",
    [tuple(row) for row in MANIFEST[["series", "algorithm", "r_function"]].itertuples(index=False)],
    ids=[f"{s}-{a}" for s, a in zip(MANIFEST["series"], MANIFEST["algorithm"])],
)
def test_shared_reference_case(series: str, algorithm: str, r_function: str) -> None:
    sidecar = json.loads((FIXTURES / series / f"{algorithm}.json").read_text())
    want = pd.read_csv(FIXTURES / series / f"{algorithm}.csv")
    observed, dates = _input(series)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = detect(
            r_function,
            observed,
            dates,
            sidecar["control_passed"],
            (sidecar["range_start"], sidecar["range_end"]),
        )
    np.testing.assert_array_equal(result.t, want["t"].to_numpy())
    integer = _integer_bounds(r_function, sidecar["control_passed"])
    _assert_matches_r(
        result.upperbound[0], want["upperbound"].to_numpy(dtype=float), integer=integer, what="upperbound"
    )
    _assert_matches_r(result.alarm[0], want["alarm"].to_numpy(dtype=float), integer=True, what="alarm")
    if "expected" in want:
        _assert_matches_r(
            result.expected[0], want["expected"].to_numpy(dtype=float), integer=False, what="expected"
        )
    if "cusum" in want:
        _assert_matches_r(
            result.extra["cusum"][0], want["cusum"].to_numpy(dtype=float), integer=False, what="cusum"
        )
    if "trend" in want:
        got_trend = result.extra["trend"][0]
        want_trend = want["trend"].to_numpy(dtype=float)
        keep = ~np.isnan(want_trend)
        np.testing.assert_array_equal(
            got_trend[keep], want_trend[keep], err_msg="trend decision differs from R"
        )
    for column in ("phi", "score", "pvalue"):  # farringtonFlexible diagnostics
        if column in want:
            got = result.extra[column][0]
            _assert_matches_r(got, want[column].to_numpy(dtype=float), integer=False, what=column)


@pytest.mark.parametrize("case", EXTRA + RANDOM, ids=[c["id"] for c in EXTRA + RANDOM])
def test_extra_r_case(case: dict) -> None:
    """Settings beyond the shared cases: chosen (extra_r_cases) and random (random_r_cases)."""
    want = pd.read_csv(FIXTURES / case["folder"] / f"{case['id']}.csv")
    observed, dates = _input(case["series"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = detect(case["fun"], observed, dates, case["control"], tuple(case["range"]))
    integer = _integer_bounds(case["fun"], case["control"])
    _assert_matches_r(
        result.upperbound[0], want["upperbound"].to_numpy(dtype=float), integer=integer, what="upperbound"
    )
    _assert_matches_r(result.alarm[0], want["alarm"].to_numpy(dtype=float), integer=True, what="alarm")
    if "expected" in want:
        _assert_matches_r(
            result.expected[0], want["expected"].to_numpy(dtype=float), integer=False, what="expected"
        )


def test_many_series_at_once_equal_one_at_a_time() -> None:
    """Batching across series must not change any series' result (rows are independent fits)."""
    names = ["salmonella_agona", "influMen_meningococcus", "syn_pois_A", "syn_sparse_A"]
    width = min(pd.read_csv(FIXTURES / n / "input.csv").shape[0] for n in names)
    stacked = np.vstack([_input(n)[0][:, :width] for n in names])
    control = json.loads((FIXTURES / "salmonella_agona" / "ff_noufaily.json").read_text())["control_passed"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        together = detect("farringtonFlexible", stacked, None, control, (264, width))
        for row in range(len(names)):
            alone = detect("farringtonFlexible", stacked[row : row + 1], None, control, (264, width))
            np.testing.assert_array_equal(together.upperbound[row], alone.upperbound[0])
            np.testing.assert_array_equal(together.alarm[row], alone.alarm[0])
