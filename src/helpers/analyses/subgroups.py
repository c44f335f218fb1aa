"""Subgroup analysis: the treatment hazard ratio within each level of baseline variables, and the
treatment-by-subgroup interaction test, as in seed 000's Figure 4.

For each level of each variable, a Cox model with the arm alone is fitted to the patients of that level
(Efron ties, Wald 95% CI and p, as R ``coxph``). The interaction p-value is a likelihood-ratio test of
``arm + variable + arm:variable`` against ``arm + variable`` in all patients (R:
``anova(coxph(Surv ~ arm * v), coxph(Surv ~ arm + v))``), with degrees of freedom = levels - 1.
A level where the hazard ratio cannot be estimated (an arm with no patients or no events) is reported with
its counts and "NE", never as a number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from helpers.stats import cox as coxmod
from helpers.analyses.survival import endpoint
from helpers.analyses.terms import cox_terms
from helpers.report.format import format_hr, format_p
from helpers.study.patients import CUT_SUFFIX, level_codes
from helpers.study.spec import StudySpec


@dataclass
class SubgroupResult:
    endpoint: str
    table: pd.DataFrame  # one row per (variable, level)

    def rows(self) -> list[dict]:
        """Results-table rows: ``subgroup.<endpoint>`` with hr/lower/upper/p_value per level, n and events per arm
        (``group`` = arm code), and the interaction p (``level`` empty, ``stat = p_interaction``)."""
        out = []
        a = f"subgroup.{self.endpoint}"
        for r in self.table.itertuples():
            for stat in ("hr", "lower", "upper", "p_value"):
                v = getattr(r, stat) if r.estimable else math.nan
                out.append(dict(analysis=a, variable=r.variable, level=r.level, group="all", stat=stat, value=v))
            out.append(dict(analysis=a, variable=r.variable, level=r.level, group=r.ref, stat="n", value=r.n_ref))
            out.append(dict(analysis=a, variable=r.variable, level=r.level, group=r.exp, stat="n", value=r.n_exp))
            out.append(dict(analysis=a, variable=r.variable, level=r.level, group=r.ref, stat="events",
                            value=r.events_ref))
            out.append(dict(analysis=a, variable=r.variable, level=r.level, group=r.exp, stat="events",
                            value=r.events_exp))
        for variable, p in self.table.groupby("variable", sort=False)["p_interaction"].first().items():
            out.append(dict(analysis=a, variable=variable, level="", group="all", stat="p_interaction", value=p))
        return [{**r, "value": float(r["value"]) if r["value"] is not None else math.nan} for r in out]


def subgroup_analysis(data: pd.DataFrame, spec: StudySpec, name: str, variables) -> SubgroupResult:
    """Treatment HR (experimental vs reference arm) per level of each variable, with the interaction test."""
    ep = endpoint(spec, name)
    ref, exp = spec.arm.codes
    for variable in variables:
        var = spec.variables[variable]
        if var.type == "continuous" and var.cut is None:
            raise ValueError(f"subgroup variable '{variable}' is continuous without cut-points; add a 'cut' to it")
    # numpy arrays once, not per level: at registry size the per-level object comparisons and whole-frame
    # subsets cost more than the Cox fits on the levels. Rows sorted by time once for all the models
    # (a subset of sorted rows is sorted, so the per-level fits do not sort again either).
    order = coxmod.sort_for_cox(data[ep.time])
    arm = level_codes(data[spec.arm.column], [ref, exp])[order]
    shared = dict(is_ref=arm == 0, is_exp=arm == 1, time=data[ep.time].to_numpy(float)[order],
                  event=data[ep.event].to_numpy(float)[order], ref=ref, exp=exp)
    rows: list[dict] = []
    for variable in variables:
        var = spec.variables[variable]
        column = variable if var.type == "categorical" else variable + CUT_SUFFIX
        codes = level_codes(data[column], list(var.category_labels))[order]
        rows += _variable_rows(var, variable, codes, *interaction_design(data, spec, ep, variable, order), shared)
    return SubgroupResult(name, pd.DataFrame(rows))


def _variable_rows(var, variable: str, codes: np.ndarray, design: pd.DataFrame, main: list[str],
                   inter: list[str], shared: dict) -> list[dict]:
    """The rows of one variable: the interaction p, then the arm HR within each level."""
    ref, exp, is_ref, is_exp, event = (shared[k] for k in ("ref", "exp", "is_ref", "is_exp", "event"))
    p_int = _interaction_lr_p(design, main, inter)
    rows = []
    for code, level in enumerate(var.category_labels):
        in_level = codes == code
        arm_of = {ref: in_level & is_ref, exp: in_level & is_exp}
        n = {a: int(arm_of[a].sum()) for a in (ref, exp)}
        events = {a: int(event[arm_of[a]].sum()) for a in (ref, exp)}
        hr = lower = upper = p = math.nan
        estimable, reason = False, ""
        if min(n.values()) == 0:
            reason = "an arm has no patients"
        elif sum(events.values()) == 0 or min(events.values()) == 0:
            reason = "an arm has no events"
        else:
            keep = arm_of[ref] | arm_of[exp]
            level_design = pd.DataFrame({"time": shared["time"][keep], "event": event[keep],
                                         "arm": is_exp[keep].astype(float)})
            fit = coxmod.cox_fit(level_design, "time", "event", ["arm"], compute_concordance=False,
                                 keep_data=False)
            t = fit.table.iloc[0]
            estimable = bool(t.get("estimable", True))
            hr, lower, upper, p = (float(t["hr"]), float(t["lower"]), float(t["upper"]), float(t["p_value"]))
            if not estimable:
                reason = "the estimate diverges"
        rows.append(dict(variable=variable, level=level, label=var.category_labels.get(level, level),
                         variable_label=var.display_label, ref=ref, exp=exp, n_ref=n[ref], n_exp=n[exp],
                         events_ref=events[ref], events_exp=events[exp], hr=hr, lower=lower, upper=upper,
                         p_value=p, estimable=estimable, reason=reason, p_interaction=p_int))
    return rows


def interaction_p(data: pd.DataFrame, spec: StudySpec, ep, variable: str, order=None) -> float:
    """Likelihood-ratio p of the arm-by-variable interaction (NaN if a model cannot be fitted).

    ``order``: :func:`cox.sort_for_cox` of the endpoint's times, when the caller already has it."""
    return _interaction_lr_p(*interaction_design(data, spec, ep, variable, order))


