"""Covariate balance between arms: standardized mean differences (SMD) before and after matching.

Convention (R ``tableone``/``cobalt`` with ``s.d.denom = "pooled"``):

* continuous: SMD = (mean₁ − mean₀) / sqrt((s₁² + s₀²) / 2), sample SDs with n − 1;
* each level of a categorical variable (as a 0/1 indicator; two-level variables report the non-reference
  level only): SMD = (p₁ − p₀) / sqrt((p₁(1 − p₁) + p₀(1 − p₀)) / 2), 0 when both proportions are 0 or 1.

Arm 1 is the experimental arm, arm 0 the reference arm.  |SMD| < 0.1 is the usual threshold for balance.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .patients import analysis_column
from .spec import StudySpec


def smd_continuous(x1: np.ndarray, x0: np.ndarray) -> float:
    x1, x0 = np.asarray(x1, float), np.asarray(x0, float)
    denom = np.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2)
    diff = x1.mean() - x0.mean()
    if denom == 0:
        return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
    return float(diff / denom)


def smd_proportion(p1: float, p0: float) -> float:
    denom = np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    if denom == 0:
        return 0.0 if p1 == p0 else float(np.sign(p1 - p0) * np.inf)
    return float((p1 - p0) / denom)


def standardized_differences(data: pd.DataFrame, spec: StudySpec, variables: list[str]) -> pd.DataFrame:
    """SMD per variable (per level for categorical variables with more than two levels).

    Returns columns ``variable, level, label, smd``.
    """
    arm = data[spec.arm.column]
    ref, exp = spec.arm.codes
    rows = []
    for variable in variables:
        var = spec.variables[variable]
        col = data[analysis_column(spec, variable)]
        if var.is_categorical:
            levels = list(var.category_labels.items())
            shown = levels[1:] if len(levels) == 2 else levels
            for level, label in shown:
                p1 = float((col[arm == exp] == level).mean())
                p0 = float((col[arm == ref] == level).mean())
                rows.append(dict(variable=variable, level=level, label=f"{var.label}: {label}",
                                 smd=smd_proportion(p1, p0)))
        else:
            rows.append(dict(variable=variable, level="", label=var.display_label,
                             smd=smd_continuous(col[arm == exp].dropna(), col[arm == ref].dropna())))
    return pd.DataFrame(rows)


def balance_before_after(data: pd.DataFrame, matched: pd.DataFrame, spec: StudySpec,
                         variables: list[str]) -> pd.DataFrame:
    """SMDs in the primary and the matched cohort side by side: ``variable, level, label, before, after``."""
    before = standardized_differences(data, spec, variables).rename(columns={"smd": "before"})
    after = standardized_differences(matched, spec, variables).rename(columns={"smd": "after"})
    return before.merge(after[["variable", "level", "after"]], on=["variable", "level"], how="left")
