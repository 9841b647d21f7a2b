"""``earsC`` C1, C2 and C3 of the CDC's Early Aberration Reporting System, as coded in R.

C1 compares week t with the mean and sd of the previous ``baseline`` weeks, C2 skips a two-week
guard band. C3 is R's version (README item 9): the bound depends on the C2 statistics of the two
*previous* weeks only, ``U = max(0, y_t + sd_t (z - C2+_{t-1} - C2+_{t-2}))``; with a zero sd
(and ``minSigma = 0``) those statistics are infinite or NaN and R's NA is kept.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from biotracker.errors import ConfigError
from biotracker.scoring.detectors.control import EarsControl


def _baseline_stats(
    observed: np.ndarray, points: np.ndarray, baseline: int, lag: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample sd of y[t-lag-baseline+1 .. t-lag] for each t in ``points`` (1-based)."""
    windows = sliding_window_view(
        observed, baseline, axis=1
    )  # windows[:, j] = y[j .. j+baseline-1] (0-based)
    start = points - lag - baseline  # 0-based first week of each baseline
    ref = windows[:, start, :]
    return ref.mean(axis=2), ref.std(axis=2, ddof=1)


def weeks_before_range(control: EarsControl) -> int:
    """How many weeks before its first scored week the method reads: nothing earlier matters."""
    return control.baseline + {"C1": 0, "C2": 2, "C3": 4}[control.method]


def run(observed: np.ndarray, points: list[int], control: EarsControl) -> dict[str, np.ndarray]:
    """Evaluate ``points`` (1-based, sorted) for every series (rows of ``observed``)."""
    pts = np.asarray(sorted(points))
    baseline = control.baseline
    max_lag = weeks_before_range(control)
    if pts[0] - max_lag < 1:
        raise ConfigError(
            f"earsC {control.method} with baseline={baseline} needs {max_lag} weeks before the range; "
            f"start the range at t >= {max_lag + 1}"
        )
    z = stats.norm.ppf(1 - control.alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        if control.method in ("C1", "C2"):
            lag = 1 if control.method == "C1" else 3
            mean, sd = _baseline_stats(observed, pts, baseline, lag)
            upper = mean + z * np.maximum(sd, control.minSigma)
            expected = mean
        else:
            pts_c2 = np.arange(pts[0] - 2, pts[-1] + 1)
            mean, sd = _baseline_stats(observed, pts_c2, baseline, 3)
            sd = np.maximum(sd, control.minSigma)
            c2 = (observed[:, pts_c2 - 1] - mean) / sd
            lag2 = np.maximum(0.0, c2[:, :-2] - 1)
            lag1 = np.maximum(0.0, c2[:, 1:-1] - 1)
            sel = pts - pts_c2[0]  # C3 may be asked for a non-contiguous set of points
            y = observed[:, pts - 1]
            # R indexes the C2 lags by position in the contiguous range min..max
            upper = np.maximum(0.0, y + sd[:, sel] * (z - (lag2[:, sel - 2] + lag1[:, sel - 2])))
            expected = mean[:, sel]
        y = observed[:, pts - 1]
        alarm = np.where(np.isnan(upper) | np.isnan(y), np.nan, (y > upper).astype(float))
    return {"upperbound": upper, "expected": expected, "alarm": alarm}
