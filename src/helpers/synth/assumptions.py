"""The keys of ``reconstruction.yaml``, defined once and checked before the generator reads any of them.

The generator reads its assumptions with defaults (``conf.get("draw_steps", 6000)``), so without a check a
misspelled key (``matching_search_step``) would silently give the default. :func:`load_assumptions` parses the
file with line numbers and refuses, all at once, every key that is not in :data:`ASSUMPTION_KEYS` with the
nearest valid one, every variable that is not in the study's spec and every arm that is not one of its arms,
and every value that is not of its key's kind (:class:`Value`: a whole number, a number in a range, true/false,
a date, one of a few words, a list of numbers), so that ``matching_search_steps: many`` is refused before five
minutes of generation rather than failing in the middle of it.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from helpers.study.schema import did_you_mean
from helpers.study.spec import SpecError, _line_of, date_or_text, read_yaml_with_lines

__all__ = ["ASSUMPTION_KEYS", "ASSUMPTIONS_FILE", "AssumptionsError", "Conflict", "OUT_OF_REACH_FIELDS", "OutOfReach",
           "Value", "assumption_lines", "at_line", "check_assumptions", "conflicts", "key_label", "load_assumptions",
           "out_of_reach", "read_for_check"]

ASSUMPTIONS_FILE = "reconstruction.yaml"

#: Markers of a mapping whose keys are the user's names, not fixed keys: the spec's variables, its arm
#: labels (or ``all``), or any name (levels, category labels), each followed by the sub-tree of every value.
VARIABLES, ARMS, ANY = "<variable>", "<arm>", "<any>"


@dataclass(frozen=True)
class Value:
    """The kind of value a key takes: ``ok(value)`` is True for a valid value and ``kind`` says in words what is
    expected (in the refusal)."""

    kind: str
    ok: Callable[[Any], bool]
    options: tuple = ()   # the valid words, for "did you mean" in the refusal


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def whole(low: int = 0) -> Value:
    return Value(f"a whole number >= {low}", lambda x: isinstance(x, int) and not isinstance(x, bool) and x >= low)


def number(low: float | None = None, high: float | None = None, above: bool = False) -> Value:
    """A finite number in [low, high] (``above``: greater than ``low``)."""
    lo = "" if low is None else (f" > {low:g}" if above else f" >= {low:g}")
    hi = "" if high is None else f"{' and' if lo else ''} <= {high:g}"
    return Value(f"a number{lo}{hi}", lambda x: _is_number(x) and (low is None or (x > low if above else x >= low))
                 and (high is None or x <= high))


def numbers(length: int, ordered: bool = True) -> Value:
    """A list of ``length`` numbers (``ordered``: not decreasing)."""
    what = f"a list of {length} numbers" + (", not decreasing" if ordered else "")
    return Value(what, lambda x: isinstance(x, list) and len(x) == length and all(map(_is_number, x))
                 and (not ordered or all(a <= b for a, b in zip(x, x[1:]))))


def _is_date(x: Any) -> bool:
    if isinstance(x, dt.date):
        return True
    try:
        dt.date.fromisoformat(str(x))
    except ValueError:
        return False
    return True


FLAG = Value("true or false", lambda x: isinstance(x, bool))
DATE = Value("a date (YYYY-MM-DD)", _is_date)
NAME = Value("a name (text)", lambda x: isinstance(x, (str, int, float)) and not isinstance(x, bool))
#: an arm code of the study's spec (checked against the arms in :func:`check_assumptions`)
ARM_VALUE = Value("an arm of the study's spec", lambda x: True)


def choice(*options: str) -> Value:
    return Value("one of " + ", ".join(f"`{o}`" for o in options), lambda x: x in options, options)


_SEARCH = {"block_sweeps": whole(), "sweeps": whole(), "draw_steps": whole(), "anneal": number(0),
           "swap_steps": whole(), "restarts": whole(1), "coefficient_iterations": whole(), "repair_steps": whole(),
           "nudge_steps": whole()}
_PROBABILITY = number(0, 1)

#: The key of a row of ``reconstruction_report.csv``, and the fields of an ``out_of_reach`` entry: that key
#: (``variable``, ``level``, ``group`` and ``relation`` may be left out when empty), the test that proves the target
#: out of reach (``tests/<file>.py::<test function>``) and, in words, why.  ``value`` (optional) picks one of two
#: different values the paper prints for one key (seed 000's HAIT median follow-up, 30.1 and 27.6 months): one
#: table prints one number, so at most one of them can be hit.
REPORT_KEY = ("cohort", "analysis", "variable", "level", "group", "stat", "relation")
OUT_OF_REACH_FIELDS = (*REPORT_KEY, "value", "proof", "why")
#: the parts of a report key an entry must give (the others may be left out when empty)
_REQUIRED_KEY = ("cohort", "analysis", "stat")
_REQUIRED_OUT_OF_REACH = (*_REQUIRED_KEY, "proof", "why")
#: The fields of a ``conflicts`` entry: its ``members`` (name -> report key, as in an ``out_of_reach`` entry), how
#: many of them at most one table can print (``at_most``), the test that proves it and why.
CONFLICT_FIELDS = ("members", "at_most", "proof", "why")

#: Every key the generator reads, with the kind of its value (a :class:`Value`), or a dict of its known keys.
#: The comments of each study's ``reconstruction.yaml`` say what the keys mean; the modules reading them are
#: named here.
ASSUMPTION_KEYS: dict[str, Any] = {
    # helpers.synth.reconstruct (baseline table) and the matched design
    "seed": whole(),
    "arm_sizes": {ARMS: whole(1)},
    "matching_candidates": whole(1),
    "matching_search_steps": whole(),
    "matching_polish_sweeps": whole(),
    "matching_search_temperature": number(0),
    "continuous": {VARIABLES: {"range": numbers(2), "grid": number(0, above=True)}},
    "categorised": {VARIABLES: {"grid": number(0, above=True), "log": FLAG, "ranges": {ANY: numbers(2)}}},
    "categorical": {VARIABLES: {"proportions": {ANY: _PROBABILITY},
                                "direction": {"level": NAME, "higher": ARM_VALUE}}},
    # helpers.synth.survival
    "survival": {
        "survival_seed": whole(), "accrual": {"start": DATE, "end": DATE}, "cutoff": DATE,
        "followup_quartiles": {ARMS: numbers(3)}, "followup_definition": choice("reverse_km", "observed"),
        "censoring_by_arm": FLAG, "dropout": FLAG, "dropout_rate": number(0, above=True),
        "copula_rho": number(-1, 1), "initial_shape": number(0, above=True),
        "initial_nonprogressors": _PROBABILITY,
        "initial_site_pattern": {"second_only": _PROBABILITY, "both": _PROBABILITY},
        "initial_death_without_progression_scale": number(0, above=True), "grid": number(0, above=True),
        "covariate_model": FLAG, "search": _SEARCH,
    },
    # helpers.synth.response
    "response": {"pfs_noise_sd": number(0)},
    # helpers.synth.reconstruct: targets a test proves no table (or no table with the stated inputs) can print,
    # each under an id of the author's choosing; see :func:`out_of_reach`
    "out_of_reach": {ANY: {field: number() if field == "value" else NAME for field in OUT_OF_REACH_FIELDS}},
    # helpers.synth.reconstruct: published numbers a test proves no one table can print all of (the paper
    # disagrees with itself); see :func:`conflicts`
    "conflicts": {ANY: {"members": {ANY: {field: NAME for field in REPORT_KEY}}, "at_most": whole(1),
                        "proof": NAME, "why": NAME}},
    "adverse_events": {"p_grade4_given_severe": _PROBABILITY, "p_grade2_given_mild": _PROBABILITY},
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
        return _line_of(lines, loc)

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
            elif child is ARM_VALUE:
                if str(sub) not in arms:
                    problems.append(f"line {at(here)}: {_key_path(here)}: `{sub}` is not an arm of the study's "
                                    f"spec{did_you_mean(str(sub), arms)}")
            elif not child.ok(sub):
                near = did_you_mean(str(sub), list(child.options)) if child.options else ""
                problems.append(f"line {at(here)}: {_key_path(here)}: must be {child.kind}, got {sub!r}{near}")

    if data is None:
        data = {}
    walk(data, ASSUMPTION_KEYS, ())
    if isinstance(data, dict) and "seed" not in data:
        problems.append("line 1: (top level): required key `seed` is missing")
    return problems


def assumption_lines(spec) -> dict[tuple, int]:
    """The line (1-based) of every key path of the study's ``reconstruction.yaml``, for refusals that come after
    :func:`load_assumptions` (:func:`out_of_reach`, :func:`conflicts`)."""
    path = Path(spec.folder) / ASSUMPTIONS_FILE
    return read_yaml_with_lines(path.read_text(encoding="utf-8"), path)[1]


def _line(lines: dict | None, loc: tuple) -> int:
    """The line of ``loc`` or of its nearest parent in ``lines``; 0 when no lines are given."""
    return _line_of(lines, loc) if lines else 0


def at_line(line: int) -> str:
    """The ``line N: `` prefix of a refusal, or nothing when the line is unknown."""
    return f"line {line}: " if line else ""


def load_assumptions(spec) -> dict:
    """Read and check the study's ``reconstruction.yaml``; raise :class:`AssumptionsError` naming the file, and
    the line and key of every problem. A YAML syntax error is a :class:`helpers.study.spec.SpecError`."""
    path = Path(spec.folder) / ASSUMPTIONS_FILE
    text = path.read_text(encoding="utf-8")
    _, lines = read_yaml_with_lines(text, path)  # the lines (and a key given twice is refused)
    data = read_for_check(text)
    problems = check_assumptions(data, lines, list(spec.variables), [str(a) for a in spec.arm.codes])
    if problems:
        raise AssumptionsError(path, problems)
    return data


class _ValueLoader(yaml.SafeLoader):
    """``yaml.safe_load`` (YAML 1.1 values: 0.10 is a number here, these are not level codes), except that a date
    not of the calendar stays text (:func:`helpers.study.spec.date_or_text`) for the check to refuse."""


_ValueLoader.add_constructor("tag:yaml.org,2002:timestamp", date_or_text)


def read_for_check(text: str) -> Any:
    """The parsed file as :func:`check_assumptions` reads it and the generator receives it."""
    return yaml.load(text, Loader=_ValueLoader)


@dataclass(frozen=True)
class OutOfReach:
    """A calibration target a named test proves the generator cannot hit: it is reported with status
    ``out_of_reach`` and its proof, so the gap that remains is the reachable one."""

    id: str
    key: tuple      # (cohort, analysis, variable, level, group, stat, relation) as in reconstruction_report.csv
    proof: str      # tests/<file>.py::<test function>
    why: str
    #: the published value meant, where the paper prints two different values for the key; None: every row
    value: float | None = None
    #: the entry's line in reconstruction.yaml (0: unknown)
    line: int = 0

    @property
    def label(self) -> str:
        return key_label(self.key) + ("" if self.value is None else f" = {self.value:g}")


@dataclass(frozen=True)
class Conflict:
    """Published numbers a named test proves no one table can print together: at most ``at_most`` of the
    ``members`` can be hit, so the missed members, in the order listed, up to ``len(members) - at_most`` of them,
    are reported with status ``conflict`` and the proof (the rest of the gap is the reachable one)."""

    id: str
    members: tuple  # ((name, report key), ...) in the order of the file
    at_most: int
    proof: str
    why: str
    #: the line in reconstruction.yaml of the entry, and of each member (0: unknown)
    line: int = 0
    member_lines: tuple = ()

    def member_line(self, name: str) -> int:
        return dict(zip((m for m, _ in self.members), self.member_lines)).get(name, self.line)

    @property
    def beyond_reach(self) -> int:
        """How many of the members no table can print beside the others."""
        return len(self.members) - self.at_most


def _missing_problem(where: str, entry: dict, fields) -> str | None:
    """The refusal of an entry that lacks some of ``fields``, naming them; None when it has them all."""
    missing = [f for f in fields if f not in entry]
    return f"{where}: missing {', '.join(f'`{f}`' for f in missing)}" if missing else None


def _proof_problem(where: str, proof: str) -> str | None:
    file, _, test = proof.partition("::")
    if file.startswith("tests/") and file.endswith(".py") and test.startswith("test_"):
        return None
    return f"{where}.proof: must be tests/<file>.py::test_<name>, got {proof!r}"


def key_label(key: tuple) -> str:
    """A report key as text, its empty parts left out: ``primary/table1/ecog/comparison/p_value``."""
    return "/".join(k for k in key if k)


def out_of_reach(assumptions: dict, path: Path | str = ASSUMPTIONS_FILE,
                 lines: dict | None = None) -> list[OutOfReach]:
    """The ``out_of_reach`` entries of checked assumptions; raise :class:`AssumptionsError` (naming ``path``, and
    the line where ``lines`` from :func:`assumption_lines` is given) when an entry lacks a required field or its
    proof is not of the form ``tests/<file>.py::<test function>``."""
    problems, out = [], []
    for name, entry in (assumptions.get("out_of_reach") or {}).items():
        entry = entry or {}
        line = _line(lines, ("out_of_reach", str(name)))
        problem = _missing_problem(f"out_of_reach.{name}", entry, _REQUIRED_OUT_OF_REACH)
        if problem:
            problems.append(at_line(line) + problem)
            continue
        proof = str(entry["proof"])
        problem = _proof_problem(f"out_of_reach.{name}", proof)
        if problem:
            problems.append(at_line(_line(lines, ("out_of_reach", str(name), "proof"))) + problem)
            continue
        value = entry.get("value")
        out.append(OutOfReach(str(name), tuple(str(entry.get(k, "")) for k in REPORT_KEY), proof,
                              str(entry["why"]), None if value is None else float(value), line))
    if problems:
        raise AssumptionsError(path, problems)
    return out


def conflicts(assumptions: dict, path: Path | str = ASSUMPTIONS_FILE, lines: dict | None = None) -> list[Conflict]:
    """The ``conflicts`` entries of checked assumptions; raise :class:`AssumptionsError` (naming ``path``, and the
    line where ``lines`` from :func:`assumption_lines` is given) when an entry lacks a field, a member lacks a key
    part, ``at_most`` is not below the number of members, or the proof is not of the form
    ``tests/<file>.py::<test function>``."""
    problems, out = [], []
    for name, entry in (assumptions.get("conflicts") or {}).items():
        entry = entry or {}
        loc = ("conflicts", str(name))
        problem = _missing_problem(f"conflicts.{name}", entry, CONFLICT_FIELDS)
        if problem:
            problems.append(at_line(_line(lines, loc)) + problem)
            continue
        members, member_lines = [], []
        for member, key in (entry["members"] or {}).items():
            key = key or {}
            member_lines.append(_line(lines, (*loc, "members", str(member))))
            problem = _missing_problem(f"conflicts.{name}.members.{member}", key, _REQUIRED_KEY)
            if problem:
                problems.append(at_line(member_lines[-1]) + problem)
            members.append((str(member), tuple(str(key.get(k, "")) for k in REPORT_KEY)))
        if not 0 < int(entry["at_most"]) < len(members):
            problems.append(f"{at_line(_line(lines, (*loc, 'at_most')))}conflicts.{name}.at_most: must be below the "
                            f"number of members ({len(members)}), got {entry['at_most']}")
        problem = _proof_problem(f"conflicts.{name}", str(entry["proof"]))
        if problem:
            problems.append(at_line(_line(lines, (*loc, "proof"))) + problem)
        if not problems:
            out.append(Conflict(str(name), tuple(members), int(entry["at_most"]), str(entry["proof"]),
                                str(entry["why"]), _line(lines, loc), tuple(member_lines)))
    if problems:
        raise AssumptionsError(path, problems)
    return out
