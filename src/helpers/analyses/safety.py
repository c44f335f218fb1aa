"""Safety: treatment-related adverse events by arm (Table 4), any grade and grade 3-4.

A patient counts once per term, at the maximum grade (:func:`helpers.patients.adverse_event_grades`).
``any_grade`` is grade >= 1; ``grade_3_4`` is a maximum grade within the spec's ``severe_grades`` range
(by default 3 to 4; a grade-5 event is then not counted there).  The ``overall`` row counts patients with
any term.  Percentages are of all patients of the arm (0-100); p-values compare "event" vs "no event" by
arm with the spec's categorical policy (default ``adverse_events.test``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from helpers.stats import hypothesis_tests as ht
from helpers.study.patients import patients_per_arm, value_masks
from helpers.study.results import first_row_values
from helpers.study.spec import StudySpec
from helpers.analyses.parameters import AE_ORDERS
from helpers.report.format import format_p

ANALYSIS = "adverse_events"
LEVELS = ("any_grade", "grade_3_4")
OVERALL = "overall"
ORDERS = AE_ORDERS


def _policy_p(table: np.ndarray, policy: str) -> tuple[float, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ht.categorical_p_value(table, policy)
    except ValueError:  # e.g. no events at all under a chi-square policy
        return math.nan, ""


def event_masks(grades: pd.DataFrame, spec: StudySpec) -> dict[str, pd.DataFrame]:
    """Boolean patients x terms frames: ``any_grade`` (grade >= 1) and ``grade_3_4`` (grade in the severe range)."""
    lo, hi = spec.adverse_events.severe_range
    return {"any_grade": grades >= 1, "grade_3_4": (grades >= lo) & (grades <= hi)}


def adverse_event_table(grades: pd.DataFrame, arms: pd.Series, spec: StudySpec, policy: str | None = None,
                        order: str = "paper", cohort: str = "primary") -> pd.DataFrame:
    """Adverse events by arm as long result rows.

    ``grades``: patients x term codes, maximum grade (from :func:`helpers.patients.adverse_event_grades`);
    ``arms``: the arm code of each patient (same index).  Columns ``cohort, analysis, variable, level,
    group, stat, value`` with ``analysis = "adverse_events"``, ``variable`` = ``overall`` then the term codes
    (``order="paper"``: the spec's order; ``"frequency"``: by total any-grade count, most frequent first,
    ties in the spec's order), ``level`` in ``any_grade``/``grade_3_4`` (plus ``patients``: the arm sizes),
    ``group`` an arm code (``n``, ``pct``) or ``comparison`` (``p_value``).  ``.attrs["tests"]`` maps
    ``(variable, level)`` to the test used.
    """
    ae = spec.adverse_events
    if ae is None:
        raise ValueError(f"study '{spec.study_id}' has no adverse_events section")
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}: expected one of {list(ORDERS)}")
    unknown = [t for t in grades.columns if t not in ae.terms]
    missing = [t for t in ae.terms if t not in grades.columns]
    if unknown or missing:
        raise ValueError(f"grade columns must be the spec's terms: unknown {unknown}, missing {missing}")
    if not grades.index.equals(arms.index):
        arms = arms.reindex(grades.index)
    policy = policy or ae.test
    codes = spec.arm.codes
    in_arm = value_masks(arms, codes)
    n = patients_per_arm(in_arm, "the adverse-event table")
    masks = event_masks(grades[list(ae.terms)], spec)
    terms = list(ae.terms)
    if order == "frequency":
        counts = masks["any_grade"].sum(axis=0)
        terms = sorted(terms, key=lambda t: (-int(counts[t]), terms.index(t)))
    rows: list[dict] = []
    tests: dict[tuple[str, str], str] = {}

    def add(variable, level, group, stat, value):
        rows.append(dict(variable=variable, level=level, group=group, stat=stat, value=float(value)))

    for a in codes:
        add(OVERALL, "patients", a, "n", n[a])
    for variable in [OVERALL, *terms]:
        for level in LEVELS:
            m = masks[level]
            hit = (m.any(axis=1) if variable == OVERALL else m[variable]).to_numpy()
            k = {a: int(np.count_nonzero(hit & in_arm[a])) for a in codes}
            for a in codes:
                add(variable, level, a, "n", k[a])
                add(variable, level, a, "pct", 100.0 * k[a] / n[a])
            table = np.array([[k[a] for a in codes], [n[a] - k[a] for a in codes]])  # event/no event x arms
            if sum(k.values()) == 0:
                # no event in either arm: nothing to compare; papers print NA (R's chisq.test gives NaN)
                p, method = math.nan, "no events in either arm"
            else:
                p, method = _policy_p(table, policy)
            tests[(variable, level)] = method
            add(variable, level, "comparison", "p_value", p)
    long = pd.DataFrame(rows)
    long.insert(0, "analysis", ANALYSIS)
    long.insert(0, "cohort", cohort)
    long.attrs["tests"] = tests
    return long


def severe_label(spec: StudySpec) -> str:
    lo, hi = spec.adverse_events.severe_range
    return f"Grade {lo}" if lo == hi else f"Grade {lo}–{hi}"


def term_label(spec: StudySpec, variable: str) -> str:
    return "Any adverse event" if variable == OVERALL else spec.adverse_events.terms.get(variable, variable)


def adverse_event_display(rows: pd.DataFrame, spec: StudySpec, printed: dict | None = None) -> pd.DataFrame:
    """Table 4 layout: one row per term (in ``rows``' order, ``overall`` first); columns (Any grade | Grade
    3-4) x (each arm ``n (x.x%)``, ``P``).

    ``printed`` maps ``(term, level)`` to a p-value the paper prints differently; such cells show both,
    ``0.081 (printed 0.072)†``, and the page explains the difference in a footnote.
    """
    printed = printed or {}
    codes = spec.arm.codes
    body = rows[rows.level.isin(LEVELS)]
    variables = list(dict.fromkeys(body["variable"]))

    first_values = first_row_values(rows)

    def value(variable, level, group, stat):
        key = (variable, level, group, stat)
        if key not in first_values:
            raise IndexError("single positional indexer is out-of-bounds")  # as the row filter it replaces did
        return first_values[key]

    heads = {"any_grade": "Any grade", "grade_3_4": severe_label(spec)}
    arm_head = {a: f"{spec.arm.labels[a]} (N={value(OVERALL, 'patients', a, 'n'):.0f})" for a in codes}
    table: dict[tuple[str, str], list[str]] = {}
    for level in LEVELS:
        for a in codes:
            table[(heads[level], arm_head[a])] = [f"{value(v, level, a, 'n'):.0f} ({value(v, level, a, 'pct'):.1f}%)"
                                                 for v in variables]
        table[(heads[level], "P")] = [
            format_p(value(v, level, "comparison", "p_value"))
            + (f" (printed {printed[(v, level)]})†" if (v, level) in printed else "") for v in variables]
    out = pd.DataFrame(table, index=pd.Index([term_label(spec, v) for v in variables], name="Adverse event"))
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def treatment_related_deaths(grades: pd.DataFrame, spec: StudySpec) -> pd.DataFrame:
    """Patients with a grade-5 event (death, CTCAE) on any term, as one results row (``group = all``)."""
    terms = [t for t in spec.adverse_events.terms if t in grades.columns]
    deaths = int((grades[terms].fillna(0).to_numpy() >= 5).any(axis=1).sum())
    return pd.DataFrame([dict(analysis=ANALYSIS, variable="treatment_related_death", level="any_grade",
                              group="all", stat="n", value=float(deaths))])


# ------------------------------------------------------------------------------------------ the chapter
class SafetyChapter:
    """Adverse events by term: any grade and grade 3-4 by arm, with the paper's test policy."""

    def __init__(self, ch):
        from helpers.study.patients import adverse_event_grades

        self.ch, self.spec = ch, ch.spec
        self.policy = ch.params["test"] or self.spec.adverse_events.test
        self.order = ch.params["order"]
        self.grades = adverse_event_grades(self.spec, ch.data)
        self.rows = adverse_event_table(self.grades, ch.data[self.spec.arm.column], self.spec, self.policy,
                                        order=self.order)
        ch.results.extend(self.rows[["analysis", "variable", "level", "group", "stat", "value"]], cohort="primary")
        ch.results.extend(treatment_related_deaths(self.grades, self.spec), cohort="primary")

    def adverse_event_table(self):
        from helpers.analyses.audit import compare_with_published
        from helpers.report.display import Table
        from helpers.report.format import test_name

        printed, footnote = {}, ""
        if self.ch.published is not None:
            pub = self.ch.published
            early = compare_with_published(self.ch.results.frame(), pub[pub["section"] == "safety"])
            off = early[(early["stat"] == "p_value") & early["status"].isin(["differs", "close"])
                        & early["value"].notna()]
            printed = {(r.variable, r.level): r.printed for r in off.itertuples()}
            if printed:
                footnote = (" † The paper prints a different p-value for this row; both are shown and the section "
                            "'Published versus reproduced' explains which test gives the printed one.")
        order = {"paper": "the paper's", "frequency": "most frequent first (any grade)"}[self.order]
        return Table("adverse_events", adverse_event_display(self.rows, self.spec, printed),
                     "Treatment-related adverse events.",
                     notes=f"n (%) of patients. P: {test_name(self.policy)}; NA where neither arm has an event. "
                           f"Order: {order}." + footnote)

    def butterfly(self):
        from helpers.report import figures
        from helpers.report.display import Figure

        s = self.spec
        return Figure("ae_butterfly", figures.ae_butterfly(self.rows, s), "Incidence of each adverse event by arm: "
                      f"any grade (light) and grade 3-4 (dark); {s.arm.labels[s.arm.reference]} to the left, "
                      f"{s.arm.labels[s.arm.experimental]} to the right.",
                      alt=f"Butterfly bar chart of the incidence of {len(s.adverse_events.terms)} adverse events, "
                          f"{s.arm.labels[s.arm.reference]} versus {s.arm.labels[s.arm.experimental]}.")

    def explain_p_values(self, comparison) -> None:
        """Under the published-versus-reproduced block: which test gives each differing printed p-value."""
        from helpers.analyses.audit import p_value_notes

        self.ch.note(p_value_notes(comparison, self.rows, self.spec, self.policy, self.ch.data))
