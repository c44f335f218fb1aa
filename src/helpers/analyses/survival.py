"""The survival chapter's analyses, driven by a study spec: one function per analysis, each returning what the
notebook displays plus the rows it writes to the analysis-results table (keys as in ``book/results_table.md``).

The statistics themselves live in :mod:`helpers.stats.survival` (Kaplan-Meier, log-rank, follow-up, landmark),
:mod:`helpers.stats.cox` (Cox models, proportional-hazards test) and :mod:`helpers.stats.rmst` (RMST, pseudo-values); this
module only maps a study's columns and conventions onto them.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.analyses.terms import arm_codes as _arm_codes
from helpers.analyses.terms import cox_terms, term_label
from helpers.report.format import estimable as _estimable
from helpers.report.format import (
    format_hr,
    format_median,
    format_p,
    hr_text,
    median_text,
    p_text,
)
from helpers.report.format import format_number as _fmt
from helpers.stats import cox as coxmod
from helpers.stats import rmst as rmstmod
from helpers.stats import survival as surv
from helpers.study.spec import Endpoint, StudySpec


def _row(analysis, variable, level, group, stat, value) -> dict:
    value = float(value) if value is not None and np.isfinite(value) else math.nan
    return dict(analysis=analysis, variable=variable, level=level, group=group, stat=stat, value=value)


def endpoint(spec: StudySpec, name: str) -> Endpoint:
    if spec.survival is None or name not in spec.survival.endpoints:
        known = list(spec.survival.endpoints) if spec.survival else []
        raise ValueError(f"study '{spec.study_id}' has no endpoint '{name}' (endpoints: {known})")
    return spec.survival.endpoints[name]


# ------------------------------------------------------------------------------- Kaplan-Meier and log-rank
@dataclass
class ArmComparison:
    """Kaplan-Meier per arm, log-rank test and the arm's Cox hazard ratio for one endpoint."""

    endpoint: Endpoint
    kms: dict
    km_all: object
    logrank: object
    cox: object
    events: dict[str, int]
    n: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def arm_hr(self) -> pd.Series:
        return self.cox.table.iloc[0]


def _sample(data: pd.DataFrame, spec: StudySpec, ep: Endpoint, codes: np.ndarray) -> surv.SurvivalSample:
    """The endpoint's times and events sorted once, for every KM fit and log-rank test of the arms."""
    if np.any(codes < 0):  # an arm outside the spec (or missing): the same error the log-rank test gives
        surv.logrank_test(data[ep.time].to_numpy(float), data[ep.event].to_numpy(float),
                          data[spec.arm.column].astype(str).to_numpy(), order=spec.arm.codes)
    return surv.SurvivalSample(data[ep.time].to_numpy(float), data[ep.event].to_numpy(float), codes)


def compare_arms(data: pd.DataFrame, spec: StudySpec, name: str, conf_type: str | None = None) -> ArmComparison:
    """KM per arm (Greenwood, ``conf_type`` CI, R's median rule), survdiff log-rank and the arm's Cox HR (Efron).

    The endpoint is sorted by time once; each arm's KM and the log-rank test reuse that order
    (:class:`helpers.survival.SurvivalSample`), which gives the numbers of fitting each arm on its own.
    """
    ep = endpoint(spec, name)
    conf_type = conf_type or spec.survival.conf_type
    codes = _arm_codes(data, spec)
    for k, code in enumerate(spec.arm.codes):
        if not np.any(codes == k):
            raise ValueError(f"endpoint {ep.short}: arm '{code}' has no patients in this cohort")
    sample = _sample(data, spec, ep, codes)
    kms, events, n, warnings = {}, {}, {}, []
    for k, code in enumerate(spec.arm.codes):
        kms[code] = sample.kaplan_meier(k, conf_type=conf_type)
        events[code] = int(kms[code].n_events)
        n[code] = kms[code].n
        if events[code] == 0:
            warnings.append(f"{ep.short}: no events in arm {spec.arm.labels[code]}; its median and the hazard "
                            "ratio are not estimable (NE)")
    km_all = sample.kaplan_meier(conf_type=conf_type)
    lr = sample.logrank(spec.arm.codes)
    experimental = list(spec.arm.codes).index(spec.arm.experimental)
    design = pd.DataFrame({"time": data[ep.time].to_numpy(float), "event": data[ep.event].to_numpy(float),
                           "arm": (codes == experimental).astype(float)})
    # only the HR row is reported (arm_hr): no concordance (40% of the fit's time at registry size) and no
    # data kept for a proportional-hazards test (memory)
    cox = coxmod.cox_fit(design, "time", "event", ["arm"], compute_concordance=False, keep_data=False)
    warnings += list(getattr(cox, "warnings", []) or [])
    return ArmComparison(ep, kms, km_all, lr, cox, events, n, warnings)


def arm_comparison_rows(cmp: ArmComparison, spec: StudySpec, landmarks=()) -> list[dict]:
    """Results rows: medians with CI per arm and overall, events, log-rank p, arm HR, landmark survival."""
    ep = cmp.endpoint.name
    rows = []
    for group, km in [*cmp.kms.items(), ("all", cmp.km_all)]:
        m = km.median()
        rows += [_row(f"km.{ep}", "", "median", group, "estimate", m.estimate),
                 _row(f"km.{ep}", "", "median", group, "lower", m.lower),
                 _row(f"km.{ep}", "", "median", group, "upper", m.upper)]
        for t in landmarks:
            at = km.survival_at([t]).iloc[0]
            rows += [_row(f"km.{ep}", "", f"t={t:g}", group, "estimate", at["surv"]),
                     _row(f"km.{ep}", "", f"t={t:g}", group, "lower", at["lower"]),
                     _row(f"km.{ep}", "", f"t={t:g}", group, "upper", at["upper"])]
    for group in cmp.events:
        rows.append(_row(f"events.{ep}", "events", "", group, "n", cmp.events[group]))
    rows.append(_row(f"events.{ep}", "events", "", "all", "n", sum(cmp.events.values())))
    if ep == "os":  # papers count deaths; keep the published key
        rows.append(_row("events.os", "deaths", "", "all", "n", sum(cmp.events.values())))
    rows.append(_row(f"logrank.{ep}", "", "", "comparison", "p_value", cmp.logrank.p_value))
    rows.append(_row(f"logrank.{ep}", "", "", "comparison", "chisq", cmp.logrank.chisq))
    hr = cmp.arm_hr
    for stat in ("hr", "lower", "upper", "p_value"):
        value = hr[stat] if _estimable(hr) else math.nan  # NE: an infinite estimate is not a number to report
        rows.append(_row(f"cox_univariate.{ep}", "arm", spec.arm.experimental, "all", stat, value))
    return rows


