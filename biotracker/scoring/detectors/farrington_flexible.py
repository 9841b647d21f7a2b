"""``farringtonFlexible``: Noufaily et al. (2013) and the original Farrington settings, batched.

Follows R surveillance 1.20.3 ``farringtonFlexible`` step for step (README items 1-8): reference
weeks and ``noPeriods`` blocks, quasi-Poisson fit with optional trend, reweighting, the trend
rule (b >= 3, p-value < ``pThresholdTrend``, no extrapolation beyond the largest response),
the "delta" or "nbPlugin" bound, ``limit54`` and the alarm rule ``score > 1 and y != 0``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from biotracker.errors import ConfigError
from biotracker.scoring.detectors.batching import group_weeks, row_chunks
from biotracker.scoring.detectors.control import FarringtonFlexibleControl
from biotracker.scoring.detectors.glm import Design, linear_predictor_se
from biotracker.scoring.detectors.reference_weeks import FlexibleDesign, flexible_design
from biotracker.scoring.detectors.reweighting import fit_farrington_model
from biotracker.scoring.detectors.thresholds import delta_upper, nb_plugin_upper, power_se

_EPS = np.finfo(float).eps


def _glm_designs(
    design: FlexibleDesign, factors: bool, no_periods: int
) -> tuple[Design, Design, int, float, np.ndarray]:
    """Trend and no-trend designs, the level code of the prediction and the scaled time there.

    Seasonal blocks become one indicator per level (same column space as R's intercept +
    treatment dummies). Time is taken relative to the evaluated week, centred and scaled only for
    numerical conditioning: fitted means, predictions and the time coefficient's t-value do not
    change under this reparametrisation.
    """
    if factors:
        levels, codes = np.unique(design.level, return_inverse=True)
        matches = np.flatnonzero(levels == no_periods)
        level0 = int(matches[0]) if matches.size else -1
    else:
        levels, codes, level0 = np.array([1]), np.zeros(len(design.level), dtype=int), 0
    rel = design.wtime - design.wtime0
    centre = rel.mean()
    time = (rel - centre) / 52.0
    order = np.argsort(codes, kind="stable")  # Design wants observations grouped by level
    codes, time = codes[order], time[order]
    trend = Design(level=codes, n_levels=len(levels), time=time)
    flat = Design(level=codes, n_levels=len(levels), time=None)
    return trend, flat, level0, (0.0 - centre) / 52.0, order


def run(
    observed: np.ndarray,
    dates: list | None,
    points: list[int],
    control: FarringtonFlexibleControl,
    population: np.ndarray | None = None,
    freq: int = 52,
) -> dict[str, np.ndarray]:
    """Evaluate ``points`` (1-based weeks) for every row of ``observed`` (series x weeks)."""
    S = observed.shape[0]
    K = len(points)
    out = {
        name: np.full((S, K), np.nan)
        for name in ("upperbound", "expected", "alarm", "score", "pvalue", "phi", "trend", "mean")
    }
    designs = [
        flexible_design(
            k,
            dates,
            b=control.b,
            w=control.w,
            no_periods=control.noPeriods,
            past_weeks_not_included=control.past_weeks_not_included,
            freq=freq,
        )
        for k in points
    ]
    keys = [(tuple(d.level.tolist()), tuple((d.wtime - d.wtime0).round(9).tolist())) for d in designs]
    factors = control.noPeriods != 1
    z = stats.norm.ppf(1 - control.alpha)
    lim_cases, lim_weeks = control.limit54
    for group in group_weeks(keys):
        design = designs[group[0]]
        trend_design, flat_design, level0, t0, order = _glm_designs(design, factors, control.noPeriods)
        if level0 < 0:
            raise ConfigError(
                f"farringtonFlexible at t={points[group[0]]}: no reference window left to predict from"
            )
        idx = np.stack([designs[g].index[order] for g in group])  # (Kg, n), grouped by level
        ks = np.array([points[g] for g in group])
        for wpos, spos in row_chunks(len(group), S):
            y = observed[spos[:, None], idx[wpos]]
            valid = ~np.isnan(y)
            k_idx = ks[wpos] - 1
            offset = off0 = None
            if control.populationOffset and population is not None:
                offset = np.log(population[spos[:, None], idx[wpos]])
                off0 = np.log(population[spos, k_idx])
            res = _fit_and_predict(trend_design, flat_design, level0, t0, y, valid, offset, off0, control)
            eta0, mu0, se_eta0, phi, do_trend, ok = res
            yk = observed[spos, k_idx]
            upper, score, pval = _threshold(yk, eta0, mu0, se_eta0, phi, z, control)
            fit_value = mu0
            recent = np.stack([observed[spos, np.maximum(k_idx - j, 0)] for j in range(lim_weeks)], axis=1)
            recent_sum = recent.sum(axis=1)
            enough = recent_sum >= lim_cases
            enough_na = np.isnan(recent_sum)
            good = enough & ~enough_na
            x = np.where(good, score, np.nan)
            with np.errstate(invalid="ignore"):
                alarm = (~np.isnan(x) & (x > 1) & (yk != 0)).astype(float)
            # R writes FALSE when y_t is NA; the detector contract keeps a missing week missing.
            alarm = np.where(np.isnan(yk), np.nan, alarm)
            ub = np.where(good, upper, np.nan)
            exp_ = np.where(good & ~np.isnan(upper), fit_value, np.nan)
            g_pos = np.array(group)[wpos]
            for name, val in (
                ("upperbound", ub),
                ("expected", exp_),
                ("alarm", alarm),
                ("score", score),
                ("pvalue", pval),
                ("phi", phi),
                ("trend", do_trend.astype(float)),
                ("mean", mu0),
            ):
                out[name][spos, g_pos] = np.where(ok, val, np.nan)
    return out


def _threshold(yk, eta0, mu0, se_eta0, phi, z, control):
    """Upper bound, R's score and R's p-value for the chosen ``thresholdMethod``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if control.thresholdMethod == "nbPlugin":
            upper = nb_plugin_upper(np.where(np.isinf(mu0), np.nan, mu0), phi, control.alpha)
            score = (yk - eta0) / (upper - eta0)  # R's quirk: eta0 on the log scale
            return upper, score, _nb_pvalue(yk, mu0, phi)
        se_mu0 = se_eta0 * mu0  # predict.glm(type = "response"): se on the mean scale
        upper = delta_upper(mu0, se_mu0, phi, z, control.powertrans)
        score = (yk - mu0) / (upper - mu0)
        se, e = power_se(mu0, phi + se_mu0**2 / mu0, control.powertrans)
        return upper, score, stats.norm.sf(yk**e, loc=mu0**e, scale=se)


