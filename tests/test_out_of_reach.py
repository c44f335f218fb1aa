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
from helpers.synth.assumptions import AssumptionsError, conflicts, load_assumptions, out_of_reach
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
    assert (report.loc[~report["status"].isin(["out_of_reach", "conflict"]), "proof"] == "").all()


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


def _line_of(text: str) -> int:
    """The line of seed 004's reconstruction.yaml that starts with ``text`` (after its indentation)."""
    lines = (load_spec("haic_after_ab").folder / "reconstruction.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith(text))


def test_make_data_stops_before_generating_on_an_entry_with_a_typo(make_data_with_edited_assumptions):
    rc, err, wrote, unchanged = make_data_with_edited_assumptions("variable: afp, group: comparison",
                                                                  "variable: apf, group: comparison")
    assert rc == 2
    assert "reconstruction.yaml" in err and "did you mean `primary/table1/afp/" in err
    assert f"line {_line_of('afp_p:')}: out_of_reach.afp_p: `primary/table1/apf/comparison/p_value`" in err
    assert not wrote and unchanged


def test_make_data_stops_before_generating_on_a_conflict_member_with_a_typo(make_data_with_edited_assumptions):
    old = 'analysis: km.os, level: "t=12", group: post_ab, stat: lower}'
    rc, err, wrote, unchanged = make_data_with_edited_assumptions(old, old.replace("post_ab", "postab"))
    assert rc == 2
    line = _line_of('post_ab_lower:      {cohort: primary, analysis: km.os')
    assert (f"line {line}: conflicts.os_at_12_months.members.post_ab_lower: `primary/km.os/t=12/postab/lower` is "
            "not a published number (did you mean `primary/km.os/t=12/post_ab/lower`?)") in err
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


def _twice_printed(hit_first: bool = True) -> pd.DataFrame:
    """A key the paper prints with two values (seed 000's HAIT median follow-up: 30.1 and 27.6 months)."""
    return pd.DataFrame({"cohort": ["primary"] * 2, "analysis": ["followup.os"] * 2, "variable": [""] * 2,
                         "level": ["median"] * 2, "group": ["HAIT"] * 2, "stat": ["estimate"] * 2,
                         "relation": [""] * 2, "target": [30.1, 27.6], "achieved": [30.1, 30.1],
                         "hit": [hit_first, False]})


def _followup_entry(**fields) -> list:
    entry = {"cohort": "primary", "analysis": "followup.os", "level": "median", "group": "HAIT", "stat": "estimate",
             "proof": "tests/test_reconstruct_survival.py::test_x", "why": "printed as two numbers", **fields}
    return out_of_reach({"out_of_reach": {"hait_followup": entry}}, "reconstruction.yaml")


def test_value_picks_one_of_two_numbers_printed_for_one_key():
    out = mark_out_of_reach(_twice_printed(), _followup_entry(value=27.6), "reconstruction.yaml")
    assert out["status"].tolist() == ["hit", "out_of_reach"]
    assert out["proof"].tolist() == ["", "tests/test_reconstruct_survival.py::test_x"]
    # without `value` the entry covers both rows, and one of them is hit
    with pytest.raises(AssumptionsError, match="hait_followup: `primary/followup.os/median/HAIT/estimate` is hit"):
        mark_out_of_reach(_twice_printed(), _followup_entry(), "reconstruction.yaml")
    assert _followup_entry(value=27.6)[0].label == "primary/followup.os/median/HAIT/estimate = 27.6"


def test_a_value_the_paper_does_not_print_for_the_key_is_refused_before_generation():
    published = load_published(load_spec("erhcc_hait_mp"))
    check_out_of_reach(_followup_entry(value=27.6), published, "reconstruction.yaml")  # printed: passes
    with pytest.raises(AssumptionsError) as exc:
        check_out_of_reach(_followup_entry(value=27.5), published, "reconstruction.yaml")
    assert ("out_of_reach.hait_followup.value: `primary/followup.os/median/HAIT/estimate` is published as 27.6 "
            "and 30.1, not 27.5") in str(exc.value)


def test_a_value_that_is_not_a_number_is_refused_by_the_key_check():
    from helpers.study.spec import read_yaml_with_lines
    from helpers.synth.assumptions import check_assumptions, read_for_check

    text = "seed: 1\nout_of_reach:\n  x:\n    {cohort: primary, analysis: t, stat: n, value: abc, proof: a, why: b}\n"
    _, lines = read_yaml_with_lines(text, "reconstruction.yaml")
    problems = check_assumptions(read_for_check(text), lines, ["age"], ["A", "B"])
    assert problems == ["line 4: out_of_reach.x.value: must be a number, got 'abc'"]


# ------------------------------------------------------------------------------------------------- conflicts
def _conflict_frame(hits: list[bool]) -> pd.DataFrame:
    """Seed 004's 12-month OS comparison p and the two arms' rates (three members of its conflict set)."""
    n = len(hits)
    return pd.DataFrame({"cohort": ["primary"] * n, "analysis": ["landmark.os", "km.os", "km.os"][:n],
                         "variable": [""] * n, "level": ["t=12"] * n,
                         "group": ["comparison", "post_ab", "first_line"][:n],
                         "stat": ["p_value", "estimate", "estimate"][:n], "relation": [""] * n,
                         "target": [0.043, 0.54, 0.403][:n], "achieved": [0.034, 0.528, 0.252][:n], "hit": hits})


def _conflict(**fields) -> dict:
    members = {"p": {"cohort": "primary", "analysis": "landmark.os", "level": "t=12", "group": "comparison",
                     "stat": "p_value"},
               "post_ab_rate": {"cohort": "primary", "analysis": "km.os", "level": "t=12", "group": "post_ab",
                                "stat": "estimate"},
               "first_line_rate": {"cohort": "primary", "analysis": "km.os", "level": "t=12", "group": "first_line",
                                   "stat": "estimate"}}
    return {"conflicts": {"os_at_12": {"at_most": 2, "members": members,
                                       "proof": "tests/test_reconstruct_survival.py::test_x",
                                       "why": "the rates give another p", **fields}}}


def test_a_conflict_marks_its_first_listed_misses_beyond_reach():
    entries = conflicts(_conflict(), "reconstruction.yaml")
    assert [c.beyond_reach for c in entries] == [1]
    # all three missed: the p, listed first, is the one no table could print beside the others
    out = mark_out_of_reach(_conflict_frame([False, False, False]), [], "r.yaml", entries)
    assert out["status"].tolist() == ["conflict", "missed", "missed"]
    assert out["proof"].tolist() == ["tests/test_reconstruct_survival.py::test_x", "", ""]
    # the p hit: the first missed member takes the status
    out = mark_out_of_reach(_conflict_frame([True, False, False]), [], "r.yaml", entries)
    assert out["status"].tolist() == ["hit", "conflict", "missed"]
    # two hit (as many as the proof allows): the third miss is the conflict's
    out = mark_out_of_reach(_conflict_frame([True, True, False]), [], "r.yaml", entries)
    assert out["status"].tolist() == ["hit", "hit", "conflict"]


def test_a_conflict_the_table_beats_is_refused():
    with pytest.raises(AssumptionsError, match=r"conflicts.os_at_12: 3 of its 3 members are hit by the generated "
                                               r"table, so its proof \(.*at most 2\) does not hold"):
        mark_out_of_reach(_conflict_frame([True, True, True]), [], "r.yaml",
                          conflicts(_conflict(), "reconstruction.yaml"))


def test_a_conflict_member_naming_no_published_number_is_refused_with_the_nearest():
    entry = _conflict()
    entry["conflicts"]["os_at_12"]["members"]["p"]["analysis"] = "landmark.oss"
    entries = conflicts(entry, "reconstruction.yaml")
    published = load_published(load_spec("haic_after_ab"))
    with pytest.raises(AssumptionsError) as exc:
        check_out_of_reach([], published, "reconstruction.yaml", entries)
    assert ("conflicts.os_at_12.members.p: `primary/landmark.oss/t=12/comparison/p_value` is not a published "
            "number (did you mean `primary/landmark.os/t=12/comparison/p_value`?)") in str(exc.value)
    with pytest.raises(AssumptionsError, match=r"conflicts.os_at_12.members.p: .* is no target of the "
                                               r"reconstruction \(did you mean `primary/landmark.os/"):
        mark_out_of_reach(_conflict_frame([False, False, False]), [], "r.yaml", entries)
    check_out_of_reach([], published, "reconstruction.yaml", conflicts(_conflict(), "r.yaml"))  # right keys pass


def test_a_malformed_conflict_is_refused():
    with pytest.raises(AssumptionsError, match=r"conflicts.os_at_12.at_most: must be below the number of members "
                                               r"\(3\), got 3"):
        conflicts(_conflict(at_most=3))
    with pytest.raises(AssumptionsError, match=r"conflicts.os_at_12.proof: must be tests/<file>.py::test_<name>"):
        conflicts(_conflict(proof="Results 3.2"))
    with pytest.raises(AssumptionsError, match=r"conflicts.x: missing `at_most`, `proof`, `why`"):
        conflicts({"conflicts": {"x": {"members": {}}}})
    bad = _conflict()
    del bad["conflicts"]["os_at_12"]["members"]["p"]["stat"]
    with pytest.raises(AssumptionsError, match=r"conflicts.os_at_12.members.p: missing `stat`"):
        conflicts(bad)


def test_a_misspelled_conflict_field_is_refused_by_the_key_check():
    from helpers.study.spec import read_yaml_with_lines
    from helpers.synth.assumptions import check_assumptions, read_for_check

    text = ("seed: 1\nconflicts:\n  x:\n    at_most: 1\n    members:\n"
            "      p: {cohort: primary, analysis: landmark.os, stt: p_value}\n")
    _, lines = read_yaml_with_lines(text, "reconstruction.yaml")
    problems = check_assumptions(read_for_check(text), lines, ["age"], ["A", "B"])
    assert problems == ["line 6: conflicts.x.members.p.stt: unknown key `stt` (did you mean `stat`?)"]


@pytest.mark.parametrize("study", STUDIES)
def test_every_conflict_proof_is_a_test_and_the_report_marks_its_members(study):
    spec = load_spec(study)
    entries = conflicts(load_assumptions(spec))
    report = _report(study)
    keys = ["cohort", "analysis", "variable", "level", "group", "stat", "relation"]
    row_keys = [tuple("" if pd.isna(v) else str(v) for v in r)
                for r in report[keys].itertuples(index=False, name=None)]
    for c in entries:
        file, test = c.proof.split("::")
        assert test in _test_functions(ROOT / file), c.proof
        members = [row_keys.index(key) for _, key in c.members]
        status = report["status"].iloc[members]
        assert (status == "hit").sum() <= c.at_most
        assert (status == "conflict").sum() == min(c.beyond_reach, int((status != "hit").sum()))
        assert set(report["proof"].iloc[members][status == "conflict"]) <= {c.proof}
    assert (report["status"] == "conflict").sum() == {"erhcc_hait_mp": 0, "haic_after_ab": 2}[study]


def test_refusals_of_entries_name_their_line():
    from helpers.study.spec import read_yaml_with_lines
    from helpers.synth.assumptions import read_for_check

    text = ("seed: 1\nout_of_reach:\n  x:\n    {cohort: primary, analysis: table1, stat: n, proof: see, why: b}\n"
            "conflicts:\n  y:\n    at_most: 2\n    proof: tests/test_a.py::test_b\n    why: c\n    members:\n"
            "      p: {cohort: primary, analysis: landmark.os}\n      q: {cohort: primary, analysis: km.os, stat: n}\n")
    _, lines = read_yaml_with_lines(text, "reconstruction.yaml")
    data = read_for_check(text)
    with pytest.raises(AssumptionsError) as exc:
        out_of_reach(data, "reconstruction.yaml", lines)
    assert "line 4: out_of_reach.x.proof: must be tests/<file>.py::test_<name>, got 'see'" in str(exc.value)
    with pytest.raises(AssumptionsError) as exc:
        conflicts(data, "reconstruction.yaml", lines)
    assert "line 11: conflicts.y.members.p: missing `stat`" in str(exc.value)
    assert "line 7: conflicts.y.at_most: must be below the number of members (2), got 2" in str(exc.value)
