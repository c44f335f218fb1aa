"""Targets proven out of reach: each ``out_of_reach`` entry of ``reconstruction.yaml`` names a test that exists and
a target the reconstruction report lists as missed with that proof; a typo, a missing field or an entry the table
actually hits is refused, before generation where it can be."""
from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from helpers.study.published import load_published
from helpers.study.spec import load_spec
from helpers.synth.assumptions import AssumptionsError, load_assumptions, out_of_reach
from helpers.synth.reconstruct import REPORT_STATUSES, check_out_of_reach, mark_out_of_reach

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ["erhcc_hait_mp", "haic_after_ab"]


def _report(study: str) -> pd.DataFrame:
    spec = load_spec(study)
    return pd.read_csv(spec.folder / "reconstruction_report.csv", keep_default_na=False,
                       na_values={"target": [""], "achieved": [""]})


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


@pytest.mark.parametrize("study", STUDIES)
def test_every_proof_is_a_test_function_of_the_suite(study):
    entries = out_of_reach(load_assumptions(load_spec(study)))
    assert entries
    for e in entries:
        file, test = e.proof.split("::")
        assert test in _test_functions(ROOT / file), e.proof
        assert len(e.why) > 20, e.id


@pytest.mark.parametrize("study", STUDIES)
def test_report_lists_each_proven_target_as_missed_with_its_proof(study):
    report = _report(study)
    assert set(report["status"]) <= set(REPORT_STATUSES)
    # status agrees with hit: a hit is "hit", every other row is missed, plain or proven out of reach
    assert ((report["status"] == "hit") == (report["hit"].astype(str) == "True")).all()
    proven = report[report["status"] == "out_of_reach"]
    entries = out_of_reach(load_assumptions(load_spec(study)))
    assert len(proven) == len(entries)
    keys = ["cohort", "analysis", "variable", "level", "group", "stat", "relation"]
    by_key = {tuple("" if pd.isna(v) else str(v) for v in r): p
              for r, p in zip(proven[keys].itertuples(index=False, name=None), proven["proof"])}
    assert by_key == {e.key: e.proof for e in entries}
    assert (report.loc[report["status"] != "out_of_reach", "proof"] == "").all()


def test_seed004_counts_of_the_report():
    """Seed 004's seven proofs (four Table 1 p-values, ORR p, DCR p, first-line ORR %), counted in the report."""
    report = _report("haic_after_ab")
    proven = report[report["status"] == "out_of_reach"]
    assert sorted(proven["variable"]) == ["afp", "child_pugh", "ecog", "mrecist", "mrecist", "mrecist",
                                          "portal_vein_invasion"]


def _frame(hit: bool) -> pd.DataFrame:
    return pd.DataFrame({"cohort": ["primary"], "analysis": ["table1"], "variable": ["ecog"], "level": [""],
                         "group": ["comparison"], "stat": ["p_value"], "relation": [""], "target": [0.999],
                         "achieved": [1.0], "hit": [hit]})


def _entries(**fields) -> list:
    entry = {"cohort": "primary", "analysis": "table1", "variable": "ecog", "group": "comparison",
             "stat": "p_value", "proof": "tests/test_reconstruct.py::test_x", "why": "no table gives it", **fields}
    return out_of_reach({"out_of_reach": {"ecog_p": entry}}, "reconstruction.yaml")


def test_marking_adds_status_and_proof_after_hit():
    out = mark_out_of_reach(_frame(False), _entries(), "reconstruction.yaml")
    assert list(out.columns[out.columns.get_loc("hit"):]) == ["hit", "status", "proof"]
    assert out["status"].tolist() == ["out_of_reach"]
    assert out["proof"].tolist() == ["tests/test_reconstruct.py::test_x"]
    assert mark_out_of_reach(_frame(True), [], "r.yaml")["status"].tolist() == ["hit"]
    assert mark_out_of_reach(_frame(False), [], "r.yaml")["status"].tolist() == ["missed"]


def test_an_entry_the_table_hits_is_refused():
    with pytest.raises(AssumptionsError, match="ecog_p: `primary/table1/ecog/comparison/p_value` is hit"):
        mark_out_of_reach(_frame(True), _entries(), "reconstruction.yaml")


def test_an_entry_naming_no_target_is_refused_with_the_nearest():
    with pytest.raises(AssumptionsError) as exc:
        mark_out_of_reach(_frame(False), _entries(variable="ecgo"), "reconstruction.yaml")
    assert "is no target of the reconstruction (did you mean `primary/table1/ecog/comparison/p_value`?)" \
        in str(exc.value)
    published = load_published(load_spec("haic_after_ab"))
    with pytest.raises(AssumptionsError, match="not a published number.*did you mean `primary/table1/ecog/"):
        check_out_of_reach(_entries(variable="ecgo"), published, "reconstruction.yaml")
    check_out_of_reach(_entries(), published, "reconstruction.yaml")  # the right key passes


def test_missing_fields_and_a_malformed_proof_are_refused():
    with pytest.raises(AssumptionsError, match=r"out_of_reach.ecog_p: missing `proof`, `why`"):
        out_of_reach({"out_of_reach": {"ecog_p": {"cohort": "primary", "analysis": "table1", "stat": "p_value"}}})
    with pytest.raises(AssumptionsError, match=r"proof: must be tests/<file>.py::test_<name>, got 'see paper'"):
        _entries(proof="see paper")


def test_a_misspelled_field_is_refused_by_the_key_check():
    from helpers.study.spec import read_yaml_with_lines
    from helpers.synth.assumptions import check_assumptions, read_for_check

    text = "seed: 1\nout_of_reach:\n  x:\n    {cohort: primary, analysis: table1, stat: n, proff: a, why: b}\n"
    _, lines = read_yaml_with_lines(text, "reconstruction.yaml")
    problems = check_assumptions(read_for_check(text), lines, ["age"], ["A", "B"])
    assert problems == ["line 4: out_of_reach.x.proff: unknown key `proff` (did you mean `proof`?)"]


def test_make_data_stops_before_generating_on_an_entry_with_a_typo(make_data_with_edited_assumptions):
    rc, err, wrote, unchanged = make_data_with_edited_assumptions("variable: afp, group: comparison",
                                                                  "variable: apf, group: comparison")
    assert rc == 2
    assert "reconstruction.yaml" in err and "out_of_reach.afp_p" in err and "did you mean `primary/table1/afp/" in err
    assert not wrote and unchanged


def test_a_refused_report_leaves_the_previous_files_as_they_were(tmp_path, monkeypatch):
    """The report is checked against out_of_reach before any file is moved into place: here seed 004's baseline
    table is built, its survival and response columns are skipped (so its response entries name no target), and
    the refusal leaves the output folder's previous files byte for byte, with no scratch folder behind."""
    from helpers.synth import reconstruct

    monkeypatch.setattr(reconstruct, "add_survival_endpoints", lambda spec, a, p, df: (df, None))
    monkeypatch.setattr(reconstruct, "add_response_and_safety", lambda spec, a, p, df: (df, None))
    out = tmp_path / "out"
    out.mkdir()
    for name in ("patients.csv", "reconstruction_report.csv", "reconstruction_inputs.sha256"):
        (out / name).write_text(f"previous {name}\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(AssumptionsError, match="out_of_reach.orr_p: `primary/best_response/mrecist/ORR/comparison/"
                                               "p_value` is no target of the reconstruction"):
        reconstruct.reconstruct("haic_after_ab", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