def _nb_pvalue(y: np.ndarray, mu0: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """P(Y >= y) under the plug-in distribution, R's ``pvalue`` for nbPlugin."""
    with np.errstate(divide="ignore", invalid="ignore"):
        nb = stats.nbinom.sf(y - 1, mu0 / (phi - 1), 1 / phi)
        po = stats.poisson.sf(y - 1, mu0)
    return np.where(phi != 1, nb, po)


def _fit_and_predict(trend_design, flat_design, level0, t0, y, valid, offset, off0, control):
    """Trend model, trend rule, then the no-trend model only for the rows that need it.

    Returns, per row, the prediction of the model R keeps: eta0 (link), mu0, se(eta0), phi,
    whether the trend was kept, and whether any model could be fitted (else R gives NA).
    """
    B = y.shape[0]
    off0v = np.zeros(B) if off0 is None else off0
    kwargs = {
        "reweight": control.reweight,
        "weights_threshold": control.weightsThreshold,
        "prior_weights_quirk": True,
    }
    eta0 = np.full(B, np.nan)
    se_eta0 = np.full(B, np.nan)
    phi = np.full(B, np.nan)
    do_trend = np.zeros(B, dtype=bool)
    if control.trend:
        tr = fit_farrington_model(trend_design, y, valid, offset, **kwargs)
        eta_t = tr.glm.predict_link(level0, t0) + off0v
        mu_t = np.maximum(np.exp(eta_t), _EPS)
        with np.errstate(divide="ignore", invalid="ignore"):
            tval = tr.glm.time_coef / np.sqrt(tr.glm.time_var_unscaled * tr.dispersion)
            pval = 2 * stats.t.sf(np.abs(tval), tr.glm.df_residual)
        ymax = np.where(valid, y, -np.inf).max(axis=1)
        do_trend = tr.first_converged & (control.b >= 3) & (pval < control.pThresholdTrend) & (mu_t <= ymax)
        eta0[do_trend] = eta_t[do_trend]
        se_eta0[do_trend] = linear_predictor_se(tr.glm, level0, t0, tr.dispersion)[do_trend]
        phi[do_trend] = tr.phi[do_trend]
    ok = do_trend.copy()
    rest = np.flatnonzero(~do_trend)
    if rest.size:
        nt = fit_farrington_model(
            flat_design, y[rest], valid[rest], None if offset is None else offset[rest], **kwargs
        )
        eta0[rest] = nt.glm.predict_link(level0, None) + off0v[rest]
        se_eta0[rest] = linear_predictor_se(nt.glm, level0, None, nt.dispersion)
        phi[rest] = nt.phi
        ok[rest] = nt.first_converged
    mu0 = np.maximum(np.exp(eta0), _EPS)
    return eta0, mu0, se_eta0, phi, do_trend, ok
