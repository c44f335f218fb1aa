"""Sensitivity of the treatment hazard ratio to the propensity-matching choices (caliper, ratio, replacement).

:func:`matching_sensitivity` re-runs the cohorts chapter's matching (:func:`helpers.cohorts.match_study`, MatchIt
semantics) for every setting of a small grid and, in each matched cohort, the survival chapter's comparison of
the arms: a Cox model with the arm alone (Efron ties, Wald 95% CI). It returns one tidy row per
(setting, endpoint), plus the primary (unmatched) cohort as a reference row.

Weights
    1:1 matching without replacement gives every matched patient weight 1: the cohort is analysed exactly as the
    survival chapter analyses the matched cohort (:func:`helpers.survival_chapter.compare_arms`, the same code),
    log-rank test included. Matching 1:k or with replacement gives the controls MatchIt's matching weights
    (:attr:`helpers.matching.MatchResult.weights`); the Cox model is then weighted, as R
    ``coxph(Surv(t, e) ~ arm, weights = weights, ties = "efron")`` (:func:`helpers.stats.cox.cox_fit` with
    ``weights``), and no log-rank p is given (the unweighted test would ignore the weights).
Confidence intervals
    ``lower``/``upper``/``p_value`` are model-based (Wald, inverse information), as R ``summary(coxph)`` prints
    them. With weights that is the *naive* interval: it treats the weights as case counts and ignores that a
    control used for several treated patients, or the patients of one matched set, are not independent.
    ``robust_lower``/``robust_upper``/``robust_p_value`` use the cluster-robust sandwich variance of R
    ``coxph(..., weights = weights, cluster = subclass)``: clusters are the matched sets without replacement
    and the individual patients with replacement (MatchIt's "Estimating effects after matching" guidance).
Balance
    ``smd_max`` is the largest absolute standardized mean difference over the matching covariates in the
    matched cohort, with the matching weights (:func:`helpers.balance.standardized_differences`).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import replace as dc_replace
from itertools import product

import numpy as np
import pandas as pd

from helpers.analyses import balance, cohorts
from helpers.analyses import survival as sc
from helpers.report.format import format_hr, format_p
from helpers.stats import cox
from helpers.study.spec import MatchingSpec, StudySpec

DEFAULT_CALIPERS = (None, 0.5, 0.2, 0.1, 0.05)
DEFAULT_RATIOS = (1, 2)
DEFAULT_REPLACE = (False, True)

COLUMNS = ["setting", "key", "cohort", "paper_setting", "caliper", "ratio", "replace", "convention", "endpoint", "endpoint_label",
           "n_treated", "n_control", "ess_control", "events_treated", "events_control", "weighted", "hr", "lower",
           "upper", "p_value", "robust_lower", "robust_upper", "robust_p_value", "logrank_p", "smd_max",
           "estimable", "note"]

# --------------------------------------------------------------------------------------------- the grid
def matching_grid(spec: StudySpec, calipers=DEFAULT_CALIPERS, ratios=DEFAULT_RATIOS,
                  replace_options=DEFAULT_REPLACE, covariates=None) -> list[MatchingSpec]:
    """Every combination of ``calipers`` x ``ratios`` x ``replace_options`` as matching settings.

    Calipers are in the spec's convention: standard deviations of the propensity score on the probability scale
    (MatchIt ``std.caliper = TRUE`` with ``distance = "glm"``), ``None`` for no caliper. Covariates and order come
    from the spec (or ``covariates``). The spec's own setting is added if the grid does not contain it.
    """
    grid = [cohorts.matching_settings(spec, covariates, ratio=r, caliper=c, replace_=bool(rep))
            for c, r, rep in product(calipers, ratios, replace_options)]
    if spec.matching is not None:
        paper = cohorts.matching_settings(spec, covariates)
        if not any(is_same_setting(g, paper) for g in grid):
            grid.append(paper)
        # the paper's setting as SAS PSMATCH would run it (the paper used "R or SAS"): each of its three
        # differences from MatchIt alone, then all three
        for variant in CONVENTION_VARIANTS:
            grid.append(dc_replace(paper, **variant))
    return grid


#: SAS PSMATCH's differences from MatchIt, one at a time and together (helpers.stats.matching).
CONVENTION_VARIANTS = (
    {"distance": "logit"},
    {"caliper_sd": "pooled"},
    {"discard": "both"},
    {"convention": "sas_psmatch"},
)


def is_same_setting(a: MatchingSpec, b: MatchingSpec) -> bool:
    """Same caliper (to 1e-12), ratio and replacement; the order is ignored with replacement (MatchIt)."""
    same_caliper = (a.caliper is None and b.caliper is None) or (
        a.caliper is not None and b.caliper is not None and abs(a.caliper - b.caliper) <= 1e-12)
    return (same_caliper and a.ratio == b.ratio and a.replace == b.replace
            and (a.replace or a.order == b.order) and tuple(a.covariates) == tuple(b.covariates)
            and _convention(a) == _convention(b))


def _convention(s: MatchingSpec) -> tuple:
    """(distance, caliper SD, discard) a setting matches with, its convention resolved."""
    from helpers.stats.matching import resolve_convention

    logit, caliper_sd, discard = resolve_convention(s.convention, None if s.distance is None else
                                                    s.distance == "logit", s.caliper_sd, s.discard)
    return logit, caliper_sd, discard


def setting_key(s: MatchingSpec) -> str:
    """Machine key of a setting, used as ``level`` in the results table: ``caliper=0.1;ratio=1;replace=false``."""
    cal = "none" if s.caliper is None else f"{s.caliper:g}"
    key = f"caliper={cal};ratio={s.ratio};replace={'true' if s.replace else 'false'}"
    logit, caliper_sd, discard = _convention(s)
    if s.convention == "sas_psmatch":
        return key + ";convention=sas_psmatch"
    extra = [x for x, on in (("distance=logit", logit), (f"caliper_sd={caliper_sd}", caliper_sd != "all"),
                             (f"discard={discard}", discard != "none")) if on]
    return ";".join([key, *extra])


def convention_text(s: MatchingSpec) -> str:
    """'MatchIt' for MatchIt's defaults, else what differs: 'SAS PSMATCH', 'logit of the score', ..."""
    if s.convention == "sas_psmatch":
        return "SAS PSMATCH"
    logit, caliper_sd, discard = _convention(s)
    extra = [x for x, on in (("logit of the score", logit), ("pooled-SD caliper", caliper_sd == "pooled"),
                             ("common support", discard == "both")) if on]
    return ", ".join(extra) if extra else "MatchIt"


