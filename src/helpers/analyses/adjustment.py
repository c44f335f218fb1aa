"""Confounding, the way methodologists now expect it: beside the paper's matched and multivariable analyses,
the correct variance after matching, propensity-score weighting, balance beyond the SMD, and E-values.

Conventions (each checked against R in ``tests/test_causal_stats.py``; ``tests/reference/causal_reference.R``):

* **After matching** (MatchIt's guidance): the paper's analysis is a Cox model on the matched rows, which
  ignores the pairing (*naive*); the cluster-robust sandwich SE by matched set is R ``coxph(Surv(t, e) ~ arm,
  weights = w, cluster = subclass)`` (by patient when matching with replacement); the pair-stratified model
  is ``coxph(Surv(t, e) ~ arm + strata(subclass))``; the optional bootstrap resamples matched sets
  (Austin & Small 2014), percentile CI.
* **Weighting**: the propensity model of the matching (logistic regression of the arm, R ``glm``); ATE
  weights 1/ps and 1/(1-ps), stabilized by the arm proportions; ATT weights 1 and ps/(1-ps); overlap (ATO)
  weights 1-ps and ps (Li, Morgan & Zaslavsky 2018); Kish's effective sample size per arm; the weighted Cox
  model with the robust sandwich SE, R ``coxph(..., weights = w, robust = TRUE)``; weighted Kaplan-Meier as
  ``survfit(..., weights = w)`` (robust IJ bands, as R gives for non-integer weights).
* **Balance** (cobalt ``bal.tab``): standardized mean difference with the pooled SD of the unweighted groups
  (binary variables standardized too, as Table 1's SMD), the variance ratio of continuous variables, and the
  eCDF mean and maximum (Kolmogorov-Smirnov) differences; |SMD| < 0.1 and variance ratio in [0.5, 2] are
  the usual thresholds.
* **E-values** (VanderWeele & Ding 2017) for every treatment hazard ratio: the smallest risk ratio an
  unmeasured confounder would need with both the treatment and the outcome to explain the estimate away (and
  to move the CI to include 1). When more than 15% of the patients have the event, the hazard ratio is first
  turned into a risk ratio, RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) (VanderWeele 2017); otherwise the HR
  is used as the RR (rare outcome).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.report.format import format_hr, format_p
from helpers.stats import cox as coxmod
from helpers.stats.balance import balance_table
from helpers.stats.bootstrap import matched_bootstrap
from helpers.stats.design import treatment_dummies
from helpers.stats.evalue import e_value
from helpers.stats.matching import propensity_scores
from helpers.stats.weights import effective_sample_size, ipw_weights
from helpers.study.patients import analysis_column
from helpers.study.spec import StudySpec

#: More than this share of patients with the event: the outcome is common and the HR is converted to an RR.
COMMON_OUTCOME = 0.15


def treated(spec: StudySpec, data: pd.DataFrame) -> np.ndarray:
    """1 for the experimental arm, 0 for the reference arm."""
    return (data[spec.arm.column].astype(str) == spec.arm.experimental).to_numpy(dtype=int)


def covariate_columns(spec: StudySpec, data: pd.DataFrame, variables) -> tuple[pd.DataFrame, dict[str, tuple]]:
    """The variables as numbers for the balance statistics: a continuous variable as itself (or its cut, as the
    analyses use it), a categorical one as 0/1 columns (the non-reference level of a two-level variable, every
    level of one with more). Returns the frame and column -> (variable, level, label)."""
    frame, meta = pd.DataFrame(index=data.index), {}
    for name in variables:
        var = spec.variables[name]
        col = data[analysis_column(spec, name)]
        if not var.is_categorical:
            frame[name] = col.astype(float)
            meta[name] = (name, "", var.display_label)
            continue
        levels = list(var.category_labels)
        shown = levels[1:] if len(levels) == 2 else levels
        for level in shown:
            # all levels: code against a level that is none of them, so each level gets its own 0/1 column
            dummies, coded = treatment_dummies(col, ["\0", *levels], "\0", name=name)
            j = coded.index(level)
            key = f"{name}:{level}"
            frame[key] = dummies[:, j]
            meta[key] = (name, level, f"{var.label}: {var.category_labels[level]}")
    return frame, meta


def balance_statistics(spec: StudySpec, data: pd.DataFrame, variables, weights=None, estimand: str = "ATE",
                       label: str = "adjusted") -> pd.DataFrame:
    """Per covariate (level): SMD, variance ratio, eCDF mean and max, unadjusted and (with ``weights``) adjusted.

    Each column uses the patients with a known value (Table 1's denominator).
    """
    frame, meta = covariate_columns(spec, data, variables)
    t = treated(spec, data)
    rows = []
    for col in frame.columns:
        known = frame[col].notna().to_numpy()
        w = None if weights is None else np.asarray(weights, float)[known]
        tab = balance_table(frame.loc[known, [col]], t[known], w, estimand=estimand, binary="std",
                            s_d_denom="pooled").iloc[0]
        variable, level, text = meta[col]
        row = {"variable": variable, "level": level, "label": text, "type": tab["type"],
               "smd_before": tab["diff_un"], "vr_before": tab["var_ratio_un"] if tab["type"] == "continuous" else
               math.nan, "ecdf_mean_before": tab["ecdf_mean_un"], "ecdf_max_before": tab["ks_un"]}
        if w is not None:
            row.update(smd_after=tab["diff_adj"], vr_after=tab["var_ratio_adj"] if tab["type"] == "continuous"
                       else math.nan, ecdf_mean_after=tab["ecdf_mean_adj"], ecdf_max_after=tab["ks_adj"])
        rows.append(row)
    return pd.DataFrame(rows)


def balance_rows(table: pd.DataFrame, cohort_before: str, cohort_after: str | None, analysis: str = "balance"
                 ) -> list[dict]:
    """Results rows of :func:`balance_statistics`: ``smd``, ``variance_ratio``, ``ecdf_mean``, ``ecdf_max``."""
    rows = []
    for r in table.itertuples():
        for when, cohort in (("before", cohort_before), ("after", cohort_after)):
            if cohort is None or not hasattr(r, f"smd_{when}"):
                continue
            for stat, col in (("smd", "smd"), ("variance_ratio", "vr"), ("ecdf_mean", "ecdf_mean"),
                              ("ecdf_max", "ecdf_max")):
                value = getattr(r, f"{col}_{when}")
                if stat == "smd" and analysis == "balance":
                    continue  # the cohorts chapter writes Table 1's SMD under (balance, smd) already
                if value == value:
                    rows.append(dict(cohort=cohort, analysis=analysis, variable=r.variable, level=r.level,
                                     group="difference", stat=stat, value=float(value)))
    return rows


def balance_display(table: pd.DataFrame, after: str | None = "after matching") -> pd.DataFrame:
    """The balance table for the page: per covariate, before (and after) SMD, variance ratio, eCDF mean/max."""
    def cell(x, d=2):
        return "" if x != x else f"{x:.{d}f}"

    out = []
    for r in table.itertuples():
        row = {"Covariate": r.label, "SMD": cell(r.smd_before), "Variance ratio": cell(r.vr_before),
               "eCDF mean": cell(r.ecdf_mean_before), "eCDF max": cell(r.ecdf_max_before)}
        if after and hasattr(r, "smd_after"):
            row.update({f"SMD {after}": cell(r.smd_after), f"Variance ratio {after}": cell(r.vr_after),
                        f"eCDF mean {after}": cell(r.ecdf_mean_after), f"eCDF max {after}": cell(r.ecdf_max_after)})
        out.append(row)
    return pd.DataFrame(out)


def imbalance_sentence(table: pd.DataFrame, when: str = "after", threshold: float = 0.1, claim: str = "") -> str:
    """A sentence naming the covariates whose |SMD| exceeds ``threshold`` (with the paper's claim beside it)."""
    col = f"smd_{when}"
    if col not in table.columns:
        return ""
    off = table[table[col].abs() > threshold]
    if off.empty:
        return f"Every covariate has |SMD| ≤ {threshold:g} {'after' if when == 'after' else 'before'} adjustment."
    names = ", ".join(f"{r.label} ({r_smd:+.2f})" for r, r_smd in zip(off.itertuples(), off[col]))
    text = (f"**Remaining imbalance**: {len(off)} of {len(table)} covariate levels have |SMD| > {threshold:g}"
            f"{' after matching' if when == 'after' else ''}: {names}.")
    if claim:
        text += f" The paper says: \u201c{claim}\u201d."
    return text


# ------------------------------------------------------------------------------------ models of the arm
@dataclass(frozen=True)
class ArmHR:
    """One treatment hazard ratio: what it is, its numbers, and the patients behind it."""

    method: str
    hr: float
    lower: float
    upper: float
    p_value: float
    n: int
    events: int
    note: str = ""
    key: str = ""          # its name in the results table (``group``): naive, robust, stratified, bootstrap, ...

    @property
    def estimable(self) -> bool:
        return math.isfinite(self.hr) and math.isfinite(self.lower)

    def text(self) -> str:
        return format_hr(self.hr, self.lower, self.upper, estimable=self.estimable)


def arm_hr(method: str, time, event, arm, weights=None, cluster=None, strata=None, robust=None,
           note: str = "", key: str = "") -> ArmHR:
    """``coxph(Surv(time, event) ~ arm, ...)``: the arm's HR, Wald CI and p (robust when clustered/weighted)."""
    d = pd.DataFrame({"time": np.asarray(time, float), "event": np.asarray(event, float),
                      "arm": np.asarray(arm, float)})
    fit = coxmod.cox_fit(d, "time", "event", ["arm"], weights=weights, cluster=cluster, strata=strata,
                         robust=robust, compute_concordance=False, keep_data=False)
    row = fit.table.iloc[0]
    ok = bool(row.get("estimable", True))
    nan = math.nan
    return ArmHR(method, float(row["hr"]) if ok else nan, float(row["lower"]) if ok else nan,
                 float(row["upper"]) if ok else nan, float(row["p_value"]) if ok else nan, int(fit.n),
                 int(fit.n_events), note, key or method)


def hr_rows(analysis: str, level: str, hrs: list[ArmHR], group_of=lambda h: h.key) -> list[dict]:
    rows = []
    for h in hrs:
        for stat in ("hr", "lower", "upper", "p_value"):
            value = getattr(h, stat)
            rows.append(dict(analysis=analysis, variable="arm", level=level, group=group_of(h), stat=stat,
                             value=float(value) if value == value else math.nan))
    return rows


def matched_arm_hrs(spec: StudySpec, data: pd.DataFrame, sets: pd.DataFrame, endpoint: str, n_boot: int = 0,
                    seed: int = 20241201) -> list[ArmHR]:
    """The matched cohort's treatment HR four ways: the paper's naive Cox, cluster-robust by matched set,
    stratified by matched set, and (``n_boot`` > 0) a bootstrap of matched sets."""
    ep = spec.survival.endpoints[endpoint]
    t, e = data[ep.time].to_numpy(float), data[ep.event].to_numpy(float)
    arm = treated(spec, data)
    sets = sets.reindex(data.index)
    w = sets["weight"].to_numpy(float)
    weighted = not np.allclose(w, 1.0)
    subclass = sets["subclass"].to_numpy(float)
    with_replacement = np.isnan(subclass).any()
    cluster = data.index.to_numpy() if with_replacement else subclass
    out = [arm_hr("naive (the paper's)", t, e, arm, weights=w if weighted else None, key="naive",
                  note="a Cox model on the matched rows, which ignores the matching"),
           arm_hr("cluster-robust", t, e, arm, weights=w if weighted else None, cluster=cluster, key="robust",
                  note="sandwich SE clustered by matched set" + (" (by patient: with replacement)"
                                                                 if with_replacement else ""))]
    if not with_replacement:
        out.append(arm_hr("stratified", t, e, arm, weights=w if weighted else None, strata=subclass.astype(int),
                          key="stratified", note="a baseline hazard per matched set (conditional on the pair)"))
    if n_boot and not with_replacement:
        b = matched_bootstrap(t, e, arm, subclass, weights=w if weighted else None, n_boot=n_boot, seed=seed)
        out.append(ArmHR("bootstrap", b.hr, b.lower, b.upper, math.nan, len(t), int(e.sum()),
                         f"{n_boot} resamples of matched sets, percentile CI, seed {seed}", "bootstrap"))
    return out


# --------------------------------------------------------------------------------------------- E-values
def event_share(data: pd.DataFrame, spec: StudySpec, endpoint: str) -> float:
    ep = spec.survival.endpoints[endpoint]
    return float(data[ep.event].mean())


def evalue_rows(hrs: list[tuple[str, str, ArmHR]], shares: dict[str, float]) -> tuple[pd.DataFrame, list[dict]]:
    """E-values of treatment HRs: ``hrs`` are (endpoint, where, ArmHR); ``shares`` the event share per endpoint.
    Returns the display frame and the results rows (analysis ``evalue.<endpoint>``)."""
    shown, rows = [], []
    for endpoint, where, h in hrs:
        if not h.estimable:
            continue
        rare = shares[endpoint] <= COMMON_OUTCOME
        ev = e_value(h.hr, h.lower, h.upper, measure="HR", rare=rare)
        shown.append({"Endpoint": endpoint, "Hazard ratio": where, "HR (95% CI)": h.text(),
                      "Outcome": f"{'rare' if rare else 'common'} ({100 * shares[endpoint]:.0f}% with the event)",
                      "E-value, estimate": f"{ev.point:.2f}", "E-value, CI": f"{ev.ci:.2f}" if ev.ci else ""})
        for stat, value in (("point", ev.point), ("ci", ev.ci)):
            rows.append(dict(analysis=f"evalue.{endpoint}", variable="arm", level=h.key, group="all", stat=stat,
                             value=float(value) if value is not None else math.nan))
    return pd.DataFrame(shown), rows


EVALUE_NOTE = ("E-value (VanderWeele & Ding 2017): the minimum strength of association, on the risk-ratio scale, that "
               "an unmeasured confounder would need with both the treatment and the outcome to explain the estimate "
               "away; for the CI, to move its limit nearest 1 to 1 (1 when the CI already includes 1). With more than "
               "15% of patients having the event the HR is first turned into a risk ratio, RR = (1 − 0.5^√HR)/(1 − "
               "0.5^√(1/HR)) (VanderWeele 2017); otherwise the HR stands for the RR.")


# -------------------------------------------------------------------------------------------- weighting
def propensity(spec: StudySpec, data: pd.DataFrame, covariates) -> pd.Series:
    """The propensity score of the experimental arm from the covariates as the analyses use them (R ``glm``)."""
    cols = [analysis_column(spec, v) for v in covariates]
    return propensity_scores(data, pd.Series(treated(spec, data), index=data.index), cols)


@dataclass
class Weights:
    estimand: str
    weights: np.ndarray
    ess: dict
    n_trimmed: int


def propensity_weights(ps: pd.Series, arm: np.ndarray, estimand: str, stabilize: bool, trim) -> Weights:
    w = ipw_weights(ps.to_numpy(float), arm, estimand=estimand, stabilize=stabilize and estimand == "ATE",
                    trim=trim)
    ess = effective_sample_size(w, arm)
    return Weights(estimand, w, ess, int(np.sum(w == 0)))


def common_support(ps: pd.Series, arm: np.ndarray) -> dict:
    """The range of the scores in each arm and how many patients fall outside the other arm's range."""
    s = ps.to_numpy(float)
    lo = max(s[arm == 1].min(), s[arm == 0].min())
    hi = min(s[arm == 1].max(), s[arm == 0].max())
    outside = (s < lo) | (s > hi)
    return {"low": float(lo), "high": float(hi), "outside_treated": int(np.sum(outside & (arm == 1))),
            "outside_control": int(np.sum(outside & (arm == 0)))}


def p_text_short(p: float) -> str:
    return format_p(p)
