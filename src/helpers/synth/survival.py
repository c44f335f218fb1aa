"""Time-to-event columns of the synthetic cohorts, generated from a seeded model and calibrated to the papers.

:func:`add_survival_endpoints` is called by :func:`helpers.reconstruct.reconstruct` once the baseline table is
final.  It never changes a baseline column; it appends, for every endpoint of the spec's ``survival`` section,
a time column (months, on a 0.1 grid, >= 0.1) and a 0/1 event column.  Assumptions: ``reconstruction.yaml``
under ``survival``.  Three steps:

1. **Per-arm endpoint records** (one per patient of the arm), from a seeded model:

   * *entry and censoring*: potential follow-up (cut-off date minus start of treatment) from a per-arm
     piecewise-linear quantile function between the shortest and the longest follow-up the accrual window
     allows (staggered entry, administrative censoring at the cut-off), optionally a constant-hazard loss to
     follow-up on top;
   * *progression*: Weibull (scale, shape per arm) with a per-arm fraction of long-term non-progressors;
   * *death*: progression + survival after progression (Weibull per arm), or death without progression first
     (Weibull per arm); a Gaussian copula links a record's latent times.  PFS = first of progression and death
     (a death without progression is a PFS event); OS = death; so OS >= PFS in every record;
   * *sites* (two-site specs such as seed 000's IH-PFS and EH-PFS): each progression is first-site only,
     second-site only or both, with per-arm probabilities; a site endpoint has the PFS time and an event only
     where that site progressed (censored otherwise, including deaths without progression).

   Every published number that depends only on the arms' sets of records (primary-cohort KM medians, CIs and
   rates, log-rank tests, the arm's univariate HR, follow-up, deaths, RMST, landmark tests) is aimed at:
   line scans of the parameters on smooth surrogates (unrounded times, interpolated quantiles), block by block
   and jointly, then a seeded search over single records' latent draws (annealing, then greedy) against the
   exact objective: every target printed to its published decimals, priorities first (see ``_priority``).
2. **Assignment of records to patients** within each arm, by the proportional-hazards model of the covariates:
   a perturb-and-MAP draw from the Cox likelihood (linear predictors of progression and death built from the
   published univariate log hazard ratios of the baseline covariates, Nelson-Aalen baseline of the arm, Gumbel
   noise, optimal assignment), then swaps of records between patients of one arm aimed at the covariate,
   matched-cohort and multivariable numbers (swaps leave step 1's numbers unchanged).

   With ``covariate_model: true`` (both seed studies) the coefficients are solved instead (each iteration fits
   the paper's models on the assignment and moves each coefficient by the log ratio of its target HR,
   multivariable where published, to the fitted one), and the paper's key claims (:class:`ClaimCheck`, the
   audit's rule) and the multivariable models' variable selection (:class:`SelectionCheck`: each candidate's
   univariate p on the published side of the entry threshold) are lexicographic goals of the searches.
3. **Record polish** (``nudge_steps``): on the final table, single patients' records are replaced by a record
   the model could have drawn (:func:`propose_record`: a time moved along the grid, an event status or the
   progression's sites changed, OS >= PFS and the follow-up window kept) or two progressed patients of an arm
   exchange their progressions or what followed them (:func:`propose_exchange`), and a move is kept only if no
   priority gets more misses (:func:`nudge_search`, greedy).  Unlike the swaps of step 2 this changes the arms'
   records, or PFS and OS of a patient apart, so it can reach covariate numbers the swaps could not.

The numbers are computed by the book's own engines (``helpers.stats``), called at their kernels (the checked
public functions call the same kernels; ``survdiff`` over ``survdiff.fit`` in R): KM median and CI as
``print.survfit`` (log bands), ``survdiff``, ``coxph`` (Efron ties, Wald CI and p), reverse-KM follow-up as
``prodlim(reverse = TRUE)`` and its ``quantile()``, survRM2 RMST with tau = floor of the smaller arm maximum,
the book's landmark z-test of S(t) (Greenwood). A target the search hits is therefore the number the chapter
prints. Every target, the value reached and whether it prints as published go to
``reconstruction_report.csv``.
"""
from __future__ import annotations

import copy
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from helpers.stats.cox import cox_kernel, hazard_ratio_wald, sort_for_cox
from helpers.stats.descriptive import type7_quartiles
from helpers.stats.hypothesis_tests import rank_sum_p_kernel
from helpers.stats.normal import two_sided_p
from helpers.stats.rmst import rmst_difference_test, rmst_kernel
from helpers.stats.survival import (_confint, _distinct_times, _minmin, _prodlim_quantile, km_steps,
                                    landmark_naive_z, logrank_kernel, reverse_km_steps)



# =============================================================================================== statistics
# The book's own engines (helpers.stats), called at their kernels: the search evaluates them tens of thousands
# of times, so it skips the checks of the public functions, and a target the search hits is, by construction,
# the number the chapter prints.

def km_table(time: np.ndarray, event: np.ndarray):
    """Distinct times, number at risk (time >= t), events, KM survival and the Greenwood sum at each time
    (:func:`helpers.stats.survival.km_steps`)."""
    ut, n, d, _ = _distinct_times(time, event)
    surv, gw = km_steps(n, d)
    return ut, n, d, surv, gw


def log_bands(surv: np.ndarray, gw: np.ndarray, conf_level: float = 0.95):
    """survfit's ``conf.type = "log"`` bands (NA where S = 0), as the book's Kaplan-Meier computes them."""
    return _confint(surv, np.sqrt(gw), "log", conf_level)


def minmin(y: np.ndarray, x: np.ndarray) -> float:
    """The median rule of ``print.survfit`` (:func:`helpers.stats.survival._minmin`)."""
    return _minmin(y, x)


def km_median(time: np.ndarray, event: np.ndarray) -> tuple[float, float, float]:
    """Median and its 95% CI as ``print.survfit`` reports them (log bands)."""
    ut, n, d, surv, gw = km_table(time, event)
    lower, upper = log_bands(surv, gw)
    return minmin(surv, ut), minmin(lower, ut), minmin(upper, ut)


def crossing(times: np.ndarray, curve: np.ndarray, level: float, strict: bool = False) -> float:
    """Where a step curve (1 at time 0) first goes below ``level`` (``<=`` unless ``strict``), linearly
    interpolated between the previous step and that step: a continuous surrogate of a quantile, used only to
    give the calibration a smooth target.  NaN when the curve never gets there."""
    hit = np.nonzero(curve < level if strict else curve <= level)[0]
    if not len(hit):
        return math.nan
    i = hit[0]
    s_prev, t_prev = (curve[i - 1], times[i - 1]) if i > 0 else (1.0, 0.0)
    frac = (s_prev - level) / (s_prev - curve[i]) if s_prev != curve[i] else 1.0
    return float(t_prev + frac * (times[i] - t_prev))


def km_at(time: np.ndarray, event: np.ndarray, t: float) -> tuple[float, float, float]:
    """S(t) with its log CI (``summary(fit, times = t)``)."""
    ut, n, d, surv, gw = km_table(time, event)
    k = np.searchsorted(ut, t, side="right") - 1
    if k < 0:
        return 1.0, 1.0, 1.0
    lower, upper = log_bands(surv[k:k + 1], gw[k:k + 1])
    return float(surv[k]), float(lower[0]), float(upper[0])


def reverse_km_curve(time: np.ndarray, event: np.ndarray):
    """Distinct times and the reverse-KM survival (:func:`helpers.stats.survival.reverse_km_steps`: prodlim's
    tie rule, deaths leave before censorings)."""
    ut, n, d, lost = _distinct_times(time, event)
    return ut, reverse_km_steps(n, d, lost)[0]


def reverse_km_quantiles(time: np.ndarray, event: np.ndarray, probs=(0.25, 0.5, 0.75)) -> list[float]:
    """Follow-up quantiles by the reverse KM as ``prodlim(..., reverse = TRUE)`` and its ``quantile()`` do
    (:func:`helpers.stats.survival._prodlim_quantile`: the first time the curve is strictly below 1 - p)."""
    ut, surv = reverse_km_curve(time, event)
    return [_prodlim_quantile(ut, surv, 1 - p) for p in probs]