def setting_label(s: MatchingSpec) -> str:
    """'caliper 0.1 SD, 1:1, no replacement'."""
    cal = "no caliper" if s.caliper is None else f"caliper {s.caliper:g} SD"
    label = f"{cal}, 1:{s.ratio}, {'with' if s.replace else 'no'} replacement"
    if s.convention == "sas_psmatch":
        return label + ", as SAS PSMATCH (logit, pooled SD, common support)"
    logit, caliper_sd, discard = _convention(s)
    extra = [x for x, on in (("logit of the score", logit), ("pooled-SD caliper", caliper_sd == "pooled"),
                             ("common support", discard == "both")) if on]
    return label + (", " + ", ".join(extra) if extra else "")


# ------------------------------------------------------------------------------------- weighted Cox model
def _arm_cox(time, event, arm, weights, cluster) -> cox.CoxResult:
    """``coxph(Surv(time, event) ~ arm, weights = weights, cluster = cluster, ties = "efron")`` for a 0/1 arm
    (:func:`helpers.stats.cox.cox_fit`): ``wald("arm", naive=True)`` is the model-based CI, ``wald("arm")`` the
    cluster-robust one."""
    frame = pd.DataFrame({"time": np.asarray(time, float), "event": np.asarray(event, float),
                          "arm": np.asarray(arm, float)})
    return cox.cox_fit(frame, "time", "event", ["arm"], weights=np.asarray(weights, float),
                       cluster=np.asarray(cluster), compute_concordance=False, keep_data=False)


# ------------------------------------------------------------------------------------------ the analysis
def _empty_row(**kw) -> dict:
    row = {c: math.nan for c in COLUMNS}
    row.update(estimable=False, weighted=False, note="")
    row.update(kw)
    return row


