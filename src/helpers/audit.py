"""Published versus reproduced: join the analysis-results table with ``published.yaml``.

Tolerance rules (documented in ``book/results_table.md``):

* counts (``stat == "n"``): exact;
* everything else: equal when rounded to the printed number of decimals (``printed`` text; a proportion
  printed as a percentage keeps two more), or, for values with a ``relation`` (``<``, ``<=``, ``>``, ``>=``),
  reproduced when the relation holds.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

RELATIONS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
             ">=": lambda a, b: a >= b}
JOIN = ["cohort", "section", "analysis", "variable", "level", "group", "stat"]


def printed_decimals(printed: str, value: float) -> int:
    """Decimals of ``value`` as printed in ``printed`` (e.g. "47 (92.2%)" has 1 for 92.2, 0 for 47)."""
    text = f"{value:g}"
    for token in re.findall(r"\d+(?:\.\d+)?", str(printed)):
        places = len(token.split(".")[1]) if "." in token else 0
        if np.isclose(float(token), value):
            return places
        if np.isclose(float(token), value * 100):  # a proportion printed as a percentage: 0.540 from "54.0%"
            return places + 2
    return len(text.split(".")[1]) if "." in text else 0


def compare_with_published(results: pd.DataFrame, published: pd.DataFrame,
                           include_missing: bool = False) -> pd.DataFrame:
    """One row per published value that the results table also holds: published, reproduced, status.

    With ``include_missing``, published values this run did not compute at all (e.g. a multivariable term
    for a variable the screen did not select) are kept with status ``not computed``.
    """
    pub = published.drop_duplicates(JOIN).copy()
    merged = pub.merge(results[JOIN + ["value"]].rename(columns={"value": "reproduced"}), on=JOIN,
                       how="left" if include_missing else "inner", indicator="merge_status")
    status = []
    for r in merged.itertuples():
        if r.merge_status == "left_only":
            status.append("not computed")
            continue
        if pd.isna(r.value) and pd.isna(r.reproduced):
            status.append("reproduced")  # both not reached / not estimable (printed as NR or NA)
            continue
        if pd.isna(r.value) or pd.isna(r.reproduced):
            status.append("differs")  # reached on one side, not reached (NR / NA) on the other
            continue
        relation = r.relation if isinstance(r.relation, str) else ""
        if relation in RELATIONS:
            status.append("reproduced" if RELATIONS[relation](r.reproduced, r.value) else "differs")
            continue
        d = 0 if r.stat == "n" else printed_decimals(r.printed, r.value)
        status.append("reproduced" if round(r.reproduced, d) == round(r.value, d) else "differs")
    merged["status"] = status
    merged["difference"] = merged["reproduced"] - merged["value"]
    return merged[JOIN + ["printed", "value", "reproduced", "difference", "status", "source"]]


def verdict_sentence(comparison: pd.DataFrame, spec) -> str:
    """One line: how many published numbers this chapter reproduces, counted from ``comparison``."""
    counts = comparison["status"].value_counts()
    n = len(comparison)
    parts = [f"**{int(counts.get('reproduced', 0))} of {n}** published numbers compared here are reproduced"]
    if counts.get("differs", 0):
        parts.append(f"{int(counts['differs'])} differ")
    if counts.get("not computed", 0):
        parts.append(f"{int(counts['not computed'])} are not computed by this run (see the table)")
    if counts.get("not comparable", 0):
        parts.append(f"{int(counts['not comparable'])} are not comparable (not estimable or printed as NA)")
    by_cohort = comparison.groupby("cohort")["status"].apply(lambda s: f"{(s == 'reproduced').sum()}/{len(s)}")
    return "; ".join(parts) + " (" + ", ".join(f"{c}: {v}" for c, v in by_cohort.items()) + ")."


def comparison_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """A reader's view of :func:`compare_with_published`: one line per number, differing ones first.

    The reproduced value is shown to the decimals the paper printed (counts as integers), so a reader compares
    like with like; ``difference`` is unrounded.
    """
    rows = []
    for r in comparison.itertuples():
        d = 0 if r.stat == "n" else printed_decimals(r.printed, r.value)
        what = " ".join(str(x) for x in (r.variable, r.level) if x)
        rows.append({
            "Cohort": r.cohort,
            "Analysis": r.analysis,
            "Quantity": what,
            "Group": r.group,
            "Statistic": r.stat,
            "Published": f"{r.value:.{d}f}" if pd.notna(r.value) else "NA",
            "Reproduced": f"{r.reproduced:.{d}f}" if pd.notna(r.reproduced) else "NA",
            "Difference": f"{r.difference:+.3g}" if pd.notna(r.difference) and r.difference != 0 else "",
            "Status": r.status,
            "Source": r.source,
            "_order": {"differs": 0, "not computed": 1, "not comparable": 2, "reproduced": 3}.get(r.status, 4),
        })
    out = pd.DataFrame(rows, columns=["Cohort", "Analysis", "Quantity", "Group", "Statistic", "Published",
                                      "Reproduced", "Difference", "Status", "Source", "_order"])
    return out.sort_values(["_order", "Cohort"], kind="stable").drop(columns="_order").reset_index(drop=True)


def p_value_discrepancies(differs: pd.DataFrame, rows: pd.DataFrame, spec, policy: str, arm_sizes: dict) -> str:
    """Explain published 2×2 p-values that differ from the stated policy: which test gives the printed value.

    ``differs``: rows of :func:`comparison_display`; ``rows``: the chapter's long result rows with per-arm
    counts (``stat == "n"``). For each differing p-value (response level or adverse event), recompute the 2x2 table under every policy and name the ones
    whose value prints as published (e.g. AST increased, any grade: printed 0.072 = Fisher; the stated rule,
    chi-square with Yates' correction because no expected count is below 5, gives 0.081).
    """
    from .hypothesis_tests import categorical_p_value

    notes = []
    ref, exp = spec.arm.codes
    for r in differs.itertuples():
        if r.Statistic != "p_value" or r.Published in ("", "NA"):
            continue
        variable, _, level = r.Quantity.rpartition(" ")
        n = rows[(rows["variable"] == variable) & (rows["level"] == level) & (rows["stat"] == "n")]
        k = {g: int(v) for g, v in zip(n["group"], n["value"])}
        if ref not in k or exp not in k:
            continue
        table = np.array([[k[ref], arm_sizes[ref] - k[ref]], [k[exp], arm_sizes[exp] - k[exp]]])
        decimals = len(r.Published.split(".")[1]) if "." in r.Published else 3
        matches = []
        for name in ("fisher", "chisq_yates", "chisq"):
            p, _ = categorical_p_value(table, name)
            if round(p, decimals) == float(r.Published):
                matches.append(name)
        p_policy, method = categorical_p_value(table, policy)
        terms = spec.adverse_events.terms if spec.adverse_events else {}
        criteria = {k: c.label for k, c in spec.response.criteria.items()} if spec.response else {}
        label = terms.get(variable) or criteria.get(variable) or variable
        level_label = {"any_grade": "any grade", "grade_3_4": "grade 3-4"}.get(level, level)
        names = {"fisher": "Fisher's exact test", "chisq_yates": "chi-square with Yates' correction",
                 "chisq": "the uncorrected chi-square"}
        found = (f"the printed value is what {' and '.join(names[m] for m in matches)} gives" if matches
                 else "no standard test gives the printed value from these counts")
        notes.append(f"- {label}, {level_label} ({k[ref]}/{arm_sizes[ref]} vs {k[exp]}/{arm_sizes[exp]}): the paper "
                     f"prints p = {r.Published}; the stated policy ({policy}: {method}) gives {p_policy:.3f}; {found}.")
    if not notes:
        return ""
    return "**Why these p-values differ**\n\n" + "\n".join(notes)


def no_published_text(spec) -> str:
    """The published-versus-reproduced section of a study without ``published.yaml`` (e.g. the user's own data)."""
    return (f"There are no published numbers to compare with: the study has no `published.yaml` "
            f"(optional; see the spec format page). Every number on this page is computed from the patient table "
            f"and written to the analysis-results table (`_build/results/{spec.study_id}/`).")