def landmark_rows(cmp: ArmComparison, spec: StudySpec, times) -> tuple[list[dict], list]:
    """Landmark survival comparison (z-test of the difference in KM survival, Greenwood variances)."""
    ref, exp = spec.arm.codes
    rows, results = [], []
    for t in times:
        res = surv.landmark_comparison(cmp.kms[exp], cmp.kms[ref], t)
        results.append(res)
        rows.append(_row(f"landmark.{cmp.endpoint.name}", "", f"t={t:g}", "comparison", "p_value", res.p_value))
        rows.append(_row(f"landmark.{cmp.endpoint.name}", "", f"t={t:g}", "difference", "estimate", res.difference))
    return rows, results


# ---------------------------------------------------------------------------------------------------- Cox
@dataclass
class CoxScreen:
    """Table 2: univariate models (one per variable) and the multivariable model of the selected ones."""

    endpoint: Endpoint
    univariate: pd.DataFrame
    multivariate: pd.DataFrame | None
    selected: list[str]
    ph_test: pd.DataFrame | None
    entry_p: float
    warnings: list[str] = field(default_factory=list)
    univariate_n: dict[str, int] = field(default_factory=dict)   # variable -> patients its model used
    multi_n: int | None = None                                    # the multivariable model's n, events, and
    multi_events: int | None = None                               # patients left out for missing values
    multi_dropped: int = 0
    fit: object = None                                            # the multivariable CoxResult (PH residuals)


def cox_screen(data: pd.DataFrame, spec: StudySpec, name: str, entry_p: float | None = None,
               entry_rule: str | None = None, candidates=None) -> CoxScreen:
    """The paper's Cox analysis: each candidate (and the arm) alone; those with a term p < ``entry_p`` together.

    Reported per term: HR = exp(coef), Wald 95% CI and Wald p (as R ``summary(coxph)``), Efron ties. The
    proportional-hazards assumption of the multivariable model is tested as R ``cox.zph`` (KM transform).
    """
    ep = endpoint(spec, name)
    cox_spec = spec.survival.cox
    entry_p = cox_spec.entry_p if entry_p is None else float(entry_p)
    entry_rule = entry_rule or cox_spec.entry_rule
    variables = ["arm", *(candidates or cox_spec.candidates)]
    design, terms, term_map = cox_terms(data, spec, variables)
    design["time"] = data[ep.time].astype(float)
    design["event"] = data[ep.event].astype(float)
    # sorted by time once: the screen's models all reuse this order instead of each sorting again
    design = design.iloc[coxmod.sort_for_cox(design["time"])].reset_index(drop=True)
    # the chapter shows no concordance, and at registry size it is a third of the screen's time
    screen = coxmod.univariate_then_multivariate(design, "time", "event", terms, entry_p=entry_p,
                                                 rule=entry_rule, compute_concordance=False,
                                                 keep_univariate_data=False)
    uni = _label_terms(screen.univariate, term_map)
    multi = _label_terms(screen.multivariate.table, term_map) if screen.multivariate is not None else None
    ph = None
    warnings = list(getattr(screen, "warnings", []) or [])
    if screen.multivariate is not None:
        try:
            ph = coxmod.proportional_hazards_test(screen.multivariate)
        except Exception as exc:  # shown on the page rather than hidden
            warnings.append(f"proportional-hazards test not computed: {exc}")
    mv = screen.multivariate
    univariate_n = {var: int(fit.n) for var, fit in screen.univariate_fits.items()}
    return CoxScreen(ep, uni, multi, list(screen.selected), ph, entry_p, warnings, univariate_n,
                     int(mv.n) if mv is not None else None, int(mv.n_events) if mv is not None else None,
                     int(mv.n_dropped) if mv is not None else 0, mv)


def _label_terms(table: pd.DataFrame, term_map: dict[str, tuple[str, str]]) -> pd.DataFrame:
    out = table.copy()
    out["variable"] = [term_map.get(t, (t, ""))[0] for t in out["term"]]
    out["level"] = [term_map.get(t, (t, ""))[1] for t in out["term"]]
    return out


def cox_rows(screen: CoxScreen) -> list[dict]:
    ep = screen.endpoint.name
    rows = []
    for kind, table in (("cox_univariate", screen.univariate), ("cox_multivariate", screen.multivariate)):
        if table is None:
            continue
        for r in table.itertuples():
            if kind == "cox_univariate" and r.variable == "arm":
                continue  # the arm-alone model is written once, by arm_comparison_rows
            ok = bool(getattr(r, "estimable", True)) if getattr(r, "estimable", True) is not None else True
            for stat in ("hr", "lower", "upper", "p_value"):
                rows.append(_row(f"{kind}.{ep}", r.variable, r.level, "all", stat, getattr(r, stat) if ok else math.nan))
    return rows


def cox_display(screens: list[CoxScreen], spec: StudySpec) -> pd.DataFrame:
    """Table 2 layout: one row per term; per endpoint, univariate and multivariable HR (95% CI) and P."""
    blocks = []
    for sc in screens:
        uni = sc.univariate.set_index(["variable", "level"])
        multi = sc.multivariate.set_index(["variable", "level"]) if sc.multivariate is not None else None
        cols = {}
        for key, r in uni.iterrows():
            cols[key] = {(sc.endpoint.short, "Univariate HR (95% CI)"): format_hr(r.hr, r.lower, r.upper,
                                                                                    estimable=_estimable(r)),
                         (sc.endpoint.short, "P"): format_p(r.p_value),
                         (sc.endpoint.short, "Multivariable HR (95% CI)"): "",
                         (sc.endpoint.short, "P "): ""}
            if multi is not None and key in multi.index:
                m = multi.loc[key]
                cols[key][(sc.endpoint.short, "Multivariable HR (95% CI)")] = format_hr(m.hr, m.lower, m.upper,
                                                                                         estimable=_estimable(m))
                cols[key][(sc.endpoint.short, "P ")] = format_p(m.p_value)
        blocks.append(pd.DataFrame.from_dict(cols, orient="index"))
    table = pd.concat(blocks, axis=1)
    labels = []
    for variable, level in table.index:
        if variable == "arm":
            labels.append(f"Treatment ({spec.arm.labels[level]} vs {spec.arm.labels[spec.arm.reference]})")
            continue
        var = spec.variables[variable]
        cats = var.category_labels
        refs = spec.survival.cox.reference_levels
        ref = refs.get(variable, next(iter(cats), ""))
        labels.append(f"{var.display_label}: {cats.get(level, level)} vs {cats.get(ref, ref)}" if cats
                      else var.display_label)
    table.index = labels
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    if len(screens) == 1:  # one endpoint: its name is in the caption, one header row is enough
        table.columns = table.columns.droplevel(0)
    return table.fillna("")