def _primary_rows(data: pd.DataFrame, spec: StudySpec, endpoints) -> list[dict]:
    rows = []
    for name in endpoints:
        ep = sc.endpoint(spec, name)
        cmp = sc.compare_arms(data, spec, name)
        hr = cmp.arm_hr
        ok = sc._estimable(hr)
        rows.append(_empty_row(
            setting="Primary cohort (unmatched)", key="unmatched", cohort="primary", paper_setting=False,
            endpoint=name, endpoint_label=ep.short, n_treated=cmp.n[spec.arm.experimental],
            n_control=cmp.n[spec.arm.reference], ess_control=float(cmp.n[spec.arm.reference]),
            events_treated=cmp.events[spec.arm.experimental], events_control=cmp.events[spec.arm.reference],
            hr=hr["hr"] if ok else math.nan, lower=hr["lower"] if ok else math.nan,
            upper=hr["upper"] if ok else math.nan, p_value=hr["p_value"] if ok else math.nan,
            logrank_p=cmp.logrank.p_value, estimable=ok, note="" if ok else "NE",
            smd_max=float(balance.standardized_differences(
                data, spec, list(spec.matching.covariates) if spec.matching else [])["smd"].abs().max())
            if spec.matching and spec.matching.covariates else math.nan))
    return rows


def _matched_rows(data: pd.DataFrame, spec: StudySpec, settings: MatchingSpec, endpoints,
                  paper: MatchingSpec | None) -> list[dict]:
    base = dict(setting=setting_label(settings), key=setting_key(settings), cohort="matched",
                paper_setting=paper is not None and is_same_setting(settings, paper),
                caliper=math.nan if settings.caliper is None else float(settings.caliper),
                ratio=settings.ratio, replace=settings.replace, convention=convention_text(settings))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Not all treated units will get 2 matches": visible in the n columns
            matched = cohorts.match_study(data, spec, settings)
    except ValueError as exc:
        if "No units were matched" not in str(exc):
            raise
        return [_empty_row(**base, endpoint=name, endpoint_label=sc.endpoint(spec, name).short, n_treated=0,
                           n_control=0, ess_control=0.0, events_treated=0, events_control=0,
                           note="no patient matched within this caliper") for name in endpoints]
    res = matched.result
    m = matched.data
    w = res.weights.reindex(m.index)
    weighted = bool(np.any(np.abs(w.to_numpy() - 1.0) > 1e-12))
    arm = m[spec.arm.column].astype(str)
    treated = (arm == spec.arm.experimental).to_numpy(float)
    if settings.replace:
        cluster = np.arange(len(m))          # with replacement: each patient is its own cluster
    else:
        cluster = res.subclass.reindex(m.index).to_numpy()
    smd = balance.standardized_differences(m, spec, list(settings.covariates), weights=w)["smd"].abs().max()
    ess = res.summary().loc["Matched (ESS)", "Control"]
    rows = []
    for name in endpoints:
        ep = sc.endpoint(spec, name)
        tt, ee = m[ep.time].to_numpy(float), m[ep.event].to_numpy(float)
        row = dict(base, endpoint=name, endpoint_label=ep.short, n_treated=int(treated.sum()),
                   n_control=int((1 - treated).sum()), ess_control=float(ess),
                   events_treated=int(ee[treated == 1].sum()), events_control=int(ee[treated == 0].sum()),
                   weighted=weighted, smd_max=float(smd), logrank_p=math.nan, note="")
        wc = _arm_cox(tt, ee, treated, w.to_numpy(float), cluster)
        wc_ok = bool(wc.table["estimable"].iloc[0])
        rl, ru, rp = wc.wald("arm")
        row.update(robust_lower=rl, robust_upper=ru, robust_p_value=rp)
        if not weighted:  # every weight 1: exactly the survival chapter's analysis of a matched cohort
            cmp = sc.compare_arms(m, spec, name)
            hr = cmp.arm_hr
            ok = sc._estimable(hr)
            row.update(hr=hr["hr"] if ok else math.nan, lower=hr["lower"] if ok else math.nan,
                       upper=hr["upper"] if ok else math.nan, p_value=hr["p_value"] if ok else math.nan,
                       logrank_p=cmp.logrank.p_value, estimable=ok)
        else:
            lo, up, p = wc.wald("arm", naive=True)
            row.update(hr=float(wc.table["hr"].iloc[0]) if wc_ok else math.nan, lower=lo, upper=up, p_value=p,
                       estimable=wc_ok)
        if not row["estimable"]:
            row.update(hr=math.nan, lower=math.nan, upper=math.nan, p_value=math.nan, robust_lower=math.nan,
                       robust_upper=math.nan, robust_p_value=math.nan,
                       note="HR not estimable (an arm without events)")
        rows.append(_empty_row(**row))
    return rows


