"""The competing-risks chapter: cumulative incidence of each cause of a first event, Gray's test, the
Fine-Gray subdistribution HR beside the cause-specific HR, and where 1 − Kaplan-Meier overstates the incidence.

Conventions (each checked against R on ``survival::pbc`` in ``tests/test_competing.py``):

* cumulative incidence by the Aalen-Johansen estimator, with cmprsk's variance (``cmprsk::cuminc``) and
  pointwise 95% CIs on the log(−log) scale (the interval tidycmprsk reports);
* Gray's test (``cuminc``'s ``$Tests``, rho = 0) for equal incidence between the arms;
* the Fine-Gray model (``cmprsk::crr``), with crr's robust SE, for the arm alone and adjusted for the
  variables of the paper's multivariable model of the first-event endpoint;
* the cause-specific Cox HR (``coxph(Surv(t, status == cause) ~ ...)``: the other causes censored), which is
  what a Cox model of the paper's intra- or extrahepatic PFS estimates.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.analyses.survival import cox_screen
from helpers.analyses.terms import cox_terms
from helpers.report.format import format_hr, format_p, p_text
from helpers.stats import competing as cr_stats
from helpers.stats import cox as coxmod


def status_codes(spec, cr, data: pd.DataFrame, cause) -> np.ndarray:
    """1 for this cause's types, 0 for the censored, 2 for every other (competing) type."""
    col = data[cr.type_column].astype(str).to_numpy()
    return np.where(np.isin(col, list(cause.types)), 1, np.where(col == cr.censored, 0, 2))


