"""The weighting chapter: propensity-score weighting as an alternative to the paper's matching, and every
adjustment of the treatment effect in one table.

The propensity model is the one the matching uses (the spec's ``weighting.covariates``, by default the
matching covariates); the conventions of the weights, the weighted Kaplan-Meier curves, the weighted Cox model
and the balance statistics are those of :mod:`helpers.analyses.adjustment`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.analyses import adjustment as adj
from helpers.analyses.survival import compare_arms, cox_screen
from helpers.report.format import format_p, p_text
from helpers.stats.survival import weighted_kaplan_meier_by_group

ESTIMAND_WORDS = {"ATE": "ATE (inverse probability weights)", "ATT": "ATT (weights for the treated patients' "
                  "population)", "ATO": "ATO (overlap weights)"}


class WeightingChapter:
    def __init__(self, ch):
        from helpers.analyses.parameters import ChapterError

        self.ch, self.spec, p = ch, ch.spec, ch.params
        spec = self.spec
        w = spec.weighting
        if w is None and spec.matching is None:
            raise ChapterError(f"study '{spec.study_id}' declares no weighting and no matching section: there is no "
                               "propensity model to weight with")
        self.covariates = list(w.covariates if w else spec.matching.covariates)
        self.estimands = list(p["estimands"] or (w.estimands if w else ("ATE", "ATT", "ATO")))
        self.stabilize = w.stabilize if (w and p["stabilize"] is None) else bool(p["stabilize"]) \
            if p["stabilize"] is not None else True
        self.trim = p["trim"] if p["trim"] is not None else (w.trim if w else None)
        data = ch.data
        self.arm = adj.treated(spec, data)
        self.ps = adj.propensity(spec, data, self.covariates)
        self.support = adj.common_support(self.ps, self.arm)
        self.weights = {e: adj.propensity_weights(self.ps, self.arm, e, self.stabilize, self.trim)
                        for e in self.estimands}
        self.endpoints = list(spec.survival.cox.endpoints or spec.survival.endpoints)
        self._weight_rows()
        self.balance = {e: adj.balance_statistics(spec, data, self.covariates, wt.weights, estimand=e)
                        for e, wt in self.weights.items()}
        for e, table in self.balance.items():
            ch.results.extend(pd.DataFrame(adj.balance_rows(table, "primary", "weighted",
                                                            analysis=f"balance_weighted.{e}")))
        self.comparison = {name: self._adjustments(name) for name in self.endpoints}
        for name, hrs in self.comparison.items():
            ch.results.extend(pd.DataFrame(adj.hr_rows(f"weighted_cox.{name}", spec.arm.experimental,
                                                       [h for h in hrs if h.key in self.estimands])), cohort="primary")
        shares = {name: adj.event_share(data, spec, name) for name in self.endpoints}
        self.evalues, rows = adj.evalue_rows([(n, h.method, h) for n, hrs in self.comparison.items() for h in hrs
                                              if h.key in self.estimands], shares)
        ch.results.extend(pd.DataFrame(rows), cohort="primary")

    def _weight_rows(self) -> None:
        ref, exp = self.spec.arm.reference, self.spec.arm.experimental
        for e, wt in self.weights.items():
            for code, k in ((ref, 0), (exp, 1)):
                ws = wt.weights[self.arm == k]
                for stat, value in (("ess", wt.ess["control" if k == 0 else "treated"]), ("n", len(ws)),
                                    ("max", float(ws.max())), ("n_trimmed", int(np.sum(ws == 0)))):
                    self.ch.results.add(cohort="primary", analysis="weights", variable=e, level="", group=code,
                                        stat=stat, value=float(value))
        for stat, value in self.support.items():
            self.ch.results.add(cohort="primary", analysis="common_support", variable="propensity", level="",
                                group="all", stat=stat, value=float(value))

    def _adjustments(self, name: str) -> list[adj.ArmHR]:
        """Every estimate of the treatment HR for one endpoint: unadjusted, the paper's multivariable Cox, the
        matched analyses (when the paper matched) and each weighting."""
        spec, data = self.spec, self.ch.data
        ep = spec.survival.endpoints[name]
        t, e = data[ep.time].to_numpy(float), data[ep.event].to_numpy(float)
        unadjusted = compare_arms(data, spec, name).arm_hr
        out = [adj.ArmHR("unadjusted (arm alone)", unadjusted["hr"], unadjusted["lower"], unadjusted["upper"],
                         unadjusted["p_value"], len(data), int(e.sum()), key="unadjusted")]
        if name in spec.survival.cox.endpoints:
            screen = cox_screen(data, spec, name)
            multi = screen.multivariate
            if multi is not None and (multi["variable"] == "arm").any():
                r = multi[multi["variable"] == "arm"].iloc[0]
                out.append(adj.ArmHR("multivariable Cox (the paper's)", r["hr"], r["lower"], r["upper"],
                                     r["p_value"], screen.multi_n or 0, screen.multi_events or 0, key="multivariable"))
        if self.ch.matched_sets is not None and self.ch.matched_data is not None:
            for h in adj.matched_arm_hrs(spec, self.ch.matched_data, self.ch.matched_sets, name):
                out.append(adj.ArmHR(f"matched, {h.method}", h.hr, h.lower, h.upper, h.p_value, h.n, h.events,
                                     h.note, f"matched_{h.key}"))
        for est, wt in self.weights.items():
            keep = wt.weights > 0
            h = adj.arm_hr(f"weighted, {est}", t[keep], e[keep], self.arm[keep], weights=wt.weights[keep],
                           robust=True, key=est, note="robust sandwich SE")
            out.append(h)
        return out

    # ------------------------------------------------------------------------------------------ displays
    def weights_figure(self):
        import matplotlib.pyplot as plt
        import seaborn as sns

        from helpers.report.display import Figure
        from helpers.report.figures import arm_colours

        spec = self.spec
        colours = arm_colours(spec)
        fig, axes = plt.subplots(1, len(self.estimands), figsize=(3.6 * len(self.estimands), 2.9), squeeze=False)
        for ax, (e, wt) in zip(axes[0], self.weights.items()):
            frame = pd.DataFrame({"weight": wt.weights, "arm": np.where(self.arm == 1, spec.arm.experimental,
                                                                        spec.arm.reference)})
            sns.histplot(frame, x="weight", hue="arm", hue_order=list(spec.arm.codes), palette=colours, bins=20,
                         element="step", stat="count", ax=ax, legend=ax is axes[0][0])
            ax.set_title(f"{e}: ESS {wt.ess['control']:.1f} / {wt.ess['treated']:.1f}", fontsize=10, loc="left")
            ax.set_xlabel("Weight")
            ax.set_ylabel("Patients" if ax is axes[0][0] else "")
        if axes[0][0].get_legend() is not None:
            axes[0][0].get_legend().set_title("")
            for text in axes[0][0].get_legend().get_texts():
                text.set_text(spec.arm.labels.get(text.get_text(), text.get_text()))
        fig.tight_layout()
        return Figure("weights", fig, "Distribution of the propensity-score weights by arm for each estimand; the "
                      f"title gives Kish's effective sample size ({spec.arm.labels[spec.arm.reference]} / "
                      f"{spec.arm.labels[spec.arm.experimental]}), (Σw)²/Σw².",
                      alt="Histograms of the weights per arm and estimand; effective sample sizes " + "; ".join(
                          f"{e} {wt.ess['control']:.1f} and {wt.ess['treated']:.1f}" for e, wt in self.weights.items()))

    def overlap_figure(self):
        import matplotlib.pyplot as plt
        import seaborn as sns

        from helpers.report.display import Figure
        from helpers.report.figures import arm_colours

        spec, colours = self.spec, arm_colours(self.spec)
        panels = [("unweighted", None)] + list(self.weights.items())
        fig, axes = plt.subplots(1, len(panels), figsize=(2.7 * len(panels), 2.7), squeeze=False, sharey=False)
        for ax, (label, wt) in zip(axes[0], panels):
            for code, k in ((spec.arm.reference, 0), (spec.arm.experimental, 1)):
                sel = self.arm == k
                sns.histplot(x=self.ps.to_numpy()[sel], weights=None if wt is None else wt.weights[sel], bins=20,
                             binrange=(0, 1), stat="density", element="step", fill=True, alpha=0.25,
                             color=colours[code], ax=ax, label=spec.arm.labels[code])
            ax.axvspan(self.support["low"], self.support["high"], color="#999999", alpha=0.08, lw=0)
            ax.set_title(label, loc="left", fontsize=10)
            ax.set_xlabel("Propensity score")
            ax.set_ylabel("Density" if ax is axes[0][0] else "")
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        s = self.support
        return Figure("ps_weighted", fig, "Propensity scores by arm, unweighted and weighted for each estimand "
                      f"(density). Shaded: the common support, {s['low']:.3f} to {s['high']:.3f}; outside it "
                      f"{s['outside_control']} {spec.arm.labels[spec.arm.reference]} and {s['outside_treated']} "
                      f"{spec.arm.labels[spec.arm.experimental]} patients.",
                      alt="Propensity-score densities by arm before and after weighting.")

    def balance_table(self):
        from helpers.report.display import Table

        first = self.estimands[0]
        rows = []
        for r in self.balance[first].itertuples():
            row = {"Covariate": r.label, "SMD unweighted": f"{r.smd_before:.2f}"}
            for e in self.estimands:
                b = self.balance[e].set_index(["variable", "level"]).loc[(r.variable, r.level)]
                row[f"SMD {e}"] = f"{b['smd_after']:.2f}"
                if r.type == "continuous":
                    row[f"Variance ratio {e}"] = f"{b['vr_after']:.2f}"
                row[f"eCDF max {e}"] = f"{b['ecdf_max_after']:.2f}"
            rows.append(row)
        return Table("weighted_balance", pd.DataFrame(rows).fillna(""), "Covariate balance after weighting.",
                     index=False, wrap=True, notes="SMD with the pooled SD of the unweighted arms (cobalt's bal.tab, "
                     "s.d.denom = 'pooled', binary = 'std'); variance ratio of continuous variables; eCDF max: "
                     "the largest difference of the weighted empirical distribution functions (KS). |SMD| < 0.1 "
                     "is the usual threshold.")

    def love_plot(self):
        import matplotlib.pyplot as plt

        from helpers.report.display import Figure

        first = self.balance[self.estimands[0]]
        labels = list(first["label"])[::-1]
        fig, ax = plt.subplots(figsize=(6.8, 0.28 * len(labels) + 1.4))
        y = np.arange(len(labels))
        ax.scatter(np.abs(first["smd_before"].to_numpy()[::-1]), y, facecolors="none", edgecolors="#333333",
                   label="unweighted", zorder=3)
        markers = {"ATE": "o", "ATT": "s", "ATO": "D"}
        colours = {"ATE": "#0072B2", "ATT": "#E69F00", "ATO": "#009E73"}
        for e in self.estimands:
            ax.scatter(np.abs(self.balance[e]["smd_after"].to_numpy()[::-1]), y, marker=markers.get(e, "o"),
                       color=colours.get(e, "#555555"), label=e, zorder=3, s=22)
        ax.axvline(0.1, ls="--", color="#999999", lw=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_xlabel("Absolute standardized mean difference")
        ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=1 + len(self.estimands),
                  handletextpad=0.3)
        ax.grid(axis="x", color="#eeeeee")
        fig.tight_layout()
        return Figure("love_weighted", fig, "Absolute standardized mean differences before (open circles) and after "
                      "each weighting; the dashed line marks 0.1.",
                      alt="Love plot of absolute SMDs before and after weighting; largest after weighting: "
                          + ", ".join(f"{e} {self.balance[e]['smd_after'].abs().max():.2f}" for e in self.estimands))

    def km_figures(self) -> list:
        """Weighted Kaplan-Meier curves per estimand (robust IJ bands), with the unweighted numbers at risk."""
        from helpers.report import figures
        from helpers.report.display import Figure
        from helpers.stats.survival import kaplan_meier_by_group

        spec, data, out = self.spec, self.ch.data, []
        arm = data[spec.arm.column].astype(str).to_numpy()
        for e, wt in self.weights.items():
            panels = []
            keep = wt.weights > 0
            for name in self.endpoints:
                ep = spec.survival.endpoints[name]
                t, ev = data[ep.time].to_numpy(float), data[ep.event].to_numpy(float)
                kms = weighted_kaplan_meier_by_group(t[keep], ev[keep], arm[keep], wt.weights[keep],
                                                     order=spec.arm.codes)
                risk = kaplan_meier_by_group(t, ev, arm, order=spec.arm.codes)
                h = next(x for x in self.comparison[name] if x.key == e)
                panels.append(dict(title=ep.label, kms=kms, ylabel=f"{ep.short} probability", risk_kms=risk,
                                   risk_title="Number at risk (unweighted)",
                                   annotation=f"HR {h.text()}\nrobust {p_text(h.p_value)}"))
            fig = figures.km_figure(panels, spec, spec.survival.at_risk_times, spec.survival.time_unit)
            out.append(Figure(f"km_weighted.{e}", fig, f"Weighted Kaplan-Meier estimates by arm, {ESTIMAND_WORDS[e]}, "
                              "with pointwise 95% bands from the robust (infinitesimal-jackknife) SE, as R "
                              "survfit(..., weights = w) gives for non-integer weights. The numbers at risk are the "
                              "unweighted counts (time ≥ t). HR from the weighted Cox model with the robust sandwich "
                              f"SE. Time in {spec.survival.time_unit}.",
                              alt=f"Weighted Kaplan-Meier curves ({e}) for "
                                  + ", ".join(spec.survival.endpoints[n].label for n in self.endpoints) + "."))
        return out

    def comparison_table(self):
        from helpers.report.display import Table

        rows = []
        for name, hrs in self.comparison.items():
            for h in hrs:
                rows.append({"Endpoint": self.spec.survival.endpoints[name].short, "Analysis": h.method,
                             "HR (95% CI)": h.text(), "P": format_p(h.p_value) if h.p_value == h.p_value else "",
                             "n": h.n, "Events": h.events})
        ess = "; ".join(f"{e}: {wt.ess['control']:.1f} / {wt.ess['treated']:.1f}" for e, wt in self.weights.items())
        return Table("adjustments", pd.DataFrame(rows), "The treatment hazard ratio under every adjustment.",
                     index=False, wrap=True,
                     notes="Unadjusted: Cox with the arm alone. Multivariable: the paper's model (univariable screen "
                           "then multivariable Cox). Matched: the paper's naive model, cluster-robust by matched set "
                           "and stratified by matched set. Weighted: Cox with the propensity weights and the robust "
                           f"sandwich SE (R coxph(..., weights = w, robust = TRUE)). Effective sample sizes "
                           f"(reference / experimental): {ess}.")

    def evalue_table(self):
        from helpers.report.display import Table

        if not len(self.evalues):
            return None
        table = self.evalues.copy()
        table["Endpoint"] = [self.spec.survival.endpoints[e].short for e in table["Endpoint"]]
        return Table("evalues.weighted", table, "E-values of the weighted treatment hazard ratios.", index=False,
                     wrap=True, notes=adj.EVALUE_NOTE)

    def model_text(self) -> str:
        spec = self.spec
        labels = ", ".join(spec.variables[v].label for v in self.covariates)
        trim = (f" Patients with a score outside [{self.trim:g}, {1 - self.trim:g}] are left out (weight 0)."
                if self.trim else " No trimming.")
        return (f"The propensity score of {spec.arm.labels[spec.arm.experimental]} is estimated by logistic "
                f"regression (R glm) on {labels}"
                + (", the matching's model." if spec.matching and list(spec.matching.covariates) == self.covariates
                   else ".") + f" Estimands: {', '.join(ESTIMAND_WORDS[e] for e in self.estimands)}; ATE weights "
                + ("stabilized by the arm proportions." if self.stabilize else "not stabilized.") + trim)