def matching_sensitivity(data: pd.DataFrame, spec: StudySpec, grid=None, endpoints=None) -> pd.DataFrame:
    """The treatment hazard ratio over a grid of matching settings, one row per (setting, endpoint).

    ``grid``: matching settings (:class:`helpers.spec.MatchingSpec`, e.g. from :func:`matching_grid`); default
    :func:`matching_grid` with :data:`DEFAULT_CALIPERS`, :data:`DEFAULT_RATIOS`, :data:`DEFAULT_REPLACE`.
    ``endpoints``: endpoint ids of the spec (default: all of ``spec.survival.endpoints``).

    The first rows (``cohort = "primary"``, ``key = "unmatched"``) are the primary cohort's HR, the reference.
    ``paper_setting`` marks the spec's own matching setting. A setting that matches nobody gives rows with
    ``n_treated = 0`` and a note, not an error; an unknown endpoint raises ``ValueError``. Columns:
    :data:`COLUMNS` (see the module docstring for the CIs and weights).
    """
    if spec.survival is None:
        raise ValueError(f"study '{spec.study_id}' has no survival section; the sensitivity analysis needs endpoints")
    endpoints = list(endpoints) if endpoints is not None else list(spec.survival.endpoints)
    if not endpoints:
        raise ValueError("no endpoints given")
    for name in endpoints:
        sc.endpoint(spec, name)  # raises a clear ValueError for an unknown endpoint
    grid = matching_grid(spec) if grid is None else list(grid)
    paper = cohorts.matching_settings(spec) if spec.matching is not None else None
    rows = _primary_rows(data, spec, endpoints)
    for settings in grid:
        rows += _matched_rows(data, spec, settings, endpoints, paper)
    out = pd.DataFrame(rows, columns=COLUMNS)
    for c in ("n_treated", "n_control", "events_treated", "events_control"):
        out[c] = out[c].astype(int)
    return out


# ------------------------------------------------------------------------------------ display and results
def _ci_text(hr, lo, up) -> str:
    return format_hr(hr, lo, up, estimable=bool(np.isfinite(hr)))


def sensitivity_display(table: pd.DataFrame, spec: StudySpec, endpoint: str | None = None) -> pd.DataFrame:
    """The table for the page: one row per setting with n per arm, balance and, per endpoint (all, or only
    ``endpoint``), events, HR (95% CI) model-based, the robust 95% CI and the log-rank P (blank when weighted)."""
    if endpoint is not None:
        table = table[table["endpoint"] == endpoint]
    one = table["endpoint"].nunique() == 1
    out = []
    for key, block in table.groupby("key", sort=False):
        first = block.iloc[0]
        row = {"Setting": first["setting"] + (" (paper)" if first["paper_setting"] else ""),
               f"n {spec.arm.labels[spec.arm.experimental]}": int(first["n_treated"]),
               f"n {spec.arm.labels[spec.arm.reference]}": int(first["n_control"]),
               "Max |SMD|": "" if not np.isfinite(first["smd_max"]) else f"{first['smd_max']:.2f}"}
        for r in block.itertuples():
            ep = "" if one else f"{r.endpoint_label} "
            row[f"{ep}Events exp/ref"] = f"{r.events_treated}/{r.events_control}"
            row[f"{ep}HR (95% CI)"] = r.note if (r.note and not np.isfinite(r.hr)) else _ci_text(r.hr, r.lower, r.upper)
            row[f"{ep}Robust CI"] = ("" if not np.isfinite(r.robust_lower) else
                                         f"{r.robust_lower:.2f}–{r.robust_upper:.2f}")
            row[f"{ep}Log-rank P"] = "" if not np.isfinite(r.logrank_p) else format_p(r.logrank_p)
        out.append(row)
    return pd.DataFrame(out)


