"""Nothing passes silently: parameter names and values, what validation sees, one matched cohort per run,
the analysis n of every model, missing values in plain sight, and the study design as data."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.analyses import parameters as P
from helpers.analyses.validation import validate_study
from helpers.build.pipeline import main
from helpers.paths import ROOT, STUDIES_DIR
from helpers.study.patients import load_patients
from helpers.study.spec import load_spec


# ------------------------------------------------------------------------------------------- parameters
def test_unknown_set_name_is_refused_with_the_nearest(capsys, tmp_path):
    assert main(["--output", str(tmp_path / "x"), "--set", "match_calipr=0.2"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'match_calipr' (did you mean `match_caliper`?)" in err
    assert "nothing was executed" in err
    assert not (tmp_path / "x" / "html").exists()


@pytest.mark.parametrize("assignment, message, page", [
    ("match_caliper=-1", "parameter match_caliper: must be > 0, got -1", "survival"),
    ("match_caliper=0", "parameter match_caliper: must be > 0, got 0", "survival"),
    ("match_ratio=0", "parameter match_ratio: must be >= 1, got 0", "survival"),
    ("match_ratio=1.5", "parameter match_ratio: must be a whole number, got 1.5", "survival"),
    ("conf_type=loglog", "parameter conf_type: 'loglog' is not one of ['log', 'log-log', 'plain'] (did you mean "
                         "`log-log`?)", "survival"),
    ("rmst_tau=100", "parameter rmst_tau (PFS): tau = 100 is too large", "survival"),
    ("landmarks=[200]", "parameter landmarks: 200 months lies beyond the follow-up", "survival"),
    ("at_risk_times=[-3]", "parameter at_risk_times: must be >= 0, got -3", "survival"),
    ("entry_p=2", "parameter entry_p: must be <= 1, got 2", "survival"),
    ("categorical_test=fishr", "(did you mean `fisher`?)", "cohorts"),
    ("order=alphabetical", "parameter order: 'alphabetical' is not one of ['paper', 'frequency']", "safety"),
    ("cohort=matchd", "parameter cohort: 'matchd' is not one of ['primary', 'matched'] (did you mean `matched`?)",
     "survival"),
    ("endpoints=[pfss]", "parameter endpoints: 'pfss' is not an endpoint of the study (did you mean `pfs`?)",
     "subgroups"),
    ("test=fishr", "parameter test: 'fishr' is not one of", "response"),
    ("km_layout=kmunicat", "parameter km_layout: 'kmunicat' is not one of ['standard', 'kmunicate'] (did you mean "
                           "`kmunicate`?)", "survival"),
])
def test_bad_values_are_refused_before_anything_runs(capsys, tmp_path, assignment, message, page):
    assert main(["--output", str(tmp_path / "x"), "--only", f"erhcc_hait_mp/{page}", "--set", assignment]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (tmp_path / "x" / "book").exists()


def test_parameter_rules_resolve_spec_defaults():
    spec = load_spec("erhcc_hait_mp")
    data = load_patients(spec)
    got = P.resolve({"conf_type": None, "entry_p": None, "rmst_tau": None, "match_caliper": "spec",
                     "match_ratio": None, "landmarks": None, "km_layout": None}, spec, data)
    assert got == {"conf_type": "log", "entry_p": 0.1, "rmst_tau": "floor_min_max", "match_caliper": 0.1,
                   "match_ratio": 1, "landmarks": [], "km_layout": "standard"}
    assert P.resolve({"km_layout": "kmunicate"}, spec, data) == {"km_layout": "kmunicate"}


def test_every_notebook_parameter_has_a_rule():
    from helpers.analyses.validation import notebook_parameters

    for source in sorted((ROOT / "notebooks").glob("*.md")):
        assert notebook_parameters(source) <= set(P.PARAMETERS), source


def _papermill(tmp_path, *params) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    source = tmp_path / "survival.ipynb"
    subprocess.run([str(bin_dir / "jupytext"), "--to", "ipynb", "--set-kernel", "python3",
                    str(ROOT / "notebooks" / "survival.md"), "-o", str(source)], check=True, capture_output=True)
    return subprocess.run([str(bin_dir / "papermill"), str(source), str(tmp_path / "out.ipynb"), "-p", "study_id",
                           "erhcc_hait_mp", "-p", "results_dir", str(tmp_path / "results"), *params],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.book
def test_papermill_with_a_misspelled_parameter_gets_a_one_line_error(tmp_path):
    proc = _papermill(tmp_path, "-p", "match_calipr", "0.2")
    assert proc.returncode != 0
    assert "ParameterError: unknown parameter 'match_calipr' (did you mean `match_caliper`?)" in proc.stderr
    assert "Traceback" not in proc.stderr.split("ParameterError")[-1]


@pytest.mark.book
def test_papermill_with_a_bad_value_gets_a_one_line_error(tmp_path):
    proc = _papermill(tmp_path, "-p", "match_caliper", "0", "-p", "cohort", "matched")
    assert proc.returncode != 0
    assert "ParameterError: parameter match_caliper: must be > 0, got 0" in proc.stderr


# ------------------------------------------------------------------------------------------- validation
@pytest.fixture
def study_copy(tmp_path, monkeypatch):
    """A copy of the studies folder, so that a study can be broken without touching the repository."""
    studies = tmp_path / "studies"
    shutil.copytree(STUDIES_DIR, studies)
    monkeypatch.setattr("helpers.study.spec.STUDIES_DIR", studies)
    return studies


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_validation_sees_an_arm_with_no_patients(study_copy):
    csv = study_copy / "veteran" / "patients.csv"
    rows = csv.read_text().splitlines()
    csv.write_text("\n".join([rows[0], *[r for r in rows[1:] if ",test," not in r]]) + "\n")
    (problem,) = validate_study("veteran")
    assert "column 'arm': arm 'test' (Test chemotherapy) has no patients" in problem


def test_validation_sees_an_rmst_tau_beyond_the_follow_up(study_copy):
    _edit(study_copy / "veteran" / "study.yaml", "tau: 365", "tau: 5000")
    (problem,) = validate_study("veteran")
    assert "the spec's survival.rmst.tau (OS): tau = 5000 is too large" in problem


def test_validation_sees_a_matching_covariate_with_missing_values(study_copy):
    spec = study_copy / "erhcc_hait_mp" / "study.yaml"
    _edit(spec, "child_pugh:   {label: Child-Pugh grade, type: categorical, levels: {A: A, B: B}}",
          "child_pugh:   {label: Child-Pugh grade, type: categorical, levels: {A: A, B: B}, missing_allowed: true}")
    csv = study_copy / "erhcc_hait_mp" / "patients.csv"
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    table.loc[[3, 7], "child_pugh"] = ""
    table.to_csv(csv, index=False)
    (problem,) = validate_study("erhcc_hait_mp")
    assert "matching.covariates: matching covariate 'child_pugh' has 2 missing value(s)" in problem
    assert "remove it from the matching covariates, or fill the missing values" in problem


def test_validation_sees_an_adverse_event_row_for_an_unknown_patient(study_copy):
    folder = study_copy / "veteran"
    _edit(folder / "study.yaml", "\nsubgroups:", "\nadverse_events:\n  format: long\n  file: ae.csv\n"
          "  terms: {rash: Rash}\n\nsubgroups:")
    ids = pd.read_csv(folder / "patients.csv")["patient_id"].astype(str).tolist()
    (folder / "ae.csv").write_text(f"patient_id,term,grade\n{ids[0]},rash,2\nnobody,rash,1\n")
    (problem,) = validate_study("veteran")
    assert "ae.csv: 1 problem(s)" in problem and "row 3, column 'patient_id': unknown patient id 'nobody'" in problem


def test_validate_only_passing_means_the_parameters_are_usable_too(capsys):
    assert main(["--validate-only"]) == 0
    assert "all studies valid" in capsys.readouterr().out


def test_paper_numbers_must_name_a_display(study_copy):
    _edit(study_copy / "haic_after_ab" / "study.yaml", "  cox.pfs: Table 4", "  cox.pfss: Table 4")
    (problem,) = validate_study("haic_after_ab")
    assert "paper_numbers.cox.pfss: no page of study 'haic_after_ab' shows a display 'cox.pfss' (did you mean " \
           "`cox.pfs`?)" in problem


# ------------------------------------------------------------------------------ one matched cohort per run
@pytest.mark.book
def test_a_changed_caliper_reaches_the_matched_survival_page(tmp_path):
    out = tmp_path / "run"
    assert main(["--output", str(out), "--only", "erhcc_hait_mp/cohorts", "--only", "erhcc_hait_mp/survival_matched",
                 "--set", "match_caliper=0.5"]) == 0
    results = out / "results" / "erhcc_hait_mp"
    cohorts = pd.read_csv(results / "cohorts.csv")
    matched_n = cohorts[(cohorts.cohort == "matched") & (cohorts.analysis == "flow")]["value"].sum()
    survival = pd.read_csv(results / "survival_matched.csv")
    km_n = survival[(survival.analysis == "cox_univariate.pfs") & (survival.stat == "hr")]
    stored = json.loads((results / "matched_cohort.json").read_text())
    assert stored["settings"]["caliper"] == 0.5 and len(stored["ids"]) == matched_n
    default = json.loads((ROOT / "_build" / "results" / "erhcc_hait_mp" / "matched_cohort.json").read_text()) \
        if (ROOT / "_build" / "results" / "erhcc_hait_mp" / "matched_cohort.json").exists() else None
    if default is not None:
        assert len(default["ids"]) != matched_n  # the wider caliper matches more patients than the spec's 0.1
    page = (out / "book" / "erhcc_hait_mp" / "survival_matched.ipynb").read_text()
    assert f"{int(matched_n)} patients" in page and "as the cohorts chapter made it" in page
    assert len(km_n) == 1


# ------------------------------------------------------------------------------ missing values, analysis n
def test_table1_shows_missing_counts_and_smd_uses_the_known_values():
    from helpers.analyses.balance import standardized_differences
    from helpers.analyses.table1 import baseline_table

    spec = load_spec("veteran")
    data = load_patients(spec).copy()
    data.loc[data.index[:4], "prior"] = np.nan       # 4 missing, all in the first rows
    table = baseline_table(data, spec)
    shown = table.display()
    row = shown.loc["\u00a0\u00a0\u00a0Missing, n"]
    arms = data["arm"].iloc[:4].value_counts()
    assert [int(v) for v in row.iloc[:2]] == [int(arms.get("standard", 0)), int(arms.get("test", 0))]
    known = data[data["prior"].notna()]
    yes = {a: (known[known.arm == a]["prior"] == "yes").mean() for a in ("standard", "test")}
    smd = standardized_differences(data, spec, ["prior"]).set_index("level").loc["yes", "smd"]
    hand = (yes["test"] - yes["standard"]) / np.sqrt((yes["test"] * (1 - yes["test"])
                                                      + yes["standard"] * (1 - yes["standard"])) / 2)
    assert smd == pytest.approx(hand, rel=1e-12)  # the denominator of Table 1: patients with a value


def test_every_cox_model_states_its_n_and_the_patients_left_out():
    from helpers.analyses.survival import cox_screen, model_n_text

    spec = load_spec("veteran")
    data = load_patients(spec).copy()
    data.loc[data.index[:5], "karno"] = np.nan
    data.loc[data.index[:5], "karno_cat"] = np.nan
    screen = cox_screen(data, spec, "os")
    assert screen.univariate_n["karno"] == 132 and screen.univariate_n["celltype"] == 137
    assert screen.multi_n == 132 and screen.multi_dropped == 5
    text = model_n_text(screen, spec)
    assert "univariable models n = 132–137" in text and "multivariable model n = 132" in text
    assert "5 patients left out for missing values" in text


# ----------------------------------------------------------------------------------- design is data
def test_design_sentences_come_from_the_spec():
    from helpers.analyses.cohorts import no_matching_text

    assert "assigned at random" in no_matching_text(load_spec("veteran"))
    text = no_matching_text(load_spec("haic_after_ab"))
    assert "retrospective observational study" in text and "randomised" not in text


def test_parameter_error_renders_as_one_line_in_ipython():
    err = P.ParameterError("parameter x: bad")
    assert err._render_traceback_() == ["ParameterError: parameter x: bad"]


@pytest.mark.book
def test_single_page_command_writes_only_that_page(tmp_path):
    out = tmp_path / "one"
    env = {**os.environ}
    proc = subprocess.run([sys.executable, "-m", "helpers.build", "--output", str(out), "--only",
                           "veteran/survival", "--set", "conf_type=log-log"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in (out / "book" / "veteran").iterdir()) == ["survival.ipynb"]
    assert "log-log" in (out / "book" / "veteran" / "survival.ipynb").read_text()


# ------------------------------------------------------------------------------- multiple imputation
def test_missing_mice_from_the_spec_pools_every_cox_model(tmp_path, monkeypatch):
    """A study with missing covariates and `missing: {method: mice}` gets pooled models; where nothing is
    missing the pooled estimate equals the complete-data fit (all imputed data sets are the same)."""
    from helpers.analyses.imputation import ImputedCox
    from helpers.analyses.survival import cox_screen

    studies = tmp_path / "studies"
    shutil.copytree(STUDIES_DIR, studies)
    monkeypatch.setattr("helpers.study.spec.STUDIES_DIR", studies)
    spec_file = studies / "veteran" / "study.yaml"
    text = spec_file.read_text().replace("    range: [0, 100]\n    cut: {breaks: [70]",
                                         "    range: [0, 100]\n    missing_allowed: true\n    cut: {breaks: [70]")
    spec_file.write_text(text + "\nmissing: {method: mice, m: 5, seed: 3}\n")
    table = pd.read_csv(studies / "veteran" / "patients.csv", dtype=str, keep_default_na=False)
    table.loc[[2, 9, 40, 77, 101], "karno"] = ""
    table.to_csv(studies / "veteran" / "patients.csv", index=False)
    spec = load_spec("veteran")
    assert spec.missing.impute and spec.missing.m == 5
    data = load_patients(spec)
    imputed = ImputedCox(spec, data, "os", 0.1)
    assert imputed.missing_counts == {"karno": 5}
    rows = pd.DataFrame(imputed.rows())
    karno = rows[(rows.analysis == "cox_mi_univariate.os") & (rows.variable == "karno")].set_index("stat")["value"]
    assert karno["fmi"] > 0
    # prior therapy has no missing value: every imputed data set holds the same column, so the pooled univariable
    # HR is the complete-case fit's (R: pool() of identical fits)
    prior = rows[(rows.analysis == "cox_mi_univariate.os") & (rows.variable == "prior")].set_index("stat")["value"]
    cc = cox_screen(data, spec, "os").univariate.set_index("variable").loc["prior"]
    assert prior["hr"] == pytest.approx(cc["hr"], rel=1e-9)
    # ImputedCox fits such a variable once: the result is exactly what fitting it in every completed table gives
    from helpers.analyses.imputation import _fit
    from helpers.stats.imputation import pool_cox
    every = pool_cox([_fit(t, spec, "os", ["prior"])[0] for t in imputed.tables]).table
    pd.testing.assert_frame_equal(imputed.univariate["prior"][0].table, every, check_exact=True)