# --------------------------------------------------------------------------------------------- follow-up
def followup_rows(data: pd.DataFrame, spec: StudySpec) -> tuple[list[dict], pd.DataFrame]:
    """Median follow-up (IQR) by the reverse Kaplan-Meier method, per arm and overall."""
    ep = endpoint(spec, spec.survival.followup_endpoint or next(iter(spec.survival.endpoints)))
    codes = _arm_codes(data, spec)
    sample = _sample(data, spec, ep, codes)
    rows, shown = [], []
    for k, group in enumerate([*spec.arm.codes, "all"]):
        fu = surv.followup_from_table(sample.reverse_kaplan_meier(None if group == "all" else k))
        rows += [_row(f"followup.{ep.name}", "", "median", group, "estimate", fu.median),
                 _row(f"followup.{ep.name}", "", "median", group, "q1", fu.q1),
                 _row(f"followup.{ep.name}", "", "median", group, "q3", fu.q3)]
        label = "All patients" if group == "all" else spec.arm.labels[group]
        shown.append({"Group": label, "n": len(data) if group == "all" else sample.n_group(k),
                      f"Median follow-up ({spec.survival.time_unit})": _fmt(fu.median),
                      "IQR": f"{_fmt(fu.q1)}–{_fmt(fu.q3)}"})
    # between-arm difference in follow-up: log-rank test on the reverse (censoring-as-event) data
    reverse = sample.with_event(1 - sample.event).logrank(spec.arm.codes)
    rows.append(_row(f"followup.{ep.name}", "", "median", "comparison", "p_value", reverse.p_value))
    return rows, pd.DataFrame(shown).set_index("Group")


def followup_note(data: pd.DataFrame, spec: StudySpec) -> str:
    """Why the reverse Kaplan-Meier median follow-up is "NR" when it is, with the censored patients' times.

    With few censored patients (most died), the reverse Kaplan-Meier curve, whose events are censorings,
    never falls below 0.5 and the median follow-up is not reached; the times of the censored patients are
    then the informative summary. Empty when every median is reached.
    """
    ep = endpoint(spec, spec.survival.followup_endpoint or next(iter(spec.survival.endpoints)))
    time, event = data[ep.time].to_numpy(float), data[ep.event].to_numpy(float)
    if np.isfinite(surv.median_followup(time, event).median) and all(
            np.isfinite(surv.median_followup(time[(data[spec.arm.column] == c).to_numpy()],
                                             event[(data[spec.arm.column] == c).to_numpy()]).median)
            for c in spec.arm.codes):
        return ""
    censored = time[event == 0]
    unit = spec.survival.time_unit
    text = (f" NR: the reverse Kaplan-Meier curve (censoring as the event) does not fall below 0.5: only {len(censored)} of "
            f"{len(time)} patients were censored ({ep.short}); the others had the event during follow-up.")
    if len(censored):
        text += (f" The censored patients were followed for {_fmt(float(np.median(censored)))} {unit} (median; "
                 f"range {_fmt(float(censored.min()))}–{_fmt(float(censored.max()))}).")
    return text


# ---------------------------------------------------------------------------------------------------- RMST
def rmst_analysis(data: pd.DataFrame, spec: StudySpec, name: str, tau=None):
    """RMST per arm and their difference (experimental minus reference), survRM2 variance, τ by the spec's rule."""
    ep = endpoint(spec, name)
    tau = spec.survival.rmst_tau if tau is None else tau
    codes = _arm_codes(data, spec)
    if np.all(codes >= 0):  # the arms as a Categorical: rmst_difference then compares codes, not strings
        arm = pd.Categorical.from_codes(codes, categories=list(spec.arm.codes))
    else:  # an arm outside the spec: the strings, so that rmst_difference names it in its error
        arm = data[spec.arm.column].astype(str).to_numpy()
    kwargs = {"tau_rule": tau} if isinstance(tau, str) else {"tau": float(tau)}
    return rmstmod.rmst_difference(data[ep.time].to_numpy(float), data[ep.event].to_numpy(float), arm,
                                   order=spec.arm.codes, **kwargs)


def rmst_rows(res, spec: StudySpec, name: str) -> list[dict]:
    rows = [_row(f"rmst.{name}", "", "", "all", "tau", res.tau)]
    for code in spec.arm.codes:
        a = res.arms[code]
        rows += [_row(f"rmst.{name}", "", "", code, "estimate", a.rmst),
                 _row(f"rmst.{name}", "", "", code, "se", a.se),
                 _row(f"rmst.{name}", "", "", code, "lower", a.lower),
                 _row(f"rmst.{name}", "", "", code, "upper", a.upper)]
    rows += [_row(f"rmst.{name}", "", "", "difference", "estimate", res.difference),
             _row(f"rmst.{name}", "", "", "difference", "lower", res.difference_lower),
             _row(f"rmst.{name}", "", "", "difference", "upper", res.difference_upper),
             _row(f"rmst.{name}", "", "", "difference", "p_value", res.p_value)]
    return rows


def rmst_table(res, spec: StudySpec, name: str) -> pd.DataFrame:
    ep = endpoint(spec, name)
    row = {"Endpoint": ep.short, "τ": f"{res.tau:g}"}
    for code in spec.arm.codes:
        a = res.arms[code]
        row[f"RMST {spec.arm.labels[code]} (95% CI)"] = f"{a.rmst:.2f} ({a.lower:.2f}–{a.upper:.2f})"
    row["Difference (95% CI)"] = f"{res.difference:.2f} ({res.difference_lower:.2f}–{res.difference_upper:.2f})"
    row["P"] = format_p(res.p_value)
    return pd.DataFrame([row])


# ------------------------------------------------------------------------------------------------- display
def frame(rows: list[dict]) -> pd.DataFrame:
    """Rows for :meth:`helpers.results.ResultsTable.extend`."""
    return pd.DataFrame(rows, columns=["analysis", "variable", "level", "group", "stat", "value"])


def panel_annotation(cmp: ArmComparison, spec: StudySpec) -> str:
    return f"HR {hr_text(cmp.arm_hr)}\nlog-rank {p_text(cmp.logrank.p_value)}"


def median_table(comparisons: dict[str, ArmComparison], spec: StudySpec) -> pd.DataFrame:
    rows = []
    for cmp in comparisons.values():
        for code in spec.arm.codes:
            m = cmp.kms[code].median()
            rows.append({"Endpoint": cmp.endpoint.short, "Arm": spec.arm.labels[code], "n": cmp.n[code],
                         "Events": cmp.events[code], "Median (95% CI)": format_median(m),
                         "HR (95% CI)": "", "Log-rank P": ""})
        rows[-1]["HR (95% CI)"] = hr_text(cmp.arm_hr)
        rows[-1]["Log-rank P"] = format_p(cmp.logrank.p_value)
    return pd.DataFrame(rows)


