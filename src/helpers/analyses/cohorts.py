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
                                  caliper=settings.caliper, replace=settings.replace, order=settings.order)
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
    """What the matching section says for a study whose spec declares no matching."""
    return ("The study specification has no `matching` section, so no propensity-matched cohort is built "
            "(none is needed to compare randomised arms); pass the parameter `match_covariates` to match anyway.")
