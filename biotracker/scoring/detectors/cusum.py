"""``cusum`` (R ``algo.cusum``): a one-sided CUSUM of standardised counts against a fixed mean.

The in-control mean ``m`` is one constant, the mean of every week *before* the range (README
item 10), so results depend on where the range starts. S starts at 0 at the first evaluated
week and is not reset after an alarm; the bound is the count that would have made S reach h.
"""

from __future__ import annotations

import numpy as np

from biotracker.errors import ConfigError
from biotracker.scoring.detectors.control import CusumControl


def _standardise(x: np.ndarray, m: np.ndarray, trans: str, alpha: float) -> np.ndarray:
    if trans == "standard":
        return (x - m) / np.sqrt(m)
    if trans == "rossi":
        return (x - 3 * m + 2 * np.sqrt(x * m)) / (2 * np.sqrt(m))
    if trans == "anscombe":
        return 1.5 * (x ** (2 / 3) - m ** (2 / 3)) / m ** (1 / 6)
    if trans == "anscombe2nd":
        return (x ** (2 / 3) - (m ** (2 / 3) - m ** (-1 / 3) / 9)) / (2 / 3 * m ** (1 / 6))
    if trans == "pearsonNegBin":
        return (x - m) / np.sqrt(m + alpha * m**2)
    return x  # "none"


def _upper(
    m: np.ndarray, c_prev: np.ndarray, c_now: np.ndarray, h: float, k: float, trans: str, alpha: float
) -> np.ndarray:
    if trans == "standard":
        return np.ceil(np.sqrt(m) * (h + k - c_prev) + m)
    if trans == "rossi":
        return (
            2 * h * m**0.5
            + 2 * k * m**0.5
            - 2 * c_prev * m**0.5
            + 5 * m
            - 2 * (4 * m**2 + 2 * m**1.5 * h + 2 * m**1.5 * k - 2 * m**1.5 * c_prev) ** 0.5
        )
    if trans == "anscombe":
        base = (2 / 3) * m ** (1 / 6) * (h + k - c_prev) + m ** (2 / 3)
        return np.where(base < 0, 0.0, np.abs(base) ** 1.5)
    if trans == "anscombe2nd":
        base = (2 / 3) * m ** (1 / 6) * (h + k - c_prev) + (m ** (2 / 3) - m ** (1 / 3) / 9)
        return np.where(base < 0, 0.0, np.abs(base) ** 1.5)
    if trans == "pearsonNegBin":
        return np.sqrt(m + alpha * m**2) * (h + k - c_prev) + m
    return h - c_now  # "none"


def run(observed: np.ndarray, points: list[int], control: CusumControl) -> dict[str, np.ndarray]:
    """Evaluate ``points`` (1-based, in the given order, as R does) for every series."""
    pts = np.asarray(points)
    S = observed.shape[0]
    if control.m is None:
        # R: mean(observed[1:(range[1] - 1)]); for range[1] = 1 that is 1:0, i.e. week 1 alone.
        before = max(pts[0] - 1, 1)
        m = np.broadcast_to(observed[:, :before].mean(axis=1)[:, None], (S, len(pts)))
    else:
        m_val = np.asarray(control.m, dtype=float)
        if m_val.ndim and m_val.size != len(pts):
            raise ConfigError(
                f"cusum m has {m_val.size} values but the range has {len(pts)} weeks; give one m or one per week"
            )
        m = np.broadcast_to(m_val, (S, len(pts)))
    x = observed[:, pts - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = _standardise(x, m, control.trans, control.alpha)
        cusum = np.zeros((S, len(pts) + 1))
        for t in range(len(pts)):
            cusum[:, t + 1] = _rmax0(cusum[:, t] + (z[:, t] - control.k))
        upper = _upper(m, cusum[:, :-1], cusum[:, 1:], control.h, control.k, control.trans, control.alpha)
    upper = np.where(np.isnan(upper) | (upper < 0), 0.0, upper)
    stat = cusum[:, 1:]
    alarm = np.where(np.isnan(stat), np.nan, (stat >= control.h).astype(float))
    return {"upperbound": upper, "expected": np.array(m, dtype=float), "alarm": alarm, "cusum": stat}


def _rmax0(v: np.ndarray) -> np.ndarray:
    """R's ``max(0, v)``: NA stays NA (numpy's maximum does the same)."""
    return np.maximum(0.0, v)