def landmark_table(cmp: ArmComparison, results, spec: StudySpec) -> pd.DataFrame:
    rows = []
    for res in results:
        unit = spec.survival.time_unit if spec.survival else ""
        row = {"Endpoint": cmp.endpoint.short, f"Time ({unit})" if unit else "Time": f"{res.t:g}"}
        for code in spec.arm.codes:
            at = cmp.kms[code].survival_at([res.t]).iloc[0]
            row[spec.arm.labels[code]] = f"{100 * at['surv']:.1f}% ({100 * at['lower']:.1f}–{100 * at['upper']:.1f})"
        row["P"] = format_p(res.p_value)
        rows.append(row)
    return pd.DataFrame(rows)


def followup_p(rows: list[dict]) -> float:
    return next(r["value"] for r in rows if r["group"] == "comparison" and r["stat"] == "p_value")


def rmst_regression(data: pd.DataFrame, spec: StudySpec, name: str, tau: float, variables) -> pd.DataFrame:
    """Adjusted RMST differences: pseudo-values at ``tau`` regressed on the arm and ``variables`` (HC0 SEs).

    Each coefficient is a difference in restricted mean time (in the study's time unit) for that term.
    """
    ep = endpoint(spec, name)
    design, _, term_map = cox_terms(data, spec, ["arm", *[v for v in variables if v != "arm"]])
    design["time"] = data[ep.time].astype(float)
    design["event"] = data[ep.event].astype(float)
    terms = [c for c in design.columns if c not in ("time", "event")]
    table = rmstmod.rmst_regression(design, "time", "event", float(tau), terms)  # works on arrays: no index reset
    table = table.copy()
    table["variable"] = [term_map.get(t, (t, ""))[0] for t in table["term"]]
    table["level"] = [term_map.get(t, (t, ""))[1] for t in table["term"]]
    return table


def rmst_regression_rows(table: pd.DataFrame, name: str) -> list[dict]:
    rows = []
    for r in table.itertuples():
        if r.term in ("Intercept", "(Intercept)", "const"):
            continue
        for stat in ("estimate", "lower", "upper", "p_value"):
            rows.append(_row(f"rmst_regression.{name}", r.variable, r.level, "all", stat, getattr(r, stat)))
    return rows


def rmst_regression_display(table: pd.DataFrame, spec: StudySpec, name: str, tau: float) -> pd.DataFrame:
    ep = endpoint(spec, name)
    rows = []
    for r in table.itertuples():
        if r.variable not in spec.variables and r.variable != "arm":
            continue
        label = (f"Treatment ({spec.arm.labels[r.level]})" if r.variable == "arm"
                 else f"{spec.variables[r.variable].display_label}: "
                      f"{spec.variables[r.variable].category_labels.get(r.level, r.level)}")
        rows.append({"Endpoint": ep.short, "τ": f"{tau:g}", "Term": label,
                     "RMST difference (95% CI)": f"{r.estimate:.2f} ({r.lower:.2f}–{r.upper:.2f})",
                     "P": format_p(r.p_value)})
    return pd.DataFrame(rows)


def ph_display(ph: pd.DataFrame, spec: StudySpec | None = None) -> pd.DataFrame:
    """cox.zph table for reading: variable (its label), chi-square (2 decimals), df, p (3 decimals)."""
    out = ph.reset_index() if "term" not in ph.columns else ph.copy()

    def label(term: str) -> str:
        if term == "GLOBAL":
            return "Global test"
        if term == "arm":
            return "Treatment"
        return spec.variables[term].label if spec is not None and term in spec.variables else term

    return pd.DataFrame({"Variable": out["term"].map(label), "Chi-square": out["chisq"].map(lambda x: f"{x:.2f}"),
                         "df": out["df"].map(lambda x: f"{x:g}"), "P": out["p_value"].map(format_p)})


def ph_cut(data: pd.DataFrame, spec: StudySpec, screen: CoxScreen) -> float:
    """Where the piecewise model splits time: the spec's ``survival.cox.ph_cut``, or else the median event time
    of the endpoint (R ``median(time[event == 1])``)."""
    if spec.survival.cox.ph_cut is not None:
        return float(spec.survival.cox.ph_cut)
    ep = screen.endpoint
    return float(np.median(data.loc[data[ep.event] == 1, ep.time].to_numpy(float)))


def piecewise_fit(data: pd.DataFrame, spec: StudySpec, screen: CoxScreen, cut: float):
    """The multivariable model of ``screen`` with each coefficient split at ``cut``: R ``coxph(Surv(tstart, time,
    event) ~ (terms):strata(tgroup), data = survSplit(..., cut = cut))`` on the model's own dummy columns."""
    design, _, _ = cox_terms(data, spec, list(screen.selected))
    design["time"] = data[screen.endpoint.time].astype(float)
    design["event"] = data[screen.endpoint.event].astype(float)
    terms = [c for c in design.columns if c not in ("time", "event")]
    return coxmod.piecewise_hazard_ratio(design, "time", "event", terms, [cut])


def rejected_ph_terms(screen: CoxScreen, alpha: float = 0.05) -> list[str]:
    """The variables whose cox.zph test rejects proportional hazards (p < ``alpha``) in ``screen``'s model."""
    if screen.ph_test is None:
        return []
    return [v for v, p in screen.ph_test["p_value"].items() if v != "GLOBAL" and p < alpha]


def piecewise_check(data: pd.DataFrame, spec: StudySpec, screen: CoxScreen):
    """``(cut, piecewise fit, rejected variables)`` for a multivariable model whose PH test rejects a term, else
    ``None``."""
    rejected = rejected_ph_terms(screen)
    if screen.fit is None or not rejected:
        return None
    cut = ph_cut(data, spec, screen)
    return cut, piecewise_fit(data, spec, screen, cut), rejected


def ph_rows(screens, piecewise: dict) -> list[dict]:
    """Results rows of the proportional-hazards checks: ``ph.<endpoint>`` (cox.zph chi-square, df and p per
    variable and ``GLOBAL``) and ``piecewise.<endpoint>`` (HR per term and interval, ``level = <level>;t=<start>-<stop>``
    or ``t=<start>-<stop>`` for a number, ``stop = inf`` for the last; ``variable = cut``, ``stat = estimate``: the
    cut time)."""
    rows = []
    for screen in screens:
        ep = screen.endpoint.name
        if screen.ph_test is not None:
            ph = screen.ph_test.reset_index() if "term" not in screen.ph_test.columns else screen.ph_test
            for r in ph.itertuples():
                for stat in ("chisq", "df", "p_value"):
                    rows.append(_row(f"ph.{ep}", r.term, "", "all", stat, getattr(r, stat)))
        found = piecewise.get(ep)
        if found is None:
            continue
        cut, pw, _ = found
        terms = screen.multivariate.set_index("term")
        rows.append(_row(f"piecewise.{ep}", "cut", "", "all", "estimate", cut))
        for r in pw.table.itertuples():
            variable, level = terms.loc[r.term, "variable"], terms.loc[r.term, "level"]
            interval = f"t={r.start:g}-{r.stop:g}"
            level = f"{level};{interval}" if level else interval
            for stat in ("hr", "lower", "upper", "p_value"):
                rows.append(_row(f"piecewise.{ep}", variable, level, "all", stat,
                                 getattr(r, stat) if bool(r.estimable) else math.nan))
            rows.append(_row(f"piecewise.{ep}", variable, level, "all", "events", r.n_events))
    return rows