def result_rows(table: pd.DataFrame, spec: StudySpec) -> pd.DataFrame:
    """Rows for the analysis-results table (section ``sensitivity``), keys as in ``book/results_table.md``.

    ``analysis = sensitivity.<endpoint>``, ``level`` = the setting key (``unmatched`` for the primary cohort),
    ``cohort`` = ``primary`` / ``matched``.
    """
    exp, ref = spec.arm.experimental, spec.arm.reference
    rows = []
    for r in table.itertuples():
        a, lev = f"sensitivity.{r.endpoint}", r.key
        base = dict(cohort=r.cohort, analysis=a, level=lev)
        for stat in ("hr", "lower", "upper", "p_value", "robust_lower", "robust_upper", "robust_p_value"):
            rows.append(dict(base, variable="arm", group="all", stat=stat, value=getattr(r, stat)))
        rows.append(dict(base, variable="arm", group="comparison", stat="p_value", value=r.logrank_p))
        rows.append(dict(base, variable="patients", group=exp, stat="n", value=r.n_treated))
        rows.append(dict(base, variable="patients", group=ref, stat="n", value=r.n_control))
        rows.append(dict(base, variable="events", group=exp, stat="n", value=r.events_treated))
        rows.append(dict(base, variable="events", group=ref, stat="n", value=r.events_control))
        rows.append(dict(base, variable="balance", group="difference", stat="smd_max", value=r.smd_max))
        if r.cohort == "matched":
            rows.append(dict(base, variable="setting", group="all", stat="caliper", value=r.caliper))
            rows.append(dict(base, variable="setting", group="all", stat="ratio", value=r.ratio))
            rows.append(dict(base, variable="setting", group="all", stat="replace", value=float(r.replace)))
            rows.append(dict(base, variable="setting", group="all", stat="paper", value=float(r.paper_setting)))
    out = pd.DataFrame(rows)
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    return out


def _side(lower: pd.Series, upper: pd.Series) -> pd.Series:
    """'below' (CI entirely below 1), 'above' (entirely above 1) or 'across' (includes 1)."""
    lo, up = lower.to_numpy(float), upper.to_numpy(float)
    return pd.Series(np.where(up < 1, "below", np.where(lo > 1, "above", "across")), index=lower.index)


def summary_text(table: pd.DataFrame, spec: StudySpec) -> str:
    """A paragraph per endpoint, generated from ``table``: the range of the HR over the matched settings and
    whether any setting changes the conclusion, i.e. puts its 95% CI on a different side of 1 (below, across,
    above) than the paper's setting does; checked with the model-based and with the robust CIs."""
    exp, ref = spec.arm.labels[spec.arm.experimental], spec.arm.labels[spec.arm.reference]
    parts = []
    for name, block in table.groupby("endpoint", sort=False):
        label = block["endpoint_label"].iloc[0]
        primary = block[block["cohort"] == "primary"].iloc[0]
        matched = block[(block["cohort"] == "matched") & block["estimable"].astype(bool)]
        n_none = int(((block["cohort"] == "matched") & ~block["estimable"].astype(bool)).sum())
        if matched.empty:
            parts.append(f"**{label}**: no setting gave an estimable hazard ratio.")
            continue
        lo, hi = matched.loc[matched["hr"].idxmin()], matched.loc[matched["hr"].idxmax()]
        text = (f"**{label}**: over the {len(matched)} matched settings with an estimable hazard ratio, the HR of "
                f"{exp} versus {ref} ranged from {lo['hr']:.2f} ({lo['setting']}) to {hi['hr']:.2f} "
                f"({hi['setting']}); in the primary cohort it is {format_hr(primary['hr'], primary['lower'], primary['upper'])}.")
        paper = block[block["paper_setting"].astype(bool)]
        paper_ok = len(paper) > 0 and bool(paper["estimable"].iloc[0])
        if paper_ok:
            p = paper.iloc[0]
            text += f" With the paper's setting ({p['setting']}) it is {format_hr(p['hr'], p['lower'], p['upper'])}."
        for kind, (lcol, ucol) in (("model-based", ("lower", "upper")), ("robust", ("robust_lower", "robust_upper"))):
            side = _side(matched[lcol], matched[ucol])
            counts = side.value_counts()
            text += (f" With {kind} 95% CIs, {counts.get('below', 0)} of {len(matched)} settings exclude 1 in favour "
                     f"of {exp}, {counts.get('above', 0)} in favour of {ref}, and {counts.get('across', 0)} include 1")
            if paper_ok:
                p_side = _side(paper[lcol], paper[ucol]).iloc[0]
                differ = matched[side != p_side]
                text += (f"; the paper's setting {'includes 1' if p_side == 'across' else 'excludes 1'}, so "
                         + ("no setting changes the conclusion" if differ.empty else
                            f"{len(differ)} setting(s) change it ({'; '.join(differ['setting'])})"))
            text += "."
        if n_none:
            text += f" {n_none} setting(s) gave no estimable HR (no match, or an arm without events)."
        parts.append(text)
    pairs = convention_pairs_text(table, spec)
    return "\n\n".join(parts + ([pairs] if pairs else []))


