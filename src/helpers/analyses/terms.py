"""A study's variables as model terms: the Cox design (R's treatment contrasts) and each term in words.

Used by every chapter that fits a model of the spec's variables: survival (the Cox screen), competing risks,
subgroups and multiple imputation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.stats.design import treatment_dummies
from helpers.study.patients import CUT_SUFFIX, level_codes
from helpers.study.spec import StudySpec


def arm_codes(data: pd.DataFrame, spec: StudySpec) -> np.ndarray:
    """Each patient's arm as its position in ``spec.arm.codes`` (-1: none of them)."""
    return level_codes(data[spec.arm.column], spec.arm.codes).astype(np.int64)


def cox_terms(data: pd.DataFrame, spec: StudySpec, variables) -> tuple[pd.DataFrame, dict[str, list[str]],
                                                                         dict[str, tuple[str, str]]]:
    """Dummy-code ``variables`` for a Cox model, as R's treatment contrasts do.

    A variable with cut-points enters through its categories (Table 2 style: age >= 60 vs < 60); the
    reference level is ``survival.cox.reference_levels[variable]`` or else the first level. Returns the
    design (one 0/1 column per non-reference level), variable -> its term columns, term -> (variable, level).
    """
    refs = spec.survival.cox.reference_levels if spec.survival else {}
    design = pd.DataFrame(index=data.index)
    terms: dict[str, list[str]] = {}
    term_map: dict[str, tuple[str, str]] = {}
    for name in variables:
        if name == "arm":
            col = f"arm:{spec.arm.experimental}"
            experimental = list(spec.arm.codes).index(spec.arm.experimental)
            design[col] = (arm_codes(data, spec) == experimental).astype(float)
            terms["arm"] = [col]
            term_map[col] = ("arm", spec.arm.experimental)
            continue
        var = spec.variables[name]
        if var.type == "continuous" and var.cut is None:
            design[name] = data[name].astype(float)
            terms[name] = [name]
            term_map[name] = (name, "")
            continue
        column = name if var.type == "categorical" else name + CUT_SUFFIX
        levels = list(var.category_labels)
        reference = refs.get(name, levels[0])
        dummies, coded = treatment_dummies(data[column], levels, reference, name=name)
        terms[name] = []
        for j, level in enumerate(coded):
            col = f"{name}:{level}"
            # a missing value stays missing in every dummy (the model drops the row, as R does)
            design[col] = dummies[:, j]
            terms[name].append(col)
            term_map[col] = (name, level)
    return design, terms, term_map


def term_label(spec: StudySpec, variable: str, level: str) -> str:
    """A model term in words: 'Treatment (HAIT-M-P vs HAIT)', 'Child-Pugh grade: B vs A', 'Age (years)'."""
    if variable == "arm":
        return f"Treatment ({spec.arm.labels.get(level, level)} vs {spec.arm.labels[spec.arm.reference]})"
    var = spec.variables[variable]
    cats = var.category_labels
    if not cats:
        return var.display_label
    ref = spec.survival.cox.reference_levels.get(variable, next(iter(cats)))
    return f"{var.label}: {cats.get(level, level)} vs {cats.get(ref, ref)}"