def interaction_design(data: pd.DataFrame, spec: StudySpec, ep, variable: str, order=None):
    """(design, main-effect columns, interaction columns) of ``arm * variable``, rows in time order."""
    design, terms, _ = cox_terms(data, spec, ["arm", variable])
    arm_col = terms["arm"][0]
    main = [arm_col, *terms[variable]]
    inter = [f"{arm_col}*{col}" for col in terms[variable]]
    order = coxmod.sort_for_cox(data[ep.time]) if order is None else order
    # one float block in time order (no per-column frame operations on registry-sized data); a missing
    # level stays missing in its interaction columns
    x = design[main].to_numpy(float)[order]
    time = data[ep.time].to_numpy(float)[order]
    event = data[ep.event].to_numpy(float)[order]
    design = pd.DataFrame(np.column_stack([time, event, x, x[:, :1] * x[:, 1:]]),
                          columns=["time", "event", *main, *inter])
    return design, main, inter


def _interaction_lr_p(design: pd.DataFrame, main: list[str], inter: list[str]) -> float:
    """R ``anova(coxph(Surv ~ arm * v), coxph(Surv ~ arm + v))``: LR chi-square on the non-aliased df."""
    try:
        reduced = coxmod.cox_fit(design, "time", "event", main, compute_concordance=False, keep_data=False)
        full = coxmod.cox_fit(design, "time", "event", main + inter, compute_concordance=False, keep_data=False)
    except (ValueError, np.linalg.LinAlgError):
        return math.nan
    # R drops aliased (NA) coefficients from the degrees of freedom; so do we
    df = int(full.table["coef"].notna().sum() - reduced.table["coef"].notna().sum())
    if df <= 0:
        return math.nan
    lr = 2.0 * (full.loglik - reduced.loglik)
    return float(stats.chi2.sf(max(lr, 0.0), df))


def subgroup_display(result: SubgroupResult, spec: StudySpec) -> pd.DataFrame:
    """The table beside the forest plot: events/n per arm, HR (95% CI), p and the interaction p."""
    ref, exp = spec.arm.codes
    out = []
    for r in result.table.itertuples():
        out.append({"Subgroup": f"{r.variable_label}: {r.label}",
                    f"{spec.arm.labels[ref]} events/n": f"{r.events_ref}/{r.n_ref}",
                    f"{spec.arm.labels[exp]} events/n": f"{r.events_exp}/{r.n_exp}",
                    "HR (95% CI)": format_hr(r.hr, r.lower, r.upper, estimable=r.estimable),
                    "P": format_p(r.p_value) if r.estimable else "NE",
                    "P interaction": format_p(r.p_interaction)})
    return pd.DataFrame(out)


def significant_subgroups_text(result: SubgroupResult, spec: StudySpec, alpha: float = 0.05) -> str:
    """A sentence naming the subgroups whose treatment HR has p < alpha (for comparison with the paper)."""
    sig = result.table[(result.table["estimable"]) & (result.table["p_value"] < alpha)]
    ep = endpoint(spec, result.endpoint)
    if sig.empty:
        return f"For {ep.short}, no subgroup reaches p < {alpha:g}."
    names = [f"{r.variable_label} {r.label} (HR {format_hr(r.hr, r.lower, r.upper)})" for r in sig.itertuples()]
    return f"For {ep.short}, the treatment effect reaches p < {alpha:g} in: " + "; ".join(names) + "."