def published_pairs(spec: StudySpec) -> int | None:
    """The paper's number of matched pairs (``published.yaml``: ``psm / pairs / n``), ``None`` if not published."""
    from helpers.study.published import load_published, published_value

    if spec.published_file is None or not spec.published_file.exists():
        return None
    try:
        return int(published_value(load_published(spec), cohort="matched", analysis="psm", variable="pairs",
                                   stat="n"))
    except KeyError:
        return None


def convention_pairs_text(table: pd.DataFrame, spec: StudySpec) -> str:
    """Whether matching as SAS PSMATCH does (any of its three differences from MatchIt) brings the matched cohort
    closer to the paper's number of pairs than MatchIt's defaults; empty when the paper publishes no pairs."""
    target = published_pairs(spec)
    rows = table[(table["cohort"] == "matched")].drop_duplicates("key")
    paper = rows[rows["paper_setting"].astype(bool)]
    variants = rows[rows["convention"] != "MatchIt"]
    if paper.empty or variants.empty or target is None:
        return ""
    base = int(paper["n_treated"].iloc[0])
    items = ", ".join(f"{r.convention}: {int(r.n_treated)}" for r in variants.itertuples())
    best = variants.iloc[(variants["n_treated"] - target).abs().argsort()].iloc[0]
    closer = abs(int(best["n_treated"]) - target) < abs(base - target)
    return (f"**Matching conventions.** The paper reports {target} matched pairs and says it used R or SAS; "
            f"MatchIt's defaults with the paper's setting match {base} treated patients; with the paper's setting "
            f"but SAS PSMATCH's conventions, {items}. "
            + (f"The closest is {best['setting']} ({int(best['n_treated'])})." if closer else
               "None of SAS's conventions brings the reconstructed cohort closer to the paper's pairs."))


# ------------------------------------------------------------------------------------------ the chapter
class SensitivityChapter:
    """The treatment hazard ratio over a grid of matching settings (caliper x ratio x replacement)."""

    def __init__(self, ch):
        self.ch, self.spec, p = ch, ch.spec, ch.params
        surv = self.spec.survival
        self.endpoints = list(p["endpoints"] or surv.cox.endpoints or surv.endpoints)
        self.grid = matching_grid(self.spec, p["calipers"], p["ratios"], p["replace_options"])
        self.table = matching_sensitivity(ch.data, self.spec, self.grid, self.endpoints)
        ch.results.extend(result_rows(self.table, self.spec))
        self.n_settings = self.table.loc[self.table["cohort"] == "matched", "key"].nunique()

    def paper_setting(self) -> str:
        return setting_label(cohorts.matching_settings(self.spec))

    def forest(self):
        from helpers.report import figures
        from helpers.report.display import Figure

        s = self.spec
        return Figure("sensitivity_forest", figures.sensitivity_forest(self.table, s),
                      f"Hazard ratio of {s.arm.labels[s.arm.experimental]} versus {s.arm.labels[s.arm.reference]} (Cox "
                      f"model with the arm alone, Efron ties) in the primary cohort (top, open diamond) and after each of "
                      f"{self.n_settings} matching settings. Grey bar: model-based 95% CI; black line with caps: "
                      "cluster-robust 95% CI (matched sets; patients with replacement). Shaded row and orange square: "
                      f"the paper's setting ({self.paper_setting()}). Solid line: HR = 1; dashed line: the "
                      "primary-cohort HR. The numbers beside each setting are the matched patients per arm (distinct "
                      "patients; with replacement a control may stand for several treated patients).",
                      alt=f"Forest plot of the treatment hazard ratio for each endpoint over {self.n_settings} matching "
                          "settings, log scale. " + summary_text(self.table, s).replace("*", ""))

    def summary(self) -> str:
        return summary_text(self.table, self.spec)

    def tables(self) -> list:
        from helpers.report.display import Table

        return [Table(f"sensitivity.{name}", sensitivity_display(self.table, self.spec, name), index=False,
                      caption=f"Treatment hazard ratio for {self.spec.survival.endpoints[name].label.lower()} by "
                              "matching setting.",
                      notes="HR (95% CI): Cox model with the arm alone, Efron ties, model-based Wald CI (naive when "
                            "weighted). Robust CI: cluster-robust sandwich 95% CI, clusters = matched sets (patients "
                            "with replacement). Log-rank P only where every weight is 1 (blank: the controls carry "
                            "matching weights and the Cox model is weighted). Events: experimental/reference arm, "
                            "distinct patients. Max |SMD|: largest absolute standardized mean difference over the "
                            "matching covariates, weighted by the matching weights. (paper): the setting of the spec.")
                for name in self.endpoints]
