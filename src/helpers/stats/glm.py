"""Logistic regression as R's ``glm.fit(family = binomial)``: the one IRLS fit of the package.

The propensity model (:func:`helpers.stats.matching.propensity_scores`) and the ``logreg`` imputation model
(:func:`helpers.stats.imputation.impute`, mice's ``glm.fit(family = quasibinomial, weights = w)``) both call
:func:`logistic_irls`, and both find R's aliased columns with :func:`non_aliased_columns`.

Conventions (R 4.x ``stats::glm.fit``, ``binomial()`` of ``src/library/stats/src/family.c``):

* start at ``mustart = (w y + 0.5) / (w + 1)``;
* each iteration solves the weighted least-squares problem with working response
  ``z = eta + (y - mu) / mu'(eta)`` and weights ``w mu'(eta)^2 / (mu (1 - mu))``;
* stop when ``|dev - dev_old| / (|dev| + 0.1) < 1e-8`` or after 25 iterations (``glm.control()``);
* a non-finite deviance halves the step towards the previous coefficients (R's "inner loop 1");
* the inverse link and its derivative are clamped at ``|eta| > 30`` as R's C code clamps them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["GLM_EPSILON", "GLM_MAXIT", "LogisticFit", "logistic_irls", "logit_linkinv", "logit_mu_eta",
           "non_aliased_columns"]

_DBL_EPSILON = np.finfo(float).eps
_THRESH, _MTHRESH = 30.0, -30.0
_INVEPS = 1.0 / _DBL_EPSILON
GLM_EPSILON, GLM_MAXIT = 1e-8, 25   # glm.control()


def non_aliased_columns(x: np.ndarray, tol: float) -> list[int]:
    """Indices of the columns R's pivoting QR keeps (``qr(x, tol)``; an aliased column is an ``NA`` coefficient).

    A column is aliased when its norm after projection on the previously kept columns is below ``tol`` times
    its own norm; a zero column is always aliased. ``glm.fit`` passes ``tol = min(1e-7, epsilon / 1000)``
    (1e-11), ``lm.fit`` 1e-7.

    >>> non_aliased_columns(np.array([[1., 2., 0.], [1., 2., 1.]]), 1e-7)
    [0, 2]
    """
    kept: list[int] = []
    # the orthonormal basis grows in place (column-major, preallocated): no copy of it per column
    basis = np.zeros((x.shape[0], x.shape[1]), order="F")
    for j in range(x.shape[1]):
        v = x[:, j].astype(float)
        norm0 = np.linalg.norm(v)
        if norm0 == 0.0:
            continue
        q = basis[:, :len(kept)]
        for _ in range(2):  # re-orthogonalise once for stability
            v = v - q @ (q.T @ v)
        norm1 = np.linalg.norm(v)
        if norm1 < tol * norm0:
            continue
        basis[:, len(kept)] = v / norm1
        kept.append(j)
    return kept


def logit_linkinv(eta: np.ndarray) -> np.ndarray:
    """``binomial()$linkinv``: ``exp(eta) / (1 + exp(eta))``, clamped at ``|eta| > 30`` as R's C code is."""
    tmp = np.where(eta < _MTHRESH, _DBL_EPSILON,
                   np.where(eta > _THRESH, _INVEPS, np.exp(np.clip(eta, _MTHRESH, _THRESH))))
    return tmp / (1.0 + tmp)


def logit_mu_eta(eta: np.ndarray) -> np.ndarray:
    """``binomial()$mu.eta``: ``exp(eta) / (1 + exp(eta))^2``, ``DBL_EPSILON`` beyond ``|eta| > 30``."""
    opexp = 1.0 + np.exp(np.clip(eta, _MTHRESH, _THRESH))
    out = np.exp(np.clip(eta, _MTHRESH, _THRESH)) / (opexp * opexp)
    return np.where((eta > _THRESH) | (eta < _MTHRESH), _DBL_EPSILON, out)


def _deviance(y: np.ndarray, mu: np.ndarray, w: np.ndarray | None) -> float:
    # binomial()$dev.resids for 0/1 responses: -2 log mu (y = 1), -2 log(1 - mu) (y = 0)
    with np.errstate(divide="ignore"):
        r = np.where(y == 1.0, -2.0 * np.log(mu), -2.0 * np.log(1.0 - mu))
    return float(np.sum(r if w is None else w * r))


def _linear_predictor(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    # Accumulate column by column so that identical rows give bit-identical predictions
    # (a BLAS matrix-vector product may sum different rows in different orders).
    eta = np.zeros(x.shape[0])
    for j in range(x.shape[1]):
        eta += x[:, j] * beta[j]
    return eta


@dataclass(frozen=True)
class LogisticFit:
    """What :func:`logistic_irls` returns: R's ``coefficients``, ``fitted.values`` and, when asked for,
    ``summary.glm``'s ``cov.unscaled`` ((X'WX)^-1 with the working weights of the last iteration)."""
    coef: np.ndarray
    fitted: np.ndarray
    iterations: int
    converged: bool
    cov_unscaled: np.ndarray | None = None


def logistic_irls(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, *,
                  cov_unscaled: bool = False) -> LogisticFit:
    """The IRLS kernel of ``glm.fit(x, y, weights, family = binomial())`` for a 0/1 response.

    ``x`` is the full-rank design (drop aliased columns first with :func:`helpers.stats.glm.non_aliased_columns`), ``y`` the
    0/1 response and ``weights`` the prior weights (all ones when ``None``). Raises ``ValueError`` when the
    deviance stays non-finite after step halving. Convergence is reported, not warned about: the caller
    words R's warning for its own use.
    """
    w = None if weights is None else np.asarray(weights, dtype=float)
    mustart = (y + 0.5) / 2.0 if w is None else (w * y + 0.5) / (w + 1.0)
    eta = np.log(mustart / (1.0 - mustart))
    mu = logit_linkinv(eta)
    devold = _deviance(y, mu, w)
    beta = beta_old = None
    r = None
    converged = False
    it = 0
    for it in range(1, GLM_MAXIT + 1):
        mu_eta = logit_mu_eta(eta)
        good = mu_eta != 0.0
        z = eta[good] + (y[good] - mu[good]) / mu_eta[good]
        ww = mu_eta[good] ** 2 / (mu[good] * (1.0 - mu[good]))
        sw = np.sqrt(ww if w is None else w[good] * ww)
        xw = x[good] * sw[:, None]
        beta, *_ = np.linalg.lstsq(xw, z * sw, rcond=None)
        if cov_unscaled:
            r = np.linalg.qr(xw, mode="r")
        eta = _linear_predictor(x, beta)
        mu = logit_linkinv(eta)
        dev = _deviance(y, mu, w)
        halvings = 0
        while not math.isfinite(dev):  # R's "inner loop 1": step halving
            if beta_old is None or halvings >= GLM_MAXIT:
                raise ValueError("the logistic regression diverged (non-finite deviance)")
            halvings += 1
            beta = (beta + beta_old) / 2.0
            eta = _linear_predictor(x, beta)
            mu = logit_linkinv(eta)
            dev = _deviance(y, mu, w)
        if abs(dev - devold) / (abs(dev) + 0.1) < GLM_EPSILON:
            converged = True
            break
        devold = dev
        beta_old = beta
    cov = None
    if cov_unscaled:
        rinv = np.linalg.inv(r)
        cov = rinv @ rinv.T
    return LogisticFit(coef=beta, fitted=mu, iterations=it, converged=converged, cov_unscaled=cov)