def mann_whitney_p(x: np.ndarray, y: np.ndarray) -> float:
    """Asymptotic tie-corrected Mann-Whitney p without continuity correction (R ``kruskal.test`` for two
    groups; :func:`helpers.stats.hypothesis_tests.rank_sum_p_kernel`)."""
    return rank_sum_p_kernel(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def logrank_p(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> float:
    """``survdiff`` two-group log-rank p (:func:`helpers.stats.survival.logrank_kernel`); ``group`` is 0/1.
    NaN when the test is undefined (no events)."""
    order = np.argsort(time, kind="stable")
    chisq, df, p, *_ = logrank_kernel(time[order], event[order], np.asarray(group)[order].astype(np.int64), 2)
    return p if df else math.nan


class CoxData:
    """One (time, event) configuration sorted once (:func:`helpers.stats.cox.sort_for_cox`) for every Cox fit
    on it, as the chapters' univariable screen shares one sort."""

    def __init__(self, time: np.ndarray, event: np.ndarray):
        self.order = sort_for_cox(time)
        self.time = np.asarray(time, dtype=float)[self.order]
        self.event = np.asarray(event, dtype=float)[self.order]
        self.n_events = int(self.event.sum())


def cox_fit(cd: CoxData, X: np.ndarray):
    """``coxph`` with the columns of ``X`` together (:func:`helpers.stats.cox.cox_kernel`, the chapters' Cox):
    (coefficients, SEs), NaN where a coefficient is not estimable (R's NA, or NE) or there are no events."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if cd.n_events == 0:
        return np.full(X.shape[1], np.nan), np.full(X.shape[1], np.nan)
    # column-major, as the chapter's design comes from its DataFrame: numpy then sums the column means of R's
    # centring in the same order, and the fit is the chapter's to the bit
    fit = cox_kernel(cd.time, cd.event, np.asfortranarray(X[cd.order]))
    return np.where(np.isnan(fit.se), np.nan, fit.coef), fit.se


def cox_fit_columns(cd: CoxData, X: np.ndarray):
    """One-covariate fits of every column of ``X`` (the univariable screen): (coefficients, SEs)."""
    fits = [cox_fit(cd, column) for column in np.asarray(X, dtype=float).T]
    return np.array([f[0][0] for f in fits]), np.array([f[1][0] for f in fits])


class LastFits:
    """The last Cox fit of each model, reused while the model's sorted input is byte-identical: the kernel is a pure
    function of the arrays it is given, so a reused fit is the fit to the bit.  A swap of two patients' records
    changes no model whose covariates the two share (their sorted rows stay the same), so most of the univariable
    screen is not refitted during the assignment's swaps."""

    def __init__(self):
        self._last: dict = {}

    def fit(self, model: tuple, cd: CoxData, X: np.ndarray):
        """:func:`cox_fit` of ``X`` on ``cd``, or the stored result of ``model`` when its input has not changed."""
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        key = (cd.time.tobytes(), cd.event.tobytes(), X[cd.order].tobytes())
        last = self._last.get(model)
        if last is not None and last[0] == key:
            return last[1]
        out = cox_fit(cd, X)
        self._last[model] = (key, out)
        return out


def cox_summary(beta: float, se: float) -> dict[str, float]:
    """HR, Wald 95% CI and Wald p of one coefficient (:func:`helpers.stats.cox.hazard_ratio_wald`)."""
    if not np.isfinite(beta) or not np.isfinite(se) or se <= 0:
        return {"hr": math.nan, "lower": math.nan, "upper": math.nan, "p_value": math.nan}
    hr, lower, upper, _, p = hazard_ratio_wald(beta, se)
    return {"hr": float(hr), "lower": float(lower), "upper": float(upper), "p_value": float(p)}


def rmst_difference(time: np.ndarray, event: np.ndarray, group: np.ndarray, tau: float) -> tuple[float, float]:
    """survRM2 ``rmst2``: RMST(group 1) - RMST(group 0) up to ``tau`` and its two-sided z-test p
    (:func:`helpers.stats.rmst.rmst_kernel` per arm, :func:`helpers.stats.rmst.rmst_difference_test`)."""
    res = []
    for g in (0, 1):
        m = group == g
        ut, n, d, surv, _ = km_table(time[m], event[m])
        res += list(rmst_kernel(ut, n, d, surv, tau))
    diff, _, p = rmst_difference_test(*res)
    return diff, p


def landmark_p(time: np.ndarray, event: np.ndarray, group: np.ndarray, t: float) -> float:
    """The book's landmark test (:func:`helpers.stats.survival.landmark_comparison`, ``method="naive"``; its
    kernel :func:`helpers.stats.survival.landmark_naive_z`): two-sided z-test of S_1(t) - S_0(t) with
    Greenwood SEs S sqrt(sum d / (n (n - d))); NaN when ``t`` is after an arm's last observed time
    (``summary(fit, times = t)`` drops it)."""
    est, se = [], []
    for g in (1, 0):
        m = group == g
        if not m.any() or t > time[m].max():
            return math.nan
        ut, n, d, surv, gw = km_table(time[m], event[m])
        k = np.searchsorted(ut, t, side="right") - 1
        s, v = (1.0, 0.0) if k < 0 else (float(surv[k]), float(surv[k] * np.sqrt(gw[k])))
        est.append(s)
        se.append(v)
    _, se_diff, z = landmark_naive_z(est[0], se[0], est[1], se[1])
    if not np.isfinite(se_diff) or se_diff <= 0:
        return math.nan
    return two_sided_p(float(z))


# ================================================================================================ targets
def _kind(analysis: str, level: str, stat: str) -> str:
    if stat == "p_value":
        return "p"
    if stat == "n":
        return "n"
    if analysis.startswith("cox_"):
        return "ratio"
    if level.startswith("t="):
        return "rate"
    return "months"  # KM medians and their CIs, follow-up quantiles, RMST differences


def _priority(cohort: str, analysis: str, variable: str, level: str, group: str, stat: str) -> int:
    """Priority of a target in the calibration (1 = most important):

    1. primary-cohort KM medians, arm hazard ratios with CI, log-rank p;
    2. follow-up (reverse-KM quartiles), number of deaths, the arm's Wald p;
    3. univariate covariate hazard ratios; 4. the matched cohort;
    5. everything else: multivariable models, median CIs, RMST, 12-month rates, landmark and follow-up tests.
    """
    kind = analysis.split(".")[0]
    if cohort != "primary":
        return 4
    if kind == "km" and level == "median" and stat == "estimate":
        return 1
    if kind == "logrank":
        return 1
    if kind == "cox_univariate" and variable == "arm":
        return 2 if stat == "p_value" else 1
    if kind == "events" or (kind == "followup" and group != "comparison"):
        return 2
    if kind == "cox_univariate":
        return 3
    return 5


#: Where :meth:`SurvivalGenerator.objective` places the covariate model's goals (see there).
GOAL_ORDERS = ("after_misses", "claims_first", "claims_and_tolerance_first")

#: Objective weight of each priority: near-lexicographic, so a lower priority never buys a higher one's miss.
PRIORITY_WEIGHT = {1: 1000.0, 2: 100.0, 3: 10.0, 4: 3.0, 5: 1.0}


@dataclass
class SurvTarget:
    """One published survival number, the value the generated table gives, and whether it prints as published."""

    cohort: str
    analysis: str
    variable: str
    level: str
    group: str
    stat: str
    relation: str
    target: float
    decimals: int
    priority: int
    achieved: float = math.nan
    #: False for a second, different value of a key the paper prints twice (reported, not aimed at)
    aimed: bool = True

    @property
    def weight(self) -> float:
        return PRIORITY_WEIGHT[self.priority]

    @property
    def key(self) -> tuple:
        return (self.cohort, self.analysis, self.variable, self.level, self.group, self.stat)

    @property
    def kind(self) -> str:
        return _kind(self.analysis, self.level, self.stat)

    @property
    def hit(self) -> bool:
        return target_hit(self.target, self.achieved, self.relation, self.decimals)


def target_hit(target: float, x: float, relation: str, decimals: int) -> bool:
    """Printed-precision agreement; ``<``/``>`` relations must hold; a published NA needs an NA."""
    finite = x is not None and np.isfinite(x)
    if relation == "<":
        return bool(finite and x < target)
    if relation == ">":  # "exceeded 12 months": a median that is not reached exceeds it too
        return bool(not finite or x > target)
    if not np.isfinite(target):
        return not finite
    return bool(finite and round(float(x), decimals) == round(float(target), decimals))


def survival_targets(spec, published: pd.DataFrame) -> list[SurvTarget]:
    """Every distinct published survival number (a number printed twice counts once; two different values
    printed for one key, like seed 000's HAIT follow-up 30.1 vs 27.6, are both kept)."""
    from helpers.report.format import printed_decimals

    pub = published[(published["section"] == "survival") & (published["analysis"] != "stat_methods")].copy()
    pub["relation"] = pub["relation"].fillna("").astype(str)
    pub = pub.drop_duplicates(["cohort", "analysis", "variable", "level", "group", "stat", "value", "relation"])
    out = []
    seen = set()
    for r in pub.itertuples():
        value = float(r.value) if pd.notna(r.value) else math.nan
        decimals = 0 if r.stat == "n" or not np.isfinite(value) else printed_decimals(r.printed, value)
        key = (r.cohort, r.analysis, r.variable, r.level, r.group, r.stat, r.relation)
        out.append(SurvTarget(r.cohort, r.analysis, r.variable, r.level, r.group, r.stat, r.relation, value,
                              decimals, _priority(r.cohort, r.analysis, r.variable, r.level, r.group, r.stat),
                              aimed=key not in seen))
        seen.add(key)
    return out


_SCALE = {"months": 0.5, "ratio": 0.05, "p": 0.1, "rate": 0.02, "n": 1.0}


def target_miss(t: SurvTarget, x: float, extra: dict) -> float:
    """0 when the target is hit, else 1 + a scaled distance (capped), so near misses still guide the search."""
    if target_hit(t.target, x, t.relation, t.decimals):
        return 0.0
    kind = t.kind
    finite = x is not None and np.isfinite(x)
    if not np.isfinite(t.target):  # published NA, reached here: how far below 0.5 the curve (or band) went
        low = extra.get(t.key + ("min",), 0.0)
        return 1.0 + min(20.0, abs(0.5 - low) / 0.02)
    if not finite:  # NA where a number is published: worse than any finite miss
        return 22.0
    if kind == "p":
        d = abs(math.log10(max(x, 1e-300)) - math.log10(t.target))
    elif kind == "ratio":
        d = abs(math.log(max(x, 1e-300) / t.target))
    else:
        d = abs(x - t.target)
    return 1.0 + min(20.0, d / _SCALE[kind])


def target_residual(t: SurvTarget, x: float, extra: dict) -> float:
    """Signed distance to a target in printed units (HRs on the log scale), softly capped; 0 when a relation
    holds.  The least-squares calibration minimises the priority-weighted sum of squares of these."""
    finite = x is not None and np.isfinite(x)
    unit = 10.0 ** (-t.decimals)
    if t.relation == "<":
        r = max(0.0, math.log10(max(x, 1e-300) / (0.5 * t.target))) / 0.1 if finite else 10.0
    elif t.relation == ">":
        r = max(0.0, t.target * 1.02 - x) / unit if finite else 0.0
    elif not np.isfinite(t.target):  # published NA: keep the curve (or band) clear of 0.5
        r = max(0.0, 0.52 - extra.get(t.key + ("min",), 0.0)) / 0.01
    elif not finite:
        low = extra.get(t.key + ("min",))
        r = 45.0 + (max(0.0, low - 0.5) / 0.01 if low is not None else 10.0)
    elif t.kind == "ratio":
        r = math.log(max(x, 1e-300) / t.target) / (unit / t.target)
    else:
        r = (x - t.target) / unit
    return 10.0 * math.asinh(r / 10.0)


# ============================================================================================== analyses
class CohortDesign:
    """What is fixed about the patients: arm, cohorts (primary, matched), Cox design columns per variable."""

    def __init__(self, spec, data: pd.DataFrame, matched_ids=None, followup: str = "reverse_km"):
        from helpers.study.patients import CUT_SUFFIX

        self.spec = spec
        #: how the paper measured follow-up: "reverse_km" (prodlim) or "observed" (quartiles of observed times)
        self.followup = followup
        self.n = len(data)
        self.arm = (data[spec.arm.column].astype(str) == spec.arm.experimental).to_numpy().astype(int)
        self.arm_codes = list(spec.arm.codes)  # reference first
        self.masks = {"primary": np.ones(self.n, dtype=bool)}
        if matched_ids is not None:
            self.masks["matched"] = data.index.isin(list(matched_ids))
        self.design: dict[str, tuple[np.ndarray, list[str]]] = {
            "arm": (self.arm[:, None].astype(float), [spec.arm.experimental])}
        cox = spec.survival.cox
        for v in cox.candidates:
            var = spec.variables[v]
            # Cox models use a continuous variable through its cut (seed 000: age >= 60, AFP > 400, size > 5)
            if var.type == "continuous" and var.cut is None:  # per unit, as a linear term
                self.design[v] = (data[v].to_numpy(dtype=float)[:, None], [""])
                continue
            col = data[v + CUT_SUFFIX] if var.type == "continuous" else data[v]
            cats = [str(c) for c in col.cat.categories]
            ref = cox.reference_levels.get(v, cats[0])
            levels = [c for c in cats if c != ref]
            X = np.column_stack([(col.astype(str) == lvl).to_numpy(dtype=float) for lvl in levels])
            self.design[v] = (X, levels)


def multivariable_variables(spec, targets: list[SurvTarget], cohort: str, endpoint: str) -> list[str]:
    """The published multivariable model of an endpoint: the arm, every variable the paper shows in it, and
    every candidate whose published univariate p is below the entry threshold (or, where no p is printed,
    whose univariate CI excludes 1 -- seed 004 names its significant factors without p-values)."""
    entry_p = spec.survival.cox.entry_p
    uni = [t for t in targets if t.cohort == cohort and t.analysis == f"cox_univariate.{endpoint}"]
    multi = {t.variable for t in targets if t.cohort == cohort and t.analysis == f"cox_multivariate.{endpoint}"}
    chosen = {"arm"} | multi
    for v in {t.variable for t in uni}:
        ps = [t.target for t in uni if t.variable == v and t.stat == "p_value"]
        if ps:
            if min(ps) < entry_p:
                chosen.add(v)
            continue
        lo = [t.target for t in uni if t.variable == v and t.stat == "lower"]
        hi = [t.target for t in uni if t.variable == v and t.stat == "upper"]
        if lo and hi and (min(lo) > 1 or max(hi) < 1):
            chosen.add(v)
    return ["arm"] + [v for v in spec.survival.cox.candidates if v in chosen and v != "arm"]


@dataclass
class ClaimCheck:
    """A paper's key claim (``claims:`` of ``published.yaml``) on survival numbers, as the generator checks it:
    the estimate on the published side of its no-effect value and the p on the published side of the threshold
    (the rule of :mod:`helpers.analyses.claims`)."""

    id: str
    estimate: tuple
    p_value: tuple | None
    null: float | tuple
    side: int
    significant: bool | None
    threshold: float
    #: the published estimate, its printed decimals and tolerance class (:mod:`helpers.analyses.audit`): the
    #: estimate must also be within the audit's tolerance of it (NaN: not checked)
    published: float = math.nan
    decimals: int = 2
    tolerance: str = ""

    @property
    def keys(self) -> list[tuple]:
        return [k for k in (self.estimate, self.p_value, self.null) if isinstance(k, tuple)]

    def holds(self, values: dict) -> bool | None:
        """Whether the conclusion holds (True / False), or None when a number it needs is not among ``values``."""
        miss = self.miss(values)
        return None if miss is None else miss == 0

    def miss(self, values: dict) -> float | None:
        """0 when the claim's conclusion holds; else 1 + how far the estimate and p are from its side (so a search
        is guided towards it); None when a number it needs is not among ``values``."""
        if any(k not in values for k in self.keys):
            return None
        out = 0.0
        est = values[self.estimate]
        null = values[self.null] if isinstance(self.null, tuple) else self.null
        if self.side and not (np.isfinite(est) and np.isfinite(null) and np.sign(est - null) == self.side):
            ratio = self.estimate[-1] == "hr"
            gap = (abs(math.log(max(est, 1e-12) / max(null, 1e-12))) if ratio else abs(est - null)) \
                if np.isfinite(est) and np.isfinite(null) else 10.0
            out += 1.0 + min(gap, 10.0)
        if self.significant is not None and self.p_value is not None:
            p = values[self.p_value]
            if not np.isfinite(p) or (p < self.threshold) != self.significant:
                out += 1.0 + (min(abs(math.log10(max(p, 1e-300) / self.threshold)), 10.0) if np.isfinite(p) else 10.0)
        return out

    def within_tolerance(self, values: dict) -> bool | None:
        """The audit's rule for the estimate: equal to the published one at the printed precision, or close
        within the tolerance of its class (None: not computed, or no published value to compare)."""
        from helpers.analyses.audit import is_close

        if self.estimate not in values or not np.isfinite(self.published):
            return None
        est = values[self.estimate]
        return bool(np.isfinite(est) and (target_hit(self.published, est, "", self.decimals)
                                          or is_close(self.tolerance, self.published, est)))

    def tolerance_miss(self, values: dict) -> float:
        """0 when the estimate is within the audit's tolerance (or cannot be compared); else 1 + its distance to
        the published one (log scale for a hazard ratio, relative otherwise)."""
        if self.within_tolerance(values) is not False:
            return 0.0
        est = values[self.estimate]
        ratio = self.tolerance == "hazard ratio"
        gap = (abs(math.log(max(est, 1e-12) / self.published)) if ratio
               else abs(est - self.published) / max(abs(self.published), 1e-12)) if np.isfinite(est) else 10.0
        return 1.0 + min(gap, 10.0)


def claim_checks(spec, targets: list[SurvTarget]) -> list[ClaimCheck]:
    """The study's key claims whose estimate is a survival target (their published values from ``targets``)."""
    from helpers.analyses.audit import tolerance_class
    from helpers.analyses.claims import KEY, load_claims

    if not spec.published_file.exists():
        return []
    published = {}
    for t in targets:
        published.setdefault(t.key, t)
    out = []
    for c in load_claims(spec.published_file):
        if not c.satisfiable:
            continue
        est = tuple(c.estimate[k] for k in KEY)
        p = tuple(c.p_value[k] for k in KEY) if c.p_value else None
        null = tuple(c.no_effect[k] for k in KEY) if isinstance(c.no_effect, dict) else float(c.no_effect)
        if est not in published or (isinstance(null, tuple) and null not in published):
            continue
        pub_est = published[est].target
        pub_null = published[null].target if isinstance(null, tuple) else null
        side = int(np.sign(pub_est - pub_null)) if np.isfinite(pub_est) and np.isfinite(pub_null) else 0
        sig = None
        if p is not None and p in published:
            tp = published[p]
            sig = True if tp.relation in ("<", "<=") else bool(tp.target < c.threshold)
        tp = published[est]
        aimed = np.isfinite(tp.target) and not tp.relation
        out.append(ClaimCheck(c.id, est, p if sig is not None else None, null, side, sig, c.threshold,
                              tp.target if aimed else math.nan, tp.decimals, tolerance_class(est[-1], est[1], est[3])))
    return out


@dataclass
class SelectionCheck:
    """Whether a candidate enters the paper's multivariable model of an endpoint: its univariate p (any term)
    must be on the published side of the entry threshold, or the book's model differs from the paper's."""

    keys: list[tuple]
    selected: bool
    entry_p: float

    def holds(self, values: dict) -> bool | None:
        miss = self.miss(values)
        return None if miss is None else miss == 0

    def miss(self, values: dict) -> float | None:
        """0 when the book selects the variable as the paper did; else 1 + the log10 distance of its p to the
        threshold; None when its p is not among ``values``."""
        if any(k not in values for k in self.keys):
            return None
        ps = [values[k] for k in self.keys]
        if not all(np.isfinite(ps)):
            return 0.0 if not self.selected else 11.0
        p = min(ps)
        if (p < self.entry_p) == self.selected:
            return 0.0
        return 1.0 + min(abs(math.log10(max(p, 1e-300) / self.entry_p)), 10.0)


def selection_checks(spec, targets: list[SurvTarget], design: "CohortDesign") -> list[SelectionCheck]:
    """One check per candidate and multivariable model of the primary cohort (see
    :func:`multivariable_variables`)."""
    out = []
    entry_p = spec.survival.cox.entry_p
    for ep in sorted({t.analysis.split(".", 1)[1] for t in targets if t.cohort == "primary"
                      and t.analysis.startswith("cox_multivariate.")}):  # sorted: the same order in every process
        chosen = set(multivariable_variables(spec, targets, "primary", ep))
        for v in spec.survival.cox.candidates:
            if v not in design.design:
                continue
            keys = [("primary", f"cox_univariate.{ep}", v, lvl, "all", "p_value") for lvl in design.design[v][1]]
            out.append(SelectionCheck(keys, v in chosen, entry_p))
    return out


class Analyses:
    """Computes, from endpoint columns, every number that has a published target (R conventions)."""

    def __init__(self, spec, design: CohortDesign, targets: list[SurvTarget], smooth: bool = False,
                 probes: list[SurvTarget] = ()):
        self.spec = spec
        self.d = design
        self.smooth = smooth  # continuous surrogates of the medians and follow-up quantiles (calibration only)
        self.endpoints = spec.survival.endpoints
        self.plan: dict[tuple[str, str], set] = {}
        # probes: numbers computed besides the targets (no published value; they never change a model's terms)
        for t in [*targets, *probes]:
            self.plan.setdefault((t.cohort, t.analysis), set()).add((t.variable, t.level, t.group, t.stat))
        self.multi = {(c, a.split(".", 1)[1]): multivariable_variables(spec, targets, c, a.split(".", 1)[1])
                      for (c, a) in self.plan if a.startswith("cox_multivariate.")}
        self.tau_rule = spec.survival.rmst_tau
        self._cache: dict = {}
        self._fits = LastFits()

    def __call__(self, cols: dict[str, np.ndarray]) -> tuple[dict, dict]:
        values: dict = {}
        extra: dict = {}
        arm = self.d.arm
        for (cohort, analysis), wanted in self.plan.items():
            mask = self.d.masks.get(cohort)
            if mask is None:
                continue
            kind, _, ep_name = analysis.partition(".")
            ep = self.endpoints.get(ep_name)
            if ep is None:
                continue
            time = cols[ep.time][mask]
            event = cols[ep.event][mask]
            g = arm[mask]
            # the search changes one record at a time: reuse the numbers of endpoints whose columns did not change
            fingerprint = (time.tobytes(), event.tobytes())
            cached = self._cache.get((cohort, analysis))
            if cached is not None and cached[0] == fingerprint:
                values.update(cached[1])
                extra.update(cached[2])
                continue
            values_before, extra_before = set(values), set(extra)
            key = lambda v, lvl, grp, st: (cohort, analysis, v, lvl, grp, st)  # noqa: E731
            if kind == "km":
                for lvl, grp in {(w[1], w[2]) for w in wanted}:
                    sel = g == self.d.arm_codes.index(grp) if grp in self.d.arm_codes else np.ones(len(g), bool)
                    tt, ee = time[sel], event[sel]
                    if lvl == "median":
                        ut, n, dd, surv, gw = km_table(tt, ee)
                        lower, upper = log_bands(surv, gw)
                        if self.smooth:
                            med, lo, hi = (crossing(ut, c, 0.5) for c in (surv, np.nan_to_num(lower, nan=0.0),
                                                                           np.nan_to_num(upper, nan=0.0)))
                        else:
                            med, lo, hi = minmin(surv, ut), minmin(lower, ut), minmin(upper, ut)
                        values.update({key("", lvl, grp, "estimate"): med, key("", lvl, grp, "lower"): lo,
                                       key("", lvl, grp, "upper"): hi})
                        extra[key("", lvl, grp, "estimate") + ("min",)] = float(surv.min()) if len(surv) else 1.0
                        extra[key("", lvl, grp, "lower") + ("min",)] = float(np.nanmin(lower)) if len(lower) else 1.0
                        extra[key("", lvl, grp, "upper") + ("min",)] = float(np.nanmin(upper)) if len(upper) else 1.0
                    elif lvl.startswith("t="):
                        s, lo, hi = km_at(tt, ee, float(lvl[2:]))
                        values.update({key("", lvl, grp, "estimate"): s, key("", lvl, grp, "lower"): lo,
                                       key("", lvl, grp, "upper"): hi})
            elif kind == "logrank":
                values[key("", "", "comparison", "p_value")] = logrank_p(time, event, g)
            elif kind == "landmark":
                for lvl in {w[1] for w in wanted}:
                    values[key("", lvl, "comparison", "p_value")] = landmark_p(time, event, g, float(lvl[2:]))
            elif kind == "events":
                values[key("deaths", "", "all", "n")] = float(event.sum())
            elif kind == "followup":
                observed = self.d.followup == "observed"
                for grp in {w[2] for w in wanted}:
                    if grp == "comparison":
                        values[key("", "median", grp, "p_value")] = (
                            mann_whitney_p(time[g == 0], time[g == 1]) if observed
                            else logrank_p(time, 1.0 - event, g))
                        continue
                    sel = g == self.d.arm_codes.index(grp) if grp in self.d.arm_codes else np.ones(len(g), bool)
                    if observed:  # quartiles (R's type 7) of the observed times, events and censorings alike
                        q1, med, q3 = type7_quartiles(time[sel])
                    elif self.smooth:
                        ut, surv = reverse_km_curve(time[sel], event[sel])
                        q1, med, q3 = (crossing(ut, surv, 1 - p, strict=True) for p in (0.25, 0.5, 0.75))
                    else:
                        q1, med, q3 = reverse_km_quantiles(time[sel], event[sel])
                    values.update({key("", "median", grp, "estimate"): med, key("", "median", grp, "q1"): q1,
                                   key("", "median", grp, "q3"): q3})
            elif kind == "rmst":
                tmax = min(time[g == 0].max(), time[g == 1].max())
                tau = math.floor(tmax) if self.tau_rule == "floor_min_max" else (
                    tmax if self.tau_rule == "min_max" else float(self.tau_rule))
                diff, p = rmst_difference(time, event, g, tau)
                values.update({key("", "", "difference", "estimate"): diff, key("", "", "difference", "p_value"): p})
            elif kind in ("cox_univariate", "cox_multivariate"):
                cd = CoxData(time, event)
                if kind == "cox_univariate":
                    models = [[v] for v in sorted({w[0] for w in wanted})]
                else:
                    models = [self.multi[(cohort, ep_name)]]
                if kind == "cox_univariate":  # one-column models: one fit each, reused while unchanged
                    single = [m for m in models if self.d.design[m[0]][0].shape[1] == 1]
                    models = [m for m in models if m not in single]
                    for m in single:
                        beta, se = self._fits.fit((cohort, analysis, m[0]), cd, self.d.design[m[0]][0][mask])
                        for st, val in cox_summary(beta[0], se[0]).items():
                            values[key(m[0], self.d.design[m[0]][1][0], "all", st)] = val
                for variables in models:
                    X = np.column_stack([self.d.design[v][0][mask] for v in variables])
                    names = [(v, lvl) for v in variables for lvl in self.d.design[v][1]]
                    beta, se = self._fits.fit((cohort, analysis, *variables), cd, X)
                    for (v, lvl), b, s in zip(names, beta, se):
                        for st, val in cox_summary(b, s).items():
                            values[key(v, lvl, "all", st)] = val
            self._cache[(cohort, analysis)] = (fingerprint, {k: values[k] for k in set(values) - values_before},
                                               {k: extra[k] for k in set(extra) - extra_before})
        return values, extra


# ================================================================================================= model
DAYS_PER_MONTH = 365.25 / 12


def months_between(start: str, end: str) -> float:
    return (pd.Timestamp(end) - pd.Timestamp(start)).days / DAYS_PER_MONTH


@dataclass
class Coordinate:
    """One searched model parameter: where it lives, its proposal step and bounds."""

    name: str
    index: tuple
    step: float
    lo: float
    hi: float


def invariant(t: SurvTarget) -> bool:
    """True for targets that depend only on each arm's set of endpoint values, not on which patient has which:
    primary-cohort KM, log-rank, follow-up, events, RMST and landmark numbers and the arm's univariate HR."""
    kind = t.analysis.split(".")[0]
    if t.cohort != "primary":
        return False
    return kind in ("km", "logrank", "followup", "events", "rmst", "landmark") or (
        kind == "cox_univariate" and t.variable == "arm")


class SurvivalGenerator:
    """Two steps (see the module docstring):

    1. *Per-arm samples*: one endpoint record per patient slot of an arm (latent times from arm-specific
       Weibull baselines with a non-progressor fraction, a Gaussian copula between a record's latent times,
       staggered-entry censoring), calibrated to every number that depends only on the arms' samples.
    2. *Assignment*: which patient of the arm gets which record follows the proportional-hazards model of the
       covariates: a perturb-and-MAP draw from the Cox likelihood (each patient's log-likelihood of each record
       under the linear predictors of progression and death, plus Gumbel noise, maximised by an optimal
       assignment), then swaps of records between patients of an arm aimed at the covariate, matched-cohort
       and multivariable numbers.  Swaps leave step 1's numbers unchanged.
    """

    def __init__(self, spec, conf: dict, design: CohortDesign, targets: list[SurvTarget], analyses: Analyses):
        self.spec = spec
        self.conf = conf
        self.d = design
        self.targets = targets
        self.analyses = analyses
        self.rng = np.random.default_rng(int(conf["survival_seed"]))
        eps = spec.survival.endpoints
        self.os = eps["os"]
        self.pfs = eps["pfs"]
        self.sites = [e for e in eps.values() if e.part_of == self.pfs.name]
        # latent times: progression, survival after progression, death without progression
        self.latent = ["progression", "post_progression", "death_first"]
        self.K = len(self.latent)
        if len(self.sites) > 2:
            raise ValueError("the generator models at most two progression sites (e.g. intra- and extrahepatic)")
        n = design.n
        # Latin-hypercube draws within each arm (one per 1/n slice of every margin, in random order), so an
        # arm's sample follows the model's distribution instead of its sampling noise: normal scores of the
        # latent times (column 0 is the shared copula factor), entry, non-progressor and drop-out uniforms
        u = np.empty((n, self.K + 5))
        for a in (0, 1):
            m = np.nonzero(design.arm == a)[0]
            for j in range(u.shape[1]):
                u[m, j] = (self.rng.permutation(len(m)) + self.rng.random(len(m))) / len(m)
        self.Z = ndtri(u[:, : self.K + 1])
        self.u_entry = u[:, self.K + 1].copy()
        self.u_cure = u[:, self.K + 2].copy()
        self.u_drop = u[:, self.K + 3].copy()
        self.u_site = u[:, self.K + 4].copy()
        self.gumbel = self.rng.gumbel(size=(n, n))
        self.missed_medians: list[SurvTarget] = []
        self.rho = float(conf.get("copula_rho", 0.5))
        self.grid = float(conf.get("grid", 0.1))
        acc = conf["accrual"]
        self.fu_min = months_between(str(acc["end"]), str(conf["cutoff"]))
        self.fu_max = months_between(str(acc["start"]), str(conf["cutoff"]))
        self.dropout = bool(conf.get("dropout", False))
        #: one entry distribution per arm, or one shared by both arms
        self.censoring_by_arm = bool(conf.get("censoring_by_arm", True))
        # covariates of the assignment: every design column of the Cox candidates (not the arm)
        names, cols = [], []
        for v in spec.survival.cox.candidates:
            X, levels = design.design[v]
            for j, lvl in enumerate(levels):
                names.append((v, lvl))
                cols.append(X[:, j])
        self.terms = names
        self.X = np.column_stack(cols) if cols else np.zeros((n, 0))
        # covariate effects: the published univariate log hazard ratios (none published: no effect)
        self.beta = {}
        for which, ep in (("progression", "pfs"), ("death", "os")):
            b = np.zeros(len(names))
            for j, (v, lvl) in enumerate(names):
                hr = self._published(f"cox_univariate.{ep}", v, lvl, "all", "hr")
                if np.isfinite(hr):
                    b[j] = float(np.clip(math.log(hr), -2.5, 2.5))
            self.beta[which] = b
        #: the covariate model (off unless ``covariate_model: true``): key claims and the multivariable models'
        #: variable selection are lexicographic goals of the search, and the assignment's coefficients are solved
        #: so that the fitted hazard ratios (multivariable where published, else univariate) match the paper's
        self.covariate_model = bool(conf.get("covariate_model", False))
        self.claims = claim_checks(spec, targets) if self.covariate_model else []
        self.selection = selection_checks(spec, targets, design) if self.covariate_model else []

    # -------------------------------------------------------------------------------------------- params
    def _published(self, analysis: str, variable: str, level: str, group: str, stat: str, cohort="primary"):
        for t in self.targets:
            if t.key == (cohort, analysis, variable, level, group, stat) and not t.relation:
                return t.target
        return math.nan

    def initial_params(self) -> dict:
        ref, exp = self.d.arm_codes
        c = self.conf
        shape0 = float(c.get("initial_shape", 1.0))
        cure0 = float(c.get("initial_nonprogressors", 0.1))
        P = {"log_scale": np.zeros((self.K, 2)), "log_shape": np.full((self.K, 2), math.log(shape0)),
             "gaps": np.zeros((2, 3)), "log_dropout": np.array([math.log(float(c.get("dropout_rate", 0.02)))]),
             "logit_cure": np.full(2, math.log(cure0 / (1 - cure0)))}
        ln2 = math.log(2)

        def median_or(ep, arm, default):
            m = self._published(f"km.{ep}", "", "median", arm, "estimate")
            return m if np.isfinite(m) else default

        pfs_ref = median_or("pfs", ref, 6.0)
        hr_pfs = self._published("cox_univariate.pfs", "arm", exp, "all", "hr")
        pfs_exp = median_or("pfs", exp, pfs_ref / (hr_pfs if np.isfinite(hr_pfs) else 1.0))
        os_ref = median_or("os", ref, 3 * pfs_ref)
        hr_os = self._published("cox_univariate.os", "arm", exp, "all", "hr")
        if not np.isfinite(hr_os):
            hr_os = self._published("cox_multivariate.os", "arm", exp, "all", "hr")
        os_exp = median_or("os", exp, os_ref / (hr_os if np.isfinite(hr_os) else 1.0))
        death_first = float(c.get("initial_death_without_progression_scale", 300.0))
        for a, (mp, mo) in enumerate(((pfs_ref, os_ref), (pfs_exp, os_exp))):
            P["log_scale"][0, a] = math.log(mp / ln2 ** (1 / shape0))
            # survival after progression: roughly the difference of the medians
            P["log_scale"][1, a] = math.log(max(mo - mp, 1.0) / ln2 ** (1 / shape0))
            P["log_scale"][2, a] = math.log(death_first)
        # site pattern of a progression (first site only, second site only, both): logits against "first only"
        pattern = c.get("initial_site_pattern") or {"second_only": 0.15, "both": 0.2}
        first = 1.0 - pattern["second_only"] - pattern["both"]
        P["logit_site"] = np.tile([math.log(pattern["second_only"] / first), math.log(pattern["both"] / first)],
                                  (2, 1))
        quart = c.get("followup_quartiles") or {}
        for a, arm in enumerate((ref, exp)):
            q = quart.get(arm) or quart.get("all") or [self.fu_min + (self.fu_max - self.fu_min) * p
                                                       for p in (0.25, 0.5, 0.75)]
            k = np.clip(np.array(q, dtype=float), self.fu_min, self.fu_max)
            P["gaps"][a] = np.diff(np.concatenate([[self.fu_min], k]))  # knots = fu_min + cumulative gaps
        return P

    def coordinates(self) -> list[Coordinate]:
        coords = []
        for k in range(self.K):
            for a in range(2):
                coords.append(Coordinate("log_scale", (k, a), 0.08, -3.0, 8.0))
                coords.append(Coordinate("log_shape", (k, a), 0.08, math.log(0.35), math.log(3.0)))
        for a in range(2):
            for q in range(3 if a == 0 or self.censoring_by_arm else 0):
                coords.append(Coordinate("gaps", (a, q), 1.0, 0.0, self.fu_max - self.fu_min))
            coords.append(Coordinate("logit_cure", (a,), 0.3, -6.0, 1.0))
            if len(self.sites) == 2:
                coords.append(Coordinate("logit_site", (a, 0), 0.3, -6.0, 3.0))
                coords.append(Coordinate("logit_site", (a, 1), 0.3, -6.0, 3.0))
        if self.dropout:
            coords.append(Coordinate("log_dropout", (0,), 0.2, math.log(1e-3), math.log(1.0)))
        return coords

    # ---------------------------------------------------------------------------------- step 1: samples
    def on_grid(self, x: np.ndarray) -> np.ndarray:
        g = self.grid
        decimals = max(0, -int(math.floor(math.log10(g))))
        return np.maximum(g, np.round(np.round(x / g) * g, decimals))

    def latent_times(self, P: dict) -> tuple[np.ndarray, np.ndarray]:
        arm = self.d.arm
        U = ndtr(math.sqrt(self.rho) * self.Z[:, :1] + math.sqrt(1 - self.rho) * self.Z[:, 1:])
        E = -np.log(np.clip(U, 1e-300, 1.0))
        T = np.empty((self.d.n, self.K))
        for k in range(self.K):
            scale = np.exp(P["log_scale"][k, arm])
            shape = np.exp(P["log_shape"][k, arm])
            T[:, k] = scale * E[:, k] ** (1.0 / shape)
        gaps = P["gaps"] if self.censoring_by_arm else np.tile(P["gaps"][0], (2, 1))
        knots = np.minimum(self.fu_min + np.cumsum(gaps, axis=1), self.fu_max)
        probs = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
        C = np.empty(self.d.n)
        for a in range(2):
            m = arm == a
            C[m] = np.interp(self.u_entry[m], probs, np.concatenate([[self.fu_min], knots[a], [self.fu_max]]))
        if self.dropout:
            C = np.minimum(C, -np.log(self.u_drop) / math.exp(P["log_dropout"][0]))
        return T, C

    def generate(self, P: dict, rounded: bool = True) -> dict[str, np.ndarray]:
        """Endpoint columns of the patient slots (slot i belongs to patient i's arm)."""
        T, C = self.latent_times(P)
        grid = self.on_grid if rounded else (lambda x: np.maximum(x, 1e-6))
        # long-term non-progressors (a mixture-cure fraction per arm): no progression during follow-up
        cure = self.u_cure < 1.0 / (1.0 + np.exp(-P["logit_cure"][self.d.arm]))
        prog = np.where(cure, np.inf, T[:, 0])
        # death: after progression (progression + survival after progression) or first, without progression
        death = np.minimum(T[:, 2], prog + T[:, 1])
        first = np.minimum(prog, death)
        cols = {}
        pfs_time = grid(np.minimum(first, C))
        pfs_event = (first <= C).astype(float)
        progressed = (pfs_event == 1) & (prog <= death)
        cols[self.pfs.time], cols[self.pfs.event] = pfs_time, pfs_event
        cols[self.os.time] = grid(np.minimum(death, C))
        cols[self.os.event] = (death <= C).astype(float)
        if self.sites:
            # site of each progression: first only / second only / both, with arm-specific probabilities
            if len(self.sites) == 2:
                w = np.exp(np.column_stack([np.zeros(self.d.n), P["logit_site"][self.d.arm]]))
                cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
                pattern = (self.u_site[:, None] > cum[:, :2]).sum(axis=1)  # 0 first, 1 second, 2 both
                at = [(pattern == 0) | (pattern == 2), (pattern == 1) | (pattern == 2)]
            else:
                at = [np.ones(self.d.n, dtype=bool)]
            for site, here in zip(self.sites, at):
                cols[site.time] = pfs_time
                cols[site.event] = (progressed & here).astype(float)
        return cols

    def objective(self, cols: dict, analyses: Analyses, targets: list, levels=(1, 2),
                  goal_order: str = "after_misses") -> tuple:
        """A tuple compared lexicographically: a move never loses a hit of an earlier element (the arms' KM
        medians first) and otherwise must not increase the weighted distance (last).  Its elements:

        - the missed KM medians of priority 1;
        - the misses of each priority in ``levels``;
        - with the covariate model, the goals: the key claims' conclusion misses and the multivariable models'
          selection misses, and the claims' estimates' distance outside the audit's tolerance;
        - the weighted distance.

        ``goal_order`` places the goals: the claims and selection after the misses, without the tolerance
        (``after_misses``: the arm-level search); the claims and selection before the misses, the tolerance after
        (``claims_first``: the arm-level repair when a claim still fails); or both before them
        (``claims_and_tolerance_first``: the patient-level search).
        """
        if goal_order not in GOAL_ORDERS:
            raise ValueError(f"goal_order must be one of {GOAL_ORDERS}, got {goal_order!r}")
        values, extra = analyses(cols)
        goals, tolerance = (), ()
        if self.covariate_model:
            claim_miss = [(c, c.miss(values) or 0.0) for c in self.claims]
            selection_miss = [(c, c.miss(values) or 0.0) for c in self.selection]
            tolerance_miss = [(c, c.tolerance_miss(values)) for c in self.claims]
            failing = [c.estimate[2] for c, m in claim_miss + tolerance_miss if m]
            selection = [c.keys[0][2] for c, m in selection_miss if m]
            tolerance = (round(sum(m for _, m in tolerance_miss), 9),)
            goals = (round(sum(m for _, m in claim_miss), 9), round(sum(m for _, m in selection_miss), 9))
            #: covariates whose claim or selection fails: the swap search aims some of its swaps at them
            self.focus = [v for v in failing + selection if v != "arm" and v in self.d.design]
        medians = 0
        missed: list[SurvTarget] = []
        misses = dict.fromkeys(levels, 0)
        total = 0.0
        for t in targets:
            miss = target_miss(t, values.get(t.key, math.nan), extra)
            if miss:
                if t.priority == 1 and t.analysis.startswith("km.") and t.level == "median":
                    medians += 1
                    if np.isfinite(t.target) and not t.relation:
                        missed.append(t)
                if t.priority in misses:
                    misses[t.priority] += 1
                total += t.weight * miss
        self.missed_medians = missed
        # The arm-level search keeps its own priorities first (the arms' HRs, log-rank p and follow-up) and leaves
        # the tolerance out: with the tolerance after them, seed 000's PFS RMST difference came from 11.79 to 9.09
        # months, still outside 10% of 5.66, and its PFS HR printed 0.37 for 0.36.  A claim still failing
        # afterwards gets a repair search with the claims first (seed 004's 12-month PFS comparison: p = 0.101
        # before, 0.037 after).  The patient-level search puts the claims and their tolerance first (seed 000's
        # adjusted and matched HRs come within tolerance).
        if goal_order == "claims_and_tolerance_first":
            return (medians, *goals, *tolerance, *misses.values(), total)
        if goal_order == "claims_first":
            return (medians, *goals, *misses.values(), *tolerance, total)
        return (medians, *misses.values(), *goals, total)

    def residuals(self, P: dict, analyses: Analyses, targets: list) -> np.ndarray:
        values, extra = analyses(self.generate(P, rounded=False))
        return np.array([math.sqrt(t.weight) * target_residual(t, values.get(t.key, math.nan), extra)
                         for t in targets])

    def coordinate_search(self, P: dict, coords: list[Coordinate], sweeps: int, analyses: Analyses,
                          targets: list, points: int = 13) -> float:
        """Cyclic line scans: each parameter in turn is set to the best of ``points`` values around it (the
        surface is piecewise smooth with jumps wherever an event or censoring flips, so scans beat
        derivatives); the span shrinks over the sweeps."""
        r = self.residuals(P, analyses, targets)
        f = float(r @ r)
        for sweep in range(sweeps):
            shrink = 2.0 * 0.6 ** sweep
            for j in self.rng.permutation(len(coords)):
                c = coords[j]
                base = P[c.name][c.index]
                best_v, best_f = base, f
                for v in np.clip(base + 4 * c.step * shrink * np.linspace(-1, 1, points), c.lo, c.hi):
                    if v == base:
                        continue
                    P[c.name][c.index] = v
                    r = self.residuals(P, analyses, targets)
                    fv = float(r @ r)
                    if fv < best_f:
                        best_v, best_f = v, fv
                P[c.name][c.index] = best_v
                f = best_f
        return f

    def draw_search(self, P: dict, budget: int, analyses: Analyses, targets: list, anneal: float = 0.6,
                    temperature: float = 3000.0, rng: np.random.Generator | None = None,
                    goal_order: str = "after_misses") -> tuple:
        """Nudge single records' latent draws (normal scores, entry, non-progressor, site and drop-out
        uniforms): the model and its parameters stay, the search only chooses the realisation.

        The first ``anneal`` share of the budget is simulated annealing on the weighted distance (a worse state
        is accepted with probability exp(-increase / T), T falling from ``temperature`` to 0), so the search can
        leave a local optimum; the rest is greedy and lexicographic (:meth:`objective`).
        """
        rng = rng or self.rng
        state = self.objective(self.generate(P), analyses, targets, goal_order=goal_order)
        nz = self.Z.shape[1]
        # which draw to move: the normal scores half of the time, entry (follow-up) a quarter, the rest
        weights = np.array([0.5 / nz] * nz + [0.25, 0.1, 0.15 if self.sites else 0.0, 0.1 if self.dropout else 0.0])
        weights /= weights.sum()
        n_anneal = int(anneal * budget)
        for step in range(budget):
            if state[-1] == 0:
                break
            move = None
            if self.missed_medians and rng.random() < 0.1:
                move = self.median_move(P, self.missed_medians[int(rng.integers(len(self.missed_medians)))], rng)
            if move is not None:
                arr, idx, new = move
            else:
                i = int(rng.integers(self.d.n))
                c = int(rng.choice(len(weights), p=weights))
                size = (1.0, 0.2, 0.04)[int(rng.integers(3))]  # coarse and fine moves
                if c < nz:
                    arr, idx = self.Z, (i, c)
                    new = self.Z[i, c] + 0.5 * size * rng.standard_normal()
                else:
                    arr = (self.u_entry, self.u_cure, self.u_site, self.u_drop)[c - nz]
                    idx = i
                    new = float(np.clip(arr[i] + 0.1 * size * rng.standard_normal(), 1e-6, 1 - 1e-6))
            old = arr[idx]
            arr[idx] = new
            value = self.objective(self.generate(P), analyses, targets, goal_order=goal_order)
            if step < n_anneal:
                t = temperature * (1 - step / n_anneal) ** 2
                u = rng.random()
                accept = value[-1] <= state[-1] or u < math.exp(-(value[-1] - state[-1]) / t)
            else:
                accept = value <= state
            if accept:
                state = value
            else:
                arr[idx] = old
        return state

    def median_move(self, P: dict, t: SurvTarget, rng: np.random.Generator):
        """A move aimed at a missed KM median: one record of the arm near the median gets its progression
        (PFS) or death (OS) exactly at the published median, by solving its latent normal score.  Returns
        (array, index, new value) or None."""
        T, C = self.latent_times(P)
        arm = self.d.arm
        sel = np.ones(self.d.n, dtype=bool) if t.group not in self.d.arm_codes else arm == self.d.arm_codes.index(t.group)
        m = t.target
        cure = self.u_cure < 1.0 / (1.0 + np.exp(-P["logit_cure"][arm]))
        prog = np.where(cure, np.inf, T[:, 0])
        death = np.minimum(T[:, 2], prog + T[:, 1])
        if t.analysis == f"km.{self.pfs.name}":
            ok = sel & ~cure & (C > m) & (T[:, 2] > m) & (np.abs(np.minimum(prog, death) - m) < 0.5 * m)
            k, want = 0, np.full(self.d.n, m)
        elif t.analysis == f"km.{self.os.name}":
            ok = sel & (C > m) & (prog < m) & (T[:, 2] > m) & (np.abs(death - m) < 0.5 * m)
            k, want = 1, m - prog
        else:
            return None
        cand = np.nonzero(ok)[0]
        if not len(cand):
            return None
        i = int(cand[rng.integers(len(cand))])
        a = arm[i]
        scale, shape = math.exp(P["log_scale"][k, a]), math.exp(P["log_shape"][k, a])
        u = math.exp(-((want[i] / scale) ** shape))
        z = (float(ndtri(min(max(u, 1e-300), 1 - 1e-16))) - math.sqrt(self.rho) * self.Z[i, 0]) / math.sqrt(1 - self.rho)
        return self.Z, (i, 1 + k), z

    def _draws(self) -> tuple:
        return tuple(a.copy() for a in (self.Z, self.u_entry, self.u_cure, self.u_site, self.u_drop))

    def _set_draws(self, draws: tuple) -> None:
        self.Z, self.u_entry, self.u_cure, self.u_site, self.u_drop = (a.copy() for a in draws)

    # ------------------------------------------------------------------------------- step 2: assignment
    def _centred(self, lp: np.ndarray) -> np.ndarray:
        out = lp.copy()
        for a in (0, 1):
            m = self.d.arm == a
            out[m] -= lp[m].mean()
        return out

    def assign(self, cols: dict, beta: dict | None = None, noise: float = 1.0) -> np.ndarray:
        """``perm[i]`` = the record (slot) patient i gets: within each arm, the assignment maximising the Cox
        log-likelihood of progression and death (Nelson-Aalen baseline of the arm) plus Gumbel noise."""
        from scipy.optimize import linear_sum_assignment

        perm = np.arange(self.d.n)
        lp = {w: self._centred(self.X @ b) for w, b in (beta or self.beta).items()}
        for a in (0, 1):
            idx = np.nonzero(self.d.arm == a)[0]
            loglik = np.zeros((len(idx), len(idx)))
            for which, ep in (("progression", self.pfs), ("death", self.os)):
                t, e = cols[ep.time][idx], cols[ep.event][idx]
                ut, n, d, _, _ = km_table(t, e)
                H = np.cumsum(d / n)[np.searchsorted(ut, t)]  # Nelson-Aalen at each record's time
                x = lp[which][idx]
                loglik += np.outer(x, e) - np.outer(np.exp(x), H)
            rows, colsel = linear_sum_assignment(-(loglik + noise * self.gumbel[np.ix_(idx, idx)]))
            perm[idx[rows]] = idx[colsel]
        return perm

    @staticmethod
    def permuted(cols: dict, perm: np.ndarray) -> dict:
        return {k: v[perm] for k, v in cols.items()}

    def solve_assignment(self, cols: dict, analyses: Analyses, targets: list, iterations: int = 12,
                         noise: float = 1.0) -> np.ndarray:
        """The assignment of a proportional-hazards model whose coefficients are solved for the paper's hazard
        ratios: from the univariate log HRs, each iteration assigns the records (:meth:`assign`), fits the
        published models on the result and moves every coefficient by the log ratio of its target HR
        (multivariable where the paper prints one, else univariate) to the fitted one.  The assignment with the
        best objective wins."""
        beta = {w: b.copy() for w, b in self.beta.items()}
        goal = {}
        for which, ep in (("progression", self.pfs), ("death", self.os)):
            for j, (v, lvl) in enumerate(self.terms):
                for kind in ("cox_multivariate", "cox_univariate"):
                    key = ("primary", f"{kind}.{ep.name}", v, lvl, "all", "hr")
                    hr = self._published(key[1], v, lvl, "all", "hr")
                    if np.isfinite(hr):
                        goal[(which, j)] = (key, math.log(hr))
                        break
        levels = (2, 3)
        best = None
        for _ in range(iterations):
            perm = self.assign(cols, beta, noise)
            state = self.objective(self.permuted(cols, perm), analyses, targets, levels=levels,
                                   goal_order="claims_and_tolerance_first")
            if best is None or state < best[0]:
                best = (state, perm.copy())
            values, _ = analyses(self.permuted(cols, perm))
            moved = False
            for (which, j), (key, target) in goal.items():
                fitted = values.get(key, math.nan)
                if not np.isfinite(fitted) or fitted <= 0:
                    continue
                step = float(np.clip(target - math.log(fitted), -1.0, 1.0))
                if abs(step) > 0.01:
                    beta[which][j] = float(np.clip(beta[which][j] + 0.7 * step, -4.0, 4.0))
                    moved = True
            if not moved:
                break
        return best[1]

    def _focused_pair(self, focus: list[str], rng: np.random.Generator):
        """Two patients of one arm who differ in one of the ``focus`` covariates (a swap that moves its HR)."""
        X, _ = self.d.design[focus[int(rng.integers(len(focus)))]]
        col = X[:, int(rng.integers(X.shape[1]))]
        rare = col == (1.0 if col.mean() <= 0.5 else 0.0)
        i = int(rng.choice(np.nonzero(rare)[0])) if rare.any() else None
        if i is None:
            return None
        others = np.nonzero((self.d.arm == self.d.arm[i]) & (col != col[i]))[0]
        return (i, int(rng.choice(others))) if len(others) else None

    def swap_search(self, cols: dict, perm: np.ndarray, budget: int, analyses: Analyses, targets: list) -> tuple:
        """Swap the records of two patients of one arm while the objective does not get worse."""
        rng = self.rng
        levels = (2, 3) if self.covariate_model else (3,)
        best = self.objective(self.permuted(cols, perm), analyses, targets, levels=levels,
                                   goal_order="claims_and_tolerance_first")
        by_arm = [np.nonzero(self.d.arm == a)[0] for a in (0, 1)]
        sizes = np.array([len(m) for m in by_arm], dtype=float)
        for _ in range(budget):
            if best[-1] == 0:
                break
            focus = getattr(self, "focus", []) if self.covariate_model else []
            pair = self._focused_pair(focus, rng) if focus and rng.random() < 0.5 else None
            if pair is None:
                members = by_arm[int(rng.choice(2, p=sizes / sizes.sum()))]
                i, k = rng.choice(members, size=2, replace=False)
            else:
                i, k = pair
            perm[i], perm[k] = perm[k], perm[i]
            value = self.objective(self.permuted(cols, perm), analyses, targets, levels=levels,
                                   goal_order="claims_and_tolerance_first")
            if value <= best:
                best = value
            else:
                perm[i], perm[k] = perm[k], perm[i]
        return best

    # ------------------------------------------------------------------------------ step 3: record polish
    def _on_grid_between(self, lo: float, hi: float, rng: np.random.Generator) -> float | None:
        """A grid time in [lo, hi], uniformly; None when the interval holds none."""
        g = self.grid
        k_lo, k_hi = math.ceil(lo / g - 1e-9), math.floor(hi / g + 1e-9)
        if k_hi < k_lo:
            return None
        return round(g * int(rng.integers(k_lo, k_hi + 1)), max(0, -int(math.floor(math.log10(g)))))

    def propose_record(self, cols: dict, i: int, rng: np.random.Generator) -> dict | None:
        """A new record for patient ``i`` (column -> value), one the model could have drawn: OS >= PFS, a site
        endpoint keeps the PFS time and has an event only where that site progressed, a death without
        progression is the PFS event at the OS time, and a censoring lies inside the potential follow-up the
        accrual window allows (from ``grid`` with drop-out), all on the grid.  Half of the proposals move one
        time by a few grid steps; the others move it anywhere in range or change an event status (censored <->
        progression, death <-> censored, the progression's sites), which the assignment's swaps cannot do.  None
        when the drawn move does not apply."""
        g = self.grid
        # the window's shortest and longest potential follow-up, rounded to the grid as the model's times are
        fu_min, fu_max = (float(x) for x in self.on_grid(np.array([self.fu_min, self.fu_max])))
        lo_c = g if self.dropout else fu_min
        t_pfs, t_os = float(cols[self.pfs.time][i]), float(cols[self.os.time][i])
        e_pfs, e_os = cols[self.pfs.event][i] == 1, cols[self.os.event][i] == 1
        site_events = [cols[s.event][i] == 1 for s in self.sites]
        progressed = self._progressed(cols, i)
        step = lambda t: t + g * int(rng.choice((-5, -2, -1, 1, 2, 5)))  # noqa: E731
        near = rng.random() < 0.5

        def record(pfs: float, pfs_event: bool, os: float, os_event: bool, sites=None) -> dict:
            out = {self.pfs.time: pfs, self.pfs.event: float(pfs_event), self.os.time: os,
                   self.os.event: float(os_event)}
            sites = sites if sites is not None else [False] * len(self.sites)
            for s, here in zip(self.sites, sites):
                out[s.time], out[s.event] = pfs, float(here)
            return out

        def new_sites() -> list[bool]:
            if len(self.sites) == 2:
                return [[True, False], [False, True], [True, True]][int(rng.integers(3))]
            return [True] * len(self.sites)

        def within(t, lo, hi):
            t = round(t, 6)
            return t if lo - 1e-9 <= t <= hi + 1e-9 else None

        kind = int(rng.integers(3))
        if not e_pfs:  # censored before any event, at C
            if kind == 0 or near:  # another censoring time
                c = within(step(t_pfs), lo_c, fu_max) if near else self._on_grid_between(lo_c, fu_max, rng)
                return None if c is None else record(c, False, c, False)
            if kind == 1:  # a progression before C, alive (censored) at C
                t = self._on_grid_between(g, t_pfs - g, rng)
                return None if t is None else record(t, True, t_pfs, False, new_sites())
            t = self._on_grid_between(g, t_pfs, rng)  # a death without progression before C
            return None if t is None else record(t, True, t, True)
        if not progressed:  # death without progression at t
            if kind == 0 or near:
                t = within(step(t_os), g, fu_max) if near else self._on_grid_between(g, fu_max, rng)
                return None if t is None else record(t, True, t, True)
            c = self._on_grid_between(max(t_os, lo_c), fu_max, rng)  # alive instead, censored at C
            return None if c is None else record(c, False, c, False)
        sites = [bool(x) for x in site_events]
        if kind == 0:  # the progression time
            t = within(step(t_pfs), g, t_os) if near else self._on_grid_between(g, t_os, rng)
            return None if t is None else record(t, True, t_os, e_os, sites)
        if kind == 1 or near:  # the death or censoring time
            lo = t_pfs if e_os else max(t_pfs, lo_c)
            t = within(step(t_os), lo, fu_max) if near else self._on_grid_between(lo, fu_max, rng)
            return None if t is None else record(t_pfs, True, t, e_os, sites)
        change = int(rng.integers(3))
        if change == 0:  # death <-> censoring after the progression
            if e_os:
                c = self._on_grid_between(max(t_os, lo_c), fu_max, rng)
                return None if c is None else record(t_pfs, True, c, False, sites)
            t = self._on_grid_between(t_pfs, t_os, rng)
            return None if t is None else record(t_pfs, True, t, True, sites)
        if change == 1 and not e_os:  # never progressed: censored at the OS censoring time
            return record(t_os, False, t_os, False)
        if len(self.sites) == 2:  # the progression's sites
            return record(t_pfs, True, t_os, e_os, new_sites())
        return None

    def _progressed(self, cols: dict, i: int) -> bool:
        """Whether patient i's PFS event is a progression (not a death without progression)."""
        if cols[self.pfs.event][i] != 1:
            return False
        if self.sites:
            return any(cols[s.event][i] == 1 for s in self.sites)
        return not (cols[self.os.event][i] == 1 and cols[self.os.time][i] == cols[self.pfs.time][i])

    def propose_exchange(self, cols: dict, rng: np.random.Generator) -> dict | None:
        """Two patients of one arm who both progressed exchange one part of their records: the progression
        (PFS time and sites) or the death or censoring after it (OS time and status), where each record keeps
        OS >= PFS.  Every arm keeps the same PFS records and the same OS records, so no arm-level number moves,
        while PFS and OS of a covariate group move apart (a whole-record swap moves them together).  Returns
        {patient: {column: value}} or None when the drawn pair does not qualify."""
        i = int(rng.integers(self.d.n))
        members = np.nonzero(self.d.arm == self.d.arm[i])[0]
        k = int(members[rng.integers(len(members))])
        if k == i or not (self._progressed(cols, i) and self._progressed(cols, k)):
            return None
        p, o = cols[self.pfs.time], cols[self.os.time]
        if rng.random() < 0.5:  # the progressions
            part = [self.pfs.time, self.pfs.event, *(c for s in self.sites for c in (s.time, s.event))]
            ok = p[k] <= o[i] and p[i] <= o[k]
        else:  # what follows them
            part = [self.os.time, self.os.event]
            ok = o[k] >= p[i] and o[i] >= p[k]
        if not ok:
            return None
        return {i: {c: float(cols[c][k]) for c in part}, k: {c: float(cols[c][i]) for c in part}}

    def nudge_search(self, cols: dict, budget: int, analyses: Analyses, targets: list,
                     rng: np.random.Generator | None = None, goal_order: str = "claims_first") -> tuple:
        """Change the final columns in place, while the objective over every target does not get worse: two
        thirds of the moves replace one patient's record (:meth:`propose_record`; the assignment's swaps cannot
        change the number of events within a covariate group or an arm's number, this can), one third exchange
        the progression or the post-progression part of two patients' records (:meth:`propose_exchange`).
        Lexicographic with the claims' conclusions first, then the misses of every priority (a move never
        trades an arm-level hit for a covariate one), then the claims' tolerance and the weighted distance
        (:meth:`objective`)."""
        rng = rng or self.rng
        levels = (1, 2, 3, 4, 5)
        state = self.objective(cols, analyses, targets, levels=levels, goal_order=goal_order)
        for _ in range(budget):
            if state[-1] == 0:
                break
            if rng.random() < 1 / 3:
                change = self.propose_exchange(cols, rng)
            else:
                i = int(rng.integers(self.d.n))
                new = self.propose_record(cols, i, rng)
                change = None if new is None else {i: new}
            if change is None:
                continue
            old = {i: {k: float(cols[k][i]) for k in new} for i, new in change.items()}
            if old == change:
                continue
            for i, new in change.items():
                for k, v in new.items():
                    cols[k][i] = v
            value = self.objective(cols, analyses, targets, levels=levels, goal_order=goal_order)
            if value <= state:
                state = value
            else:
                for i, was in old.items():
                    for k, v in was.items():
                        cols[k][i] = v
        return state

    # ---------------------------------------------------------------------------------------- the whole
    def selection_probes(self) -> list[SurvTarget]:
        """The book's univariate p of every candidate of a multivariable model, published or not: computed
        beside the targets (never aimed at) so the selection goals can be checked; none without the covariate
        model."""
        if not self.covariate_model:
            return []
        return [SurvTarget(*k[:6], "", math.nan, 3, 5, aimed=False) for c in self.selection for k in c.keys]

    def _block(self, P: dict, names: set, rows: set | None, targets: list, sweeps: int,
               starts: list[dict] | None = None) -> None:
        """Line scans of one block of parameters against the targets of one endpoint, from each of ``starts``
        (parameter overrides); the best start wins."""
        if not targets:
            return
        coords = [c for c in self.coordinates() if c.name in names and (rows is None or c.index[0] in rows
                                                                         or c.name not in ("log_scale", "log_shape"))]
        analyses = Analyses(self.spec, self.d, targets, smooth=True)
        best = None
        for start in starts or [{}]:
            Q = {k: v.copy() for k, v in P.items()}
            for (name, index), value in start.items():
                Q[name][index] = value
            f = self.coordinate_search(Q, coords, sweeps, analyses, targets)
            if best is None or f < best[0]:
                best = (f, Q)
        P.update(best[1])

    def calibrate(self, budget: dict) -> tuple[dict, dict, np.ndarray]:
        """Step 1 on the arm-level targets: line scans on smooth surrogates (unrounded times, interpolated
        quantiles), block by block (censoring, progression, sites, death; progression and death from several
        starts), then jointly; then single draws against the exact printed-precision objective.  Step 2 on the
        other targets: assignment, then swaps.  With the covariate model, a key claim that still fails after
        step 1 gets a greedy repair with the claims first (``repair_steps``).  Returns (patient columns,
        parameters, perm)."""
        aimed = [t for t in self.targets if t.aimed]
        arm_level = [t for t in aimed if invariant(t)]
        patient_level = [t for t in aimed if not invariant(t)]
        endpoint = lambda t: t.analysis.split(".")[-1]  # noqa: E731
        follow = [t for t in arm_level if t.analysis.startswith("followup.")]
        pfs = [t for t in arm_level if endpoint(t) == self.pfs.name]
        sites = [t for t in arm_level if endpoint(t) in {e.name for e in self.sites}]
        death = [t for t in arm_level if endpoint(t) == self.os.name and not t.analysis.startswith("followup.")]
        sweeps = int(budget.get("block_sweeps", 4))
        logit = lambda p: math.log(p / (1 - p))  # noqa: E731
        P = self.initial_params()
        censoring = {"gaps", "log_dropout"}
        self._block(P, censoring, None, follow, sweeps)
        self._block(P, {"log_scale", "log_shape", "logit_cure"}, {0}, pfs, sweeps,
                    [{("logit_cure", (0,)): logit(c0), ("logit_cure", (1,)): logit(c1)}
                     for c0 in (0.02, 0.15) for c1 in (0.05, 0.25, 0.45)])
        self._block(P, {"logit_site"}, None, sites, sweeps)
        self._block(P, {"log_scale", "log_shape"}, {1, 2}, death + follow, sweeps,
                    [{("log_shape", (1, 0)): math.log(k), ("log_shape", (1, 1)): math.log(k),
                      ("log_scale", (2, 0)): math.log(d0), ("log_scale", (2, 1)): math.log(d0)}
                     for k in (0.8, 1.3, 2.0) for d0 in (300.0, 40.0)])
        self.coordinate_search(P, self.coordinates(), int(budget.get("sweeps", 4)),
                               Analyses(self.spec, self.d, arm_level, smooth=True), arm_level)
        # several independent draw searches from the same start (the outcome depends much on the path); the
        # lexicographically best wins
        restarts = int(budget.get("restarts", 1))
        start = self._draws()
        best = None
        for k in range(restarts):
            self._set_draws(start)
            state = self.draw_search(P, int(budget.get("draw_steps", 6000)) // restarts,
                                     Analyses(self.spec, self.d, arm_level), arm_level,
                                     anneal=float(budget.get("anneal", 0.6)),
                                     rng=np.random.default_rng([int(self.conf["survival_seed"]), k]))
            if best is None or state < best[0]:
                best = (state, self._draws())
        self._set_draws(best[1])
        if self.covariate_model and int(budget.get("repair_steps", 0)):
            # a key claim whose conclusion still fails on the arm-level numbers: a greedy search from here with
            # the claims before the other priorities (it stops as soon as every target is met)
            values, _ = Analyses(self.spec, self.d, arm_level)(self.generate(P))
            if any(c.miss(values) for c in self.claims):
                self.draw_search(P, int(budget["repair_steps"]), Analyses(self.spec, self.d, arm_level), arm_level,
                                 anneal=0.0, rng=np.random.default_rng([int(self.conf["survival_seed"]), 999]),
                                 goal_order="claims_first")
        cols = self.generate(P)
        if self.covariate_model and patient_level:
            # the book's univariate p of every candidate of a multivariable model (selection), published or not
            analyses = Analyses(self.spec, self.d, patient_level, probes=self.selection_probes())
            perm = self.solve_assignment(cols, analyses, patient_level, int(budget.get("coefficient_iterations", 12)))
        else:
            analyses = Analyses(self.spec, self.d, patient_level)
            perm = self.assign(cols)
        if patient_level:
            self.swap_search(cols, perm, int(budget.get("swap_steps", 4000)), analyses, patient_level)
        cols = self.permuted(cols, perm)
        if int(budget.get("nudge_steps", 0)):
            # step 3 on every target at once: records replaced or parts exchanged where no priority gets more misses
            self.nudge_search(cols, int(budget["nudge_steps"]),
                              Analyses(self.spec, self.d, aimed, probes=self.selection_probes()),
                              aimed, rng=np.random.default_rng([int(self.conf["survival_seed"]), 3]))
        return cols, P, perm


# ============================================================================================ entry point
def typed_baseline(spec, df: pd.DataFrame) -> pd.DataFrame:
    """The baseline table as :func:`helpers.patients.load_patients` types it (placeholder endpoint columns)."""
    from helpers.study.patients import load_patients

    tmp = df.copy()
    for ep in spec.survival.endpoints.values():
        tmp[ep.time] = "1.0"
        tmp[ep.event] = "0"
    for cr in spec.survival.competing_risks.values():
        tmp[cr.type_column] = cr.censored  # every placeholder endpoint is censored
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "patients.csv"
        tmp.to_csv(path, index=False, lineterminator="\n")
        return load_patients(spec, path)


def matched_ids(spec, data: pd.DataFrame):
    """The patients the book's propensity matching picks (the baseline fixes them)."""
    if spec.matching is None:
        return None
    from helpers.analyses.cohorts import match_study, matching_settings

    return match_study(data, spec, matching_settings(spec)).data.index


def report_frame(targets: list[SurvTarget]) -> pd.DataFrame:
    return pd.DataFrame([dict(cohort=t.cohort, analysis=t.analysis, variable=t.variable, level=t.level,
                              group=t.group, stat=t.stat, relation=t.relation, target=t.target,
                              achieved=round(t.achieved, 6) if np.isfinite(t.achieved) else math.nan, hit=t.hit)
                         for t in targets])


def build_survival(spec, conf: dict, published: pd.DataFrame, df: pd.DataFrame):
    """Generator, analyses and targets for the baseline table ``df`` (as written, ids in the first column)."""
    data = typed_baseline(spec, df)
    design = CohortDesign(spec, data, matched_ids(spec, data), str(conf.get("followup_definition", "reverse_km")))
    targets = survival_targets(spec, published)
    if conf.get("covariate_model"):
        # the patient-level numbers of the paper's key claims are aimed at with the second priority (the
        # arm-level ones keep theirs: raising them costs the arms' medians, HRs and follow-up)
        claimed = {k for c in claim_checks(spec, targets) for k in c.keys}
        for t in targets:
            if t.key in claimed and not invariant(t):
                t.priority = min(t.priority, 2)
    analyses = Analyses(spec, design, targets)
    return SurvivalGenerator(spec, conf, design, targets, analyses)


def add_survival_endpoints(spec, assumptions: dict, published: pd.DataFrame,
                           df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Append the endpoint columns to the final baseline table ``df``; return it and the survival report rows."""
    conf = assumptions["survival"]
    gen = build_survival(spec, conf, published, df)
    cols, _, _ = gen.calibrate(conf.get("search") or {})
    values, _ = gen.analyses(cols)
    if gen.d.followup != "reverse_km":
        # the search aimed at the follow-up the paper probably reported (``followup_definition``), but the report
        # gives the number the chapter prints: the reverse-KM quartiles (prodlim) and the log-rank p of the reversed
        # data, so a hit in the report is always the chapter's number
        printed = copy.copy(gen.d)
        printed.followup = "reverse_km"
        follow = [t for t in gen.targets if t.analysis.startswith("followup.")]
        values.update(Analyses(spec, printed, follow)(cols)[0])
    for t in gen.targets:
        t.achieved = float(values.get(t.key, math.nan))
    out = df.copy()
    decimals = max(0, -int(math.floor(math.log10(gen.grid))))
    for ep in spec.survival.endpoints.values():
        out[ep.time] = [f"{x:.{decimals}f}" for x in cols[ep.time]]
        out[ep.event] = cols[ep.event].astype(int)
    for cr in spec.survival.competing_risks.values():
        out[cr.type_column] = first_event_types(spec, cr, cols)
    return out, report_frame(gen.targets)


def first_event_types(spec, cr, cols: dict) -> list[str]:
    """Each patient's first event type, from the endpoint event columns: the censored code where the first-event
    endpoint is censored, else the type whose causes are exactly the causes with an event (e.g. intrahepatic and
    extrahepatic progression at once: "both"; an event of neither: "death")."""
    parent = spec.survival.endpoints[cr.endpoint]
    by_causes = {}
    for code in cr.types:
        key = frozenset(c.id for c in cr.causes.values() if code in c.types)
        if key in by_causes:
            raise ValueError(f"competing risks {cr.id}: types {by_causes[key]!r} and {code!r} count for the same causes")
        by_causes[key] = code
    out = []
    for i in range(len(cols[parent.event])):
        if cols[parent.event][i] == 0:
            out.append(cr.censored)
            continue
        key = frozenset(c.id for c in cr.causes.values()
                        if c.endpoint is not None and cols[spec.survival.endpoints[c.endpoint].event][i] == 1)
        out.append(by_causes[key])
    return out
