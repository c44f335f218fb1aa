"""The reporting checklist of a study: the items of the guideline that fits its design, each with the section of
the book that answers it, or "the paper's text" where the book cannot.

* observational studies: STROBE (von Elm et al. 2007) for cohort studies, with the RECORD extension's items
  for routinely collected data (Benchimol et al. 2015) where they apply to a retrospective records study;
* randomised trials: CONSORT 2010 (Schulz et al. 2010), the items a re-analysis can answer.

The TARGET guideline (2025) for target-trial emulations asks in addition for the protocol of the target trial
and for time zero aligned with eligibility and treatment assignment; the checklist states each study's time
zero and any immortal-time risk from the spec (``design.time_zero``, ``design.immortal_time``).
"""
from __future__ import annotations

import html

import pandas as pd

from helpers.study.spec import StudySpec

PAPER = "the paper's own text (not reproduced here)"

#: (item, topic, what the guideline asks, where the book answers it: page -> words; "" for the paper's text)
STROBE = [
    ("1", "Title and abstract", "the design in the title or abstract; an informative, balanced summary", {}),
    ("2", "Background", "the scientific background and rationale", {}),
    ("3", "Objectives", "specific objectives, including any prespecified hypotheses", {}),
    ("4", "Study design", "key elements of the study design early in the paper", {"cohorts": "Cohorts: the study's "
                                                                                  "design (from the spec)"}),
    ("5", "Setting", "the setting, locations, dates of recruitment, exposure, follow-up and data collection",
     {"cohorts": "Cohorts: the patient flow"}),
    ("6", "Participants", "eligibility criteria, sources and methods of selection; for matched studies, the matching "
                          "criteria and the number of exposed and unexposed", {"cohorts": "Cohorts: flow and "
                                                                                        "propensity-score matching"}),
    ("7", "Variables", "outcomes, exposures, predictors, potential confounders and effect modifiers",
     {"cohorts": "Cohorts: Table 1", "survival": "Survival: endpoints and the Cox candidates"}),
    ("8", "Data sources / measurement", "sources of data and methods of assessment", {"response": "Tumour response: "
                                                                                      "the criteria"}),
    ("9", "Bias", "efforts to address potential sources of bias", {"weighting": "Propensity-score weighting",
                                                                   "sensitivity": "Sensitivity to matching choices",
                                                                   "survival_matched": "Survival, matched cohort: "
                                                                                       "variance after matching"}),
    ("10", "Study size", "how the study size was arrived at", {"cohorts": "Cohorts: the patient flow"}),
    ("11", "Quantitative variables", "how quantitative variables were handled (groupings and why)",
     {"cohorts": "Cohorts: Table 1 (cut-points from the spec)", "subgroups": "Subgroups"}),
    ("12a", "Statistical methods", "all statistical methods, including those used to control for confounding",
     {"survival": "Survival: Cox models", "weighting": "Propensity-score weighting", "cohorts": "Cohorts: matching"}),
    ("12b", "Statistical methods", "methods used to examine subgroups and interactions", {"subgroups": "Subgroups: "
                                                                                          "interaction tests"}),
    ("12c", "Statistical methods", "how missing data were addressed", {"cohorts": "Cohorts: Table 1's missing rows",
                                                                       "survival": "Survival: each model's n"}),
    ("12d", "Statistical methods", "how loss to follow-up was addressed", {"survival": "Survival: follow-up by "
                                                                           "reverse Kaplan-Meier"}),
    ("12e", "Statistical methods", "sensitivity analyses", {"sensitivity": "Sensitivity to matching choices",
                                                             "weighting": "Propensity-score weighting: E-values",
                                                             "competing": "Competing risks",
                                                             "survival": "Survival: proportional-hazards checks, RMST"}),
    ("13", "Participants", "numbers at each stage of the study; reasons for non-participation; a flow diagram",
     {"cohorts": "Cohorts: flow diagram"}),
    ("14a", "Descriptive data", "characteristics of the participants and information on exposures and confounders",
     {"cohorts": "Cohorts: Table 1 and balance"}),
    ("14b", "Descriptive data", "the number of participants with missing data for each variable",
     {"cohorts": "Cohorts: Table 1 (Missing rows)"}),
    ("14c", "Descriptive data", "follow-up time (average and total)", {"survival": "Survival: median follow-up"}),
    ("15", "Outcome data", "numbers of outcome events or summary measures over time",
     {"survival": "Survival: events and Kaplan-Meier curves", "response": "Tumour response", "safety": "Safety"}),
    ("16a", "Main results", "unadjusted and confounder-adjusted estimates with their precision (95% CI); which "
                            "confounders were adjusted for and why", {"survival": "Survival: Cox tables",
                                                                       "weighting": "Every adjustment in one table"}),
    ("16b", "Main results", "category boundaries when continuous variables were categorised", {"cohorts": "Table 1"}),
    ("16c", "Main results", "translating relative risk into absolute risk for a meaningful time period",
     {"survival": "Survival: landmark rates and RMST"}),
    ("17", "Other analyses", "other analyses done (subgroups, interactions, sensitivity analyses)",
     {"subgroups": "Subgroups", "sensitivity": "Sensitivity", "competing": "Competing risks"}),
    ("18", "Key results", "key results with reference to the objectives", {"audit": "Reproduction audit: key claims"}),
    ("19", "Limitations", "limitations, sources of potential bias or imprecision", {}),
    ("20", "Interpretation", "a cautious overall interpretation", {}),
    ("21", "Generalisability", "the external validity of the results", {}),
    ("22", "Funding", "the source of funding and the role of the funders", {}),
    ("RECORD 12.1", "Data access and cleaning", "the extent to which the investigators had access to the database and "
                                                "how the data were cleaned", {"cohorts": "Cohorts: validation of the "
                                                                             "patient table (every cell checked)"}),
]

