"""The survival chapter's analyses, driven by a study spec: one function per analysis, each returning what the
notebook displays plus the rows it writes to the analysis-results table (keys as in ``book/results_table.md``).

The statistics themselves live in :mod:`helpers.stats.survival` (Kaplan-Meier, log-rank, follow-up, landmark),
:mod:`helpers.stats.cox` (Cox models, proportional-hazards test) and :mod:`helpers.stats.rmst` (RMST, pseudo-values); this
module only maps a study's columns and conventions onto them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.stats import cox as coxmod
from helpers.stats import rmst as rmstmod
from helpers.stats import survival as surv
from helpers.study.patients import CUT_SUFFIX
from helpers.study.spec import Endpoint, StudySpec
from helpers.report.format import estimable as _estimable
from helpers.report.format import format_hr, format_median, format_p, hr_text, median_text, p_text
from helpers.report.format import format_number as _fmt


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


def _arm_codes(data: pd.DataFrame, spec: StudySpec) -> np.ndarray:
    """Each patient's arm as its position in ``spec.arm.codes`` (-1: none of them), as comparing
    ``data[arm].astype(str)`` with each code would give. The loaded arm column is a Categorical: mapping its
    few categories avoids converting and comparing a million strings."""
    col = data[spec.arm.column]
    codes = list(spec.arm.codes)
    if isinstance(col.dtype, pd.CategoricalDtype):
        position = {c: k for k, c in enumerate(codes)}
        lookup = np.array([position.get(str(c), -1) for c in col.cat.categories] + [-1], dtype=np.int64)
        return lookup[col.cat.codes.to_numpy()]  # the code -1 (missing) takes the last entry, -1
    arm = col.astype(str).to_numpy()
    out = np.full(len(arm), -1, dtype=np.int64)
    for k, code in enumerate(codes):
        out[arm == code] = k
    return out


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
def cox_terms(data: pd.DataFrame, spec: StudySpec, variables) -> tuple[pd.DataFrame, dict[str, list[str]],
                                                                         dict[str, tuple[str, str]]]:
    """Dummy-code ``variables`` for a Cox model, as R's treatment contrasts do.

    A variable with cut-points enters through its categories (Table 2 style: age >= 60 vs < 60); the
    reference level is ``survival.cox.reference_levels[variable]`` or else the first level. Returns the
    design (one 0/1 column per non-reference level), variable -> its term columns, term -> (variable, level).
    """
    refs = spec.survival.cox.reference_levels if spec.survival else {}
    design = pd.DataFrame(index=data.index)
    terms: dict[str, list[str]] = {}
    term_map: dict[str, tuple[str, str]] = {}
    for name in variables:
        if name == "arm":
            col = f"arm:{spec.arm.experimental}"
            experimental = list(spec.arm.codes).index(spec.arm.experimental)
            design[col] = (_arm_codes(data, spec) == experimental).astype(float)
            terms["arm"] = [col]
            term_map[col] = ("arm", spec.arm.experimental)
            continue
        var = spec.variables[name]
        if var.type == "continuous" and var.cut is None:
            design[name] = data[name].astype(float)
            terms[name] = [name]
            term_map[name] = (name, "")
            continue
        column = name if var.type == "categorical" else name + CUT_SUFFIX
        levels = list(var.category_labels)
        reference = refs.get(name, levels[0])
        values = data[column]  # a categorical compares its codes with a level: no per-cell object comparison
        missing = values.isna()
        terms[name] = []
        for level in levels:
            if level == reference:
                continue
            col = f"{name}:{level}"
            # a missing value stays missing in every dummy (the model drops the row, as R does)
            design[col] = (values == level).astype(float).where(~missing)
            terms[name].append(col)
            term_map[col] = (name, level)
    return design, terms, term_map


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
    return CoxScreen(ep, uni, multi, list(screen.selected), ph, entry_p, warnings)


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


def ph_display(ph: pd.DataFrame) -> pd.DataFrame:
    """cox.zph table for reading: term, chi-square (2 decimals), df, p (3 decimals)."""
    out = ph.reset_index() if "term" not in ph.columns else ph.copy()
    return pd.DataFrame({"Term": out["term"], "Chi-square": out["chisq"].map(lambda x: f"{x:.2f}"),
                         "df": out["df"].map(lambda x: f"{x:g}"), "P": out["p_value"].map(format_p)})
