"""The cohorts chapter's analyses: propensity-score matching of a study, with notebook-parameter overrides."""
from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from helpers.stats.matching import MatchResult, match_cohort
from helpers.study.patients import analysis_column
from helpers.study.spec import MatchingSpec, StudySpec


@dataclass
class MatchedCohort:
    """A matched cohort: the settings used, the matching result, the propensity scores and the matched rows."""

    settings: MatchingSpec
    result: MatchResult
    scores: pd.Series
    data: pd.DataFrame

    @property
    def n_pairs(self) -> int:
        return int(self.result.pairs["subclass"].nunique())


def matching_settings(spec: StudySpec, covariates=None, ratio=None, caliper="spec", replace_=None,
                      order=None) -> MatchingSpec:
    """The study's matching settings with notebook overrides (``caliper=None`` means no caliper)."""
    base = spec.matching or MatchingSpec(covariates=())
    settings = replace(
        base,
        covariates=tuple(covariates) if covariates else base.covariates,
        ratio=int(ratio) if ratio is not None else base.ratio,
        caliper=base.caliper if caliper == "spec" else (None if caliper in (None, "none") else float(caliper)),
        replace=bool(replace_) if replace_ is not None else base.replace,
        order=order or base.order,
    )
    unknown = [c for c in settings.covariates if c not in spec.variables]
    if unknown:
        raise ValueError(f"matching covariates {unknown} are not variables of study '{spec.study_id}' "
                         f"(known: {', '.join(spec.variables)})")
    if not settings.covariates:
        raise ValueError(f"study '{spec.study_id}' declares no matching covariates; pass match_covariates")
    return settings


def match_study(data: pd.DataFrame, spec: StudySpec, settings: MatchingSpec) -> MatchedCohort:
    """Propensity-score match the experimental arm to the reference arm (MatchIt semantics, see matching)."""
    covariates = [analysis_column(spec, v) for v in settings.covariates]
    result, scores = match_cohort(data, spec.arm.column, spec.arm.experimental, covariates, ratio=settings.ratio,
                                  caliper=settings.caliper, replace=settings.replace, order=settings.order,
                                  logit=None if settings.distance is None else settings.distance == "logit",
                                  caliper_sd=settings.caliper_sd, discard=settings.discard,
                                  convention=settings.convention)
    matched = data.loc[data.index.isin(result.matched_ids)]
    return MatchedCohort(settings, result, scores, matched)


def matching_summary(spec: StudySpec, matched: MatchedCohort) -> str:
    """A paragraph stating what was done and what came out, generated from the result."""
    s = matched.settings
    labels = [spec.variables[c].label for c in s.covariates]
    caliper = ("no caliper" if s.caliper is None else
               f"caliper {s.caliper:g} SD of the propensity score (= {matched.result.caliper_width:.4f} on the "
               "probability scale)")
    n = matched.data[spec.arm.column].value_counts()
    return (f"Propensity scores were estimated by logistic regression of the arm on {', '.join(labels)}. "
            f"{spec.arm.labels[spec.arm.experimental]} patients were matched to "
            f"{spec.arm.labels[spec.arm.reference]} patients by greedy nearest-neighbour matching "
            f"1:{s.ratio}, {'with' if s.replace else 'without'} replacement, {caliper}, in "
            f"{'descending' if s.order == 'largest' else s.order} order of the score (R MatchIt's semantics). "
            f"Matched: {int(n.get(spec.arm.experimental, 0))} {spec.arm.labels[spec.arm.experimental]} and "
            f"{int(n.get(spec.arm.reference, 0))} {spec.arm.labels[spec.arm.reference]} patients "
            f"({matched.n_pairs} matched sets); {matched.result.n_unmatched_treated} "
            f"{spec.arm.labels[spec.arm.experimental]} patients had no control within the caliper.")


def matching_results(matched: MatchedCohort) -> pd.DataFrame:
    """Rows for the analysis-results table (analysis ``psm``).

    ``caliper_width`` is the caliper as specified (SD units of the propensity score, as papers print it);
    ``caliper_width_ps`` is the same caliper on the probability scale of the score, as applied.
    """
    s = matched.settings
    rows = [
        dict(analysis="psm", variable="pairs", level="", group="all", stat="n", value=matched.n_pairs),
        dict(analysis="psm", variable="ratio", level="", group="all", stat="estimate", value=s.ratio),
        dict(analysis="psm", variable="unmatched_treated", level="", group="all", stat="n",
             value=matched.result.n_unmatched_treated),
    ]
    if s.caliper is not None:
        rows += [dict(analysis="psm", variable="caliper_width", level="", group="all", stat="estimate",
                      value=s.caliper),
                 dict(analysis="psm", variable="caliper_width_ps", level="", group="all", stat="estimate",
                      value=matched.result.caliper_width)]
    return pd.DataFrame(rows)


