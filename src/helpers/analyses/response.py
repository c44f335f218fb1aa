"""Tumour response: best overall response by arm (Table 3), ORR and DCR with exact CIs, and agreement.

Conventions:

* percentages are of *all* patients of the arm (the papers' denominators), ``pct`` on the 0-100 scale;
* the 95% CI of a rate (ORR, DCR) is the Clopper-Pearson exact interval, as R's ``binom.test(k, n)``
  (:mod:`helpers.stats.proportions`, which also has the Wilson and Newcombe intervals);
* between-arm p-values, one per response level, compare "level" vs "not level" by arm with the spec's
  categorical policy (:func:`helpers.hypothesis_tests.categorical_p_value`);
* the CI of a difference of rates (experimental - reference) is Newcombe's hybrid score interval
  (method 10 of Newcombe 1998, built from the two Wilson score intervals, no continuity correction);
* agreement between two criteria is Cohen's kappa with the large-sample standard error of Fleiss, Cohen &
  Everitt (1969) and a Wald interval ``kappa +/- z se``.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from helpers.stats import hypothesis_tests as ht
from helpers.stats.normal import critical_value
from helpers.stats.proportions import (clopper_pearson, proportion_difference_ci,  # noqa: F401
                                       wilson_interval)
from helpers.study.patients import patients_per_arm, value_masks
from helpers.study.spec import StudySpec
from helpers.report.format import format_p

ANALYSIS = "best_response"
RATE_LEVELS = ("ORR", "DCR")


def _policy_p(table: np.ndarray, policy: str) -> tuple[float, str]:
    """The policy's p-value of a 2 x 2 table (levels x arms); NaN when a row is empty under a chi-square
    policy (R's chisq.test gives NaN there too)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ht.categorical_p_value(table, policy)
    except ValueError:
        return math.nan, ""


def response_levels(spec: StudySpec) -> list[str]:
    """The rows of Table 3: the response categories (best first), then ORR and DCR."""
    return [*spec.response.categories, *RATE_LEVELS]


def level_members(spec: StudySpec, level: str) -> tuple[str, ...]:
    """Response codes counted in ``level`` (a category, ``ORR`` or ``DCR``)."""
    r = spec.response
    return {"ORR": r.objective, "DCR": r.control}.get(level, (level,))


def best_response_table(data: pd.DataFrame, spec: StudySpec, criterion: str, policy: str | None = None,
                        cohort: str = "primary", conf: float = 0.95) -> pd.DataFrame:
    """Best overall response by arm for one criterion, as long result rows.

    Columns ``cohort, analysis, variable, level, group, stat, value`` with ``analysis = "best_response"``,
    ``variable = criterion``, ``level`` in the response categories, ``ORR``, ``DCR`` (plus ``patients``:
    the arm sizes, stat ``n``).  Per arm: ``n``, ``pct`` (0-100, of the arm's patients) and for ORR/DCR the
    Clopper-Pearson ``lower``/``upper`` (0-1).  ``group = "comparison"``: ``p_value`` per level (policy
    default: the spec's ``response.test``) and for ORR/DCR the ``difference`` (experimental - reference,
    0-1) with Newcombe's ``lower``/``upper``.  ``.attrs["tests"]`` maps each level to the test used.
    """
    if spec.response is None:
        raise ValueError(f"study '{spec.study_id}' has no response section")
    if criterion not in spec.response.criteria:
        raise KeyError(f"unknown response criterion '{criterion}': expected one of {list(spec.response.criteria)}")
    policy = policy or spec.response.test
    column = spec.response.criteria[criterion].column
    arms = spec.arm.codes
    in_arm = value_masks(data[spec.arm.column], arms)
    values = data[column]
    n = patients_per_arm(in_arm, "best response")
    rows: list[dict] = []
    tests: dict[str, str] = {}

    def add(level, group, stat, value):
        rows.append(dict(variable=criterion, level=level, group=group, stat=stat, value=float(value)))

    for a in arms:
        add("patients", a, "n", n[a])
    for level in response_levels(spec):
        hit = values.isin(level_members(spec, level)).to_numpy()
        k = {a: int(np.count_nonzero(hit & in_arm[a])) for a in arms}
        for a in arms:
            add(level, a, "n", k[a])
            add(level, a, "pct", 100.0 * k[a] / n[a])
            if level in RATE_LEVELS:
                lo, hi = clopper_pearson(k[a], n[a], conf)
                add(level, a, "lower", lo)
                add(level, a, "upper", hi)
        table = np.array([[k[a] for a in arms], [n[a] - k[a] for a in arms]])  # levels x arms
        p, method = _policy_p(table, policy)
        tests[level] = method
        add(level, "comparison", "p_value", p)
        if level in RATE_LEVELS:
            ref, exp = arms
            d, lo, hi = proportion_difference_ci(k[exp], n[exp], k[ref], n[ref], conf)
            add(level, "comparison", "difference", d)
            add(level, "comparison", "lower", lo)
            add(level, "comparison", "upper", hi)
    long = pd.DataFrame(rows)
    long.insert(0, "analysis", ANALYSIS)
    long.insert(0, "cohort", cohort)
    long.attrs["tests"] = tests
    return long


def _value(rows: pd.DataFrame, variable: str, level: str, group: str, stat: str) -> float:
    hit = rows[(rows.variable == variable) & (rows.level == level) & (rows.group == group) & (rows.stat == stat)]
    if hit.empty:
        raise KeyError(f"no result row for {variable}/{level}/{group}/{stat}")
    return float(hit["value"].iloc[0])


LEVEL_LABELS = {"CR": "Complete response (CR)", "PR": "Partial response (PR)", "SD": "Stable disease (SD)",
                "PD": "Progressive disease (PD)"}


def response_display(rows: pd.DataFrame, spec: StudySpec, criteria: list[str] | None = None,
                     ci: bool = False) -> pd.DataFrame:
    """Table 3 layout: rows CR, PR, SD, PD, ORR, DCR; per criterion and arm ``n (x.x%)`` and a P column.

    ``rows`` holds :func:`best_response_table` output for the criteria (concatenated).  Columns are a
    two-level index (criterion label, arm label with N / ``P``).  ``ci=True`` appends the exact 95% CI to
    the ORR and DCR cells.
    """
    criteria = list(criteria or spec.response.criteria)
    arms = spec.arm.codes
    r = spec.response
    labels = {**LEVEL_LABELS, "ORR": f"ORR ({' + '.join(r.objective)})", "DCR": f"DCR ({' + '.join(r.control)})"}
    table: dict[tuple[str, str], list[str]] = {}
    index = [labels.get(level, level) for level in response_levels(spec)]
    for c in criteria:
        clabel = r.criteria[c].label
        for a in arms:
            head = f"{spec.arm.labels[a]} (N={_value(rows, c, 'patients', a, 'n'):.0f})"
            cells = []
            for level in response_levels(spec):
                cell = f"{_value(rows, c, level, a, 'n'):.0f} ({_value(rows, c, level, a, 'pct'):.1f}%)"
                if ci and level in RATE_LEVELS:
                    cell += (f" [{100 * _value(rows, c, level, a, 'lower'):.1f}–"
                             f"{100 * _value(rows, c, level, a, 'upper'):.1f}]")
                cells.append(cell)
            table[(clabel, head)] = cells
        table[(clabel, "P")] = [format_p(_value(rows, c, level, "comparison", "p_value"))
                                for level in response_levels(spec)]
    out = pd.DataFrame(table, index=pd.Index(index, name="Best overall response"))
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def cohen_kappa(table) -> tuple[float, float]:
    """Cohen's kappa of a square agreement table and its large-sample SE (Fleiss, Cohen & Everitt 1969).

    With cell proportions ``p_ij``, margins ``p_i.``, ``p_.j``, ``p_o = sum p_ii``, ``p_e = sum p_i. p_.i``:
    ``var = [sum_i p_ii (1 - (p_i. + p_.i)(1 - k))^2 + (1 - k)^2 sum_{i != j} p_ij (p_.i + p_j.)^2
    - (k - p_e (1 - k))^2] / (n (1 - p_e)^2)``.
    """
    x = np.asarray(table, dtype=float)
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise ValueError(f"kappa needs a square table, got shape {x.shape}")
    n = x.sum()
    if n <= 0:
        raise ValueError("kappa needs at least one rated patient")
    p = x / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    po, pe = float(np.trace(p)), float(rows @ cols)
    if pe >= 1.0:
        return math.nan, math.nan
    k = (po - pe) / (1.0 - pe)
    diag = np.diag(p)
    a = float(np.sum(diag * (1.0 - (rows + cols) * (1.0 - k)) ** 2))
    off = p.copy()
    np.fill_diagonal(off, 0.0)
    # off[i, j] * (p_.i + p_j.)^2
    b = (1.0 - k) ** 2 * float(np.sum(off * (cols[:, None] + rows[None, :]) ** 2))
    c = (k - pe * (1.0 - k)) ** 2
    var = max(a + b - c, 0.0) / (n * (1.0 - pe) ** 2)
    return float(k), math.sqrt(var)


def response_agreement(data: pd.DataFrame, spec: StudySpec, a: str, b: str, conf: float = 0.95):
    """Agreement of two response criteria ``a`` and ``b`` (criterion ids) on the same patients.

    Returns ``(crosstab, kappa, se, lower, upper)``: the categories of ``a`` (rows) by ``b`` (columns) in
    the spec's order, Cohen's kappa, its Fleiss-Cohen-Everitt SE and the Wald CI ``kappa +/- z se``.
    """
    r = spec.response
    cats = list(r.categories)
    ca, cb = r.criteria[a], r.criteria[b]
    tab = pd.crosstab(pd.Categorical(data[ca.column].astype(object), categories=cats),
                      pd.Categorical(data[cb.column].astype(object), categories=cats), dropna=False)
    tab = tab.reindex(index=cats, columns=cats, fill_value=0)
    tab.index.name, tab.columns.name = ca.label, cb.label
    kappa, se = cohen_kappa(tab.to_numpy())
    z = critical_value(conf)
    return tab, kappa, se, kappa - z * se, kappa + z * se


def rate_summary(rows: pd.DataFrame, spec: StudySpec, criterion: str, level: str) -> dict:
    """One display row for ORR or DCR: per-arm % with exact CI, difference with Newcombe's CI, and P."""
    out = {"Criterion": spec.response.criteria[criterion].label, "Rate": level}
    for a in spec.arm.codes:
        out[spec.arm.labels[a]] = (f"{_value(rows, criterion, level, a, 'pct'):.1f}% "
                                   f"({100 * _value(rows, criterion, level, a, 'lower'):.1f}–"
                                   f"{100 * _value(rows, criterion, level, a, 'upper'):.1f})")
    d = _value(rows, criterion, level, "comparison", "difference")
    lo = _value(rows, criterion, level, "comparison", "lower")
    hi = _value(rows, criterion, level, "comparison", "upper")
    out["Difference (95% CI)"] = f"{100 * d:+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f}) points"
    out["P"] = format_p(_value(rows, criterion, level, "comparison", "p_value"))
    return out


# ------------------------------------------------------------------------------------------ the chapter
class ResponseChapter:
    """Best overall response by criterion, ORR and DCR with exact CIs, and the agreement of two criteria."""

    def __init__(self, ch):
        self.ch, self.spec = ch, ch.spec
        self.policy = ch.params["test"] or self.spec.response.test
        self.criteria = list(self.spec.response.criteria)
        self.rows = pd.concat([best_response_table(ch.data, self.spec, c, self.policy) for c in self.criteria],
                              ignore_index=True)
        ch.results.extend(self.rows[["analysis", "variable", "level", "group", "stat", "value"]], cohort="primary")
        self.agreement = None
        if len(self.criteria) >= 2:
            self.agreement = response_agreement(ch.data, self.spec, self.criteria[0], self.criteria[1])
            ch.results.add(cohort="primary", analysis="agreement", variable=f"{self.criteria[0]}_{self.criteria[1]}",
                           level="", group="all", stat="kappa", value=self.agreement[1])

    def response_table(self):
        from helpers.report.display import Table
        from helpers.report.format import test_name

        return Table("best_response", response_display(self.rows, self.spec, self.criteria), "Best overall response.",
                     notes=f"n (%) of patients in each arm. P: {test_name(self.policy)}.")

    def response_figure(self):
        from helpers.report import seaborn_plots
        from helpers.report.display import Figure

        return Figure("response_bars", seaborn_plots.response_bars(self.rows, self.spec, self.criteria),
                      "Best overall response by arm and criterion (percent of patients).",
                      alt="Stacked bars of best overall response (complete response, partial response, stable disease, "
                          "progressive disease) by arm for " + " and ".join(
                              self.spec.response.criteria[c].label for c in self.criteria) + ".")

    def rates_table(self):
        from helpers.report.display import Table

        rows = [rate_summary(self.rows, self.spec, c, level) for c in self.criteria for level in ("ORR", "DCR")]
        return Table("response_rates", pd.DataFrame(rows), "Response rates with 95% confidence intervals.",
                     index=False, notes="Exact Clopper-Pearson intervals (R binom.test); difference = experimental "
                                        "minus reference, Newcombe's hybrid score interval (method 10 of Newcombe 1998).")

    def agreement_table(self):
        from helpers.report.display import Table

        if self.agreement is None:
            return None
        table, kappa, se, lower, upper = self.agreement
        a, b = (self.spec.response.criteria[c].label for c in self.criteria[:2])
        return Table("agreement", table, f"Best response by {a} (rows) and {b} (columns), all patients.",
                     notes=f"Cohen's kappa {kappa:.2f} (95% CI {lower:.2f}–{upper:.2f}; asymptotic SE).")

    def explain_p_values(self, comparison) -> None:
        """Under the published-versus-reproduced block: which test gives each differing printed p-value."""
        from helpers.analyses.audit import p_value_notes

        self.ch.note(p_value_notes(comparison, self.rows, self.spec, self.policy, self.ch.data))