# ------------------------------------------------------------------------------------------ the chapter
class SurvivalChapter:
    """The survival chapter of one cohort: every analysis computed once, its numbers written to the results
    table in the chapter's order, and its displays (figures and tables) ready to show.

    ``ch`` is the :class:`helpers.analyses.chapter.Chapter` that :func:`~helpers.analyses.chapter.open_chapter`
    made; the parameters are already checked and resolved (``conf_type``, ``entry_p``, ``rmst_tau``,
    ``landmarks``, ``at_risk_times``).
    """

    def __init__(self, ch):
        import warnings as _w

        self.ch = ch
        spec, data, p, cohort = ch.spec, ch.data, ch.params, ch.cohort
        self.spec, self.unit = spec, spec.survival.time_unit
        self.comparisons: dict[str, ArmComparison] = {}
        for name in spec.survival.endpoints:
            with _w.catch_warnings(record=True) as caught:
                _w.simplefilter("always")
                self.comparisons[name] = compare_arms(data, spec, name, p["conf_type"])
            ch.warn(self.comparisons[name].warnings + [str(w.message) for w in caught])
            ch.results.extend(frame(arm_comparison_rows(self.comparisons[name], spec, p["landmarks"])), cohort=cohort)
        self.landmarks = {}
        for name, c in self.comparisons.items():
            if p["landmarks"]:
                rows, self.landmarks[name] = landmark_rows(c, spec, p["landmarks"])
                ch.results.extend(frame(rows), cohort=cohort)
        self.screens = []
        for name in (spec.survival.cox.endpoints if cohort == "primary" else ()):
            screen = cox_screen(data, spec, name, p["entry_p"])
            self.screens.append(screen)
            ch.results.extend(frame(cox_rows(screen)), cohort=cohort)
            ch.warn(screen.warnings)
        if self.screens:
            ch.results.add(cohort=cohort, analysis="stat_methods", variable="multivariable_entry_p", level="",
                           group="all", stat="threshold", value=self.screens[0].entry_p)
        self.imputed = []
        if spec.missing.impute and self.screens:
            from helpers.analyses.imputation import ImputedCox

            from helpers.analyses.imputation import completed_tables

            tables = completed_tables(spec, data, [s.endpoint.name for s in self.screens],
                                      list(spec.survival.cox.candidates))
            for screen in self.screens:
                self.imputed.append(ImputedCox(spec, data, screen.endpoint.name, screen.entry_p, tables))
                ch.results.extend(frame(self.imputed[-1].rows()), cohort=cohort)
        self.followup_rows, self.followup = followup_rows(data, spec)
        ch.results.extend(frame(self.followup_rows), cohort=cohort)
        self.rmst, self.rmst_adjusted = {}, {}
        selected = {s.endpoint.name: s.selected for s in self.screens}
        for name in spec.survival.rmst_endpoints:
            self.rmst[name] = rmst_analysis(data, spec, name, p["rmst_tau"])
            ch.results.extend(frame(rmst_rows(self.rmst[name], spec, name)), cohort=cohort)
        for name in spec.survival.rmst_endpoints:
            self.rmst_adjusted[name] = rmst_regression(data, spec, name, self.rmst[name].tau, selected.get(name, []))
            ch.results.extend(frame(rmst_regression_rows(self.rmst_adjusted[name], name)), cohort=cohort)
        ch.results.extend(frame(model_n_rows(self.screens, self.rmst_adjusted)), cohort=cohort)
        self.piecewise = {s.endpoint.name: piecewise_check(data, spec, s) for s in self.screens}
        ch.results.extend(frame(ph_rows(self.screens, self.piecewise)), cohort=cohort)
        self.matched_hrs = {}
        if cohort == "matched" and ch.matched_sets is not None:
            from helpers.analyses.adjustment import hr_rows, matched_arm_hrs

            for name in spec.survival.cox.endpoints or spec.survival.endpoints:
                self.matched_hrs[name] = matched_arm_hrs(spec, data, ch.matched_sets, name, p.get("n_boot") or 0)
                ch.results.extend(frame(hr_rows(f"matched_cox.{name}", spec.arm.experimental,
                                                self.matched_hrs[name])), cohort=cohort)
        self.evalues, rows = self._evalues()
        ch.results.extend(frame(rows), cohort=cohort)

    def _evalues(self):
        """E-values of the page's treatment HRs: the arm alone per endpoint, the multivariable arm term, and on
        the matched page the robust and stratified fits."""
        from helpers.analyses.adjustment import ArmHR, evalue_rows, event_share

        spec, hrs = self.spec, []
        for name, c in self.comparisons.items():
            r = c.arm_hr
            hrs.append((name, "arm alone", ArmHR("arm alone", r["hr"], r["lower"], r["upper"], r["p_value"],
                                                 sum(c.n.values()), sum(c.events.values()), key="univariable")))
        for s in self.screens:
            if s.multivariate is not None and "arm" in set(s.multivariate["variable"]):
                r = s.multivariate[s.multivariate["variable"] == "arm"].iloc[0]
                if _estimable(r):
                    hrs.append((s.endpoint.name, "multivariable", ArmHR("multivariable", r["hr"], r["lower"],
                                                                        r["upper"], r["p_value"], s.multi_n or 0,
                                                                        s.multi_events or 0, key="multivariable")))
        for name, fits in self.matched_hrs.items():
            hrs += [(name, f"matched, {h.method}", h) for h in fits if h.key in ("robust", "stratified")]
        shares = {name: event_share(self.ch.data, spec, name) for name in spec.survival.endpoints}
        table, rows = evalue_rows(hrs, shares)
        if len(table):
            table["Endpoint"] = [spec.survival.endpoints[e].short for e in table["Endpoint"]]
        return table, rows

    # ------------------------------------------------------------------------------------------ displays
    def km_figures(self) -> list:
        """Kaplan-Meier curves with CI bands, censor marks and numbers at risk: one figure with a panel per
        endpoint, or one figure per endpoint where the paper has that (catalogue)."""
        from helpers.analyses.catalogue import km_keys
        from helpers.report import figures
        from helpers.report.display import Figure

        spec, cohort = self.spec, self.ch.cohort
        ref, exp = spec.arm.reference, spec.arm.experimental
        out = []
        for key in km_keys(spec, cohort):
            names = [key.split(".")[-1]] if key.count(".") == 2 else list(self.comparisons)
            cs = [self.comparisons[n] for n in names]
            panels = [dict(title=c.endpoint.label, kms=c.kms, ylabel=f"{c.endpoint.short} probability",
                           annotation=panel_annotation(c, spec)) for c in cs]
            layout = self.ch.params["km_layout"]
            fig = figures.km_figure(panels, spec, self.ch.params["at_risk_times"], self.unit, layout=layout)
            what = cs[0].endpoint.label if len(cs) == 1 else ", ".join(c.endpoint.short for c in cs)
            marks, counts = (("", "Under the curves, per arm (the KMunicate layout of Morris et al. 2019): the "
                                  "patients at risk at each time (time ≥ t), and the cumulative numbers censored and "
                                  "with an event (time ≤ t).") if layout == "kmunicate" else
                             ("; + marks censored patients", "Numbers at risk count patients still followed at each "
                                                             "time (time ≥ t)."))
            out.append(Figure(
                key, fig,
                f"{what}: Kaplan-Meier estimates by arm ({_cohort_words(cohort)}) with pointwise 95% confidence bands "
                f"({self.ch.params['conf_type']} type){marks}. Hazard ratio "
                f"({spec.arm.labels[exp]} vs {spec.arm.labels[ref]}) from a Cox model with the arm alone (Wald 95% "
                f"CI); p from the log-rank test. {counts} Time in {self.unit}.",
                alt=f"Kaplan-Meier curves by arm for {', '.join(c.endpoint.label for c in cs)} with numbers at "
                    + ("risk, censored and with an event" if layout == "kmunicate" else "risk") + "; medians: " + "; ".join(f"{c.endpoint.short} {median_text(c.kms[ref].median())} vs "
                                                  f"{median_text(c.kms[exp].median())}" for c in cs) + "."))
        return out

    def median_table(self):
        from helpers.report.display import Table

        return Table(f"medians.{self.ch.cohort}", median_table(self.comparisons, self.spec),
                     "Median survival by arm.", index=False,
                     notes=f"Median (95% CI) in {self.unit}; NR = not reached. n: patients analysed; HR from a Cox "
                           "model with the arm alone (Efron ties, Wald CI); log-rank P.")

    def landmark_table(self):
        from helpers.report.display import Table

        if not self.landmarks:
            return None
        shown = pd.concat([landmark_table(self.comparisons[n], lms, self.spec) for n, lms in self.landmarks.items()])
        return Table(f"landmarks.{self.ch.cohort}", shown, "Survival probability at fixed times.", index=False,
                     notes="Kaplan-Meier estimate with its 95% CI. P: two-sided z-test of the difference in "
                           "survival at that time, with Greenwood variances (the 'naive' test of Klein et al. 2007).")

    def cox_tables(self) -> list:
        """The paper's univariable screen and multivariable model: one table for every endpoint, or one per
        endpoint (catalogue)."""
        from helpers.analyses.catalogue import cox_keys
        from helpers.report.display import Table

        if not self.screens:
            return []
        by_name = {s.endpoint.name: s for s in self.screens}
        out = []
        for key in cox_keys(self.spec):
            screens = [by_name[key.split(".")[1]]] if "." in key else self.screens
            what = " and ".join(s.endpoint.label.lower() for s in screens)
            out.append(Table(key, cox_display(screens, self.spec),
                             f"Univariable and multivariable Cox regression for {what}.",
                             notes=f"Hazard ratio (95% CI), Wald test, Efron ties. Variables with a univariable p < "
                                   f"{screens[0].entry_p:g} (any of their terms) enter the multivariable model. "
                                   + " ".join(model_n_text(s, self.spec) for s in screens)))
        return out

    def imputed_tables(self) -> list:
        """The Cox screen and multivariable model pooled over the imputed data sets (``missing: mice``)."""
        from helpers.analyses.imputation import pooled_note
        from helpers.report.display import Table

        return [Table(f"cox_mi.{m.endpoint}", m.display(), f"Univariable and multivariable Cox regression for "
                      f"{self.spec.survival.endpoints[m.endpoint].label.lower()} after multiple imputation.",
                      notes=pooled_note(self.imputed, self.spec)) for m in self.imputed]

    def missing_text(self) -> str:
        """How the models handled missing values (complete cases, R's default, or imputation)."""
        counts = {v: int(self.ch.data[v].isna().sum()) for v in self.spec.survival.cox.candidates
                  if self.ch.data[v].isna().any()}
        if not counts:
            return ""
        listed = ", ".join(f"{self.spec.variables[v].label} ({n})" for v, n in counts.items())
        if self.spec.missing.impute:
            return (f"Missing values in {listed}: the models above use complete cases (R's default); the table below "
                    "repeats them after multiple imputation (the spec's `missing: mice`).")
        return (f"Missing values in {listed}: every model uses the patients with all its variables (complete cases, "
                "R's default); the n of each model is in its notes. Declare `missing: {method: mice}` in the spec "
                "for multiple imputation.")

    def ph_tables(self) -> list:
        from helpers.report.display import Table

        return [Table(f"ph.{s.endpoint.name}", ph_display(s.ph_test, self.spec), index=False,
                      caption=f"Proportional-hazards check of the multivariable {s.endpoint.short} model (R cox.zph, "
                              "survival 3.x: a score test for adding x·g(t) to each term, g = the Kaplan-Meier "
                              "transform of time).",
                      notes="A small p suggests the hazard ratio of that term changes over time; then the RMST "
                            "analysis below is the more robust summary.")
                for s in self.screens if s.ph_test is not None]

    def ph_figures(self) -> list:
        """For every multivariable model: the scaled Schoenfeld residuals of each term against time with the
        smooth and its ±2 SE band, as R ``plot(cox.zph(fit))`` draws them (km transform)."""
        import matplotlib.pyplot as plt

        from helpers.report.display import Figure

        out = []
        for s in self.screens:
            if s.fit is None or s.ph_test is None:
                continue
            zph = coxmod.scaled_schoenfeld(s.fit, transform="km")
            smooth = coxmod.zph_smooth(zph)
            terms = list(zph.y.columns)
            labels = {t: _term_label(self.spec, s, t) for t in terms}
            ncols = min(3, len(terms))
            nrows = -(-len(terms) // ncols)
            # every term's residuals sit at the same event times: one shared time axis, labelled under the lowest
            # panel of each column (far fewer texts to lay out and draw, and room for smaller panels)
            fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.2 * nrows + 0.3), squeeze=False,
                                     sharex=True)
            pvals = s.ph_test["p_value"]
            grid = smooth[smooth["term"] == terms[0]]  # the smooth's time grid, the same for every term
            ticks = np.quantile(grid["x"], [0, 0.25, 0.5, 0.75, 1])
            for k, (ax, term) in enumerate(zip(axes.flat, terms)):
                sm = smooth[smooth["term"] == term]
                ax.scatter(zph.x, zph.y[term], s=9, color="#777777", alpha=0.6, lw=0)
                ax.plot(sm["x"], sm["beta"], color="#0072B2", lw=1.6)
                ax.plot(sm["x"], sm["lower"], color="#0072B2", lw=0.9, ls="--")
                ax.plot(sm["x"], sm["upper"], color="#0072B2", lw=0.9, ls="--")
                ax.axhline(float(s.fit.coef[term]), color="#D55E00", lw=0.8, ls=":")
                ax.tick_params(labelsize=8)
                if k % ncols == 0:
                    ax.set_ylabel("Beta(t)", fontsize=8.5)
                if k + ncols >= len(terms):  # the lowest panel of its column
                    ax.xaxis.set_tick_params(labelbottom=True)
                    ax.set_xlabel(f"Time ({self.unit}, Kaplan-Meier scale)", fontsize=8.5)
                variable = s.multivariate.set_index("term")["variable"].get(term, term)
                p = pvals.get(variable, np.nan)
                # wrapped to the panel's width: a long term label ran into the next panel's title
                title = textwrap.fill(labels[term], 34)
                ax.set_title(f"{title}\ncox.zph {p_text(p)}", fontsize=9, loc="left")
            ax = axes.flat[0]
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:.1f}" for t in np.interp(ticks, grid["x"], grid["time"])])
            for ax in list(axes.flat)[len(terms):]:
                ax.axis("off")
            fig.tight_layout()
            out.append(Figure(f"zph.{s.endpoint.name}", fig, f"Proportional-hazards diagnostics of the multivariable "
                              f"{s.endpoint.short} model: scaled Schoenfeld residuals (points), an estimate of each "
                              "term's coefficient at each event time, with a natural-spline smooth (4 df) and its "
                              "±2 SE band, as R plot(cox.zph(fit)) draws them; the dotted line is the model's "
                              "coefficient. A flat smooth is what proportional hazards predict. P: the cox.zph score "
                              "test of the term.",
                              alt=f"Scaled Schoenfeld residual plots for {len(terms)} terms of the multivariable "
                                  f"{s.endpoint.short} model; cox.zph global {p_text(pvals.get('GLOBAL'))}."))
        return out

    def piecewise_table(self):
        """Where a term's proportional-hazards test rejects (p < 0.05): its HR before and after a cut."""
        from helpers.report.display import Table

        rows = []
        for s in self.screens:
            found = self.piecewise.get(s.endpoint.name)
            if found is None:
                continue
            _, pw, rejected = found
            for r in pw.table.itertuples():
                variable = s.multivariate.set_index("term")["variable"].get(r.term, r.term)
                if variable not in rejected:
                    continue
                rows.append({"Endpoint": s.endpoint.short, "Term": _term_label(self.spec, s, r.term),
                             "Interval": f"{r.start:g}–{r.stop:g} {self.unit}" if np.isfinite(r.stop)
                             else f"after {r.start:g} {self.unit}",
                             "HR (95% CI)": format_hr(r.hr, r.lower, r.upper, estimable=bool(r.estimable)),
                             "P": format_p(r.p_value), "Events": int(r.n_events)})
        if not rows:
            return None
        return Table("piecewise", pd.DataFrame(rows), "Terms whose proportional-hazards test rejects: the hazard "
                     "ratio before and after a cut time.", index=False,
                     notes="The multivariable model with each coefficient split at the cut (R coxph on survSplit "
                           "data, x:strata(tgroup)); the cut is the spec's survival.cox.ph_cut, or else the median "
                           "event time of the endpoint.")

    def ph_cut(self, s) -> float:
        return ph_cut(self.ch.data, self.spec, s)

    def ph_note(self) -> str:
        """A sentence per multivariable model on what its proportional-hazards check says."""
        lines = []
        for s in self.screens:
            if s.ph_test is None:
                continue
            rejected = rejected_ph_terms(s)
            glob = s.ph_test["p_value"].get("GLOBAL")
            if rejected:
                names = ", ".join(self.spec.variables[v].label if v in self.spec.variables else "treatment"
                                  for v in rejected)
                lines.append(f"- **{s.endpoint.short}**: the proportional-hazards test rejects for {names} (p < "
                             f"0.05): its hazard ratio changes over time; the table below splits it at "
                             f"{self.ph_cut(s):g} {self.unit}, and the RMST analysis is the assumption-free summary.")
            else:
                lines.append(f"- **{s.endpoint.short}**: no term rejects proportional hazards (global p = "
                             f"{format_p(glob)}).")
        return "\n".join(lines)

    def followup_table(self):
        from helpers.report.display import Table

        return Table(f"followup.{self.ch.cohort}", self.followup, "Median follow-up by the reverse Kaplan-Meier "
                     "method.", notes="Reverse Kaplan-Meier: censoring is the event and deaths censor follow-up; at "
                     "tied times events come before censorings (prodlim's convention). Between-arm p (log-rank on "
                     "the reversed data): " + p_text(followup_p(self.followup_rows)) + "."
                     + followup_note(self.ch.data, self.spec))

    def rmst_tables(self) -> list:
        from helpers.report.display import Table
        from helpers.report.format import tau_name

        if not self.rmst:
            return []
        tau = self.ch.params["rmst_tau"]
        first = Table(f"rmst.{self.ch.cohort}", pd.concat([rmst_table(r, self.spec, n) for n, r in self.rmst.items()]),
                      "Restricted mean survival time up to τ.", index=False,
                      notes="RMST = area under the Kaplan-Meier curve up to τ; standard errors by the Greenwood "
                            "plug-in formula of survRM2; difference = experimental minus reference with a normal 95% "
                            f"CI and two-sided p. τ: {tau_name(tau)}.")
        second = Table(f"rmst_regression.{self.ch.cohort}",
                       pd.concat([rmst_regression_display(t, self.spec, n, self.rmst[n].tau)
                                  for n, t in self.rmst_adjusted.items()]),
                       "RMST regression: differences in restricted mean time, adjusted.", index=False,
                       notes="Pseudo-values (infinitesimal jackknife, as R survival::pseudo) regressed on the arm and "
                             "the variables selected for the multivariable Cox model of the same endpoint (arm only "
                             "where there is none); least squares with HC0 robust standard errors. Estimates in "
                             f"{self.unit}. " + " ".join(rmst_n_text(t, n, self.spec)
                                                         for n, t in self.rmst_adjusted.items()))
        return [first, second]

    def matched_variance_table(self):
        """The matched cohort's treatment HR as the paper computed it, and as MatchIt's guidance does."""
        from helpers.report.display import Table

        if not self.matched_hrs:
            return None
        rows = []
        for name, fits in self.matched_hrs.items():
            for h in fits:
                rows.append({"Endpoint": self.spec.survival.endpoints[name].short, "Analysis": h.method,
                             "HR (95% CI)": h.text(), "P": format_p(h.p_value) if h.p_value == h.p_value else "",
                             "n": h.n, "Events": h.events, "What it is": h.note})
        boot = "" if self.ch.params.get("n_boot") else (" The bootstrap row is off in the default book (parameter "
                                                         "n_boot, e.g. 2000).")
        return Table(f"matched_variance.{self.ch.cohort}", pd.DataFrame(rows),
                     "The matched cohort's treatment hazard ratio: the paper's analysis and the variance after "
                     "matching.", index=False, wrap=True,
                     notes="Naive: the paper's Cox model on the matched rows (R coxph, Efron ties), which treats "
                           "the matched patients as independent. Cluster-robust: R coxph(..., cluster = subclass), "
                           "MatchIt's recommended analysis. Stratified: coxph(... + strata(subclass)), a baseline "
                           "hazard per matched set." + boot)

    def evalue_table(self):
        from helpers.analyses.adjustment import EVALUE_NOTE
        from helpers.report.display import Table

        if not len(self.evalues):
            return None
        return Table(f"evalues.{self.ch.cohort}", self.evalues, "Sensitivity to unmeasured confounding: E-values "
                     "of the treatment hazard ratios.", index=False, wrap=True, notes=EVALUE_NOTE)

    def glue(self) -> None:
        """The numbers of the chapter's summary sentence."""
        first = next(iter(self.comparisons.values()))
        spec = self.spec
        self.ch.glue(n_patients=int(len(self.ch.data)), first_endpoint=first.endpoint.label.lower(),
                     first_median_ref=median_text(first.kms[spec.arm.reference].median()),
                     first_median_exp=median_text(first.kms[spec.arm.experimental].median()),
                     first_hr=hr_text(first.arm_hr), first_logrank=p_text(first.logrank.p_value),
                     ref_label=spec.arm.labels[spec.arm.reference], exp_label=spec.arm.labels[spec.arm.experimental],
                     time_unit=self.unit)

    def times_text(self) -> str:
        """How the times of endpoints declared from dates were derived (empty when every endpoint has durations)."""
        return derived_times_text(self.spec)

    def no_cox_text(self) -> str:
        if self.screens:
            return ""
        if self.ch.cohort != "primary":
            return ("In this cohort the chapter reports the arm's hazard ratio only (above); the paper's univariable "
                    "screen and multivariable models were fitted in the primary cohort.")
        return "The study specification declares no Cox screen; add `survival.cox.endpoints` to get one."


