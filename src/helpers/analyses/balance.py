"""Covariate balance between arms: standardized mean differences (SMD) before and after matching.

Convention (R ``tableone``/``cobalt`` with ``s.d.denom = "pooled"``):

* continuous: SMD = (mean₁ − mean₀) / sqrt((s₁² + s₀²) / 2), sample SDs with n − 1;
* each level of a categorical variable (as a 0/1 indicator; two-level variables report the non-reference
  level only): SMD = (p₁ − p₀) / sqrt((p₁(1 − p₁) + p₀(1 − p₀)) / 2), 0 when both proportions are 0 or 1;
  p is the proportion among the patients with a known value, the denominator of Table 1's percentages.

Arm 1 is the experimental arm, arm 0 the reference arm.  |SMD| < 0.1 is the usual threshold for balance.

With ``weights`` (e.g. matching weights after 1:k matching or matching with replacement) means and
proportions are weighted and the SDs are weighted with the "reliability weights" correction
``sum w (x - m)^2 * sum w / ((sum w)^2 - sum w^2)`` (R ``cobalt``'s ``col_w_sd``); all weights 1 gives the
unweighted formulas above. Units with weight 0 are left out. Note that the weighted SDs sit in the denominator
here; cobalt's ``bal.tab`` keeps the unweighted groups' SDs there (:func:`helpers.stats.balance.balance_table`).

The array-level formulas are :func:`helpers.stats.balance.smd_continuous`, ``smd_proportion`` and
``smd_continuous_weighted``; :mod:`helpers.stats.balance` also has cobalt's conventions (unweighted
denominators, raw binary differences, variance ratios, eCDF statistics) for a balance table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.stats.balance import smd_continuous, smd_continuous_weighted, smd_proportion
from helpers.study.patients import analysis_column, value_masks
from helpers.study.spec import StudySpec


def standardized_differences(data: pd.DataFrame, spec: StudySpec, variables: list[str],
                             weights: pd.Series | None = None) -> pd.DataFrame:
    """SMD per variable (per level for categorical variables with more than two levels).

    ``weights`` (aligned on ``data``'s index) weight the means, proportions and SDs; see the module notes.
    Returns columns ``variable, level, label, smd``.
    """
    if weights is not None:
        w = pd.Series(weights, dtype=float).reindex(data.index)
        if w.isna().any() or (w < 0).any():
            raise ValueError("weights must be given, and non-negative, for every row of the data")
        data, w = data[w > 0], w[w > 0]
        return _weighted_differences(data, spec, variables, w)
    ref, exp = spec.arm.codes
    in_arm = value_masks(data[spec.arm.column], (ref, exp))
    rows = []
    for variable in variables:
        var = spec.variables[variable]
        col = data[analysis_column(spec, variable)]
        if var.is_categorical:
            levels = list(var.category_labels.items())
            shown = levels[1:] if len(levels) == 2 else levels
            present = col.notna().to_numpy()  # proportions of the patients with a known value, as in Table 1
            for level, label in shown:
                hit = (col == level).to_numpy()
                p1, p0 = _share(hit, in_arm[exp] & present), _share(hit, in_arm[ref] & present)
                rows.append(dict(variable=variable, level=level, label=f"{var.label}: {label}",
                                 smd=smd_proportion(p1, p0)))
        else:
            x = col.to_numpy(dtype=float, na_value=np.nan)
            present = ~np.isnan(x)
            rows.append(dict(variable=variable, level="", label=var.display_label,
                             smd=smd_continuous(x[in_arm[exp] & present], x[in_arm[ref] & present])))
    return pd.DataFrame(rows)


def _share(hit: np.ndarray, among: np.ndarray) -> float:
    """Proportion of ``among`` rows where ``hit`` (NaN when there are none, as the mean of an empty Series)."""
    n = int(np.count_nonzero(among))
    return np.count_nonzero(hit & among) / n if n else float("nan")


def _weighted_differences(data, spec, variables, w) -> pd.DataFrame:
    arm = data[spec.arm.column]
    ref, exp = spec.arm.codes
    is1, is0 = (arm == exp).to_numpy(), (arm == ref).to_numpy()
    wv = w.to_numpy(float)
    rows = []
    for variable in variables:
        var = spec.variables[variable]
        col = data[analysis_column(spec, variable)]
        ok = col.notna().to_numpy()
        if var.is_categorical:
            levels = list(var.category_labels.items())
            shown = levels[1:] if len(levels) == 2 else levels
            for level, label in shown:
                hit = (col == level).to_numpy(float)
                p1 = float(np.average(hit[is1 & ok], weights=wv[is1 & ok]))
                p0 = float(np.average(hit[is0 & ok], weights=wv[is0 & ok]))
                rows.append(dict(variable=variable, level=level, label=f"{var.label}: {label}",
                                 smd=smd_proportion(p1, p0)))
        else:
            x = col.to_numpy(float)
            rows.append(dict(variable=variable, level="", label=var.display_label,
                             smd=smd_continuous_weighted(x[is1 & ok], x[is0 & ok], wv[is1 & ok], wv[is0 & ok])))
    return pd.DataFrame(rows)


def balance_before_after(data: pd.DataFrame, matched: pd.DataFrame, spec: StudySpec,
                         variables: list[str]) -> pd.DataFrame:
    """SMDs in the primary and the matched cohort side by side: ``variable, level, label, before, after``."""
    before = standardized_differences(data, spec, variables).rename(columns={"smd": "before"})
    after = standardized_differences(matched, spec, variables).rename(columns={"smd": "after"})
    return before.merge(after[["variable", "level", "after"]], on=["variable", "level"], how="left")
