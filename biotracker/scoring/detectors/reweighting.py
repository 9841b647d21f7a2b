"""The Farrington model fit: quasi-Poisson GLM, then a refit that down-weights past outbreaks.

Past outbreaks in the reference weeks would inflate the baseline; Farrington et al. (1996)
refit with weights that shrink observations whose Anscombe residual exceeds a threshold
(README item 4). Both R functions do this, with two differences kept here as flags:
``farringtonFlexible`` takes the threshold from the control list (``farrington()`` uses 1), and
after reweighting it overwrites the model's working weights with the prior weights, which changes
the dispersion that its trend test and prediction standard error use (README item 5, the
"quirk"): ``D = sum(omega * (y - mu)^2 / mu^2) / (n - p)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biotracker.scoring.detectors.glm import Design, GlmFit, fit_quasipoisson, hat_values, pearson_dispersion


@dataclass
class FarringtonFit:
    """A fitted baseline model for B rows: the GLM, phi = max(dispersion, 1) and the dispersion
    ``summary.glm`` would report afterwards (``dispersion``), used for p-values and se(eta0)."""

    glm: GlmFit
    phi: np.ndarray
    dispersion: np.ndarray
    first_converged: np.ndarray


def anscombe_residuals(y: np.ndarray, fit: GlmFit, design: Design, phi: np.ndarray) -> np.ndarray:
    """R's ``anscombe.residuals``: 1.5 (y^(2/3) mu^(-1/6) - mu^(1/2)) / sqrt(phi (1 - h))."""
    h = hat_values(fit, design)
    mu = fit.mu
    with np.errstate(divide="ignore", invalid="ignore"):
        a = 1.5 * (y ** (2.0 / 3.0) * mu ** (-1.0 / 6.0) - mu**0.5)
        return a / np.sqrt(phi[:, None] * (1.0 - h))


def outbreak_weights(s: np.ndarray, valid: np.ndarray, threshold: float) -> np.ndarray:
    """``algo.farrington.assign.weights``: gamma * s^-2 above the threshold, gamma below; sum = n."""
    with np.errstate(divide="ignore", invalid="ignore"):
        high = (s > threshold) & valid
        base = np.where(high, 1.0 / (s * s), valid.astype(float))  # s^-2 above, 1 below, 0 if missing
        gamma = valid.sum(axis=1) / base.sum(axis=1)
    return gamma[:, None] * base


def fit_farrington_model(
    design: Design,
    y: np.ndarray,
    valid: np.ndarray,
    offset: np.ndarray | None,
    *,
    reweight: bool,
    weights_threshold: float,
    prior_weights_quirk: bool,
) -> FarringtonFit:
    """Fit, optionally reweight and refit; see the module docstring for the two R variants."""
    prior = valid.astype(float)
    y0 = np.where(valid, y, 0.0)
    first = fit_quasipoisson(design, y0, prior, offset)
    disp1 = pearson_dispersion(first, y0)
    phi = np.maximum(disp1, 1.0)
    if not reweight:
        return FarringtonFit(glm=first, phi=phi, dispersion=disp1, first_converged=first.converged)
    s = anscombe_residuals(y0, first, design, phi)
    omega = outbreak_weights(s, valid, weights_threshold)
    second = fit_quasipoisson(design, y0, omega, offset)
    disp2 = pearson_dispersion(second, y0)
    phi2 = np.maximum(disp2, 1.0)
    dispersion = pearson_dispersion(second, y0, weights=omega) if prior_weights_quirk else disp2
    return FarringtonFit(glm=second, phi=phi2, dispersion=dispersion, first_converged=first.converged)
