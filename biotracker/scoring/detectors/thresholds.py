"""Upper bounds of the Farrington family: the delta-method bound and the negative-binomial plug-in.

Integer bounds must equal R's exactly, so the discrete quantiles follow R's ``qnbinom`` /
``qpois``: the smallest integer whose CDF reaches ``p * (1 - 64 * DBL_EPSILON)`` (R's fuzz that
keeps a quantile from jumping one step up on rounding noise).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

_FUZZ = 1 - 64 * np.finfo(float).eps

_EXPONENT = {"none": 1.0, "1/2": 0.5, "2/3": 2.0 / 3.0}


def power_se(mu0: np.ndarray, tau: np.ndarray, powertrans: str) -> tuple[np.ndarray, float]:
    """Standard error on the power-transformed scale and the exponent (R's skewness.transform)."""
    if powertrans == "none":
        return np.sqrt(mu0 * tau), 1.0
    if powertrans == "1/2":
        return np.sqrt(0.25 * tau), 0.5
    return np.sqrt(4.0 / 9.0 * mu0 ** (1.0 / 3.0) * tau), 2.0 / 3.0


def delta_upper(
    mu0: np.ndarray, se_mu0: np.ndarray, phi: np.ndarray, z: float, powertrans: str
) -> np.ndarray:
    """Farrington's bound ``(mu0^e + z * se)^(1/e)`` with ``tau = phi + se(mu0)^2 / mu0``.

    R sorts the two ends (lower, upper) and takes the second; the upper end is always
    ``mu0^e + z*se`` raised back, also for "1/2" where a negative lower end squares positive.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = phi + se_mu0**2 / mu0
        se, e = power_se(mu0, tau, powertrans)
        hi = (mu0**e + z * se) ** (1.0 / e)
        lo = (mu0**e - z * se) ** (1.0 / e)
    # sort(c(lo, hi), na.last = FALSE)[2]: the larger one unless one is NaN.
    return np.where(np.isnan(lo), hi, np.where(np.isnan(hi), lo, np.maximum(lo, hi)))


def _discrete_quantile(p: float, cdf, start: np.ndarray) -> np.ndarray:
    """Smallest integer x with cdf(x) >= p * fuzz, searched from a close starting guess."""
    target = p * _FUZZ
    x = np.maximum(np.nan_to_num(start, nan=0.0, posinf=0.0), 0.0).astype(float)
    for _ in range(200):
        below = cdf(x) < target
        if not below.any():
            break
        x = np.where(below, x + 1, x)
    for _ in range(200):
        down = (x > 0) & (cdf(np.maximum(x - 1, 0)) >= target)
        if not down.any():
            break
        x = np.where(down, x - 1, x)
    return x


def nb_plugin_upper(mu0: np.ndarray, phi: np.ndarray, alpha: float) -> np.ndarray:
    """``qnbinom(1-alpha, size = mu0/(phi-1), prob = 1/phi)`` if phi > 1 else ``qpois(1-alpha, mu0)``."""
    mu0 = np.asarray(mu0, dtype=float)
    phi = np.asarray(phi, dtype=float)
    out = np.full(mu0.shape, np.nan)
    ok = np.isfinite(mu0) & np.isfinite(phi)
    q = 1.0 - alpha
    nb = ok & (phi > 1)
    if nb.any():
        size = mu0[nb] / (phi[nb] - 1)
        prob = 1.0 / phi[nb]
        start = stats.nbinom.ppf(q, size, prob)
        out[nb] = _discrete_quantile(q, lambda x: stats.nbinom.cdf(x, size, prob), start)
    po = ok & ~(phi > 1)
    if po.any():
        lam = mu0[po]
        start = stats.poisson.ppf(q, lam)
        out[po] = _discrete_quantile(q, lambda x: stats.poisson.cdf(x, lam), start)
    return out
