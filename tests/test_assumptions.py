"""reconstruction.yaml is checked before the generator reads it: a misspelled key, variable or arm is refused with
the line, the key path and the nearest valid name, and `make data` stops before writing anything."""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from helpers.study.spec import load_spec
from helpers.synth import reconstruct
from helpers.synth.assumptions import ASSUMPTION_KEYS, check_assumptions, load_assumptions

STUDIES = ["erhcc_hait_mp", "haic_after_ab"]


def _check(text: str, variables=("age", "afp"), arms=("HAIT", "HAIT-M-P")) -> list[str]:
    from helpers.study.spec import read_yaml_with_lines

    _, lines = read_yaml_with_lines(text, "reconstruction.yaml")
    return check_assumptions(yaml.safe_load(text), lines, list(variables), list(arms))


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


def test_make_data_stops_before_writing_on_a_typo(tmp_path, monkeypatch, capsys):
    spec = load_spec("haic_after_ab")
    folder = tmp_path / spec.folder.name
    shutil.copytree(spec.folder, folder)
    text = (folder / "reconstruction.yaml").read_text(encoding="utf-8")
    (folder / "reconstruction.yaml").write_text(text.replace("survival_seed:", "survival_sed:"), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    import helpers.study.spec as spec_module

    real = spec_module.load_spec

    def moved(study_id, *a, **k):
        s = real(study_id, *a, **k)
        return dataclasses.replace(s, folder=folder) if study_id == "haic_after_ab" else s

    monkeypatch.setattr(reconstruct, "load_spec", moved)
    out = tmp_path / "out"
    assert reconstruct.main(["haic_after_ab", "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "reconstruction.yaml" in err and "survival.survival_sed" in err and "`survival_seed`" in err
    assert not out.exists()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
