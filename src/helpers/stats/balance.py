"""Covariate balance statistics on arrays, as R's cobalt ``bal.tab`` (and MatchIt's ``summary.matchit``) compute them.

cobalt is not installed on the build machine: ``tests/reference/causal_reference.R`` writes its formulas out in R,
and also calls MatchIt's own balance routine (``MatchIt:::bal1var``, what ``summary(matchit)`` prints), on
MatchIt's ``lalonde`` with ATT, ATE and matching weights. ``tests/test_causal_stats.py`` checks this module
against both to 1e-10.

Conventions (cobalt 4.x defaults unless stated)
-----------------------------------------------
Binary variable
    One whose values are all 0 or 1 (code two-level factors as 0/1 first; cobalt also recodes other
    two-valued variables, this module does not).
Weighted mean and SD (``col_w_mean``, ``col_w_sd``)
    Mean ``sum w x / sum w``. Continuous variance with the reliability-weights correction
    ``sum w (x - m)^2 / (sum w - sum w^2 / sum w)`` (the sample variance, n - 1, when every weight is 1);
    binary variance ``p (1 - p)`` (no n - 1).
Standardized mean difference (``col_w_smd``)
    ``(mean_1 - mean_0) / denominator``, the means weighted, the denominator computed in the *unweighted*
    groups (so weighting changes only the numerator): ``s_d_denom="pooled"`` ``sqrt((s1^2 + s0^2) / 2)``
    (cobalt's default for the ATE and ATO), ``"treated"`` ``s1`` (default for the ATT; MatchIt's too),
    ``"control"`` ``s0`` (ATC), ``"all"`` the SD of both groups together.
    Binary variables: ``binary="raw"`` (cobalt's default) reports the raw difference in proportions,
    ``binary="std"`` standardizes it like a continuous variable (with the binary SD above; MatchIt's
    ``summary`` always standardizes).
Variance ratio (``col_w_vr``)
    ``var_1 / var_0`` of the weighted groups, for continuous variables only (NaN for binary ones).
eCDF statistics
    Weighted empirical CDFs of each group (weights normalised to sum 1 within the group), compared at every
    distinct value of the variable among all rows passed (also rows of weight 0, as MatchIt does):
    ``ks`` (cobalt's ``KS``, MatchIt's ``eCDF Max``) is the largest ``|F1 - F0|``, ``ecdf_mean`` (MatchIt's
    ``eCDF Mean``; cobalt's ``bal.tab`` has no mean eCDF statistic) their mean. For a binary variable both
    are ``|p1 - p0|``.
Missing values
    Rows with a missing value of a variable are left out of that variable's statistics.

The book's Table-1 style SMDs (:func:`smd_continuous`, :func:`smd_proportion`, :func:`smd_continuous_weighted`,
used by :mod:`helpers.analyses.balance`) follow a different, older convention, kept for its results: pooled
sample SDs ``sqrt((s1^2 + s0^2) / 2)`` and, with weights, the *weighted* SDs of each group in the denominator
(tableone-style), not cobalt's unweighted ones.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = [
    "smd_continuous", "smd_proportion", "smd_continuous_weighted", "weighted_mean", "weighted_var",
    "is_binary", "standardized_mean_difference", "variance_ratio", "ecdf_statistics", "balance_table",
    "S_D_DENOMS", "DEFAULT_S_D_DENOM",
]

S_D_DENOMS = ("pooled", "treated", "control", "all")
#: cobalt's default ``s.d.denom`` per estimand
DEFAULT_S_D_DENOM = {"ATE": "pooled", "ATO": "pooled", "ATT": "treated", "ATC": "control"}


# ---------------------------------------------------------------------- Table-1 style SMDs (the book's convention)
def smd_continuous(x1: np.ndarray, x0: np.ndarray) -> float:
    """``(mean1 - mean0) / sqrt((s1^2 + s0^2) / 2)`` with sample SDs (n - 1); +-inf for a zero denominator.

    Examples
    --------
    >>> round(smd_continuous([1.0, 2.0, 3.0], [2.0, 3.0, 4.0]), 6)
    -1.0
    """
    x1, x0 = np.asarray(x1, float), np.asarray(x0, float)
    denom = np.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2)
    diff = x1.mean() - x0.mean()
    if denom == 0:
        return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
    return float(diff / denom)


def smd_proportion(p1: float, p0: float) -> float:
    """``(p1 - p0) / sqrt((p1 (1 - p1) + p0 (1 - p0)) / 2)``; 0 when both are 0 or 1.

    Examples
    --------
    >>> round(smd_proportion(0.5, 0.25), 6)
    0.534522
    """
    denom = np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    if denom == 0:
        return 0.0 if p1 == p0 else float(np.sign(p1 - p0) * np.inf)
    return float((p1 - p0) / denom)


def _weighted_mean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    sw = w.sum()
    m = float((w * x).sum() / sw)
    denom = sw**2 - (w**2).sum()
    var = float((w * (x - m) ** 2).sum() * sw / denom) if denom > 0 else float("nan")
    return m, var


def smd_continuous_weighted(x1, x0, w1, w0) -> float:
    """Weighted :func:`smd_continuous`: weighted means over pooled *weighted* SDs (reliability-weights correction).

    Examples
    --------
    >>> round(smd_continuous_weighted([1.0, 3.0], [2.0, 4.0], [1.0, 1.0], [1.0, 1.0]), 6)
    -0.707107
    """
    m1, v1 = _weighted_mean_var(np.asarray(x1, float), np.asarray(w1, float))
    m0, v0 = _weighted_mean_var(np.asarray(x0, float), np.asarray(w0, float))
    denom = np.sqrt((v1 + v0) / 2)
    diff = m1 - m0
    if denom == 0:
        return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
    return float(diff / denom)


# ------------------------------------------------------------------------------------------ cobalt's statistics
def is_binary(x: Any) -> bool:
    """True when every (non-missing) value is 0 or 1."""
    v = np.asarray(x, dtype=float)
    v = v[~np.isnan(v)]
    return bool(np.all((v == 0) | (v == 1)))


def weighted_mean(x: Any, w: Any = None) -> float:
    """``sum w x / sum w`` (cobalt ``col_w_mean``); the plain mean without weights."""
    x = np.asarray(x, dtype=float)
    if w is None:
        return float(x.mean())
    w = np.asarray(w, dtype=float)
    return float(np.sum(w * x) / np.sum(w))


def weighted_var(x: Any, w: Any = None, binary: bool | None = None) -> float:
    """cobalt's ``col_w_var``: ``p (1 - p)`` for a binary variable, else the reliability-weighted variance.

    Examples
    --------
    >>> weighted_var([1.0, 2.0, 3.0, 4.0])        # the sample variance
    1.6666666666666667
    >>> weighted_var([0, 1, 1, 1])                # p (1 - p)
    0.1875
    """
    x = np.asarray(x, dtype=float)
    w = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)
    binary = is_binary(x) if binary is None else binary
    sw = np.sum(w)
    m = np.sum(w * x) / sw
    if binary:
        return float(m * (1 - m))
    denom = sw - np.sum(w**2) / sw
    return float(np.sum(w * (x - m) ** 2) / denom) if denom > 0 else float("nan")


def _groups(x: Any, treated: Any, weights: Any):
    x = np.asarray(x, dtype=float)
    t = np.asarray(treated)
    t = t.astype(bool) if t.dtype == bool else t.astype(float) == 1.0
    if len(t) != len(x):
        raise ValueError(f"x and treated must have the same length, got {len(x)} and {len(t)}")
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    if len(w) != len(x):
        raise ValueError(f"weights must have one value per row, got {len(w)} for {len(x)}")
    if np.any(np.isnan(w)) or np.any(w < 0):
        raise ValueError("weights must be non-negative (no missing values)")
    ok = ~np.isnan(x)
    return x[ok], t[ok], w[ok]


def _denominator(x: np.ndarray, t: np.ndarray, binary: bool, s_d_denom: str) -> float:
    if s_d_denom == "pooled":
        return float(np.sqrt((weighted_var(x[t], binary=binary) + weighted_var(x[~t], binary=binary)) / 2))
    if s_d_denom == "treated":
        return float(np.sqrt(weighted_var(x[t], binary=binary)))
    if s_d_denom == "control":
        return float(np.sqrt(weighted_var(x[~t], binary=binary)))
    if s_d_denom == "all":
        return float(np.sqrt(weighted_var(x, binary=binary)))
    raise ValueError(f"s_d_denom must be one of {S_D_DENOMS}, got {s_d_denom!r}")


def _resolve_denom(estimand: str, s_d_denom: str | None) -> str:
    if s_d_denom is not None:
        return s_d_denom
    try:
        return DEFAULT_S_D_DENOM[str(estimand).upper()]
    except KeyError:
        raise ValueError(f"estimand must be one of {sorted(DEFAULT_S_D_DENOM)}, got {estimand!r}") from None


def standardized_mean_difference(x: Any, treated: Any, weights: Any = None, estimand: str = "ATE",
                                 binary: str = "raw", s_d_denom: str | None = None) -> float:
    """cobalt's ``Diff``: the (weighted) mean difference, standardized by the unweighted groups' SD.

    Parameters
    ----------
    x : array-like
        The covariate.
    treated : array-like
        Treatment indicator (boolean or 0/1).
    weights : array-like, optional
        Balancing weights (matching, IPW, ...); None for the unadjusted sample.
    estimand : {"ATE", "ATT", "ATC", "ATO"}
        Chooses cobalt's default denominator (pooled, treated, control, pooled).
    binary : {"raw", "std"}
        A binary variable's difference in proportions, raw (cobalt's default) or standardized.
    s_d_denom : {"pooled", "treated", "control", "all"}, optional
        Overrides the estimand's denominator.

    Returns
    -------
    float

    Examples
    --------
    >>> x, t = [1.0, 2.0, 3.0, 2.0, 3.0, 4.0], [1, 1, 1, 0, 0, 0]
    >>> standardized_mean_difference(x, t)                  # (2 - 3) / sqrt((1 + 1) / 2)
    -1.0
    >>> standardized_mean_difference([1, 0, 1, 0], [1, 1, 0, 0])    # binary: raw difference
    0.0
    """
    if binary not in ("raw", "std"):
        raise ValueError(f"binary must be 'raw' or 'std', got {binary!r}")
    s_d_denom = _resolve_denom(estimand, s_d_denom)
    x, t, w = _groups(x, treated, weights)
    bin_ = is_binary(x)
    diff = weighted_mean(x[t], w[t]) - weighted_mean(x[~t], w[~t])
    if bin_ and binary == "raw":
        return float(diff)
    denom = _denominator(x, t, bin_, s_d_denom)
    if denom == 0:
        return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
    return float(diff / denom)


def variance_ratio(x: Any, treated: Any, weights: Any = None) -> float:
    """``var_1 / var_0`` of the (weighted) groups, cobalt ``V.Ratio``; NaN for a binary variable.

    Examples
    --------
    >>> variance_ratio([1.0, 3.0, 5.0, 2.0, 3.0, 4.0], [1, 1, 1, 0, 0, 0])
    4.0
    """
    x, t, w = _groups(x, treated, weights)
    if is_binary(x):
        return float("nan")
    return float(weighted_var(x[t], w[t], binary=False) / weighted_var(x[~t], w[~t], binary=False))


def ecdf_statistics(x: Any, treated: Any, weights: Any = None) -> tuple[float, float]:
    """(mean, max) of ``|F1 - F0|`` over the distinct values: MatchIt's eCDF Mean and eCDF Max (cobalt's KS).

    Examples
    --------
    >>> ecdf_statistics([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 0])     # |F1 - F0| = 1/2, 1, 1/2, 0
    (0.5, 1.0)
    """
    x, t, w = _groups(x, treated, weights)
    if is_binary(x):
        d = abs(weighted_mean(x[t], w[t]) - weighted_mean(x[~t], w[~t]))
        return float(d), float(d)
    step = np.where(t, w / w[t].sum(), -w / w[~t].sum())
    order = np.argsort(x, kind="stable")
    xs = x[order]
    cum = np.abs(np.cumsum(step[order]))
    last = np.r_[xs[1:] != xs[:-1], True]          # the last row of each distinct value
    diffs = cum[last]
    return float(diffs.mean()), float(diffs.max())


def balance_table(covariates: pd.DataFrame | Mapping[str, Any], treated: Any, weights: Any = None,
                  estimand: str = "ATE", binary: str = "raw", s_d_denom: str | None = None) -> pd.DataFrame:
    """cobalt ``bal.tab(covs, treat, weights, estimand, binary, s.d.denom, disp = c("means", "sds"),
    stats = c("m", "v", "ks"))``, plus MatchIt's eCDF mean, one row per covariate.

    Parameters
    ----------
    covariates : DataFrame or mapping of name -> array
        Numeric covariates (dummy-code factors as 0/1 columns first).
    treated : array-like
        Treatment indicator (boolean or 0/1).
    weights : array-like, optional
        Balancing weights; without them only the unadjusted (``_un``) columns are returned.
    estimand, binary, s_d_denom
        As :func:`standardized_mean_difference`.

    Returns
    -------
    pandas.DataFrame
        ``variable, type`` ("binary" / "continuous"), then for the unadjusted sample (``_un``) and, with
        weights, the adjusted one (``_adj``): ``mean_treated, mean_control, sd_treated, sd_control, diff``
        (cobalt's Diff: SMD, or raw for binary variables with ``binary="raw"``), ``var_ratio``,
        ``ecdf_mean``, ``ks``.

    Examples
    --------
    >>> tab = balance_table({"age": [30.0, 40, 50, 35, 45, 60]}, [1, 1, 1, 0, 0, 0])
    >>> round(float(tab.loc[0, "diff_un"]), 4)
    -0.5866
    """
    frame = pd.DataFrame(covariates)
    t = np.asarray(treated)
    if len(t) != len(frame):
        raise ValueError(f"treated must have one value per row, got {len(t)} for {len(frame)}")
    samples = [("un", None)] + ([("adj", weights)] if weights is not None else [])
    rows = []
    for name in frame.columns:
        x = pd.to_numeric(frame[name], errors="raise").to_numpy(dtype=float)
        xs, ts, _ = _groups(x, t, None)
        bin_ = is_binary(xs)
        row: dict[str, Any] = {"variable": name, "type": "binary" if bin_ else "continuous"}
        for suffix, w in samples:
            xv, tv, wv = _groups(x, t, w)
            row[f"mean_treated_{suffix}"] = weighted_mean(xv[tv], wv[tv])
            row[f"mean_control_{suffix}"] = weighted_mean(xv[~tv], wv[~tv])
            row[f"sd_treated_{suffix}"] = float(np.sqrt(weighted_var(xv[tv], wv[tv], binary=bin_)))
            row[f"sd_control_{suffix}"] = float(np.sqrt(weighted_var(xv[~tv], wv[~tv], binary=bin_)))
            row[f"diff_{suffix}"] = standardized_mean_difference(x, t, w, estimand, binary, s_d_denom)
            row[f"var_ratio_{suffix}"] = variance_ratio(x, t, w)
            row[f"ecdf_mean_{suffix}"], row[f"ks_{suffix}"] = ecdf_statistics(x, t, w)
        rows.append(row)
    return pd.DataFrame(rows)
