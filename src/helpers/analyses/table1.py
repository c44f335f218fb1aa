"""Table 1: baseline characteristics by arm, with the between-arm tests a paper used.

Conventions (R ``tableone``, which both seed papers' authors used):

* categorical variables: n (%) per arm; p from the table policy (``chisq_yates`` = Pearson chi-square with
  Yates' correction on 2x2 tables, tableone's default; ``fisher_if_expected_lt5`` = Fisher's exact test when
  any expected count is below 5, else chi-square with Yates; ``chisq``; ``fisher``);
* continuous variables: median [Q1, Q3] with R's default type-7 quantiles, or mean ± SD (n - 1 denominator);
  p from ``mann_whitney`` (asymptotic, tie-corrected, no continuity correction = R ``kruskal.test``, what
  tableone's ``nonnormal`` runs), ``t_test`` (Student, pooled variance), ``welch`` or ``wilcox_cc``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.report.format import TEST_LABELS, format_p, short_test_label, test_name
from helpers.stats import hypothesis_tests as ht
from helpers.stats.descriptive import type7_quartiles
from helpers.study.patients import analysis_column, level_codes, patients_per_arm
from helpers.study.spec import StudySpec


@dataclass
class BaselineTable:
    """A baseline table: ``long`` holds one row per number (results-table keys), ``tests`` the test per variable."""

    spec: StudySpec
    cohort: str
    long: pd.DataFrame
    tests: dict[str, str]
    n: dict[str, int]
    continuous_summary: str
    categorical_test: str = ""
    continuous_test: str = ""

    def value(self, variable: str, level: str, group: str, stat: str) -> float:
        hit = self.long[(self.long.variable == variable) & (self.long.level == level)
                        & (self.long.group == group) & (self.long.stat == stat)]
        return float(hit["value"].iloc[0])

    def display(self) -> pd.DataFrame:
        """The table as printed in a paper: one row per variable/level, n (%) or median [IQR], p."""
        spec = self.spec
        arms = spec.arm.codes
        rows = []
        for variable in self.long["variable"].unique():
            var = spec.variables[variable]
            p = self.value(variable, "", "comparison", "p_value")
            test = self.tests[variable]
            if var.is_categorical:
                rows.append({"Variable": f"{var.display_label}, n (%)", **{a: "" for a in arms}, "P": format_p(p),
                             "Test": test})
                for level, label in var.category_labels.items():
                    cells = {a: f"{self.value(variable, level, a, 'n'):.0f} ({self.value(variable, level, a, 'pct'):.1f}%)"
                             for a in arms}
                    rows.append({"Variable": f"\u00a0\u00a0\u00a0{label}", **cells, "P": "", "Test": ""})
            else:
                d = var.decimals
                if self.continuous_summary == "median_iqr":
                    cells = {a: f"{self.value(variable, '', a, 'median'):.{d}f} [{self.value(variable, '', a, 'q1'):.{d}f}, "
                                f"{self.value(variable, '', a, 'q3'):.{d}f}]" for a in arms}
                    label = f"{var.display_label}, median [IQR]"
                else:
                    cells = {a: f"{self.value(variable, '', a, 'mean'):.{d}f} ± {self.value(variable, '', a, 'sd'):.{d}f}"
                             for a in arms}
                    label = f"{var.display_label}, mean ± SD"
                rows.append({"Variable": label, **cells, "P": format_p(p), "Test": test})
            missing = self.long[(self.long.variable == variable) & (self.long.stat == "n_missing")]
            if len(missing):
                cells = {a: f"{self.value(variable, '', a, 'n_missing'):.0f}" for a in arms}
                rows.append({"Variable": "\u00a0\u00a0\u00a0Missing, n", **cells, "P": "", "Test": ""})
        out = pd.DataFrame(rows).set_index("Variable")
        out.columns = [f"{spec.arm.labels[c]} (N={self.n[c]})" if c in self.n else c for c in out.columns]
        return out


def baseline_table(data: pd.DataFrame, spec: StudySpec, cohort: str = "primary", variables: list[str] | None = None,
                   categorical_test: str | None = None, continuous_test: str | None = None,
                   continuous_summary: str | None = None) -> BaselineTable:
    """Compute Table 1 for ``data`` (a table from :func:`helpers.patients.load_patients`).

    Policies default to the study spec's ``table1`` section; pass them to override (e.g. ``"fisher"``).
    """
    variables = list(variables or spec.table1.variables)
    categorical_test = categorical_test or spec.table1.categorical_test
    continuous_test = continuous_test or spec.table1.continuous_test
    continuous_summary = continuous_summary or spec.table1.continuous_summary
    arms = spec.arm.codes
    arm = data[spec.arm.column]
    # each patient's arm as a position in ``arms`` (-1: none of them), looked up once; masks per arm from it
    arm_position = level_codes(arm, arms)
    in_arm = {a: arm_position == j for j, a in enumerate(arms)}
    n = patients_per_arm(in_arm, "Table 1", f" in the {cohort} cohort")
    rows: list[dict] = []
    tests: dict[str, str] = {}

    def add(variable, level, group, stat, value):
        rows.append(dict(variable=variable, level=level, group=group, stat=stat, value=float(value)))

    for variable in variables:
        var = spec.variables[variable]
        col = data[analysis_column(spec, variable)]
        if var.is_categorical:
            levels = list(var.category_labels)
            # levels x arms counts (cells missing either are not counted), as a crosstab but from the codes
            level_position = level_codes(col, levels)
            both = (level_position >= 0) & (arm_position >= 0)
            counts = np.bincount(level_position[both] * len(arms) + arm_position[both],
                                 minlength=len(levels) * len(arms)).reshape(len(levels), len(arms))
            present = col.notna().to_numpy()
            nonmissing = {a: int(np.count_nonzero(present & in_arm[a])) for a in arms}
            missing_n = {a: n[a] - nonmissing[a] for a in arms}
            for i, level in enumerate(levels):
                for j, a in enumerate(arms):
                    k = int(counts[i, j])
                    add(variable, level, a, "n", k)
                    add(variable, level, a, "pct", 100.0 * k / nonmissing[a] if nonmissing[a] else np.nan)
            # R tableone tests the observed levels only; with a single observed level chisq.test degenerates
            # into a goodness-of-fit test of the arm sizes (how the papers print p = 1.000 for such rows).
            with warnings.catch_warnings():  # the degenerate case is labelled in the table instead
                warnings.simplefilter("ignore", UserWarning)
                p, method = ht.categorical_p_value(counts, categorical_test, drop_empty_levels=True)
            tests[variable] = short_test_label(method)
        else:
            values = col.to_numpy(dtype=float, na_value=np.nan)
            groups = [values[in_arm[a] & ~np.isnan(values)] for a in arms]
            missing_n = {a: int(np.count_nonzero(in_arm[a] & np.isnan(values))) for a in arms}
            for a, x in zip(arms, groups):
                q1, med, q3 = type7_quartiles(x)
                add(variable, "", a, "median", med)
                add(variable, "", a, "q1", q1)
                add(variable, "", a, "q3", q3)
                add(variable, "", a, "mean", x.mean())
                add(variable, "", a, "sd", x.std(ddof=1) if len(x) > 1 else np.nan)
            p, _ = ht.continuous_p_value(groups[0], groups[1], continuous_test)
            tests[variable] = TEST_LABELS.get(continuous_test, continuous_test)
        add(variable, "", "comparison", "p_value", p)
        if any(missing_n.values()):  # shown as a "Missing" row, like gtsummary's "Unknown"
            for a in arms:
                add(variable, "", a, "n_missing", missing_n[a])
    for a in arms:
        add("patients", "included", a, "n", n[a])
    long = pd.DataFrame(rows)
    long.insert(0, "analysis", "table1")
    long.insert(0, "cohort", cohort)
    return BaselineTable(spec, cohort, long[long.variable != "patients"].reset_index(drop=True), tests, n,
                         continuous_summary, categorical_test, continuous_test)


SUPERSCRIPTS = "ᵃᵇᶜᵈᵉᶠᵍʰ"


def side_by_side(tables: list[BaselineTable], titles: list[str], smd: dict | None = None) -> pd.DataFrame:
    """Several baseline tables next to each other (e.g. primary and matched cohorts), as in a paper.

    The test behind each p-value is marked with a superscript letter (legend: :func:`test_legend`), which keeps
    the table narrow enough for a page. ``smd`` ((variable, level) -> SMD) adds an SMD column to the last table
    (the matched cohort's balance): on the variable's row for a two-level variable or a continuous one, on each
    level's row for a variable with more levels.
    """
    marks = _test_marks(tables)
    frames = []
    for i, t in enumerate(tables):
        shown = t.display()
        shown["P"] = [f"{p}{marks[test]}" if test else p for p, test in zip(shown["P"], shown["Test"])]
        if smd is not None and i == len(tables) - 1:
            shown["SMD"] = _smd_cells(t, smd)
        frames.append(shown.drop(columns="Test"))
    out = pd.concat(frames, axis=1, keys=titles)
    out.index.name = None  # the row labels speak for themselves; a 'Variable' header row only adds height
    return out


def _smd_cells(table: BaselineTable, smd: dict) -> list[str]:
    """The SMD column in the order of :meth:`BaselineTable.display`'s rows."""
    cells = []
    for variable in table.long["variable"].unique():
        var = table.spec.variables[variable]
        if var.is_categorical:
            levels = list(var.category_labels)
            two = len(levels) == 2
            head = smd.get((variable, levels[1])) if two else None
            cells.append("" if head is None else f"{head:.2f}")
            for level in levels:
                value = None if two else smd.get((variable, level))
                cells.append("" if value is None else f"{value:.2f}")
        else:
            value = smd.get((variable, ""))
            cells.append("" if value is None else f"{value:.2f}")
        if (table.long[(table.long.variable == variable)]["stat"] == "n_missing").any():
            cells.append("")
    return cells


def _test_marks(tables: list[BaselineTable]) -> dict[str, str]:
    names: list[str] = []
    for t in tables:
        for test in t.display()["Test"]:
            if test and test not in names:
                names.append(test)
    return {name: SUPERSCRIPTS[i % len(SUPERSCRIPTS)] for i, name in enumerate(names)}


def test_legend(tables: list[BaselineTable]) -> str:
    """The legend of the superscript test marks used by :func:`side_by_side`."""
    return "; ".join(f"{mark} {name}" for name, mark in _test_marks(tables).items())


TEST_EXPLANATIONS = {
    "χ² (Yates)": "χ² (Yates) = Pearson chi-square with Yates' continuity correction, applied to 2×2 tables only "
                  "(R chisq.test default)",
    "χ²": "χ² = Pearson chi-square without continuity correction",
    "χ² (one level observed)": "χ² (one level observed) = a variable with a single observed level, tested as "
                               "R's chisq.test does on a vector (goodness of fit; p = 1.000 for equal arms), as "
                               "tableone prints it",
    "Fisher": "Fisher = Fisher's exact test, two-sided (r×c network algorithm as R fisher.test)",
    "Mann-Whitney": "Mann-Whitney = asymptotic, tie-corrected, without continuity correction (equals R "
                    "kruskal.test, as run by tableone's nonnormal option)",
    "Wilcoxon (cc)": "Wilcoxon (cc) = R wilcox.test default: normal approximation with continuity correction",
    "t-test": "t-test = Student's two-sample t-test with pooled variance (R t.test var.equal = TRUE)",
    "Welch t": "Welch t = Welch's unequal-variance t-test (R t.test default)",
}


def policy_note(table: BaselineTable) -> str:
    """Footnote naming the summaries and the tests actually used, as a methods section would."""
    spec = table.spec
    summary = ("median [IQR] (R type-7 quantiles)" if table.continuous_summary == "median_iqr"
               else "mean ± SD (SD with n − 1)")
    used = list(dict.fromkeys(t for t in table.tests.values() if t))
    explained = "; ".join(TEST_EXPLANATIONS[t] for t in used if t in TEST_EXPLANATIONS)
    missing = "" if not (table.long.stat == "n_missing").any() else (
        " Missing, n: patients without a value; percentages and tests use the patients with a value "
        "(complete cases, R's default).")
    with_missing = set(table.long.loc[table.long.stat == "n_missing", "variable"])
    coded = [f"{spec.variables[v].label} {', '.join(spec.variables[v].missing_codes)}"
             for v in table.long["variable"].unique() if v in with_missing and spec.variables[v].missing_codes]
    if coded:
        missing += (" Counted as missing are also the codes the study specification declares as unknown "
                    f"(missing_codes): {'; '.join(coded)}.")
    return (f"Continuous variables: {summary}. Categorical: n (% of non-missing).{missing} "
            f"Categorical variables: {test_name(table.categorical_test or spec.table1.categorical_test)}. "
            f"{explained}.")
