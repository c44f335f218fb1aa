"""Restricted mean survival time (RMST): estimates, two-arm comparison, pseudo-values and regression.

References, checked in ``tests/test_rmst.py`` against values written by
``tests/reference/survival_cox_reference.R`` (R 4.2.2, survival 3.5-3):

=======================================  ==========================================================
Python                                   R
=======================================  ==========================================================
``rmst(time, event, tau)``               ``survRM2:::rmst1`` (its formulas on ``survfit()``)
``rmst_difference(...)``                 ``survRM2::rmst2(time, status, arm, tau)``, unadjusted
``rmst_pseudo_values(time, event, tau)`` ``survival::pseudo(survfit(Surv(time, status) ~ 1),
                                         times = tau, type = "rmst")``
``rmst_regression(...)``                 ``lm(pseudo ~ covariates)`` with the HC0 sandwich variance
                                         ``(X'X)^-1 X' diag(e^2) X (X'X)^-1`` (= ``geepack::geeglm``
                                         with an independence working correlation, identity link)
=======================================  ==========================================================

Conventions
-----------
RMST
    The area under the Kaplan-Meier curve from 0 to ``tau``. Its variance is survRM2's Greenwood
    plug-in: ``sum over distinct times t_i <= tau of A_i^2 d_i / (Y_i (Y_i - d_i))`` where ``A_i`` is
    the area under the curve from ``t_i`` to ``tau`` (a term with ``Y_i = d_i`` counts 0). The CI is
    normal: ``rmst -/+ z * se``. (lifelines' ``restricted_mean_survival_time(return_variance=True)``
    returns Var[min(T, tau)], which is not this.)
Difference, ratio
    ``rmst_1 - rmst_0`` with SE ``sqrt(v_1 + v_0)``, normal CI and two-sided z p-value; the RMST ratio
    and the RMTL ratio (restricted mean time lost, ``tau - rmst``) on the log scale, delta method, as
    ``rmst2`` prints them. Arm 1 is the comparison arm, arm 0 the reference.
tau
    ``"floor_min_max"`` (the seed paper's rule): the smallest of the two arms' largest observed times
    (event or censored), rounded down to an integer. ``"min_max"``: the same without rounding
    (survRM2's default when both arms end with a censored time). A number: used as given, after the
    check survRM2 makes: tau may not exceed the smaller arm's largest time, unless that arm ends with an
    event (its curve is then 0 and known up to the larger arm's largest time).
Pseudo-values
    ``rmst_hat + n * IJ_i`` with the infinitesimal-jackknife influence of subject ``i`` on the RMST (what
    ``survival::pseudo`` computes; linear time, unlike the leave-one-out jackknife of the ``pseudo``
    package, which is O(n^2)):
    ``IJ_i = sum over event times t_k <= min(y_i, tau) of A_k d_k / (Y_k (Y_k - d_k))
    - delta_i [y_i <= tau] A_{k(i)} / (Y_{k(i)} - d_{k(i)})``.
Regression
    OLS of the pseudo-values on an intercept and the covariates; HC0 robust (sandwich) standard errors,
    normal-theory CI and p (statsmodels ``OLS.fit(cov_type="HC0")``). Rows with a missing time, event
    or covariate are dropped *before* the pseudo-values are computed, so they are those of the
    analysis set.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from helpers.stats.normal import critical_value, two_sided_p
from helpers.stats.survival import product_limit

__all__ = [
    "RMSTEstimate",
    "RMSTComparison",
    "RMSTWarning",
    "TAU_RULES",
    "rmst",
    "rmst_difference",
    "choose_tau",
    "rmst_pseudo_values",
    "rmst_regression",
]

TAU_RULES = ("floor_min_max", "min_max")


def _clean(time, event) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event, dtype=float).ravel()
    if t.shape != e.shape:
        raise ValueError(f"time and event have different lengths ({len(t)} and {len(e)})")
    if len(t) == 0:
        raise ValueError("no observations")
    if np.any(np.isnan(t)) or np.any(np.isnan(e)):
        raise ValueError("time and event must not contain missing values (drop those rows first)")
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError("times must be finite and >= 0")
    if not np.all(np.isin(e, (0.0, 1.0))):
        raise ValueError("event must be 0/1 (or False/True)")
    return t, e


def _km(t: np.ndarray, e: np.ndarray):
    """Distinct times, deaths, numbers at risk and KM survival just after each distinct time, and the index of
    each observation's distinct time (:func:`helpers.stats.survival.product_limit`: the package's one
    Kaplan-Meier step, without the bands RMST does not use)."""
    return product_limit(t, e)


def _areas_after(ut: np.ndarray, surv: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
    """RMST to tau and, for each distinct time t_i, the area under the curve from t_i to tau (0 past tau)."""
    inside = ut <= tau
    tt = ut[inside]
    ss = surv[inside]
    grid = np.concatenate(([0.0], tt, [tau]))
    heights = np.concatenate(([1.0], ss))
    pieces = np.diff(grid) * heights                 # piece j covers [grid_j, grid_{j+1}]
    total = float(pieces.sum())
    # area after t_i (i-th time inside) = sum of pieces from index i+1 on
    after = np.cumsum(pieces[::-1])[::-1]            # after[j] = sum pieces[j:]
    a = np.zeros(len(ut))
    a[inside] = after[1:len(tt) + 1]
    return total, a


def rmst_kernel(ut: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray, surv: np.ndarray,
                tau: float) -> tuple[float, float]:
    """The RMST kernel (survRM2 ``rmst1``): the area under the Kaplan-Meier curve up to ``tau`` and its
    Greenwood plug-in variance ``sum_i A_i^2 d_i / (n_i (n_i - d_i))`` over the times up to tau, A_i the area
    after t_i. :func:`rmst` checks its input and calls this; so does the synthetic-data generator."""
    total, after = _areas_after(ut, surv, tau)
    d, nrisk = np.asarray(n_event, dtype=float), np.asarray(n_risk, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(nrisk - d == 0, 0.0, d / (nrisk * (nrisk - d)))
    inside = ut <= tau
    return total, float(np.sum(after[inside] ** 2 * w[inside]))


def rmst_difference_test(rmst_0: float, var_0: float, rmst_1: float, var_1: float) -> tuple[float, float, float]:
    """``rmst_1 - rmst_0``, its SE and the two-sided z-test p (survRM2 ``rmst2``'s contrast); p is NaN when
    the SE is 0."""
    diff = rmst_1 - rmst_0
    dse = math.sqrt(var_1 + var_0)
    return diff, dse, two_sided_p(diff / dse) if dse > 0 else float("nan")


class RMSTWarning(UserWarning):
    """tau lies beyond the last observed time of a curve that has not reached 0."""


def _curve_to_tau(t: np.ndarray, e: np.ndarray, tau):
    """The checked front of :func:`rmst` and :func:`rmst_pseudo_values` on cleaned ``t``, ``e``: tau > 0, the KM
    steps (:func:`_km`), and an :class:`RMSTWarning` when tau lies beyond a last time that is censored.
    Returns (tau, distinct times, deaths, numbers at risk, survival, index of each observation's time)."""
    tau = float(tau)
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    ut, d, nrisk, surv, inv = _km(t, e)
    if tau > ut[-1] and surv[-1] > 0:
        # stacklevel 3: the warning names the user's call of rmst / rmst_pseudo_values
        warnings.warn(f"tau = {tau:g} is beyond the largest observed time {ut[-1]:g} (censored): the Kaplan-Meier "
                      "curve is carried forward flat from there, as R does", RMSTWarning, stacklevel=3)
    return tau, ut, d, nrisk, surv, inv


@dataclass(frozen=True)
class RMSTEstimate:
    """RMST of one sample up to ``tau`` with survRM2's (Greenwood plug-in) SE and a normal CI."""

    tau: float
    rmst: float
    se: float
    lower: float
    upper: float
    n: int
    n_events: int
    max_time: float
    conf_level: float = 0.95

    @property
    def variance(self) -> float:
        return self.se ** 2

    @property
    def rmtl(self) -> float:
        """Restricted mean time lost, ``tau - rmst`` (same SE)."""
        return self.tau - self.rmst


def rmst(time, event, tau: float, conf_level: float = 0.95) -> RMSTEstimate:
    """RMST up to ``tau`` (survRM2 ``rmst1``): area under the KM curve, Greenwood plug-in SE, normal CI.

    Beyond the largest observed time (when that is censored) the curve is carried forward flat, as
    survRM2 ``rmst1`` and ``survival`` do, with a :class:`RMSTWarning`; :func:`rmst_difference` refuses
    such a tau instead.
    """
    t, e = _clean(time, event)
    tau, ut, d, nrisk, surv, _ = _curve_to_tau(t, e, tau)
    total, var = rmst_kernel(ut, nrisk, d, surv, tau)
    se = math.sqrt(var)
    q = critical_value(conf_level)
    return RMSTEstimate(tau, total, se, total - q * se, total + q * se, len(t), int(e.sum()), float(t.max()),
                        conf_level)


def _last_obs(t: np.ndarray, e: np.ndarray) -> tuple[float, int]:
    """Largest time and survRM2's status of it (1 only if every observation at that time is an event)."""
    m = t.max()
    return float(m), int(e[t == m].min())


def choose_tau(time, event, group, tau_rule="floor_min_max", order: Sequence | None = None) -> tuple[float, float]:
    """(tau, largest allowed tau) for a two-arm RMST comparison; see the module docstring for the rules."""
    t, e = _clean(time, event)
    levels, codes = _group_codes(group)
    arms = _arm_order(levels, order)
    return _choose_tau(t, e, _arm_masks(levels, codes, arms), arms, tau_rule)


def _choose_tau(t: np.ndarray, e: np.ndarray, masks: list[np.ndarray], arms: list, tau_rule) -> tuple[float, float]:
    (m0, s0), (m1, s1) = (_last_obs(t[m], e[m]) for m in masks)
    lo, hi = min(m0, m1), max(m0, m1)
    # survRM2::rmst2: the larger tau is allowed only when the arm with the shorter follow-up ends with an event
    shorter_status = s0 if m0 < m1 else s1 if m1 < m0 else min(s0, s1)
    if m0 == m1:
        tau_max = hi
    else:
        tau_max = hi if shorter_status == 1 else lo
    if isinstance(tau_rule, str):
        if tau_rule == "floor_min_max":
            tau = float(math.floor(lo))
            if tau <= 0:
                raise ValueError(f"tau rule 'floor_min_max': the shorter arm's largest time {lo:g} rounds down to "
                                 f"{tau:g}; give tau as a number")
        elif tau_rule == "min_max":
            tau = lo
        else:
            raise ValueError(f"tau_rule must be one of {TAU_RULES} or a number, got {tau_rule!r}")
    else:
        tau = float(tau_rule)
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau:g}")
    if tau > tau_max:
        raise ValueError(f"tau = {tau:g} is too large: it must be <= {tau_max:g}, the smaller of the two arms' "
                         f"largest observed times ({m0:g} in arm {arms[0]!r}, {m1:g} in arm {arms[1]!r})"
                         + (" (the shorter arm ends with a censored time)" if tau_max == lo else ""))
    return tau, tau_max


def _group_codes(group) -> tuple[list, np.ndarray]:
    """The group's values present (in order of first appearance, missing left out) and, per observation, the
    index of its value in that list (-1: missing). One pass, so that each arm is then an integer comparison
    rather than a comparison of every observation's object (a million strings for a registry); a pandas
    Categorical goes through its codes."""
    if isinstance(getattr(group, "dtype", None), pd.CategoricalDtype):
        cat = pd.Categorical(group)
        cat_codes = np.asarray(cat.codes, dtype=np.int64).ravel()
        present = pd.unique(cat_codes[cat_codes >= 0])
        lookup = np.full(len(cat.categories) + 1, -1, dtype=np.int64)  # the last entry maps code -1 to -1
        lookup[present] = np.arange(len(present))
        return [cat.categories[c] for c in present], lookup[cat_codes]
    codes, uniques = pd.factorize(np.asarray(group).ravel())
    return list(uniques), codes.astype(np.int64)


def _arm_masks(levels: list, codes: np.ndarray, arms: list) -> list[np.ndarray]:
    return [codes == levels.index(a) for a in arms]


def _arm_order(levels: list, order: Sequence | None) -> list:
    if order is None:
        if len(levels) != 2:
            raise ValueError(f"group must have exactly two values, got {levels}")
        order = sorted(levels, key=lambda v: (str(type(v)), v))
    order = list(order)
    if len(order) != 2:
        raise ValueError(f"order must name two arms (reference, comparison), got {order}")
    missing = [a for a in order if a not in levels]
    if missing:
        raise ValueError(f"arms {missing} have no observations (groups present: {levels})")
    extra = [v for v in levels if v not in order]
    if extra:
        raise ValueError(f"group has values {extra} besides the two arms {order}")
    return order


@dataclass
class RMSTComparison:
    """Two-arm RMST comparison (survRM2 ``rmst2``, unadjusted). ``order[0]`` is the reference (arm 0),
    ``order[1]`` the comparison arm (arm 1); differences and ratios are arm 1 vs arm 0."""

    tau: float
    tau_rule: str
    tau_max: float
    order: list
    arms: dict
    difference: float
    difference_se: float
    difference_lower: float
    difference_upper: float
    p_value: float
    ratio: float
    ratio_lower: float
    ratio_upper: float
    ratio_p_value: float
    rmtl_ratio: float
    rmtl_ratio_lower: float
    rmtl_ratio_upper: float
    rmtl_ratio_p_value: float
    conf_level: float = 0.95
    notes: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        """One row per arm (rmst, se, lower, upper, n, events) and one per contrast (estimate, lower, upper, p)."""
        rows = [dict(row=f"RMST ({a})", estimate=r.rmst, se=r.se, lower=r.lower, upper=r.upper, p_value=np.nan,
                     n=r.n, n_events=r.n_events) for a, r in self.arms.items()]
        a0, a1 = self.order
        rows += [dict(row=f"RMST ({a1}) - ({a0})", estimate=self.difference, se=self.difference_se,
                      lower=self.difference_lower, upper=self.difference_upper, p_value=self.p_value),
                 dict(row=f"RMST ({a1}) / ({a0})", estimate=self.ratio, se=np.nan, lower=self.ratio_lower,
                      upper=self.ratio_upper, p_value=self.ratio_p_value),
                 dict(row=f"RMTL ({a1}) / ({a0})", estimate=self.rmtl_ratio, se=np.nan,
                      lower=self.rmtl_ratio_lower, upper=self.rmtl_ratio_upper, p_value=self.rmtl_ratio_p_value)]
        return pd.DataFrame(rows).set_index("row")


def rmst_difference(time, event, group, tau: float | None = None, tau_rule="floor_min_max",
                    order: Sequence | None = None, conf_level: float = 0.95) -> RMSTComparison:
    """RMST per arm and the between-arm contrasts, as ``survRM2::rmst2`` (no covariates).

    ``tau``: a number, or None to apply ``tau_rule`` ("floor_min_max", "min_max", or a number).
    ``order``: (reference, comparison); default: the two group values sorted. See the module docstring.
    The standard errors are survRM2's Greenwood plug-in ones (not lifelines' ``return_variance``, which is
    the variance of min(T, tau)).

    Returns
    -------
    RMSTComparison
        ``tau``, ``arms`` (an :class:`RMSTEstimate` per arm), ``difference`` (comparison minus reference)
        with its SE, CI and p, and the RMST and RMTL ratios.

    Examples
    --------
    Arm A dies at 2, 4 and 6; arm B at 3 and 6, and is censored at 9. tau = min(6, 9) = 6. By hand the
    areas under the curves are 2 + 2 (2/3) + 2 (1/3) = 4 for A and 3 + 3 (2/3) = 5 for B:

    >>> res = rmst_difference([2, 4, 6, 3, 6, 9], [1, 1, 1, 1, 1, 0], ["A", "A", "A", "B", "B", "B"])
    >>> res.tau, round(res.arms["A"].rmst, 10), round(res.arms["B"].rmst, 10), round(res.difference, 10)
    (6.0, 4.0, 5.0, 1.0)
    """
    t, e = _clean(time, event)
    levels, codes = _group_codes(group)
    if len(codes) != len(t):
        raise ValueError(f"group has {len(codes)} values for {len(t)} times")
    arms = _arm_order(levels, order)
    masks = _arm_masks(levels, codes, arms)
    rule = tau_rule if tau is None else tau
    tau_v, tau_max = _choose_tau(t, e, masks, arms, rule)
    rule_name = rule if isinstance(rule, str) else "number"
    q = critical_value(conf_level)
    r0 = rmst(t[masks[0]], e[masks[0]], tau_v, conf_level)
    r1 = rmst(t[masks[1]], e[masks[1]], tau_v, conf_level)
    diff, dse, p = rmst_difference_test(r0.rmst, r0.variance, r1.rmst, r1.variance)

    def log_ratio(a: float, b: float, va: float, vb: float):
        if a <= 0 or b <= 0:
            return (float("nan"),) * 4
        lr = math.log(a) - math.log(b)
        s = math.sqrt(va / a ** 2 + vb / b ** 2)
        pv = two_sided_p(lr / s) if s > 0 else float("nan")
        return math.exp(lr), math.exp(lr - q * s), math.exp(lr + q * s), pv

    ratio = log_ratio(r1.rmst, r0.rmst, r1.variance, r0.variance)
    rmtl = log_ratio(r1.rmtl, r0.rmtl, r1.variance, r0.variance)
    return RMSTComparison(tau_v, rule_name, tau_max, arms, {arms[0]: r0, arms[1]: r1}, diff, dse,
                          diff - q * dse, diff + q * dse, p, *ratio, *rmtl, conf_level=conf_level)


def rmst_pseudo_values(time, event, tau: float) -> np.ndarray:
    """Infinitesimal-jackknife pseudo-values of the RMST at ``tau``, one per observation (input order).

    Same numbers as ``survival::pseudo(survfit(Surv(time, status) ~ 1), times = tau, type = "rmst")``;
    O(n log n). Their mean is the RMST. A tau beyond the last (censored) time gives an
    :class:`RMSTWarning` and the curve carried forward flat, as R does.
    """
    t, e = _clean(time, event)
    tau, ut, d, nrisk, surv, inv = _curve_to_tau(t, e, tau)
    total, after = _areas_after(ut, surv, tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_nd = np.where(nrisk - d == 0, 0.0, 1.0 / (nrisk - d))
    term_event = after * inv_nd                        # A_k / (Y_k - d_k)
    term_risk = np.cumsum(after * inv_nd * d / nrisk)  # sum over times <= t_k of A d / (Y (Y - d))
    ij = term_risk[inv] - e * term_event[inv]          # A_k = 0 for t_k >= tau, so no explicit cut is needed
    return total + len(t) * ij


def rmst_regression(data: pd.DataFrame, time: str, event: str, tau: float, covariate_terms: Sequence[str],
                    conf_level: float = 0.95) -> pd.DataFrame:
    """RMST regression on pseudo-values: OLS with HC0 robust SEs (see the module docstring).

    Returns one row per term, ``(Intercept)`` first: term, estimate, se, lower, upper, z, p_value. The
    estimate of a covariate is the adjusted difference in RMST per unit (or vs the reference level).
    ``attrs`` holds n (complete rows used), n_dropped (rows left out for a missing value), tau and the
    pseudo-values.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import SingularMatrixWarning

    cols = [time, event, *covariate_terms]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"rmst_regression: columns not in the data: {missing}")
    sub = data[cols].apply(pd.to_numeric, errors="raise").dropna()
    if len(sub) == 0:
        raise ValueError("rmst_regression: no complete rows")
    pv = rmst_pseudo_values(sub[time].to_numpy(float), sub[event].to_numpy(float), tau)
    X = sub[list(covariate_terms)].to_numpy(float)
    X = np.column_stack([np.ones(len(sub)), X])
    with warnings.catch_warnings():
        # statsmodels' own rank test (tolerance * p) warns only where the test below (tolerance * n) raises
        warnings.simplefilter("ignore", SingularMatrixWarning)
        fit = sm.OLS(pv, X).fit(cov_type="HC0")
    # np.linalg.matrix_rank(X), on the singular values the fit has just computed (its pseudo-inverse is an SVD of
    # X; a second SVD of a registry's design took as long as the rest of the regression): same tolerance,
    # largest singular value * max(n, p) * machine epsilon
    sv = np.asarray(fit.model.wexog_singular_values)
    if int(np.sum(sv > sv.max() * max(X.shape) * np.finfo(float).eps)) < X.shape[1]:
        raise ValueError("rmst_regression: the design is rank deficient (a constant or collinear covariate)")
    q = critical_value(conf_level)
    b, se = np.asarray(fit.params), np.asarray(fit.bse)
    z = b / se
    out = pd.DataFrame({"term": ["(Intercept)", *covariate_terms], "estimate": b, "se": se,
                        "lower": b - q * se, "upper": b + q * se, "z": z,
                        "p_value": two_sided_p(z)})
    out.attrs.update(n=len(sub), n_dropped=len(data) - len(sub), tau=float(tau), pseudo_values=pv)
    return out