CONSORT = [
    ("1", "Title and abstract", "identification as a randomised trial; a structured summary", {}),
    ("3a", "Trial design", "description of the trial design, including the allocation ratio",
     {"cohorts": "Cohorts: the arms"}),
    ("6a", "Outcomes", "completely defined primary and secondary outcomes", {"survival": "Survival: endpoints"}),
    ("12a", "Statistical methods", "methods used to compare groups for primary and secondary outcomes",
     {"survival": "Survival: Kaplan-Meier, log-rank and Cox"}),
    ("12b", "Statistical methods", "methods for additional analyses (subgroups, adjusted analyses)",
     {"subgroups": "Subgroups", "survival": "Survival: the multivariable Cox model"}),
    ("13a", "Participant flow", "numbers randomly assigned, receiving treatment and analysed", {"cohorts": "Cohorts: "
                                                                                                "flow"}),
    ("15", "Baseline data", "a table of baseline characteristics for each group", {"cohorts": "Cohorts: Table 1 and "
                                                                                   "balance"}),
    ("16", "Numbers analysed", "for each group, the number of participants in each analysis",
     {"survival": "Survival: each model's n"}),
    ("17a", "Outcomes and estimation", "for each outcome, results for each group and the estimated effect size with "
                                       "its precision (95% CI)", {"survival": "Survival: medians, HRs and RMST"}),
    ("18", "Ancillary analyses", "results of other analyses (subgroups, adjusted analyses)",
     {"subgroups": "Subgroups"}),
    ("22", "Interpretation", "an interpretation consistent with the results", {}),
]


def checklist(spec: StudySpec, pages: dict[str, str]) -> tuple[str, pd.DataFrame]:
    """The guideline's name and one row per item: item, topic, what it asks, where the book answers it."""
    if spec.design.randomised:
        name, items = "CONSORT 2010 (the items a re-analysis can answer)", CONSORT
    else:
        name, items = "STROBE for cohort studies, with RECORD item 12.1", STROBE
    rows = []
    for number, topic, asks, where in items:
        found = [f"<a href='{page}.html'>{html.escape(words)}</a>" for page, words in where.items() if page in pages]
        rows.append({"Item": number, "Topic": topic, "The guideline asks for": html.escape(asks),
                     "Where the book answers it": "; ".join(found) if found else PAPER})
    return name, pd.DataFrame(rows)


def time_zero_text(spec: StudySpec) -> str:
    d = spec.design
    zero = d.time_zero or "not stated in the study spec (design.time_zero)"
    if d.immortal_time and d.immortal_time.strip().lower() != "none":
        risk = f"**Immortal time or selection before time zero.** {d.immortal_time}"
    elif d.immortal_time:
        risk = ("**Immortal time.** None by design: the arms are defined at time zero." if not d.randomised else
                "**Immortal time.** None: the arms are assigned at random at time zero.")
    else:
        risk = "**Immortal time.** Not assessed in the study spec (design.immortal_time)."
    return f"**Time zero**: {zero}. This is {d.phrase()}.\n\n{risk}"
