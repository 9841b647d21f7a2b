"""Batched quasi-Poisson (log link) IRLS that reproduces R's ``glm.fit`` iteration by iteration.

Why not statsmodels: the Farrington family fits two to four GLMs per series and week, i.e.
hundreds of thousands of tiny fits a day. Here every row of ``y`` is one fit sharing one design
matrix, so one iteration is a couple of BLAS calls for all of them.

Why copy R's iteration instead of just converging: R's outputs depend on *where* it stops.
``summary.glm`` and ``hatvalues`` use the working weights of the last iteration (computed from
the fitted means *before* the final update), convergence is judged on the relative change of the
deviance (``epsilon = 1e-8``, ``maxit = 25``), and degenerate fits (a seasonal block of zeros)
stop at an R-specific point. So we start at ``mu = y + 0.1``, update with the same formulae,
freeze each row on the iteration R would stop at, and keep that iteration's weights.

Rows may carry zero prior weights (missing observations); a column with no weight at all is
dropped from that row's fit, as R does when a factor level is absent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = np.finfo(float).eps  # R's .Machine$double.eps, used by the log link's linkinv / mu.eta
MAXIT = 25
EPSILON = 1e-8


@dataclass
class GlmFit:
    """One batch of fits. Shapes: B rows (fits), n observations, p coefficients."""

    coef: np.ndarray  # (B, p)
    mu: np.ndarray  # (B, n) fitted means
    working_weights: np.ndarray  # (B, n) R's model$weights: prior * mu of the last iteration
    cov_unscaled: np.ndarray  # (B, p, p) (X'WX)^-1 with the last iteration's W
    rank: np.ndarray  # (B,) number of estimable coefficients
    n_ok: np.ndarray  # (B,) observations with positive prior weight
    converged: np.ndarray  # (B,) bool

    @property
    def df_residual(self) -> np.ndarray:
        return self.n_ok - self.rank


def _dev_resids(y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """Poisson deviance contributions, R's ``poisson()$dev.resids``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return 2.0 * wt * np.where(y > 0, ylogy - (y - mu), mu)


def fit_quasipoisson(
    X: np.ndarray,
    y: np.ndarray,
    prior: np.ndarray,
    offset: np.ndarray | None = None,
) -> GlmFit:
    """Fit ``y ~ X`` (log link) for every row of ``y`` at once, exactly as R's ``glm.fit`` would.

    ``X`` is the shared design (n, p); ``y`` and ``prior`` are (B, n), ``prior`` zero where an
    observation is missing (its ``y`` value is then ignored); ``offset`` is (B, n) or None.
    """
    B, n = y.shape
    p = X.shape[1]
    y = np.where(prior > 0, y, 0.0)
    off = np.zeros_like(y) if offset is None else offset
    XX = (X[:, :, None] * X[:, None, :]).reshape(n, p * p)
    present = ((prior > 0).astype(float) @ (X != 0).astype(float)) > 0  # (B, p)
    fill = np.zeros((B, p, p))
    idx = np.arange(p)
    fill[:, idx, idx] = (~present).astype(float)

    # R: mustart <- y + 0.1; eta <- linkfun(mustart) (the offset is not added at the start).
    eta = np.log(y + 0.1)
    mu = np.maximum(np.exp(eta), _EPS)
    devold = _dev_resids(y, mu, prior).sum(axis=1)
    # For the log link mu.eta = mu, so z = eta + (y - mu)/mu, w^2 = prior * mu and the deviance
    # is 2 * sum(prior * (y log y - y - y * eta + mu)): no logarithm inside the loop.
    with np.errstate(divide="ignore", invalid="ignore"):
        dev_const = 2.0 * np.where(y > 0, prior * (y * np.log(np.where(y > 0, y, 1.0)) - y), 0.0).sum(axis=1)
    py = prior * y

    coef = np.zeros((B, p))
    w2_last = np.zeros((B, n))
    cov = np.zeros((B, p, p))
    converged = np.zeros(B, dtype=bool)
    active = np.ones(B, dtype=bool)
    all_active = True
    for _ in range(MAXIT):
        if all_active:
            a = slice(None)
            n_a = B
        else:
            a = np.flatnonzero(active)
            n_a = a.size
            if n_a == 0:
                break
        eta_a, mu_a, pr_a, off_a, py_a = eta[a], mu[a], prior[a], off[a], py[a]
        w2 = pr_a * mu_a
        wz = w2 * (eta_a - off_a) + py_a - w2
        A = (w2 @ XX).reshape(n_a, p, p) + fill[a]
        rhs = wz @ X
        A_inv = np.linalg.inv(A)
        beta = np.einsum("bij,bj->bi", A_inv, rhs)
        eta_new = beta @ X.T
        eta_new += off_a
        mu_new = np.exp(eta_new)
        np.maximum(mu_new, _EPS, out=mu_new)
        dev = dev_const[a] + 2.0 * (pr_a * mu_new - py_a * eta_new).sum(axis=1)
        done = np.abs(dev - devold[a]) / (np.abs(dev) + 0.1) < EPSILON
        coef[a], eta[a], mu[a], w2_last[a], cov[a] = beta, eta_new, mu_new, w2, A_inv
        devold[a] = dev
        if all_active:
            converged[done] = True
            active[done] = False
        else:
            converged[a[done]] = True
            active[a[done]] = False
        all_active = bool(active.all())

    cov = np.where(present[:, :, None] & present[:, None, :], cov, 0.0)
    return GlmFit(
        coef=coef,
        mu=mu,
        working_weights=w2_last,
        cov_unscaled=cov,
        rank=present.sum(axis=1),
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


def hat_values(fit: GlmFit, X: np.ndarray) -> np.ndarray:
    """Diagonal of the hat matrix of the last IRLS step (R's ``hatvalues``), (B, n)."""
    n, p = X.shape
    XX = (X[:, :, None] * X[:, None, :]).reshape(n, p * p)
    quad = fit.cov_unscaled.reshape(len(fit.coef), p * p) @ XX.T
    h = fit.working_weights * quad
    return np.where(h > 1 - 10 * _EPS, 1.0, h)


def linear_predictor_se(fit: GlmFit, x0: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """Standard error of ``x0 @ coef`` on the link scale, as ``predict.glm(se.fit=TRUE)``."""
    quad = np.einsum("i,bij,j->b", x0, fit.cov_unscaled, x0)
    return np.sqrt(quad * dispersion)
