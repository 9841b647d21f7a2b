"""The old ``farrington()`` of R surveillance (``algo.farrington`` with ``fitGLM.fast``), batched.

Kept alongside ``farringtonFlexible`` because published thresholds and many analysts' scripts
use it, and it differs in ways that change alarms: b windows of 2w+1 weeks and no seasonal
blocks; time is the absolute week index even for dated series; the reweighting threshold is 1;
the trend is kept only if its p-value is < 0.05; the bound is two-sided (z = qnorm(1 - alpha/2))
with se computed from phi = max(dispersion, 1); too few recent cases (``limit54``) give bound 0
and no alarm rather than NA.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from biotracker.scoring.detectors.batching import group_weeks, row_chunks
from biotracker.scoring.detectors.control import FarringtonControl
from biotracker.scoring.detectors.glm import Design, linear_predictor_se
from biotracker.scoring.detectors.reference_weeks import farrington_reference_index
from biotracker.scoring.detectors.reweighting import fit_farrington_model
from biotracker.scoring.detectors.thresholds import delta_upper

_EPS = np.finfo(float).eps


def run(
    observed: np.ndarray, dates: list | None, points: list[int], control: FarringtonControl, freq: int = 52
) -> dict[str, np.ndarray]:
    """Evaluate ``points`` (1-based weeks) for every row of ``observed`` (series x weeks)."""
    S = observed.shape[0]
    K = len(points)
    out = {name: np.full((S, K), np.nan) for name in ("upperbound", "expected", "alarm", "trend")}
    index = [farrington_reference_index(k, dates, b=control.b, w=control.w, freq=freq) for k in points]
    keys = [tuple((idx + 1 - k).tolist()) for idx, k in zip(index, points)]
    z = stats.norm.ppf(1 - control.alpha / 2)
    lim_cases, lim_weeks = control.limit54
    kwargs: dict[str, Any] = {
        "reweight": control.reweight,
        "weights_threshold": 1.0,
        "prior_weights_quirk": False,
    }
    for group in group_weeks(keys):
        rel = np.array(keys[group[0]], dtype=float)  # wtime - k
        centre = rel.mean() if rel.size else 0.0
        codes = np.zeros(len(rel), dtype=int)
        trend_design = Design(level=codes, n_levels=1, time=(rel - centre) / 52.0)
        flat_design = Design(level=codes, n_levels=1, time=None)
        t0 = -centre / 52.0
        idx = np.stack([index[g] for g in group])
        ks = np.array([points[g] for g in group])
        for wpos, spos in row_chunks(len(group), S):
            y = observed[spos[:, None], idx[wpos]]
            valid = ~np.isnan(y)
            B = y.shape[0]
            eta0 = np.full(B, np.nan)
            se = np.full(B, np.nan)
            phi = np.full(B, np.nan)
            do_trend = np.zeros(B, dtype=bool)
            if control.trend:
                tr = fit_farrington_model(trend_design, y, valid, None, **kwargs)
                eta_t = tr.glm.predict_link(0, t0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    tval = tr.glm.time_coef / np.sqrt(tr.glm.time_var_unscaled * tr.dispersion)
                    pval = 2 * stats.t.sf(np.abs(tval), tr.glm.df_residual)
                ymax = np.where(valid, y, -np.inf).max(axis=1)
                mu_t = np.maximum(np.exp(eta_t), _EPS)
                do_trend = tr.first_converged & (control.b >= 3) & (pval < 0.05) & (mu_t <= ymax)
                eta0[do_trend] = eta_t[do_trend]
                se[do_trend] = linear_predictor_se(tr.glm, 0, t0, tr.phi)[do_trend]
                phi[do_trend] = tr.phi[do_trend]
            rest = np.flatnonzero(~do_trend)
            if rest.size:
                # fitGLM.fast keeps a non-converged no-trend fit (no NA), unlike farringtonFlexible.
                nt = fit_farrington_model(flat_design, y[rest], valid[rest], None, **kwargs)
                eta0[rest] = nt.glm.predict_link(0, None)
                se[rest] = linear_predictor_se(nt.glm, 0, None, nt.phi)
                phi[rest] = nt.phi
            mu0 = np.maximum(np.exp(eta0), _EPS)
            upper = delta_upper(mu0, se * mu0, phi, z, control.powertrans)
            k_idx = ks[wpos] - 1
            yk = observed[spos, k_idx]
            recent = np.stack(
                [observed[spos, np.maximum(k_idx - j, 0)] for j in range(lim_weeks)], axis=1
            ).sum(axis=1)
            enough = recent >= lim_cases
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(enough, (yk - mu0) / (upper - mu0), 0.0)
                alarm = (x > 1).astype(float)
            ub = np.where(enough, upper, 0.0)
            na = np.isnan(recent) | np.isnan(yk)
            g_pos = np.array(group)[wpos]
            out["upperbound"][spos, g_pos] = np.where(np.isnan(recent), np.nan, ub)
            out["alarm"][spos, g_pos] = np.where(na, np.nan, alarm)
            out["expected"][spos, g_pos] = mu0
            out["trend"][spos, g_pos] = do_trend.astype(float)
    return out