# ------------------------------------------------------------------------------------------ the chapter
class SubgroupsChapter:
    """Forest plots of the treatment hazard ratio within the levels of baseline variables, per endpoint."""

    def __init__(self, ch):
        self.ch, self.spec, p = ch, ch.spec, ch.params
        if self.spec.subgroups is None and not (p["endpoints"] and p["variables"]):
            from helpers.analyses.parameters import ChapterError

            raise ChapterError(f"study '{self.spec.study_id}' declares no subgroups; pass the parameters endpoints "
                               "and variables")
        self.endpoints = list(p["endpoints"] or self.spec.subgroups.endpoints)
        self.variables = list(p["variables"] or self.spec.subgroups.variables)
        self.alpha = p["alpha"]
        self.analyses = {name: subgroup_analysis(ch.data, self.spec, name, self.variables) for name in self.endpoints}
        for res in self.analyses.values():
            ch.results.extend(pd.DataFrame(res.rows()), cohort="primary")

    def glue(self) -> None:
        s = self.spec
        self.ch.glue(exp_label=s.arm.labels[s.arm.experimental], ref_label=s.arm.labels[s.arm.reference])

    def forest_plots(self) -> list:
        """One forest plot per endpoint, each followed (``.extra["text"]``) by the sentence naming the
        significant subgroups."""
        from helpers.report import figures
        from helpers.report.display import Figure

        s, out = self.spec, []
        for i, (name, res) in enumerate(self.analyses.items()):
            letter = chr(ord("A") + i)
            label = s.survival.endpoints[name].label
            out.append(Figure(
                f"forest.{name}", figures.forest_plot(res.table, s, title=f"{letter}  {label}"),
                f"({letter}) Hazard ratio ({s.arm.labels[s.arm.experimental]} vs {s.arm.labels[s.arm.reference]}) for "
                f"{label.lower()} by subgroup, with 95% CI (arrows: the interval runs off the axis); events/n per "
                "arm; P for the subgroup's hazard ratio (bold below 0.05) and for the interaction (P int.).",
                alt=f"Forest plot of the treatment hazard ratio for {label.lower()} in {len(res.table)} subgroup "
                    "levels, log scale, with 95% confidence intervals.",
                extra={"text": significant_subgroups_text(res, s, self.alpha)}))
        return out

    def show_forest_plots(self) -> None:
        for fig in self.forest_plots():
            self.ch.show(fig)
            self.ch.note(fig.extra["text"])

    def tables(self) -> list:
        from helpers.report.display import Table

        return [Table(f"subgroups.{name}", subgroup_display(res, self.spec), index=False,
                      caption=f"Subgroup analysis of {self.spec.survival.endpoints[name].label.lower()}.",
                      notes="NE: not estimable (an arm of the subgroup has no patients or no events, or the estimate "
                            "diverges). P interaction: likelihood-ratio test; NA when the interaction cannot be "
                            "estimated. Each level's model uses its patients with a known value of the variable.")
                for name, res in self.analyses.items()]

    def compare_lists(self, comparison) -> None:
        """Under the published-versus-reproduced block: the paper's list of significant subgroups against this
        run's, per endpoint."""
        if comparison.empty:
            return
        alpha = self.alpha
        listed = comparison[(comparison["stat"] == "p_value") & (comparison["value"] == alpha)]
        for name, res in self.analyses.items():
            mine = listed[listed["analysis"] == f"subgroup.{name}"]
            named = set(zip(mine["variable"], mine["level"]))
            if not named:
                continue
            here = res.table[res.table["estimable"] & (res.table["p_value"] < alpha)]
            extra = [f"{r.variable_label} {r.label}" for r in here.itertuples() if (r.variable, r.level) not in named]
            missing = [f"{v} {lv}" for v, lv in sorted(named)
                       if not ((here["variable"] == v) & (here["level"] == lv)).any()]
            ep_short = self.spec.survival.endpoints[name].short
            self.ch.note(f"**{ep_short}: the paper's list of subgroups with P < {alpha:g}** ({len(named)} levels) "
                         + ("is fully significant here" if not missing else "is not all significant here (not: "
                            + ", ".join(missing) + ")")
                         + ("; also significant here but not in the paper's list: " + ", ".join(extra) if extra
                            else "; no other level is significant here") + ".")
        if self.ch.synthetic_default:
            self.ch.note("The synthetic time-to-event data were not calibrated to the subgroup results, so "
                         "differences here show how far the synthetic cohort is from the real one within subgroups; "
                         "the subgroup code itself is checked against R `coxph` in the tests.")