def _term_label(spec: StudySpec, screen: CoxScreen, term: str) -> str:
    """'Child-Pugh grade: B vs A' for a term of a multivariable model."""
    table = screen.multivariate.set_index("term") if screen.multivariate is not None else pd.DataFrame()
    if term not in table.index:
        return term
    return term_label(spec, table.loc[term, "variable"], table.loc[term, "level"])


def derived_times_text(spec: StudySpec) -> str:
    """The sentence that says how each endpoint declared from dates got its times (the loader's rules,
    :mod:`helpers.study.dates`), with the unit's convention and the data cut-off; empty without such endpoints."""
    from helpers.study.dates import DAYS_PER_UNIT, format_pattern

    surv = spec.survival
    eps = [ep for ep in surv.endpoints.values() if ep.from_dates]
    if not eps:
        return ""

    def code(name: str) -> str:
        return f"`{name}`"

    parts = []
    for ep in eps:
        events = code(ep.events[0]) if len(ep.events) == 1 else \
            "the first of " + ", ".join(code(e) for e in ep.events[:-1]) + f" and {code(ep.events[-1])}"
        parts.append(f"{ep.short} from {code(ep.start)} to {events}, or to {code(ep.last_seen)} (censored) when "
                     "there is none")
    unit = surv.time_unit
    per = DAYS_PER_UNIT[unit]
    convention = "" if unit == "days" else f" Times in {unit} are days / {per:g}."
    text = (f"Times are derived from the table's dates (written {format_pattern(spec.table_format.date_format)}): "
            + "; ".join(parts) + "." + convention)
    followup = surv.followup_endpoint or next(iter(surv.endpoints))
    if surv.endpoints[followup].from_dates:
        text += f" The median follow-up below uses the same dates ({surv.endpoints[followup].short})."
    if spec.cutoff_date is not None:
        text += (f" Data cut-off {spec.cutoff_date.isoformat()}: an event after it is not counted and follow-up "
                 "ends at it.")
    return text


