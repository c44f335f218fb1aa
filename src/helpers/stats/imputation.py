"""Multiple imputation by chained equations as R's ``mice`` does it, and Rubin's rules as ``mice::pool()``.

Reference: ``mice`` 3.15.0 (R 4.2.2): ``mice()``, ``mice.impute.pmm`` / ``.norm.draw`` / ``matchindex``,
``mice.impute.logreg``, ``mice.impute.polyreg``, ``nelsonaalen()``, ``pool()`` and ``summary(pool(fit),
conf.int = TRUE)``; van Buuren, *Flexible Imputation of Missing Data* (2nd ed., 2018), sections 3.2-3.5 and
4.5; White & Royston (2009), *Imputing missing covariate values for the Cox model*, Stat Med 28:1982-98.
Checked in ``tests/test_imputation.py`` against values written by ``tests/reference/mice_reference.R``.

API
---
``impute(data, m=5, seed=None, method=None, predictors=None, visit_sequence=None, maxit=5, donors=5,
ridge=1e-5) -> MultipleImputation`` (iterate over it, or ``.completed``, for the m completed data frames)
``nelson_aalen(time, event) -> ndarray`` (``mice::nelsonaalen``)
``pool_rubin(estimates, variances, df_complete=inf, conf_level=0.95, terms=None) -> PooledEstimates``
``pool_cox(fits, conf_level=0.95, df_complete=None) -> PooledEstimates`` (Cox fits from :func:`cox_fit`)
``barnard_rubin_df(m, b, t, df_complete) -> ndarray``

Why not ``statsmodels.imputation.mice``
---------------------------------------
``MICEData`` (statsmodels 0.15) was read, source and documentation, and cannot give mice's algorithm:

* every variable is imputed by predictive mean matching on the predictions of its model (``impute`` only
  calls ``impute_pmm``), so there is no ``logreg`` (a draw of the coefficients, then a Bernoulli draw) and
  no ``polyreg`` (an ``MNLogit`` predicts a matrix, which its PMM cannot match on);
* its PMM is "type 2": observed and missing cases are both predicted with the perturbed parameters; mice's
  default is type 1 (observed cases with the estimate, missing cases with the draw). The parameters are
  perturbed from ``N(estimate, cov_params)`` (or a bootstrap), not mice's Bayesian draw of sigma from a
  scaled inverse chi-square and then of beta given sigma. ``k_pmm`` defaults to 20 donors, mice's to 5;
* the starting values are deterministic (the observed value nearest to the mean), not random draws from
  the observed values; the visit order is fixed at increasing missingness, not left to right;
* ``MICE.combine`` gives the pooled estimate, ``T`` and a fraction of missing information
  ``(1 + 1/m) B / T`` (mice's ``lambda``), with no Barnard-Rubin degrees of freedom, so neither mice's
  ``fmi`` nor its t-based CI and p-value; and it pools statsmodels models, not :func:`cox_fit`.

What it can do (per-variable formulas, so derived outcome terms as predictors; an ``rng`` seed; m data sets)
is not enough, so the chained equations are written here, following mice's R source step for step.

The algorithm (mice's, as in its R source)
------------------------------------------
Setup (``mice:::edit.setup``)
    A column whose observed values have variance below ``1000 * eps`` (or fewer than two observed values)
    is constant: it is removed as a predictor and not imputed. Among the predictors, a column whose
    (pairwise-complete) correlation with a column with at least as many observed values is ``|r| >= 0.999``
    is collinear and is removed the same way (``find.collinear``). Both are listed in ``logged_events``.
    A column with no observed value at all is refused (``ValueError``): mice would silently keep it
    missing as a "constant".
Methods (``make.method``)
    Numbers: ``"pmm"``; a categorical column with two categories: ``"logreg"``; an unordered one with
    more: ``"polyreg"``; ``""`` (not imputed) for a column without missing values. mice's default for an
    ordered factor with more than two levels is ``polr``, which is not implemented: such a column needs an
    explicit method (e.g. ``"polyreg"``, and ``method = "polyreg"`` in R to compare).
Start (``initialize.imp``)
    Each missing value of each imputed column is drawn with replacement from that column's observed values.
Iterations (``sampler``)
    ``maxit`` passes; in each, the columns are visited in ``visit_sequence`` order (default: left to
    right) and each is re-imputed from a model on its predictors, using the current values of the others.
    The m chains are independent. For each column (``sampler.univ``): the design is R's ``model.matrix``
    of its predictors (in data-column order; numbers as they are, a categorical column as treatment
    dummies against its first category, named ``<column><category>`` as R names them); rows with a
    missing predictor (one that is never imputed) are neither used nor imputed (they stay missing).
    ``remove.lindep`` then drops predictors: all of them if the observed outcome has variance below
    ``1e-4``; those with variance ``<= 1e-4``; those correlated ``>= 0.99`` (signed) with the outcome; and,
    while the smallest eigenvalue of their correlation matrix is below ``1e-4`` times the largest, the one
    with the largest loading on the smallest eigenvector.
``"pmm"`` (``mice.impute.pmm``, ``.norm.draw``, ``estimice``, ``matchindex``; FIMD section 3.4)
    Least squares of y on ``[1, x]`` over the observed rows: ``beta_hat``, ``V = (X'X)^-1``, residual sum of
    squares ``RSS``, ``df = max(n_obs - ncol(X), 1)``. Draw ``sigma* = sqrt(RSS / chi2(df))`` and
    ``beta* = beta_hat + chol(V)' z sigma*``, z standard normal. Type-1 matching: observed rows are predicted
    with ``beta_hat``, missing rows with ``beta*``. For each missing row one of the ``donors`` (5) observed
    rows with the nearest predictions is drawn with equal probability and its observed value is taken.
    ``matchindex``'s exact rule: donors are shuffled, then stably sorted by prediction; for each target
    ``h`` is drawn from ``1..donors``, and the ``h``-th nearest is found by walking out from the target's
    position in the sorted donors, taking the left neighbour only when it is strictly nearer. When ``X'X``
    is singular mice adds ``ridge * diag(X'X)`` (ridge ``1e-5``) to it and aliased coefficients are 0.
``"logreg"`` (``mice.impute.logreg``, ``augment``; FIMD section 3.5)
    mice always augments the data first (White, Daniel & Royston 2010): for each predictor and each
    category present, two pseudo-rows at the predictor's mean +/- half its SD (the others at their means,
    clamped to the range), with total weight ``p + 1`` (p = number of predictors); not when there are no
    predictors or exactly one row to impute. A logistic regression (``glm.fit``, quasibinomial, the
    augmentation weights as prior weights) of ``y == second category`` gives ``beta_hat`` and the unscaled
    covariance ``(X'WX)^-1``; ``beta* = beta_hat + chol(cov)' z``; a missing row gets the second category
    when ``u <= plogis(x beta*)``, u uniform.
``"polyreg"`` (``mice.impute.polyreg``)
    Augmentation as for logreg; then a multinomial logit (mice: ``nnet::multinom``) fitted to the observed
    and pseudo-rows, *without* a draw of its coefficients (mice does not draw them); each missing row gets
    category ``1 + #{cumulative predicted probabilities < u}``, u uniform. If one category holds every
    observed row, it is imputed everywhere. A category that no row has is never imputed (R's ``multinom``
    drops empty classes too).

Differences from mice (other than the random numbers)
    * Random numbers: numpy's PCG64, not R's Mersenne-Twister, so results agree with R in distribution
      only (``tests/test_imputation.py`` compares means over seeds within a Monte Carlo tolerance). Each
      imputation ``i`` has its own stream (``SeedSequence(seed).spawn(m)``): the first 5 data sets of
      ``m = 20`` are those of ``m = 5`` with the same seed. R runs the m chains interleaved on one stream.
    * ``polyreg`` fits the multinomial logit by Newton-Raphson to convergence; ``nnet::multinom`` runs BFGS
      for at most 100 iterations (mice's ``nnet.maxit``, convergence ``reltol = 1e-8``) and may stop short of
      the maximum. On the test data (pbc, stage) its probabilities are within 1.3e-5 of the converged ones.
    * ``remove.lindep``'s eigenvalue loop: mice's code (``ncx <- cx[keep[keep], keep[keep]]``) recycles the
      index and recomputes the eigenvalues of the full matrix after the first drop; here they are recomputed
      on the remaining predictors. The two agree when at most one predictor has to go.
    * The rank-deficient least squares (rare after ``remove.lindep``) keeps the columns R's pivoting QR keeps
      (tolerance 1e-7), sets the others' coefficients to 0 and uses the ridge inverse; mice's covariance in
      that case comes from the pivoted QR.
    * Not implemented: other methods (``norm``, ``polr``, ``cart``, ``rf``, passive imputation ``~I(...)``),
      ``where``, ``ignore``, ``blocks``, ``post``, ``pmm`` type 0 and 2. ``logreg`` and ``polyreg`` need a
      categorical column (``logreg`` also accepts a numeric 0/1 column, as mice does).

Rubin's rules (:func:`pool_rubin`, ``mice::pool`` with ``rule = "rubin1987"``)
    For each parameter, over the m analyses: ``estimate = mean(q)``; ``ubar = mean(se^2)``;
    ``b = var(q)`` (denominator m - 1); ``t = ubar + (1 + 1/m) b``; ``riv = (1 + 1/m) b / ubar``;
    ``lambda = (1 + 1/m) b / t``; Barnard-Rubin degrees of freedom ``df = nu_old nu_obs / (nu_old +
    nu_obs)`` with ``nu_old = (m - 1) / lambda^2`` (lambda floored at 1e-4), ``nu_obs = (dfcom + 1) /
    (dfcom + 3) dfcom (1 - lambda)`` (``df = nu_old`` when ``dfcom`` is infinite); ``fmi = (riv + 2 /
    (df + 3)) / (riv + 1)``. ``std_error = sqrt(t)``, ``statistic = estimate / std_error``,
    ``p_value = 2 P(T_df > |statistic|)`` (df floored at 0.001), CI ``estimate +/- qt(1 - a/2, df)
    std_error``. The complete-data df ``dfcom``: mice takes ``df.residual`` from ``broom::glance`` when it
    has one, else for a ``coxph`` fit ``max(nevent - p, 1)``, else ``max(nobs - p, 1)``; with broom 1.0.3
    a coxph fit has no ``df.residual``, so :func:`pool_cox` uses ``max(n_events - p, 1)`` (checked against R).

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> d = pd.DataFrame({"x": rng.normal(size=50), "g": pd.Categorical(rng.choice(["a", "b"], 50))})
>>> d["y"] = d["x"] + rng.normal(size=50)
>>> d.loc[:9, "y"] = np.nan
>>> imp = impute(d, m=3, seed=7)
>>> [int(c["y"].isna().sum()) for c in imp]
[0, 0, 0]
>>> bool(set(imp.completed[0]["y"]) <= set(d["y"].dropna()))      # pmm imputes observed values
True
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import linalg, special, stats

from helpers.stats.cox import CoxResult
from helpers.stats.glm import logistic_irls, non_aliased_columns

__all__ = [
    "METHODS",
    "MultipleImputation",
    "PooledEstimates",
    "barnard_rubin_df",
    "impute",
    "nelson_aalen",
    "pool_cox",
    "pool_rubin",
]

METHODS = ("pmm", "logreg", "polyreg", "")
_EPS = np.finfo(float).eps
_LINDEP_EPS = 1e-4          # remove.lindep(eps = 1e-4)
_LINDEP_MAXCOR = 0.99       # remove.lindep(maxcor = 0.99)
_CONSTANT_VAR = 1000 * _EPS  # edit.setup: var < 1000 * .Machine$double.eps
_COLLINEAR = 0.999          # find.collinear(threshold = 0.999)
_QR_TOL = 1e-7              # lm.fit's tol


# ----------------------------------------------------------------------------------------------
# Nelson-Aalen
# ----------------------------------------------------------------------------------------------
def nelson_aalen(time, event) -> np.ndarray:
    """Cumulative hazard at each patient's own time, as ``mice::nelsonaalen(data, time, status)``.

    mice computes ``basehaz(coxph(Surv(time, status) ~ 1))`` and looks up each patient's time. For the
    null Cox model with R's default Efron ties this is the Fleming-Harrington estimate: at a time with
    ``d`` events among ``n`` at risk the hazard increases by ``1/n + 1/(n-1) + ... + 1/(n-d+1)``, not by
    ``d/n`` (the two agree without tied events). A censored patient gets the cumulative hazard at their
    censoring time. White & Royston (2009) recommend it, with the event indicator, as the outcome's
    predictors in the imputation model of a Cox analysis.

    Parameters
    ----------
    time : array-like of float
        Follow-up times (no missing values).
    event : array-like
        1 (or True) for an event, 0 for censored.

    Returns
    -------
    ndarray
        The cumulative hazard at ``time[i]``, in the input order.

    Examples
    --------
    >>> nelson_aalen([1, 1, 1, 2, 2, 3, 4, 4], [1, 1, 0, 1, 1, 0, 1, 0]).round(6).tolist()
    [0.267857, 0.267857, 0.267857, 0.717857, 0.717857, 0.717857, 1.217857, 1.217857]
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    if t.ndim != 1 or t.shape != e.shape:
        raise ValueError("nelson_aalen: time and event must be 1-d and of the same length")
    if np.isnan(t).any() or np.isnan(e).any():
        raise ValueError("nelson_aalen: missing values in time or event")
    if not np.all(np.isin(e, (0.0, 1.0))):
        raise ValueError("nelson_aalen: event must be 0/1 (or False/True)")
    ut, inverse = np.unique(t, return_inverse=True)
    at_risk = len(t) - np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(ut)))[:-1]])
    # the k-th (0-based) of the d events at a time adds 1 / (n - k): one term per event, summed per time
    ev_idx = np.sort(inverse[e == 1])
    first = np.searchsorted(ev_idx, ev_idx, side="left")
    k = np.arange(len(ev_idx)) - first
    increments = np.bincount(ev_idx, weights=1.0 / (at_risk[ev_idx] - k), minlength=len(ut))
    return np.cumsum(increments)[inverse]