def flow_text(spec: StudySpec, arm_counts: dict[str, int]) -> str:
    """The sentence under the flow diagram: the spec's flow steps (if any) and the arm sizes counted from the data."""
    counted = ("Arm sizes are counted from the patient table: "
               + ", ".join(f"{spec.arm.labels[c]} n = {n}" for c, n in arm_counts.items()) + ".")
    if not spec.flow:
        return counted
    steps = "; ".join(f"{s.label}: {s.n}" for s in spec.flow)
    return (f"Flow steps as declared in the study specification (from the paper or trial report; they cannot be "
            f"recomputed from a patient table): {steps}. {counted}")


def no_matching_text(spec: StudySpec) -> str:
    """What the matching section says for a study whose spec declares no matching (its words come from the
    spec's design)."""
    if spec.design.randomised:
        why = "the arms were assigned at random, so no matching is needed to make them comparable"
    else:
        why = (f"this is {spec.design.phrase()}, so the arms may differ in prognosis; the paper did not match, "
               "and the multivariable Cox model of the survival chapter is its adjustment")
    return (f"The study specification has no `matching` section, so no propensity-matched cohort is built: {why}. "
            "Pass the parameter `match_covariates` to match anyway.")


# ------------------------------------------------------------------------------------------ the chapter
class CohortsChapter:
    """The cohorts chapter: patient flow, Table 1 of the primary (and matched) cohort, the matching and its
    balance. Its numbers go to the results table in the chapter's order; the displays are ready to show."""

    def __init__(self, ch):
        from helpers.analyses import balance, table1

        self.ch = ch
        spec, data, p = ch.spec, ch.data, ch.params
        self.spec = spec
        arm = data[spec.arm.column]
        self.arm_counts = arm.value_counts().reindex(spec.arm.codes).astype(int).to_dict()
        for step in spec.flow:
            ch.results.add(cohort="primary", analysis="flow", variable="patients", level=step.step, group="all",
                           stat="n", value=step.n)
        for code, n in self.arm_counts.items():
            ch.results.add(cohort="primary", analysis="flow", variable="patients", level="included", group=code,
                           stat="n", value=n)
        self.matched = ch.matched
        self.matched_counts = None
        if self.matched is not None:
            self.matched_counts = self.matched.data[spec.arm.column].value_counts().reindex(
                spec.arm.codes).astype(int).to_dict()
            for code, n in self.matched_counts.items():
                ch.results.add(cohort="matched", analysis="flow", variable="patients", level="included", group=code,
                               stat="n", value=n)
        tests = dict(categorical_test=p["categorical_test"], continuous_test=p["continuous_test"])
        self.tables = [table1.baseline_table(data, spec, "primary", **tests)]
        ch.results.extend(self.tables[0].long)
        if self.matched is not None:
            self.tables.append(table1.baseline_table(self.matched.data, spec, "matched", **tests))
            ch.results.extend(self.tables[1].long)
            ch.results.extend(matching_results(self.matched), cohort="matched")
            self.balance = balance.balance_before_after(data, self.matched.data, spec, list(spec.table1.variables))
            for r in self.balance.itertuples():
                ch.results.add(cohort="primary", analysis="balance", variable=r.variable, level=r.level,
                               group="difference", stat="smd", value=r.before)
                ch.results.add(cohort="matched", analysis="balance", variable=r.variable, level=r.level,
                               group="difference", stat="smd", value=r.after)
        self.balance_stats = self._balance_statistics()

    def _balance_statistics(self):
        """Balance beyond the SMD (cobalt's statistics), before and, with matching, after (matching weights)."""
        from helpers.analyses import adjustment

        spec, ch = self.spec, self.ch
        variables = list(spec.table1.variables)
        if self.matched is None:
            table = adjustment.balance_statistics(spec, ch.data, variables)
            ch.results.extend(pd.DataFrame(adjustment.balance_rows(table, "primary", None)))
            return table
        weights = self.matched.result.weights.reindex(ch.data.index).fillna(0.0).to_numpy(float)
        table = adjustment.balance_statistics(spec, ch.data, variables, weights, estimand="ATT")
        ch.results.extend(pd.DataFrame(adjustment.balance_rows(table, "primary", "matched")))
        return table

    def balance_table(self):
        from helpers.analyses import adjustment
        from helpers.report.display import Table

        after = "after matching" if self.matched is not None else None
        return Table("balance", adjustment.balance_display(self.balance_stats, after),
                     "Covariate balance between the arms: standardized mean difference (SMD), variance ratio and "
                     "eCDF differences" + (", before and after matching." if after else "."), index=False, wrap=True,
                     notes="SMD: difference in means (proportions for a level) over the pooled SD of the unweighted "
                           "arms, √((s₁² + s₀²)/2), as Table 1's SMD and cobalt's bal.tab with s.d.denom = 'pooled' "
                           "and binary = 'std'; |SMD| < 0.1 is the usual threshold. Variance ratio (continuous "
                           "variables; in [0.5, 2] is balanced): experimental over reference. eCDF mean / max: mean "
                           "and largest (Kolmogorov-Smirnov) difference of the arms' empirical distribution "
                           "functions, as MatchIt's summary and cobalt. After matching: the matched patients with "
                           "MatchIt's matching weights. Each level uses the patients with a known value.")

    def imbalance_text(self) -> str:
        from helpers.analyses import adjustment

        if self.matched is None:
            return adjustment.imbalance_sentence(self.balance_stats, "before")
        return adjustment.imbalance_sentence(self.balance_stats, "after", claim=self.ch.paper_statement(
            "balance_after_matching"))

    def flow_figure(self):
        from helpers.report import figures
        from helpers.report.display import Figure

        spec, m = self.spec, self.matched_counts
        return Figure("flow", figures.flow_diagram(spec, self.arm_counts, m),
                      "Patient flow: the published screening and exclusion steps, the arms as counted from the "
                      "patient table" + (", and the propensity-matched cohort." if m is not None else "."),
                      alt="Flow diagram of patient selection: " + ", ".join(
                          f"{spec.arm.labels[c]} {n} patients" for c, n in self.arm_counts.items())
                      + ("; matched: " + ", ".join(f"{spec.arm.labels[c]} {n}" for c, n in m.items())
                         if m is not None else "") + ".")

    def flow_text(self) -> str:
        return flow_text(self.spec, self.arm_counts)

    def table1(self):
        from helpers.analyses import table1
        from helpers.report.display import Table

        titles = ["Primary cohort", "Matched cohort"][:len(self.tables)]
        smd = None
        if self.matched is not None:  # the matched cohort's SMD beside its P (a methodologist's balance measure)
            smd = {(r.variable, r.level): r.after for r in self.balance.itertuples()}
        return Table("table1", table1.side_by_side(self.tables, titles, smd), f"{self.spec.table1.title}.",
                     notes="P-values: " + table1.test_legend(self.tables) + ". " + table1.policy_note(self.tables[0])
                     + (" SMD: standardized mean difference after matching (pooled SD; a two-level variable's on "
                        "its row, a multi-level one's on each level)." if smd else ""))

    def matching_text(self) -> str:
        return no_matching_text(self.spec) if self.matched is None else matching_summary(self.spec, self.matched)

    def love_plot(self):
        from helpers.report import seaborn_plots
        from helpers.report.display import Figure

        if self.matched is None:
            return None
        bal = self.balance
        return Figure("love", seaborn_plots.love_plot(bal), "Absolute standardized mean differences of the Table 1 "
                      "covariates before (open) and after (filled) matching; the dashed line marks 0.1.",
                      alt=f"Love plot of standardized mean differences for {bal['variable'].nunique()} covariates; "
                          f"largest absolute difference {bal['before'].abs().max():.2f} before and "
                          f"{bal['after'].abs().max():.2f} after matching.")

    def overlap_plot(self):
        from helpers.report import seaborn_plots
        from helpers.report.display import Figure

        if self.matched is None:
            return None
        m = self.matched
        return Figure("ps_overlap", seaborn_plots.propensity_overlap(m.scores, self.ch.data[self.spec.arm.column],
                                                               m.result.matched_ids, self.spec),
                      "Propensity scores by arm (logistic model on the matching covariates). Light bars: all "
                      "patients; dark bars: matched patients.",
                      alt="Histograms of propensity scores for each arm, all patients and matched patients.")

    def synthetic_note(self) -> str:
        if not self.ch.synthetic_default:
            return ""
        return ("With the default synthetic data, the numbers the generator aimed at agree by construction. "
                "Everything else, such as the matched cohort's Table 1, which depends on which patients the matching "
                "picks, is not forced to agree: those rows show how far the synthetic cohort is from the real one, "
                "not errors of the analysis code.")
