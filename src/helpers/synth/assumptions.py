"""The keys of ``reconstruction.yaml``, defined once and checked before the generator reads any of them.

The generator reads its assumptions with defaults (``conf.get("draw_steps", 6000)``), so without a check a
misspelled key (``matching_search_step``) would silently give the default. :func:`load_assumptions` parses the
file with line numbers and refuses, all at once, every key that is not in :data:`ASSUMPTION_KEYS` with the
nearest valid one, every variable that is not in the study's spec and every arm that is not one of its arms.
Values are checked where they are used (a wrong type fails there with its own message).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from helpers.study.schema import did_you_mean
from helpers.study.spec import SpecError, read_yaml_with_lines

__all__ = ["ASSUMPTION_KEYS", "ASSUMPTIONS_FILE", "AssumptionsError", "load_assumptions", "check_assumptions"]

ASSUMPTIONS_FILE = "reconstruction.yaml"

#: Markers of a mapping whose keys are the user's names, not fixed keys: the spec's variables, its arm
#: labels (or ``all``), or any name (levels, category labels), each followed by the sub-tree of every value.
VARIABLES, ARMS, ANY = "<variable>", "<arm>", "<any>"

_SEARCH = {"block_sweeps": None, "sweeps": None, "draw_steps": None, "anneal": None, "swap_steps": None,
           "restarts": None, "coefficient_iterations": None}

#: Every key the generator reads (``None``: a value, a dict: its known keys). The comments of each study's
#: ``reconstruction.yaml`` say what the keys mean; the modules reading them are named here.
ASSUMPTION_KEYS: dict[str, Any] = {
    # helpers.synth.reconstruct (baseline table) and the matched design
    "seed": None,
    "arm_sizes": {ARMS: None},
    "matching_candidates": None,
    "matching_search_steps": None,
    "matching_polish_sweeps": None,
    "matching_search_temperature": None,
    "continuous": {VARIABLES: {"range": None, "grid": None}},
    "categorised": {VARIABLES: {"grid": None, "log": None, "ranges": {ANY: None}}},
    "categorical": {VARIABLES: {"proportions": {ANY: None}, "direction": {"level": None, "higher": None}}},
    # helpers.synth.survival
    "survival": {
        "survival_seed": None, "accrual": {"start": None, "end": None}, "cutoff": None,
        "followup_quartiles": {ARMS: None}, "followup_definition": None, "censoring_by_arm": None,
        "dropout": None, "dropout_rate": None, "copula_rho": None, "initial_shape": None,
        "initial_nonprogressors": None, "initial_site_pattern": {"second_only": None, "both": None},
        "initial_death_without_progression_scale": None, "grid": None, "covariate_model": None,
        "search": _SEARCH,
    },
    # helpers.synth.response
    "response": {"pfs_noise_sd": None},
    "adverse_events": {"p_grade4_given_severe": None, "p_grade2_given_mild": None},
}


class AssumptionsError(SpecError):
    """``reconstruction.yaml`` is malformed.  ``problems`` lists every problem found."""

    what = "the reconstruction assumptions"


def _key_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def check_assumptions(data: Any, lines: dict[tuple, int], variables: list[str], arms: list[str]) -> list[str]:
    """Every problem of parsed ``reconstruction.yaml`` data, as ``"line N: key.path: message"``; empty when none.

    ``variables`` are the spec's variable names and ``arms`` its arm labels (``all`` is accepted where an arm
    is: one value for both arms)."""
    problems: list[str] = []

    def at(loc: tuple) -> int:
        while loc and loc not in lines:
            loc = loc[:-1]
        return lines.get(loc, 1)

    def walk(value: Any, tree: dict, loc: tuple) -> None:
        if not isinstance(value, dict):
            problems.append(f"line {at(loc)}: {_key_path(loc)}: must be a mapping of key: value pairs, "
                            f"got {value!r}")
            return
        for key, sub in value.items():
            here = loc + (str(key),)
            if VARIABLES in tree or ARMS in tree or ANY in tree:
                marker = next(m for m in (VARIABLES, ARMS, ANY) if m in tree)
                valid = variables if marker == VARIABLES else [*arms, "all"] if marker == ARMS else None
                if valid is not None and str(key) not in valid:
                    what = "a variable of the study's spec" if marker == VARIABLES else \
                        "an arm of the study's spec (nor `all`)"
                    problems.append(f"line {at(here)}: {_key_path(here)}: `{key}` is not {what}"
                                    f"{did_you_mean(str(key), valid)}")
                    continue
                child = tree[marker]
            elif str(key) in tree:
                child = tree[str(key)]
            else:
                problems.append(f"line {at(here)}: {_key_path(here)}: unknown key `{key}`"
                                f"{did_you_mean(str(key), list(tree))}")
                continue
            if isinstance(child, dict):
                walk(sub, child, here)

    if data is None:
        data = {}
    walk(data, ASSUMPTION_KEYS, ())
    if isinstance(data, dict) and "seed" not in data:
        problems.append("line 1: (top level): required key `seed` is missing")
    return problems


def load_assumptions(spec) -> dict:
    """Read and check the study's ``reconstruction.yaml``; raise :class:`AssumptionsError` naming the file, and
    the line and key of every problem. A YAML syntax error is a :class:`helpers.study.spec.SpecError`."""
    path = Path(spec.folder) / ASSUMPTIONS_FILE
    text = path.read_text(encoding="utf-8")
    _, lines = read_yaml_with_lines(text, path)  # the lines (and a key given twice is refused)
    # the values as YAML 1.1 reads them (0.10 is a number here: these are not level codes)
    data = yaml.safe_load(text)
    problems = check_assumptions(data, lines, list(spec.variables), [str(a) for a in spec.arm.codes])
    if problems:
        raise AssumptionsError(path, problems)
    return data
