"""Batched quasi-Poisson (log link) IRLS that reproduces R's ``glm.fit`` iteration by iteration.

Why not statsmodels: the Farrington family fits two to four GLMs per series and week, i.e.
hundreds of thousands of tiny fits a day. Here every row of ``y`` is one fit sharing one design,
so one iteration is a handful of vectorised operations for all of them.

Why copy R's iteration instead of just converging: R's outputs depend on *where* it stops.
``summary.glm`` and ``hatvalues`` use the working weights of the last iteration (computed from
the fitted means *before* the final update), convergence is judged on the relative change of the
deviance (``epsilon = 1e-8``, ``maxit = 25``), and degenerate fits (a seasonal block of zeros)
stop at an R-specific point. So we start at ``mu = y + 0.1``, update with the same formulae,
freeze each row on the iteration R would stop at, and keep that iteration's weights.

Every Farrington design is "one indicator per seasonal level, plus optionally a time column"
(the intercept + treatment dummies of R span the same space, so fitted values, hat values,
predictions and the t-value of the time coefficient are identical). Its X'WX is an *arrow*
matrix — diagonal plus one dense row and column — which we invert in closed form with the
Schur complement instead of calling LAPACK on thousands of tiny matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = np.finfo(float).eps  # R's .Machine$double.eps, used by the log link's linkinv / mu.eta
MAXIT = 25
EPSILON = 1e-8


@dataclass(frozen=True)
class Design:
    """Shared design of a batch: ``level`` codes 0..n_levels-1 per observation, optional ``time``.

    Observations must be sorted by level (every level present in the design) so that level sums
    are contiguous ``np.add.reduceat`` segments: no BLAS call, whose threads fight over the
    cores when thousands of tiny products are issued.
    """

    level: np.ndarray
    n_levels: int
    time: np.ndarray | None

    def __post_init__(self) -> None:
        counts = np.bincount(self.level, minlength=self.n_levels)
        if np.any(np.diff(self.level) < 0) or np.any(counts == 0):
            raise ValueError("Design.level must be sorted and use every level 0..n_levels-1")

    @property
    def starts(self) -> np.ndarray:
        """Index of the first observation of each level."""
        return np.searchsorted(self.level, np.arange(self.n_levels))

    @property
    def counts(self) -> np.ndarray:
        return np.bincount(self.level, minlength=self.n_levels)


@dataclass
class GlmFit:
    """One batch of fits. Shapes: B rows (fits), n observations, L levels.

    ``d``, ``u`` and ``s`` describe (X'WX)^-1 of the last IRLS step: with d the level sums of
    the working weights, c the level sums of weight * time, e the sum of weight * time^2,
    u = c / d and s = e - sum(c^2 / d) (the Schur complement; absent without a time column).
    """

    level_coef: np.ndarray  # (B, L)
    time_coef: np.ndarray | None  # (B,)
    mu: np.ndarray  # (B, n) fitted means
    working_weights: np.ndarray  # (B, n) R's model$weights: prior * mu of the last iteration
    d: np.ndarray  # (B, L)
    u: np.ndarray | None  # (B, L)
    s: np.ndarray | None  # (B,)
    present: np.ndarray  # (B, L) level has at least one observation with positive weight
    n_ok: np.ndarray  # (B,) observations with positive prior weight
    converged: np.ndarray  # (B,) bool

    @property
    def rank(self) -> np.ndarray:
        return self.present.sum(axis=1) + (0 if self.s is None else 1)

    @property
    def df_residual(self) -> np.ndarray:
        return self.n_ok - self.rank

    def quad_form(self, level0: int, t0: float | None) -> np.ndarray:
        """x0' (X'WX)^-1 x0 for the prediction row (indicator of level0, time t0)."""
        inv_d = np.where(self.present[:, level0], 1.0 / self.d[:, level0], np.nan)
        if self.s is None:
            return inv_d
        assert self.u is not None and t0 is not None  # u and s come together (time column present)
        return inv_d + (self.u[:, level0] - t0) ** 2 / self.s

    def predict_link(self, level0: int, t0: float | None) -> np.ndarray:
        """x0 @ coef (no offset); NaN when the prediction level had no data."""
        eta = np.where(self.present[:, level0], self.level_coef[:, level0], np.nan)
        if self.time_coef is not None:
            eta = eta + self.time_coef * t0
        return eta

    @property
    def time_var_unscaled(self) -> np.ndarray:
        """Unscaled variance of the time coefficient, (X'WX)^-1[t, t] = 1 / s."""
        if self.s is None:
            raise ValueError("the model has no time column, so no time coefficient variance")
        return np.asarray(1.0 / self.s)


def fit_quasipoisson(
    design: Design, y: np.ndarray, prior: np.ndarray, offset: np.ndarray | None = None
) -> GlmFit:
    """Fit the design for every row of ``y`` at once, exactly as R's ``glm.fit`` would.

    ``y`` and ``prior`` are (B, n), ``prior`` zero where an observation is missing (its ``y`` is
    then ignored); ``offset`` is (B, n) or None.
    """
    B, n = y.shape
    L = design.n_levels
    t = design.time
    starts = design.starts
    counts = design.counts
    y = np.where(prior > 0, y, 0.0)
    off = np.zeros_like(y) if offset is None else offset
    present = np.add.reduceat((prior > 0).astype(float), starts, axis=1) > 0

    # R: mustart <- y + 0.1; eta <- linkfun(mustart) (the offset is not added at the start).
    # For the log link mu.eta = mu, so z = eta + (y - mu)/mu, w^2 = prior * mu and the deviance
    # is 2 * sum(prior * (y log y - y - y log(mu) + mu)): no logarithm inside the loop.
    eta = np.log(y + 0.1)
    mu = np.maximum(np.exp(eta), _EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev_const = 2.0 * np.where(y > 0, prior * (y * np.log(np.where(y > 0, y, 1.0)) - y), 0.0).sum(axis=1)
    py = prior * y
    devold = dev_const + 2.0 * (prior * mu - py * eta).sum(axis=1)

    level_coef = np.zeros((B, L))
    time_coef = None if t is None else np.zeros(B)
    w2_last = np.zeros((B, n))
    d_last = np.ones((B, L))
    u_last = None if t is None else np.zeros((B, L))
    s_last = None if t is None else np.ones(B)
    mu_out = mu.copy()
    converged = np.zeros(B, dtype=bool)
    # The working set holds only the fits still iterating; it is compacted as fits converge, so
    # finished rows cost nothing and no scatter/gather of unfinished rows is needed.
    rows = np.arange(B)
    pr_a, py_a, pres, dc = prior, py, present, dev_const
    off_a = None if offset is None else off
    for iteration in range(MAXIT):
        w2 = pr_a * mu
        wz = w2 * (eta if off_a is None else eta - off_a) + py_a - w2
        d = np.where(pres, np.add.reduceat(w2, starts, axis=1), 1.0)
        sz = np.add.reduceat(wz, starts, axis=1)
        if t is None:
            beta_l = np.where(pres, sz / d, 0.0)
            eta = np.repeat(beta_l, counts, axis=1)
        else:
            w2t = w2 * t
            c = np.where(pres, np.add.reduceat(w2t, starts, axis=1), 0.0)
            e = np.einsum("bn,n->b", w2t, t)
            u = c / d
            s = e - (c * u).sum(axis=1)
            beta_t = (np.einsum("bn,n->b", wz, t) - (u * sz).sum(axis=1)) / s
            beta_l = np.where(pres, sz / d - u * beta_t[:, None], 0.0)
            eta = np.repeat(beta_l, counts, axis=1)
            eta += beta_t[:, None] * t
        if off_a is not None:
            eta += off_a
        mu = np.exp(eta)
        np.maximum(mu, _EPS, out=mu)
        dev = dc + 2.0 * (pr_a * mu - py_a * eta).sum(axis=1)
        done = np.abs(dev - devold) / (np.abs(dev) + 0.1) < EPSILON
        finish = done if iteration < MAXIT - 1 else np.ones_like(done)
        if finish.any():
            r = rows[finish]
            level_coef[r], mu_out[r], w2_last[r], d_last[r] = (
                beta_l[finish],
                mu[finish],
                w2[finish],
                d[finish],
            )
            if t is not None:
                assert time_coef is not None and u_last is not None and s_last is not None
                time_coef[r], u_last[r], s_last[r] = beta_t[finish], u[finish], s[finish]
            converged[rows[done]] = True
            keep = ~finish
            if not keep.any():
                break
            rows, eta, mu, devold = rows[keep], eta[keep], mu[keep], dev[keep]
            pr_a, py_a, pres, dc = pr_a[keep], py_a[keep], pres[keep], dc[keep]
            if off_a is not None:
                off_a = off_a[keep]
        else:
            devold = dev
    mu = mu_out

    return GlmFit(
        level_coef=level_coef,
        time_coef=time_coef,
        mu=mu,
        working_weights=w2_last,
        d=d_last,
        u=u_last,
        s=s_last,
        present=present,
        n_ok=(prior > 0).sum(axis=1),
        converged=converged,
    )


def pearson_dispersion(fit: GlmFit, y: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """``summary.glm(model)$dispersion``: sum(weights * working residual^2) / df.residual.

    ``weights`` defaults to the model's working weights; the farringtonFlexible quirk passes the
    prior weights instead (R overwrites ``model$weights`` with them).
    """
    wt = fit.working_weights if weights is None else weights
    with np.errstate(divide="ignore", invalid="ignore"):
        resid2 = ((y - fit.mu) / fit.mu) ** 2
        total = np.where(wt > 0, wt * resid2, 0.0).sum(axis=1)
        return total / fit.df_residual


def hat_values(fit: GlmFit, design: Design) -> np.ndarray:
    """Diagonal of the hat matrix of the last IRLS step (R's ``hatvalues``), (B, n)."""
    lev = design.level
    with np.errstate(divide="ignore", invalid="ignore"):
        quad = 1.0 / fit.d[:, lev]
        if fit.s is not None:
            assert fit.u is not None and design.time is not None  # u and s come with a time column
            quad = quad + (fit.u[:, lev] - design.time[None, :]) ** 2 / fit.s[:, None]
    h = fit.working_weights * quad
    return np.where(h > 1 - 10 * _EPS, 1.0, h)


def linear_predictor_se(fit: GlmFit, level0: int, t0: float | None, dispersion: np.ndarray) -> np.ndarray:
    """Standard error of the linear predictor at the prediction row, as ``predict.glm(se.fit=TRUE)``."""
    return np.sqrt(fit.quad_form(level0, t0) * dispersion)