# ----------------------------------------------------------------------------------------------
# Columns
# ----------------------------------------------------------------------------------------------
def _label(v: Any) -> str:
    """A category as R prints a factor level (1.0 -> "1", 0.5 -> "0.5")."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _sort_key(v: Any):
    return (0, float(v), "") if isinstance(v, (int, float, np.integer, np.floating)) else (1, 0.0, str(v))


@dataclass
class _Column:
    name: str
    kind: str                     # "numeric" or "categorical"
    values: np.ndarray            # float; categorical: codes 0..K-1; NaN where missing
    categories: list | None = None
    ordered: bool = False
    categorical_dtype: bool = False   # a pandas Categorical (else object values)

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.values)


def _column(name: str, s: pd.Series) -> _Column:
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(float)
        codes[codes < 0] = np.nan
        return _Column(name, "categorical", codes, list(s.cat.categories), bool(s.cat.ordered), True)
    if s.dtype == bool or s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        present = sorted({v for v in s.dropna()}, key=_sort_key)
        lookup = {v: i for i, v in enumerate(present)}
        codes = np.array([np.nan if pd.isna(v) else lookup[v] for v in s], dtype=float)
        return _Column(name, "categorical", codes, present, False, False)
    if pd.api.types.is_numeric_dtype(s.dtype):
        values = pd.to_numeric(s).to_numpy(dtype=float, na_value=np.nan)
        if np.isinf(values).any():
            raise ValueError(f"impute: column '{name}' has infinite values")
        return _Column(name, "numeric", values)
    raise TypeError(f"impute: column '{name}' has dtype {s.dtype}; use numbers or a categorical column")


def _default_method(col: _Column) -> str:
    if not col.missing.any():
        return ""
    if col.kind == "numeric":
        return "pmm"
    k = len(col.categories)
    if k == 2:
        return "logreg"
    if col.ordered and k > 2:
        raise ValueError(f"impute: '{col.name}' is an ordered categorical; mice's default for it is polr, which "
                         "is not implemented. Pass method={'" + col.name + "': 'polyreg'} (and method = "
                         "'polyreg' in R to compare), or make it unordered")
    return "polyreg"


# ----------------------------------------------------------------------------------------------
# Imputation methods (y, ry, x, wy as in mice: x without the intercept, all rows)
# ----------------------------------------------------------------------------------------------
def _remove_lindep(x: np.ndarray, y: np.ndarray, ry: np.ndarray, eps: float = _LINDEP_EPS,
                   maxcor: float = _LINDEP_MAXCOR) -> np.ndarray:
    """mice:::remove.lindep: which columns of ``x`` to keep as predictors of ``y``."""
    q = x.shape[1]
    if q == 0:
        return np.zeros(0, dtype=bool)
    if not ry.any():
        return np.ones(q, dtype=bool)
    xobs, yobs = x[ry], y[ry]
    if len(yobs) < 2 or np.var(yobs, ddof=1) < eps:
        return np.zeros(q, dtype=bool)
    keep = np.var(xobs, axis=0, ddof=1) > eps
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = xobs - xobs.mean(axis=0)
        yc = yobs - yobs.mean()
        cor = (xc * yc[:, None]).sum(axis=0) / np.sqrt((xc ** 2).sum(axis=0) * (yc ** 2).sum())
    keep &= cor < maxcor              # NaN (a constant column) compares False
    idx = np.flatnonzero(keep)
    while len(idx) > 1:
        cx = np.corrcoef(xobs[:, idx], rowvar=False)
        w, v = np.linalg.eigh(cx)     # ascending
        if w[0] / w[-1] >= eps:
            break
        idx = np.delete(idx, int(np.argmax(np.abs(v[:, 0]))))
    out = np.zeros(q, dtype=bool)
    out[idx] = True
    return out


def _estimice(X: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray, int, float]:
    """mice:::estimice(ls.meth = "qr"): coefficients, (X'X)^-1, df = max(n - p, 1) and the residual SS."""
    n, p = X.shape
    df = max(n - p, 1)
    q, r = np.linalg.qr(X)
    diag = np.abs(np.diag(r))
    norms = np.linalg.norm(X, axis=0)
    if n >= p and np.all(diag >= _QR_TOL * np.where(norms > 0, norms, 1.0)) and np.all(norms > 0):
        rinv = np.linalg.inv(r)        # p x p upper triangular (small: faster than a triangular solve call)
        coef = rinv @ (q.T @ y)
        v = rinv @ rinv.T
        rss = float(np.sum((y - X @ coef) ** 2))
        return coef, v, df, rss
    # rank deficient: aliased coefficients 0 (mice's rank.adjust), ridge-penalised inverse
    kept = np.array(non_aliased_columns(X, _QR_TOL), dtype=int)
    coef = np.zeros(p)
    if len(kept):
        coef[kept] = np.linalg.lstsq(X[:, kept], y, rcond=None)[0]
    xtx = X.T @ X
    v = np.linalg.inv(xtx + np.diag(np.diag(xtx) * ridge))
    rss = float(np.sum((y - X @ coef) ** 2))
    return coef, v, df, rss


def _lower_cholesky(v: np.ndarray) -> np.ndarray:
    """t(chol(sym(v))): the lower triangle L with L L' = v."""
    return np.linalg.cholesky((v + v.T) / 2)


def _match_index(d: np.ndarray, t: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """mice:::matchindex(d, t, k): for each target in ``t``, the index in ``d`` of a donor drawn among its
    ``k`` nearest (0-based). Donors are shuffled and stably sorted; for each target ``h`` is drawn from
    1..k and the h-th nearest is found by walking out from the target's sorted position, taking the left
    neighbour only when strictly nearer (ties go right)."""
    n1, n0 = len(d), len(t)
    ishuf = rng.permutation(n1)
    isort = np.argsort(d[ishuf], kind="stable")
    ids = ishuf[isort]
    ysort = d[ids]
    k = max(1, min(int(k), n1))
    h = rng.integers(1, k + 1, size=n0)
    if n0 == 0:
        return np.zeros(0, dtype=int)
    r = np.searchsorted(ysort, t, side="left")           # std::lower_bound
    off = np.arange(k)
    right = r[:, None] + off
    left = r[:, None] - 1 - off
    dr = np.where(right < n1, ysort[np.minimum(right, n1 - 1)] - t[:, None], np.inf)
    dl = np.where(left >= 0, t[:, None] - ysort[np.maximum(left, 0)], np.inf)
    pos = np.concatenate([right, left], axis=1)
    dist = np.concatenate([dr, dl], axis=1)
    # a stable sort of [right..., left...] by distance is the walk's order: ties take the right side first
    order = np.argsort(dist, axis=1, kind="stable")
    chosen = order[np.arange(n0), h - 1]
    return ids[pos[np.arange(n0), chosen]]


def _norm_draw(xo: np.ndarray, yo: np.ndarray, rng: np.random.Generator, ridge: float):
    """mice:::.norm.draw: (beta_hat, beta*) with sigma* = sqrt(RSS / chi2(df)), beta* = beta_hat + chol(V)' z sigma*."""
    coef, v, df, rss = _estimice(xo, yo, ridge)
    sigma = math.sqrt(rss / rng.chisquare(df))
    return coef, coef + _lower_cholesky(v) @ rng.standard_normal(xo.shape[1]) * sigma


def _impute_pmm(y, ry, x, wy, rng, donors: int, ridge: float) -> np.ndarray:
    X = np.column_stack([np.ones(len(y)), x])
    xo, yo = X[ry], y[ry]
    coef, beta = _norm_draw(xo, yo, rng, ridge)
    yhat_obs = xo @ coef
    yhat_mis = X[wy] @ beta
    return yo[_match_index(yhat_obs, yhat_mis, donors, rng)]


def _augment(y: np.ndarray, ry: np.ndarray, x: np.ndarray, wy: np.ndarray):
    """mice:::augment: pseudo-rows that keep logistic and multinomial fits finite (White, Daniel & Royston 2010).

    Returns (y, ry, x, wy, w) with the 2 p k pseudo-rows appended (p predictors, k categories present in y):
    for predictor c, rows ``2k c .. 2k c + 2k - 1`` are at mean(x) except column c at mean +/- sd/2
    (clamped to the column's range), with outcomes each category twice; weight (p + 1) / (2 p k) each.
    """
    icod = np.unique(y[~np.isnan(y)])
    k, p = len(icod), x.shape[1]
    if p == 0 or int((~ry).sum()) == 1:
        return y, ry, x, wy, np.ones(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=0)
        sd = np.nanstd(x, axis=0, ddof=1)
        lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    nr = 2 * p * k
    d = np.tile(mean, (nr, 1))
    half = np.tile([0.5, -0.5], k)
    for c in range(p):
        d[2 * k * c: 2 * k * (c + 1), c] += half * sd[c]
    d = np.minimum(np.maximum(d, lo), hi)
    e = np.tile(np.repeat(icod, 2), p)
    return (np.concatenate([y, e]), np.concatenate([ry, np.ones(nr, dtype=bool)]), np.vstack([x, d]),
            np.concatenate([wy, np.zeros(nr, dtype=bool)]),
            np.concatenate([np.ones(len(y)), np.full(nr, (p + 1) / nr)]))


def _impute_logreg(y, ry, x, wy, rng) -> np.ndarray:
    y, ry, x, wy, w = _augment(y, ry, x, wy)
    X = np.column_stack([np.ones(len(y)), x])
    yo = y[ry]
    levels = np.unique(yo)
    if len(levels) < 2:           # one category observed: nothing to model
        return np.full(int(wy.sum()), levels[0] if len(levels) else 0.0)
    # mice's glm.fit(family = quasibinomial, weights = w): the package's one logistic IRLS
    fit = logistic_irls(X[ry], (yo == levels[-1]).astype(float), w[ry], cov_unscaled=True)
    coef, cov = fit.coef, fit.cov_unscaled
    beta = coef + _lower_cholesky(cov) @ rng.standard_normal(X.shape[1])
    p = 1 / (1 + np.exp(-(X[wy] @ beta)))
    second = rng.random(len(p)) <= p
    return np.where(second, levels[-1], levels[0])


def _multinom_probs(X: np.ndarray, y: np.ndarray, w: np.ndarray, Xnew: np.ndarray, maxit: int = 100,
                    tol: float = 1e-10) -> np.ndarray:
    """Weighted multinomial logit (classes 0..K-1 of ``y``, reference 0) fitted by Newton-Raphson with step
    halving; returns the predicted class probabilities for the rows of ``Xnew``. The columns (after the
    intercept) are standardised for the fit, which leaves the fitted probabilities unchanged."""
    n, q = X.shape
    K = int(y.max()) + 1
    center = np.r_[0.0, X[:, 1:].mean(axis=0)] if q > 1 else np.zeros(q)
    scale = np.r_[1.0, X[:, 1:].std(axis=0)] if q > 1 else np.ones(q)
    scale[scale == 0] = 1.0
    Z = (X - center) / scale
    Znew = (Xnew - center) / scale
    yi = y.astype(int)
    Y = np.zeros((n, K))
    Y[np.arange(n), yi] = 1.0
    B = np.zeros((q, K - 1))

    def fit_state(B):
        eta = np.column_stack([np.zeros(n), Z @ B])
        top = eta.max(axis=1, keepdims=True)
        ex = np.exp(eta - top)
        tot = ex.sum(axis=1, keepdims=True)
        lse = (top + np.log(tot))[:, 0]
        return float(np.sum(w * (eta[np.arange(n), yi] - lse))), ex / tot

    ll, P = fit_state(B)
    for _ in range(maxit):
        G = Z.T @ (w[:, None] * (Y[:, 1:] - P[:, 1:]))
        H = np.empty((q * (K - 1), q * (K - 1)))
        for a in range(K - 1):
            for b in range(a, K - 1):
                wab = w * P[:, a + 1] * ((a == b) - P[:, b + 1])
                blk = Z.T @ (wab[:, None] * Z)
                H[a * q:(a + 1) * q, b * q:(b + 1) * q] = blk
                H[b * q:(b + 1) * q, a * q:(a + 1) * q] = blk.T
        try:
            step = linalg.solve(H, G.T.ravel(), assume_a="pos")
        except (linalg.LinAlgError, ValueError):
            step = np.linalg.lstsq(H, G.T.ravel(), rcond=None)[0]
        step = step.reshape(K - 1, q).T
        for _half in range(30):
            new_ll, new_P = fit_state(B + step)
            if new_ll >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        B = B + step
        converged = abs(new_ll - ll) <= tol * (abs(ll) + 0.1)
        ll, P = new_ll, new_P
        if converged:
            break
    eta = np.column_stack([np.zeros(len(Znew)), Znew @ B])
    return special.softmax(eta, axis=1)


def _impute_polyreg(y, ry, x, wy, rng) -> np.ndarray:
    y, ry, x, wy, w = _augment(y, ry, x, wy)
    yo = y[ry]
    classes, yi = np.unique(yo, return_inverse=True)
    un = rng.random(int(wy.sum()))
    if len(classes) == 1:
        return np.full(len(un), classes[0])
    X = np.column_stack([np.ones(len(y)), x])
    post = _multinom_probs(X[ry], yi.astype(float), w[ry], X[wy])
    idx = (un[:, None] > np.cumsum(post, axis=1)).sum(axis=1)
    return classes[np.minimum(idx, len(classes) - 1)]


# ----------------------------------------------------------------------------------------------
# The chained equations
# ----------------------------------------------------------------------------------------------
@dataclass
class MultipleImputation:
    """The result of :func:`impute`: m completed copies of the data, as mice's ``mids`` object.

    Iterating over it (or ``completed``) gives the m completed DataFrames (R's ``complete(imp, i)``):
    same index, columns and dtypes as the input, observed values unchanged. ``imputations(column)`` gives the
    imputed values as R's ``imp$imp[[column]]`` (rows = index labels of the missing rows, columns 1..m).
    ``chain_mean[column]`` / ``chain_var[column]`` (maxit x m) are the mean and variance of the imputed
    values after each iteration, as ``imp$chainMean`` / ``imp$chainVar`` (categories as codes 1..K), for
    convergence plots. ``method``, ``predictors`` and ``visit_sequence`` are the ones used (after the
    setup's removals, listed in ``logged_events``).
    """

    data: pd.DataFrame = field(repr=False)
    m: int
    seed: Any
    maxit: int
    donors: int
    method: dict[str, str]
    predictors: dict[str, list[str]] = field(repr=False)
    visit_sequence: list[str]
    imputed: dict[str, np.ndarray] = field(repr=False)
    chain_mean: dict[str, np.ndarray] = field(repr=False)
    chain_var: dict[str, np.ndarray] = field(repr=False)
    logged_events: list[str] = field(default_factory=list)
    _columns: dict[str, _Column] = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.m

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return (self.complete(i) for i in range(self.m))

    def __getitem__(self, i: int) -> pd.DataFrame:
        return self.complete(i)

    @property
    def completed(self) -> list[pd.DataFrame]:
        """The m completed data frames (built on each access; each is a new frame)."""
        return [self.complete(i) for i in range(self.m)]

    def _values(self, name: str, codes: np.ndarray) -> Any:
        col = self._columns[name]
        if col.kind == "numeric":
            return codes
        cats = col.categories
        return [cats[int(c)] if not np.isnan(c) else np.nan for c in codes]

    def complete(self, i: int) -> pd.DataFrame:
        """Completed data set ``i`` (0-based; R's ``complete(imp, i + 1)``), a new DataFrame."""
        if not 0 <= i < self.m:
            raise IndexError(f"imputation {i} out of range 0..{self.m - 1}")
        out = self.data.copy()
        for name, values in self.imputed.items():
            col = self._columns[name]
            full = col.values.copy()
            full[col.missing] = values[:, i]
            if col.kind == "numeric":
                dtype = self.data[name].dtype
                series = pd.Series(full, index=out.index, name=name)
                if pd.api.types.is_extension_array_dtype(dtype) and not np.isnan(full).any():
                    series = series.astype(dtype)
                out[name] = series
            elif col.categorical_dtype:
                codes = np.where(np.isnan(full), -1, full).astype(int)
                out[name] = pd.Categorical.from_codes(codes, categories=self.data[name].cat.categories,
                                                      ordered=col.ordered)
            else:
                out[name] = pd.Series(self._values(name, full), index=out.index, dtype=object)
        return out

    def imputations(self, name: str) -> pd.DataFrame:
        """The imputed values of one column, as R's ``imp$imp[[name]]`` (index labels x imputations 1..m)."""
        if name not in self.imputed:
            raise KeyError(f"'{name}' was not imputed (imputed: {list(self.imputed)})")
        col = self._columns[name]
        vals = self.imputed[name]
        frame = pd.DataFrame({j + 1: self._values(name, vals[:, j]) for j in range(self.m)},
                             index=self.data.index[col.missing])
        return frame


def _resolve_predictors(names: list[str], predictors) -> dict[str, list[str]]:
    if predictors is None:
        return {c: [p for p in names if p != c] for c in names}
    if isinstance(predictors, Mapping):
        out = {}
        for c in names:
            listed = list(predictors.get(c, [p for p in names if p != c]))
            unknown = [p for p in listed if p not in names]
            if unknown:
                raise KeyError(f"impute: predictors of '{c}' not in the data: {unknown}")
            out[c] = [p for p in names if p in listed and p != c]    # data-column order, as mice's formula
        extra = [c for c in predictors if c not in names]
        if extra:
            raise KeyError(f"impute: predictors given for columns not in the data: {extra}")
        return out
    if isinstance(predictors, str):
        raise TypeError("impute: predictors must be a list of columns or a mapping column -> list of columns")
    listed = list(predictors)
    unknown = [p for p in listed if p not in names]
    if unknown:
        raise KeyError(f"impute: predictors not in the data: {unknown}")
    return {c: [p for p in names if p in listed and p != c] for c in names}


def _setup(cols: dict[str, _Column], method: dict[str, str], pred: dict[str, list[str]],
           visit: list[str]) -> list[str]:
    """mice:::edit.setup: drop constant and collinear columns as predictors and from the imputation."""
    names = list(cols)
    log: list[str] = []

    def drop(j: str, why: str):
        if any(j in pred[c] for c in names):
            for c in names:
                if j in pred[c]:
                    pred[c].remove(j)
        if method[j] != "":
            method[j] = ""
            pred[j] = []
            if j in visit:
                visit.remove(j)
        log.append(f"{why}: {j}")

    for j in names:
        v = cols[j].values
        obs = v[~np.isnan(v)]
        constant = len(obs) < 2 or np.var(obs, ddof=1) < _CONSTANT_VAR
        if constant and (method[j] != "" or any(j in pred[c] for c in names)):
            drop(j, "constant")
    used = [j for j in names if any(j in pred[c] for c in names)]
    if len(used) > 1:
        nobs = np.array([np.sum(~cols[j].missing) for j in used])
        order = np.argsort(-nobs, kind="stable")
        ordered = [used[i] for i in order]
        frame = pd.DataFrame({j: cols[j].values for j in ordered})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            z = frame.corr(min_periods=1).to_numpy()
        hit = np.triu(np.abs(z) >= _COLLINEAR, k=1)
        for jj in np.flatnonzero(hit.any(axis=0)):
            drop(ordered[jj], "collinear")
    if all(len(pred[c]) == 0 for c in names):
        raise ValueError("impute: constant and/or collinear variables; no predictors were left after their "
                         f"removal ({log})")
    return log


def _design(state: np.ndarray, index: dict[str, int], cols: dict[str, _Column], preds: list[str]) -> np.ndarray:
    """R's model.matrix of the predictors (intercept dropped): numbers as they are, categorical columns as
    treatment dummies (first category the reference); NaN rows stay NaN."""
    parts = []
    for p in preds:
        v = state[:, index[p]]
        col = cols[p]
        if col.kind == "numeric":
            parts.append(v[:, None])
        else:
            k = len(col.categories)
            if k < 2:
                continue
            dummies = (v[:, None] == np.arange(1, k)[None, :]).astype(float)
            dummies[np.isnan(v)] = np.nan
            parts.append(dummies)
    if not parts:
        return np.zeros((state.shape[0], 0))
    return np.hstack(parts)


def _design_names(cols: dict[str, _Column], preds: list[str]) -> list[str]:
    names = []
    for p in preds:
        col = cols[p]
        if col.kind == "numeric":
            names.append(p)
        else:
            names += [f"{p}{_label(c)}" for c in col.categories[1:]]
    return names


def impute(data: pd.DataFrame, m: int = 5, seed: int | None = None, *,
           method: Mapping[str, str] | None = None,
           predictors: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
           visit_sequence: Sequence[str] | None = None, maxit: int = 5, donors: int = 5,
           ridge: float = 1e-5) -> MultipleImputation:
    """Multiple imputation by chained equations, as ``mice(data, m, method, predictorMatrix, visitSequence,
    maxit, seed)`` (mice 3.15.0); see the module docstring for the algorithm and the differences.

    Parameters
    ----------
    data : DataFrame
        The incomplete data. Numeric columns are numbers; pandas ``Categorical`` columns (their categories,
        in order, are R's factor levels), ``object``/string and ``bool`` columns (levels: the sorted distinct
        values) are categorical. Every column can be a predictor; derived terms (the event indicator, the
        Nelson-Aalen cumulative hazard from :func:`nelson_aalen`, a log) are columns like any other.
    m : int
        Number of imputed data sets (mice's ``m``, default 5).
    seed : int, optional
        Seed of numpy's generator; the same seed gives the same data sets (R's ``seed`` cannot be matched).
    method : mapping column -> str, optional
        ``"pmm"``, ``"logreg"``, ``"polyreg"`` or ``""`` (not imputed) for the columns given; the others get
        mice's defaults (``make.method``). A column without missing values is never changed.
    predictors : sequence of columns, or mapping column -> sequence of columns, optional
        Which columns predict which (mice's ``predictorMatrix``). A sequence: the same predictors for every
        column (the column itself excluded). A mapping: each column's predictors; columns not in it use all
        other columns. Default: every other column (mice's default). To keep a column out of every model
        (e.g. the follow-up time, represented by the Nelson-Aalen hazard), leave it out of the sequence.
    visit_sequence : sequence of columns, optional
        The order in which columns are imputed in each iteration; default left to right (mice's ``"roman"``).
    maxit : int
        Number of iterations (default 5, as mice).
    donors : int
        Donor pool size of predictive mean matching (default 5, as mice).
    ridge : float
        Ridge penalty used only when the regression is singular (default 1e-5, as mice).

    Returns
    -------
    MultipleImputation
        Iterable over the m completed DataFrames; see :class:`MultipleImputation`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> d = pd.DataFrame({"a": [1.0, 2, 3, 4, np.nan, 6, 7, 8], "b": [3.0, 1, np.nan, 8, 5, 12, 9, 16]})
    >>> imp = impute(d, m=2, seed=1)
    >>> len(imp), imp.method
    (2, {'a': 'pmm', 'b': 'pmm'})
    >>> imp.imputations("a").shape
    (1, 2)
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError("impute: data must be a pandas DataFrame")
    if int(m) < 1 or int(maxit) < 0 or int(donors) < 1:
        raise ValueError("impute: need m >= 1, maxit >= 0 and donors >= 1")
    names = [str(c) for c in data.columns]
    if len(set(names)) != len(names) or any(not isinstance(c, str) for c in data.columns):
        raise ValueError("impute: column names must be unique strings")
    cols = {c: _column(c, data[c]) for c in names}
    method = dict(method or {})
    unknown = [c for c in method if c not in cols]
    if unknown:
        raise KeyError(f"impute: method given for columns not in the data: {unknown}")
    meth: dict[str, str] = {}
    for c, col in cols.items():
        mth = method[c] if c in method else _default_method(col)
        if mth not in METHODS:
            raise ValueError(f"impute: method for '{c}' must be one of {METHODS}, got {mth!r}")
        if not col.missing.any():
            mth = ""
        if mth == "polyreg" and col.kind != "categorical":
            raise ValueError(f"impute: polyreg needs a categorical column; '{c}' is numeric")
        if mth == "logreg":
            if col.kind == "numeric" and not np.all(np.isin(col.values[~col.missing], (0.0, 1.0))):
                raise ValueError(f"impute: logreg on numeric '{c}' needs values 0/1")
            if col.kind == "categorical" and len(col.categories) > 2:
                raise ValueError(f"impute: logreg needs two categories; '{c}' has {len(col.categories)} "
                                 "(use polyreg)")
        meth[c] = mth
    pred = _resolve_predictors(names, predictors)
    if visit_sequence is None:
        visit = [c for c in names if meth[c] != ""]
    else:
        visit = list(visit_sequence)
        unknown = [c for c in visit if c not in cols]
        if unknown:
            raise KeyError(f"impute: visit_sequence has columns not in the data: {unknown}")
        visit = [c for c in visit if meth[c] != ""]
        forgotten = [c for c in names if meth[c] != "" and c not in visit]
        if forgotten:
            raise ValueError(f"impute: columns to impute missing from visit_sequence: {forgotten}")
    used = {p for c in names if meth[c] != "" for p in pred[c]}
    for c in names:
        if cols[c].missing.all() and (meth[c] != "" or c in used):
            raise ValueError(f"impute: column '{c}' has no observed values: there is nothing to impute it from "
                             "(mice would keep it missing and drop it as a constant). Drop the column")
    log = _setup(cols, meth, pred, visit)   # on every row of the predictor matrix, as mice
    for c in names:                           # then only the imputed columns' predictors matter
        if meth[c] == "":
            pred[c] = []
    for c in list(visit):
        if meth[c] == "":
            visit.remove(c)
    left_missing = [c for c in names if cols[c].missing.any() and meth[c] == ""]
    dropped = [e.split(": ", 1)[1] for e in log]
    if any(c in dropped for c in left_missing):
        warnings.warn(f"impute: {[c for c in left_missing if c in dropped]} keep their missing values "
                      f"(removed by mice's setup rules: {log})", stacklevel=2)

    index = {c: i for i, c in enumerate(names)}
    base = np.column_stack([cols[c].values for c in names]) if names else np.zeros((len(data), 0))
    miss = {c: cols[c].missing for c in names}
    imputed = {c: np.empty((int(miss[c].sum()), m)) for c in visit}
    chain_mean = {c: np.full((maxit, m), np.nan) for c in visit}
    chain_var = {c: np.full((maxit, m), np.nan) for c in visit}
    streams = np.random.SeedSequence(seed).spawn(m)
    for i in range(m):
        rng = np.random.default_rng(streams[i])
        state = base.copy()
        for c in visit:                      # initialize.imp: mice.impute.sample
            obs = cols[c].values[~miss[c]]
            state[miss[c], index[c]] = rng.choice(obs, size=int(miss[c].sum()), replace=True)
        for it in range(maxit):
            for c in visit:
                j = index[c]
                x = _design(state, index, cols, pred[c])
                y = state[:, j]
                xc = ~np.isnan(x).any(axis=1)
                ry = xc & ~miss[c]
                wy = xc & miss[c]
                if not wy.any():
                    state[miss[c], j] = np.nan
                    continue
                keep = _remove_lindep(x, y, ry)
                x = x[:, keep]
                mth = meth[c]
                if mth == "pmm":
                    new = _impute_pmm(y, ry, x, wy, rng, donors, ridge)
                elif mth == "logreg":
                    new = _impute_logreg(y, ry, x, wy, rng)
                else:
                    new = _impute_polyreg(y, ry, x, wy, rng)
                state[wy, j] = new
                state[miss[c] & ~xc, j] = np.nan
            for c in visit:
                v = state[miss[c], index[c]]
                if cols[c].kind == "categorical":
                    v = v + 1
                chain_mean[c][it, i] = np.nanmean(v) if np.any(~np.isnan(v)) else np.nan
                chain_var[c][it, i] = np.nanvar(v, ddof=1) if np.sum(~np.isnan(v)) > 1 else np.nan
        for c in visit:
            imputed[c][:, i] = state[miss[c], index[c]]
    return MultipleImputation(data=data.copy(), m=m, seed=seed, maxit=maxit, donors=donors, method=meth,
                              predictors={c: pred[c] for c in visit}, visit_sequence=visit, imputed=imputed,
                              chain_mean=chain_mean, chain_var=chain_var, logged_events=log, _columns=cols)


# ----------------------------------------------------------------------------------------------
# Rubin's rules
# ----------------------------------------------------------------------------------------------
def barnard_rubin_df(m: int, b, t, df_complete: float = math.inf) -> np.ndarray:
    """Barnard & Rubin (1999) degrees of freedom, as ``mice:::barnard.rubin(m, b, t, dfcom)``.

    ``lambda = (1 + 1/m) b / t`` floored at 1e-4; ``nu_old = (m - 1) / lambda^2``; ``nu_obs = (dfcom + 1) /
    (dfcom + 3) dfcom (1 - lambda)``; returns ``nu_old nu_obs / (nu_old + nu_obs)``, or ``nu_old`` when
    ``dfcom`` is infinite.

    Examples
    --------
    >>> round(float(barnard_rubin_df(5, 0.5, 1.1, math.inf)), 10)   # lambda = 1.2 * 0.5 / 1.1 = 6/11; 4 / lambda^2
    13.4444444444
    """
    b, t = np.asarray(b, dtype=float), np.asarray(t, dtype=float)
    lam = (1 + 1 / m) * b / t
    lam = np.where(lam < 1e-4, 1e-4, lam)
    dfold = (m - 1) / lam ** 2
    if math.isinf(df_complete):
        return dfold
    dfobs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
    return dfold * dfobs / (dfold + dfobs)


@dataclass(frozen=True)
class PooledEstimates:
    """Rubin's rules over m analyses, laid out as ``summary(pool(fit), conf.int = TRUE)`` plus ``pool()$pooled``.

    ``table`` columns: term, m, estimate, std_error, statistic, df, p_value, lower, upper, riv, lambda, fmi,
    ubar, b, t, dfcom (see the module docstring). ``cov``: the total covariance matrix ``Ubar + (1 + 1/m) B``
    when full variance matrices were given (else None).
    """

    table: pd.DataFrame
    cov: pd.DataFrame | None
    m: int
    conf_level: float


def _as_matrix(values, what: str) -> tuple[np.ndarray, list[str] | None]:
    names = None
    if isinstance(values, pd.DataFrame):
        return values.to_numpy(dtype=float), [str(c) for c in values.columns]
    items = list(values)
    if items and isinstance(items[0], pd.Series):
        names = [str(i) for i in items[0].index]
        if any([str(i) for i in s.index] != names for s in items):
            raise ValueError(f"pool_rubin: the {what} do not all have the same terms")
    if items and isinstance(items[0], pd.DataFrame):
        names = [str(i) for i in items[0].index]
    return np.asarray([np.asarray(v, dtype=float) for v in items], dtype=float), names


def pool_rubin(estimates, variances, df_complete: float = math.inf, conf_level: float = 0.95,
               terms: Sequence[str] | None = None) -> PooledEstimates:
    """Pool m analyses by Rubin's rules, as ``mice::pool(fit, dfcom)`` and ``summary(..., conf.int = TRUE)``.

    Parameters
    ----------
    estimates : array-like (m, p), or a sequence of m Series
        The estimates of each analysis (e.g. log hazard ratios).
    variances : array-like (m, p) of variances, (m, p, p) of variance matrices, or m DataFrames
        Their within-imputation variances; only the diagonal enters Rubin's rules (as in ``pool()``, which
        uses ``std.error^2``); full matrices also give the pooled ``cov``.
    df_complete : float
        The complete-data degrees of freedom ``dfcom`` (``math.inf`` for large-sample analyses; mice takes
        ``max(dfcom, 1)``). For Cox fits use :func:`pool_cox`, which takes mice's value.
    conf_level : float
        Level of the t-based confidence intervals (``lower``, ``upper``).
    terms : sequence of str, optional
        Parameter names (default: the Series' index, else ``"0"``, ``"1"``, ...).

    Returns
    -------
    PooledEstimates

    Examples
    --------
    >>> r = pool_rubin([[1.0], [1.2], [1.4]], [[0.04], [0.05], [0.06]], df_complete=math.inf)
    >>> row = r.table.iloc[0]
    >>> [round(float(row[k]), 6) for k in ("estimate", "ubar", "b", "t")]
    [1.2, 0.05, 0.04, 0.103333]
    >>> round(float(row.df), 4)                          # 2 / (0.053333 / 0.103333)^2
    7.5078
    """
    q, q_names = _as_matrix(estimates, "estimates")
    u, u_names = _as_matrix(variances, "variances")
    if q.ndim != 2:
        raise ValueError("pool_rubin: estimates must be m x p")
    m, p = q.shape
    if m < 2:
        raise ValueError("pool_rubin: need at least 2 imputations (mice's pool() does no pooling for m = 1)")
    if u.shape == (m, p, p):
        full = u
        u = np.diagonal(u, axis1=1, axis2=2)
    elif u.shape == (m, p):
        full = None
    else:
        raise ValueError(f"pool_rubin: variances must be {m} x {p} or {m} x {p} x {p}, got {u.shape}")
    if not df_complete > 0:
        raise ValueError("pool_rubin: df_complete must be positive")
    dfcom = max(float(df_complete), 1.0)
    if terms is None:
        terms = q_names or u_names or [str(i) for i in range(p)]
    terms = [str(t) for t in terms]
    if len(terms) != p:
        raise ValueError(f"pool_rubin: {len(terms)} terms for {p} parameters")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    df = barnard_rubin_df(m, b, t, dfcom)
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1 + 1 / m) * b / ubar
        lam = (1 + 1 / m) * b / t
        fmi = (riv + 2 / (df + 3)) / (riv + 1)
        se = np.sqrt(t)
        stat = qbar / se
    pval = 2 * stats.t.sf(np.abs(stat), np.maximum(df, 0.001))
    a = (1 - conf_level) / 2
    table = pd.DataFrame({
        "term": terms, "m": m, "estimate": qbar, "std_error": se, "statistic": stat, "df": df, "p_value": pval,
        "lower": qbar + stats.t.ppf(a, df) * se, "upper": qbar + stats.t.ppf(1 - a, df) * se,
        "riv": riv, "lambda": lam, "fmi": fmi, "ubar": ubar, "b": b, "t": t, "dfcom": dfcom})
    cov = None
    if full is not None:
        dev = q - qbar
        bmat = dev.T @ dev / (m - 1)
        cov = pd.DataFrame(full.mean(axis=0) + (1 + 1 / m) * bmat, index=terms, columns=terms)
    return PooledEstimates(table=table, cov=cov, m=m, conf_level=conf_level)


def pool_cox(fits: Sequence[CoxResult], conf_level: float = 0.95,
             df_complete: float | None = None) -> PooledEstimates:
    """Pool Cox fits (:func:`helpers.stats.cox.cox_fit`, one per completed data set) as
    ``pool(with(imp, coxph(...)))``: Rubin's rules on ``coef`` and ``diag(var)`` with mice's complete-data
    df for coxph, ``max(nevent - p, 1)`` of the first fit (``mice:::get.dfcom``; p counts every coefficient).

    Parameters
    ----------
    fits : sequence of CoxResult
        The same model fitted on each completed data set.
    conf_level : float
        Level of the pooled confidence intervals.
    df_complete : float, optional
        Overrides mice's dfcom (e.g. ``math.inf``).

    Returns
    -------
    PooledEstimates
        Log hazard ratios; ``numpy.exp`` of estimate, lower and upper gives hazard ratios and their CI
        (``summary(pool(fit), conf.int = TRUE, exponentiate = TRUE)``).
    """
    fits = list(fits)
    if len(fits) < 2:
        raise ValueError("pool_cox: need at least 2 fits")
    covs = list(fits[0].coef.index)
    if any(list(f.coef.index) != covs for f in fits):
        raise ValueError("pool_cox: the fits do not have the same terms")
    if df_complete is None:
        df_complete = max(fits[0].n_events - len(covs), 1)
    return pool_rubin([f.coef for f in fits], [f.var.to_numpy() for f in fits], df_complete=df_complete,
                      conf_level=conf_level, terms=covs)