class CompetingChapter:
    def __init__(self, ch):
        from helpers.analyses.parameters import ChapterError

        self.ch, self.spec = ch, ch.spec
        spec, data = self.spec, ch.data
        if not spec.survival.competing_risks:
            raise ChapterError(f"study '{spec.study_id}' declares no competing risks (survival.competing_risks)")
        self.analyses = {}
        arm = data[spec.arm.column].astype(str).to_numpy()
        exp = spec.arm.experimental
        for cid, cr in spec.survival.competing_risks.items():
            ep = spec.survival.endpoints[cr.endpoint]
            t = data[ep.time].to_numpy(float)
            adjusted = self._adjusters(cr.endpoint)
            for k, cause in cr.causes.items():
                status = status_codes(spec, cr, data, cause)
                cif = cr_stats.cumulative_incidence(t, status, arm, order=spec.arm.codes)
                gray = cif.tests.loc[1] if cif.tests is not None else None
                design, _, _ = cox_terms(data, spec, ["arm", *adjusted])
                fg_uni = cr_stats.fine_gray(t, status, design[[f"arm:{exp}"]].to_numpy(float), failcode=1)
                fg_adj = cr_stats.fine_gray(t, status, design, failcode=1) if adjusted else None
                cs = self._cause_specific(t, status, design, adjusted)
                times = [x for x in spec.survival.landmarks or spec.survival.at_risk_times[1:] if x > 0]
                compare = cr_stats.km_vs_cif(t, status, 1, times, arm, order=spec.arm.codes)
                self.analyses[(cid, k)] = dict(cr=cr, cause=cause, cif=cif, gray=gray, fg_uni=fg_uni, fg_adj=fg_adj,
                                               cs=cs, compare=compare, adjusted=adjusted, design=design)
                self._rows(cid, k, cif, gray, fg_uni, fg_adj, cs, compare)

    def _adjusters(self, endpoint: str) -> list[str]:
        """The variables the paper's multivariable model of the first-event endpoint selected (arm excluded)."""
        if endpoint not in self.spec.survival.cox.endpoints:
            return []
        screen = cox_screen(self.ch.data, self.spec, endpoint)
        return [v for v in screen.selected if v != "arm"]

    def _cause_specific(self, t, status, design, adjusted) -> dict:
        d = design.assign(time=t, event=(status == 1).astype(float))
        exp = self.spec.arm.experimental
        out = {"uni": coxmod.cox_fit(d, "time", "event", [f"arm:{exp}"], compute_concordance=False, keep_data=False)}
        if adjusted:
            terms = [c for c in design.columns]
            out["adj"] = coxmod.cox_fit(d, "time", "event", terms, compute_concordance=False, keep_data=False)
        return out

    def _rows(self, cid, k, cif, gray, fg_uni, fg_adj, cs, compare) -> None:
        spec, res = self.spec, self.ch.results
        a = f"cif.{cid}.{k}"
        for r in cif.at(compare["time"].unique()).itertuples():
            if r.cause != 1:
                continue
            for stat in ("estimate", "lower", "upper"):
                res.add(cohort="primary", analysis=a, variable="", level=f"t={r.time:g}", group=str(r.group),
                        stat=stat, value=float(getattr(r, stat)))
        for r in compare.itertuples():
            res.add(cohort="primary", analysis=a, variable="one_minus_km", level=f"t={r.time:g}", group=str(r.group),
                    stat="estimate", value=float(r.one_minus_km))
        if gray is not None:
            res.add(cohort="primary", analysis=a, variable="gray", level="", group="comparison", stat="p_value",
                    value=float(gray["p_value"]))
            res.add(cohort="primary", analysis=a, variable="gray", level="", group="comparison", stat="statistic",
                    value=float(gray["statistic"]))
        exp = spec.arm.experimental
        for model, fit in (("fine_gray", fg_uni), ("fine_gray_adjusted", fg_adj)):
            if fit is None:
                continue
            row = fit.table.iloc[0]
            for stat, col in (("hr", "shr"), ("lower", "lower"), ("upper", "upper"), ("p_value", "p_value")):
                res.add(cohort="primary", analysis=f"{model}.{cid}.{k}", variable="arm", level=exp, group="all",
                        stat=stat, value=float(row[col]))
        for model, key in (("cause_specific", "uni"), ("cause_specific_adjusted", "adj")):
            if key not in cs:
                continue
            row = cs[key].table.iloc[0]
            for stat in ("hr", "lower", "upper", "p_value"):
                res.add(cohort="primary", analysis=f"{model}.{cid}.{k}", variable="arm", level=exp, group="all",
                        stat=stat, value=float(row[stat]))

    # ------------------------------------------------------------------------------------------ displays
    def cif_figures(self) -> list:
        import matplotlib.pyplot as plt

        from helpers.report.display import Figure
        from helpers.report.figures import arm_colours, at_risk_label

        spec, out = self.spec, []
        colours = arm_colours(spec)
        for cid, cr in spec.survival.competing_risks.items():
            causes = [(k, a) for (c, k), a in self.analyses.items() if c == cid]
            times = list(spec.survival.at_risk_times) or [0]
            fig = plt.figure(figsize=(5.4 * len(causes), 4.9))
            outer = fig.add_gridspec(1, len(causes), wspace=0.35)
            for j, (k, a) in enumerate(causes):
                inner = outer[0, j].subgridspec(2, 1, height_ratios=[4.2, 1.05], hspace=0.22)
                ax, ax_risk = fig.add_subplot(inner[0]), fig.add_subplot(inner[1])
                last = 0.0
                for code in spec.arm.codes:
                    curve = a["cif"].curve(code, 1)
                    x, y = curve["time"].to_numpy(), curve["estimate"].to_numpy()
                    last = max(last, float(x.max()))
                    ax.step(x, y, where="post", color=colours[code], lw=1.6, label=f"{spec.arm.labels[code]} (CIF)")
                    ax.fill_between(x, np.nan_to_num(curve["lower"].to_numpy()), np.nan_to_num(
                        curve["upper"].to_numpy(), nan=0.0), step="post", color=colours[code], alpha=0.12, lw=0)
                    comp = a["compare"][a["compare"]["group"] == code]
                    ax.plot(comp["time"], comp["one_minus_km"], ls="none", marker="x", ms=6, color=colours[code],
                            label=f"{spec.arm.labels[code]} (1 − KM)")
                right = max(max(times), last)
                ax.set_xlim(0, right * 1.02)
                ax.set_ylim(0, 1.0)
                ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0, decimals=0))
                ax.set_ylabel("Cumulative incidence")
                ax.set_title(f"{chr(65 + j)}  {a['cause'].label}", loc="left", fontweight="bold")
                ax.set_xticks(times)
                ax.tick_params(axis="x", labelbottom=False)
                ax.grid(axis="y", color="#e6e6e6", lw=0.6)
                ax.legend(loc="upper left", fontsize=8)
                gray = a["gray"]
                if gray is not None:
                    ax.text(0.97, 0.04, f"Gray's test {p_text(gray['p_value'])}", transform=ax.transAxes,
                            ha="right", va="bottom", fontsize=9,
                            bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="#cccccc", lw=0.6))
                risk = a["cif"].at_risk(times)
                ax_risk.set_xlim(ax.get_xlim())
                ax_risk.set_ylim(-0.5, len(spec.arm.codes) - 0.5)
                for row, code in enumerate(spec.arm.codes):
                    for t, n in zip(times, risk.loc[code]):
                        ax_risk.text(t, len(spec.arm.codes) - 1 - row, at_risk_label(n), ha="center", va="center",
                                     fontsize=8.5, color=colours[code])
                ax_risk.set_yticks(range(len(spec.arm.codes)))
                ax_risk.set_yticklabels([spec.arm.labels[c] for c in reversed(spec.arm.codes)], fontsize=8.5)
                ax_risk.set_xticks(times)
                ax_risk.set_xticklabels([f"{t:g}" for t in times], fontsize=8.5)
                ax_risk.set_xlabel(f"Time ({spec.survival.time_unit})")
                ax_risk.tick_params(length=0)
                ax_risk.tick_params(axis="y", pad=16)  # keep the arm labels clear of the counts at t = 0
                for side in ("top", "right", "left", "bottom"):
                    ax_risk.spines[side].set_visible(False)
                ax_risk.text(0, 1.02, "Number at risk", transform=ax_risk.transAxes, fontsize=8.5, fontweight="bold")
            out.append(Figure(f"cif.{cid}", fig, f"{cr.label}: cumulative incidence of each cause by arm "
                              "(Aalen-Johansen, pointwise 95% CI on the log(−log) scale with cmprsk's variance), "
                              "with 1 − Kaplan-Meier (×) at the landmark times, which treats the competing events "
                              "as censored. Gray's test compares the arms. Numbers at risk: patients without any "
                              "event yet (time ≥ t).",
                              alt=f"Cumulative incidence curves of {', '.join(a['cause'].label for _, a in causes)} "
                                  "by arm, with 1 − Kaplan-Meier marks and numbers at risk."))
        return out

    def hazard_table(self):
        """Fine-Gray subdistribution HR beside the cause-specific HR, arm alone and adjusted."""
        from helpers.report.display import Table

        spec, rows = self.spec, []
        for (cid, k), a in self.analyses.items():
            def hr(fit, col="shr"):
                r = fit.table.iloc[0]
                return format_hr(r[col], r["lower"], r["upper"]), format_p(r["p_value"])

            for label, fg, cs in (("arm alone", a["fg_uni"], a["cs"].get("uni")),
                                  ("adjusted", a["fg_adj"], a["cs"].get("adj"))):
                if fg is None:
                    continue
                fg_hr, fg_p = hr(fg)
                cs_hr, cs_p = hr(cs, "hr") if cs is not None else ("", "")
                rows.append({"Cause": a["cause"].label, "Model": label + (
                    f" ({', '.join(spec.variables[v].label for v in a['adjusted'])})" if label == "adjusted" else ""),
                    "Subdistribution HR (Fine-Gray)": fg_hr, "P (FG)": fg_p,
                    "Cause-specific HR (Cox)": cs_hr, "P (CS)": cs_p, "Events": int(fg.n_events)})
        return Table("competing_hr", pd.DataFrame(rows), "Treatment effect on each cause: the subdistribution "
                     "hazard ratio (Fine-Gray) beside the cause-specific hazard ratio.", index=False, wrap=True,
                     notes=f"{spec.arm.labels[spec.arm.experimental]} vs {spec.arm.labels[spec.arm.reference]}. "
                           "Fine-Gray: R cmprsk::crr with its robust SE; it models the cumulative incidence, so the "
                           "competing events stay in the risk set. Cause-specific: a Cox model with the competing "
                           "events censored (the paper's IH-/EH-PFS Cox models); it models the rate of the cause "
                           "among patients still free of any event. Adjusted: the variables the paper's multivariable "
                           "PFS model selected.")

    def comparison_table(self):
        from helpers.report.display import Table

        rows = []
        for (cid, k), a in self.analyses.items():
            for r in a["compare"].itertuples():
                rows.append({"Cause": a["cause"].label, "Arm": self.spec.arm.labels[str(r.group)],
                             f"Time ({self.spec.survival.time_unit})": f"{r.time:g}",
                             "Cumulative incidence": f"{100 * r.cif:.1f}%", "1 − KM": f"{100 * r.one_minus_km:.1f}%",
                             "Overstatement": f"{100 * r.excess:+.1f} points"})
        return Table("cif_vs_km", pd.DataFrame(rows), "Cumulative incidence beside 1 − Kaplan-Meier.", index=False,
                     notes="1 − KM estimates the risk of the cause in a world without the competing events; with "
                           "them it can only overstate the cumulative incidence.")

    def summary(self) -> str:
        """Where 1 − KM and the CIF differ most, in a sentence per cause."""
        lines = []
        for (cid, k), a in self.analyses.items():
            comp = a["compare"].dropna(subset=["excess"])
            if comp.empty:
                continue
            worst = comp.loc[comp["excess"].idxmax()]
            n_comp = int((status_codes(self.spec, a["cr"], self.ch.data, a["cause"]) == 2).sum())
            lines.append(f"- **{a['cause'].label}**: {n_comp} patients had a competing first event. 1 − KM overstates "
                         f"the cumulative incidence by up to {100 * worst['excess']:.1f} percentage points "
                         f"({self.spec.arm.labels[str(worst['group'])]}, {worst['time']:g} "
                         f"{self.spec.survival.time_unit}: {100 * worst['one_minus_km']:.1f}% against "
                         f"{100 * worst['cif']:.1f}%)." + ("" if a["gray"] is None else
                                                          f" Gray's test {p_text(a['gray']['p_value'])}."))
        return "\n".join(lines)

