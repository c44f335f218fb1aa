"""reconstruction.yaml is checked before the generator reads it: a misspelled key, variable or arm is refused with
the line, the key path and the nearest valid name, and `make data` stops before writing anything."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers.study.spec import load_spec
from helpers.synth import reconstruct
from helpers.synth.assumptions import ASSUMPTION_KEYS, check_assumptions, load_assumptions, read_for_check

STUDIES = ["erhcc_hait_mp", "haic_after_ab"]


def _check(text: str, variables=("age", "afp"), arms=("HAIT", "HAIT-M-P")) -> list[str]:
    from helpers.study.spec import read_yaml_with_lines

    _, lines = read_yaml_with_lines(text, "reconstruction.yaml")
    return check_assumptions(read_for_check(text), lines, list(variables), list(arms))


@pytest.mark.parametrize("study", STUDIES)
def test_committed_assumptions_pass_and_read_as_before(study):
    spec = load_spec(study)
    assert load_assumptions(spec) == yaml.safe_load((spec.folder / "reconstruction.yaml").read_text(encoding="utf-8"))


def test_misspelled_top_level_key_is_refused_with_line_and_nearest():
    problems = _check("seed: 1\nmatching_search_step: 20000\n")
    assert problems == ["line 2: matching_search_step: unknown key `matching_search_step` "
                        "(did you mean `matching_search_steps`?)"]


def test_misspelled_nested_key_is_refused():
    problems = _check("seed: 1\nsurvival:\n  survival_seed: 2\n  search: {draw_step: 10}\n")
    assert len(problems) == 1
    assert problems[0].startswith("line 4: survival.search.draw_step: unknown key `draw_step`")
    assert "(did you mean `draw_steps`?)" in problems[0]


def test_unknown_variable_and_arm_are_refused():
    problems = _check("seed: 1\ncontinuous:\n  agee: {range: [1, 2], grid: 1}\n"
                      "survival:\n  followup_quartiles: {HAIT-MP: [1, 2, 3]}\n")
    assert problems[0] == ("line 3: continuous.agee: `agee` is not a variable of the study's spec "
                           "(did you mean `age`?)")
    assert problems[1].startswith("line 5: survival.followup_quartiles.HAIT-MP: `HAIT-MP` is not an arm")
    assert "(did you mean `HAIT-M-P`?)" in problems[1]


def test_missing_seed_and_non_mapping_are_named():
    assert _check("matching_candidates: 3\n") == ["line 1: (top level): required key `seed` is missing"]
    problems = _check("seed: 1\nsurvival: 5\n")
    assert problems == ["line 2: survival: must be a mapping of key: value pairs, got 5"]


def test_every_key_of_the_committed_files_is_listed():
    # the key list is not wider than what is used: each listed top-level key appears in a committed file or is
    # read by the generator's code
    src = "".join(p.read_text(encoding="utf-8") for p in Path(reconstruct.__file__).parent.glob("*.py"))
    for key in ASSUMPTION_KEYS:
        assert f'"{key}"' in src, key


def test_make_data_stops_before_writing_on_a_typo(make_data_with_edited_assumptions):
    rc, err, wrote, unchanged = make_data_with_edited_assumptions("survival_seed:", "survival_sed:")
    assert rc == 2
    assert "reconstruction.yaml" in err and "survival.survival_sed" in err and "`survival_seed`" in err
    assert not wrote and unchanged


def test_a_value_of_the_wrong_kind_is_refused_with_line_and_kind():
    problems = _check("seed: 1\nmatching_search_steps: many\nmatching_polish_sweeps: -1\n"
                      "survival:\n  copula_rho: 1.5\n  dropout: 'no'\n  cutoff: 2025-13-01\n"
                      "  followup_definition: reverse-km\n  followup_quartiles: {all: [3, 2, 1]}\n")
    assert problems == [
        "line 2: matching_search_steps: must be a whole number >= 0, got 'many'",
        "line 3: matching_polish_sweeps: must be a whole number >= 0, got -1",
        "line 5: survival.copula_rho: must be a number >= -1 and <= 1, got 1.5",
        "line 6: survival.dropout: must be true or false, got 'no'",
        "line 7: survival.cutoff: must be a date (YYYY-MM-DD), got '2025-13-01'",
        "line 8: survival.followup_definition: must be one of `reverse_km`, `observed`, got 'reverse-km' "
        "(did you mean `reverse_km`?)",
        "line 9: survival.followup_quartiles.all: must be a list of 3 numbers, not decreasing, got [3, 2, 1]",
    ]


def test_a_boolean_is_not_a_count_and_a_proportion_stays_in_0_1():
    problems = _check("seed: true\ncategorical:\n  afp: {proportions: {low: 1.2, high: -0.2}}\n")
    assert problems == [
        "line 1: seed: must be a whole number >= 0, got True",
        "line 3: categorical.afp.proportions.low: must be a number >= 0 and <= 1, got 1.2",
        "line 3: categorical.afp.proportions.high: must be a number >= 0 and <= 1, got -0.2",
    ]


def test_an_arm_named_as_a_value_is_checked_against_the_spec():
    problems = _check("seed: 1\ncategorical:\n  afp: {proportions: {a: 0.5}, direction: {level: a, higher: HAIT-MP}}\n")
    assert len(problems) == 1
    assert problems[0].startswith("line 3: categorical.afp.direction.higher: `HAIT-MP` is not an arm")
    assert "(did you mean `HAIT-M-P`?)" in problems[0]


def test_every_leaf_of_the_key_list_has_a_kind():
    from helpers.synth.assumptions import Value

    def leaves(tree):
        for v in tree.values():
            if isinstance(v, dict):
                yield from leaves(v)
            else:
                yield v

    assert all(isinstance(v, Value) for v in leaves(ASSUMPTION_KEYS))