def _cohort_words(cohort: str) -> str:
    return {"primary": "all patients", "matched": "propensity-matched cohort"}.get(cohort, f"{cohort} cohort")


def model_n_text(screen: CoxScreen, spec: StudySpec) -> str:
    """'PFS: univariable models n = 101 (each variable's complete cases); multivariable n = 97, 61 events (4
    patients left out for missing values).'"""
    uni = screen.univariate_n
    span = f"n = {min(uni.values())}" if len(set(uni.values())) <= 1 else \
        f"n = {min(uni.values())}–{max(uni.values())}"
    text = f"{screen.endpoint.short}: univariable models {span} (each variable's complete cases)"
    if screen.multi_n is not None:
        left = (f", {screen.multi_dropped} patient{'s' if screen.multi_dropped != 1 else ''} left out for missing "
                "values" if screen.multi_dropped else ", no patient left out")
        text += f"; multivariable model n = {screen.multi_n}, {screen.multi_events} events{left}"
    return text + "."


def rmst_n_text(table: pd.DataFrame, name: str, spec: StudySpec) -> str:
    n, dropped = int(table.attrs.get("n", 0)), int(table.attrs.get("n_dropped", 0))
    ep = spec.survival.endpoints[name].short
    return f"{ep}: n = {n}" + (f" ({dropped} left out for missing covariates)." if dropped else ".")


def model_n_rows(screens, rmst_adjusted: dict) -> list[dict]:
    """The analysis n of every model: univariable (per variable) and multivariable Cox, RMST regression, with
    the patients left out for missing values (R's complete-case default)."""
    rows = []
    for s in screens:
        ep = s.endpoint.name
        for variable, n in s.univariate_n.items():
            rows.append(_row(f"cox_univariate.{ep}", variable, "", "all", "n", n))
        if s.multi_n is not None:
            rows += [_row(f"cox_multivariate.{ep}", "model", "", "all", "n", s.multi_n),
                     _row(f"cox_multivariate.{ep}", "model", "", "all", "events", s.multi_events),
                     _row(f"cox_multivariate.{ep}", "model", "", "all", "n_excluded", s.multi_dropped)]
    for name, table in rmst_adjusted.items():
        rows += [_row(f"rmst_regression.{name}", "model", "", "all", "n", table.attrs.get("n", math.nan)),
                 _row(f"rmst_regression.{name}", "model", "", "all", "n_excluded", table.attrs.get("n_dropped", 0))]
    return rows
