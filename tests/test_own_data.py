"""Bring your own data: the worked example study `veteran` (real public trial data, published numbers of R's making, no
matching), validation of a broken copy of its table, the Excel path, and its statistics against R."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers.analyses import audit
from helpers.analyses import cohorts
from helpers.analyses import subgroups
from helpers.analyses import survival as sc
from helpers.analyses import table1
from helpers.build.toc import chapter_runs
from helpers.build.pipeline import main, validate
from helpers.study.patients import DataValidationError, load_patients
from helpers.paths import STUDIES_DIR
from helpers.report.display import synthetic_notice
from helpers.study.spec import SpecError, load_spec

R_VALUES = Path(__file__).parent / "reference" / "r_values" / "veteran_study.json"
VETERAN = STUDIES_DIR / "veteran"


@pytest.fixture(scope="module")
def veteran():
    spec = load_spec("veteran")
    return spec, load_patients(spec)


@pytest.fixture(scope="module")
def r_values():
    return json.loads(R_VALUES.read_text(encoding="utf-8"))


@pytest.fixture
def veteran_copy(tmp_path: Path) -> Path:
    """The veteran study folder copied to a temporary studies folder (study_id must equal the folder name)."""
    folder = tmp_path / "veteran"
    folder.mkdir()
    for name in ("study.yaml", "patients.csv"):
        shutil.copy2(VETERAN / name, folder / name)
    return folder


# ------------------------------------------------------------------------------------------- the example
def test_veteran_spec_and_table_validate(veteran):
    spec, data = veteran
    assert validate(["veteran"]) == []
    assert not spec.synthetic and spec.matching is None
    assert spec.published_file.exists()  # R's numbers, not a paper's (tests/test_claims_data.py)
    assert len(data) == 137 and data.index.is_unique
    assert data["arm"].value_counts().to_dict() == {"standard": 69, "test": 68}
    assert list(data["arm"].cat.categories) == ["standard", "test"]  # reference arm first
    assert data["os_event"].sum() == 128 and data["os_days"].min() > 0
    assert data["celltype"].value_counts().to_dict() == {"smallcell": 48, "squamous": 35, "adeno": 27, "large": 27}
    assert (data["prior"] == "yes").sum() == 40
    assert data["karno_cat"].value_counts().to_dict() == {"<70": 79, ">=70": 58}
    assert spec.survival.time_unit == "days"


def test_veteran_chapters_are_in_the_toc():
    runs = {(r.study_id, r.chapter) for r in chapter_runs()}
    assert {("veteran", "cohorts"), ("veteran", "survival"), ("veteran", "subgroups")} <= runs


def test_pages_say_real_public_data_not_synthetic(veteran):
    spec, _ = veteran
    notice = synthetic_notice(spec)
    assert notice.startswith(":::{note}") and "**Real patient data.**" in notice
    assert "Veterans' Administration" in notice and "LGPL" in notice
    assert "ynthetic data" not in notice  # never the synthetic warning
    assert "supplied by the user" in synthetic_notice(spec, "data/private/mine.xlsx")


def test_real_study_without_a_source_is_still_labelled_real(veteran_copy):
    spec_file = veteran_copy / "study.yaml"
    text = spec_file.read_text(encoding="utf-8")
    start = text.index("  source: >-")
    end = text.index("\narm:")
    spec_file.write_text(text[:start] + text[end:], encoding="utf-8")
    spec = load_spec(spec_file)
    assert spec.data_source == ""
    notice = synthetic_notice(spec)
    assert "**Real patient data.**" in notice and "patients.csv" in notice and "not a synthetic" in notice


def test_data_source_must_be_text(veteran_copy):
    spec_file = veteran_copy / "study.yaml"
    text = spec_file.read_text(encoding="utf-8").replace("  source: >-", "  source: [not, text]\n  ignored: >-")
    spec_file.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match="data.source: must be text"):
        load_spec(spec_file)


def test_texts_for_a_study_without_published_numbers_flow_steps_or_matching(veteran):
    spec, data = veteran
    assert "no `published.yaml`" in audit.no_published_text(spec) and "_build/results/veteran/" in \
        audit.no_published_text(spec)
    counts = {"standard": 69, "test": 68}
    assert "Randomised (all analysed): 137" in cohorts.flow_text(spec, counts)
    from dataclasses import replace
    bare = replace(spec, flow=())
    assert cohorts.flow_text(bare, counts) == ("Arm sizes are counted from the patient table: "
                                               "Standard chemotherapy n = 69, Test chemotherapy n = 68.")
    assert "no `matching` section" in cohorts.no_matching_text(spec)


def test_followup_note_explains_an_unreached_reverse_km_median(veteran):
    spec, data = veteran
    rows, shown = sc.followup_rows(data, spec)
    assert (shown["Median follow-up (days)"] == "NR").all()  # 9 of 137 censored: R prodlim agrees (NA)
    note = sc.followup_note(data, spec)
    assert "only 9 of 137 patients were censored" in note
    censored = data.loc[data["os_event"] == 0, "os_days"]
    assert f"range {censored.min():.1f}–{censored.max():.1f}" in note
    other = load_spec("haic_after_ab")
    assert sc.followup_note(load_patients(other), other) == ""


# ------------------------------------------------------------------------------------------- validation
def _break(folder: Path) -> None:
    """Four problems in four rows: unknown arm, negative time, missing cell type, non-numeric age."""
    csv = folder / "patients.csv"
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    df.loc[3, "arm"] = "placebo"        # spreadsheet row 5
    df.loc[9, "os_days"] = "-3"         # row 11
    df.loc[19, "celltype"] = ""         # row 21
    df.loc[29, "age"] = "sixty"         # row 31
    df.to_csv(csv, index=False)


EXPECTED = {(5, "arm"), (11, "os_days"), (21, "celltype"), (31, "age")}


def test_broken_copy_lists_every_problem_with_row_and_column(veteran_copy):
    _break(veteran_copy)
    spec = load_spec(veteran_copy / "study.yaml")
    with pytest.raises(DataValidationError) as info:
        load_patients(spec)
    err = info.value
    assert {(p.row, p.column) for p in err.problems} == EXPECTED
    by_column = {p.column: p.message for p in err.problems}
    assert "unknown arm 'placebo'" in by_column["arm"]
    assert "negative time -3" in by_column["os_days"]
    assert "value is missing" in by_column["celltype"]
    assert "not a number: 'sixty'" in by_column["age"]
    text = str(err)
    assert text.splitlines()[0].endswith("patients.csv: 4 problem(s) in the patient table:")
    for row, column in EXPECTED:
        assert f"row {row}, column '{column}'" in text


def test_validate_only_cli_checks_another_table_and_lists_every_problem(veteran_copy, capsys):
    """The tutorial's command: --validate-only --patients veteran=<file> (exit 2, every problem printed)."""
    _break(veteran_copy)
    broken = veteran_copy / "patients.csv"
    assert main(["--validate-only", "--patients", f"veteran={broken}"]) == 2
    captured = capsys.readouterr()
    assert "validating 1 study against other patient tables: veteran <- " in captured.out
    assert f"{broken}: 4 problem(s) in the patient table:" in captured.err
    for row, column in EXPECTED:
        assert f"row {row}, column '{column}'" in captured.err
    assert "nothing was executed" in captured.err
    assert main(["--validate-only", "--patients", f"veteran={VETERAN / 'patients.csv'}"]) == 0
    assert main(["--patients", f"veteran={broken}"]) == 2  # only with --validate-only
    assert main(["--validate-only", "--patients", "veteran"]) == 2  # not STUDY=FILE


# ------------------------------------------------------------------------------------------------ Excel
def test_veteran_table_as_xlsx_validates_and_loads_like_the_csv(veteran, tmp_path):
    spec, data = veteran
    xlsx = tmp_path / "veteran.xlsx"
    pd.read_csv(spec.patients_file).to_excel(xlsx, index=False)  # numbers as numbers, as a spreadsheet holds them
    from_excel = load_patients(spec, xlsx)
    pd.testing.assert_frame_equal(from_excel, data)
    assert validate(["veteran"], {"veteran": str(xlsx)}) == []


def test_xlsx_problems_name_spreadsheet_rows(veteran_copy, tmp_path):
    _break(veteran_copy)
    spec = load_spec(veteran_copy / "study.yaml")
    xlsx = tmp_path / "broken.xlsx"
    pd.read_csv(veteran_copy / "patients.csv", dtype=str, keep_default_na=False).to_excel(xlsx, index=False)
    with pytest.raises(DataValidationError) as info:
        load_patients(spec, xlsx)
    assert {(p.row, p.column) for p in info.value.problems} == EXPECTED
    assert info.value.path.endswith("broken.xlsx")


def test_cohorts_chapter_runs_on_an_xlsx_patients_file(veteran, tmp_path):
    """The tutorial's papermill example: one chapter on another patient file (here the same table as .xlsx)."""
    import nbformat
    import papermill

    from helpers.build.execute import notebook_from_source
    from helpers.paths import NOTEBOOKS_DIR, ROOT

    spec, _ = veteran
    xlsx = tmp_path / "veteran.xlsx"
    pd.read_csv(spec.patients_file).to_excel(xlsx, index=False)
    source, out = tmp_path / "cohorts.ipynb", tmp_path / "cohorts-xlsx.ipynb"
    nbformat.write(notebook_from_source(NOTEBOOKS_DIR / "cohorts.md"), source)
    papermill.execute_notebook(str(source), str(out), cwd=str(ROOT), kernel_name="python3", progress_bar=False,
                               parameters={"study_id": "veteran", "patients_file": str(xlsx),
                                           "results_dir": str(tmp_path / "results")})
    text = out.read_text(encoding="utf-8")
    assert "supplied by the user" in text and "veteran.xlsx" in text
    assert "Standard chemotherapy n = 69" in text
    written = pd.read_csv(tmp_path / "results" / "veteran" / "cohorts.csv")
    assert set(written["study"]) == {"veteran"}


# ------------------------------------------------------------------------------------------------ vs R
def test_logrank_arm_hr_and_medians_match_r(veteran, r_values):
    spec, data = veteran
    cmp = sc.compare_arms(data, spec, "os")
    assert cmp.logrank.chisq == pytest.approx(r_values["logrank"]["chisq"], rel=1e-8)
    assert cmp.logrank.p_value == pytest.approx(r_values["logrank"]["p_value"], rel=1e-8)
    ref = r_values["arm_hr"]
    for key in ("hr", "lower", "upper", "p_value"):
        assert cmp.arm_hr[key] == pytest.approx(ref[key], rel=1e-6), key
    for m in r_values["medians"]:
        med = cmp.kms[m["arm"]].median()
        assert (med.estimate, med.lower, med.upper) == (m["median"], m["lower"], m["upper"])
        assert cmp.n[m["arm"]] == m["n"] and cmp.events[m["arm"]] == m["events"]


def test_cox_screen_matches_r(veteran, r_values):
    spec, data = veteran
    screen = sc.cox_screen(data, spec, "os")
    assert screen.selected == r_values["cox_selected"] == ["celltype", "karno", "age"]
    uni = screen.univariate
    r_terms = {"test": "arm:test", "celltypesmallcell": "celltype:smallcell", "celltypeadeno": "celltype:adeno",
               "celltypelarge": "celltype:large", "karno70>=70": "karno:>=70", "age60>=60": "age:>=60",
               "diagtime": "diagtime", "prioryes": "prior:yes"}
    n = 0
    for rows in r_values["cox_univariate"].values():
        for ref in rows:
            row = uni[uni["term"] == r_terms[ref["term"]]].iloc[0]
            for key in ("hr", "lower", "upper"):
                assert row[key] == pytest.approx(ref[key], rel=1e-6), (ref["term"], key)
            assert row["p_value"] == pytest.approx(ref["p_value"], rel=1e-5), ref["term"]
            n += 1
    assert n == 8
    multi = screen.multivariate
    assert len(multi) == len(r_values["cox_multivariable"]) == 5
    for ref in r_values["cox_multivariable"]:
        row = multi[multi["term"] == r_terms[ref["term"]]].iloc[0]
        for key in ("hr", "lower", "upper"):
            assert row[key] == pytest.approx(ref[key], rel=1e-6), (ref["term"], key)
        assert row["p_value"] == pytest.approx(ref["p_value"], rel=1e-5), ref["term"]


def test_subgroups_match_r(veteran, r_values):
    spec, data = veteran
    table = subgroups.subgroup_analysis(data, spec, "os", list(spec.subgroups.variables)).table
    names = {"karno70": "karno", "age60": "age"}
    assert len(r_values["subgroups"]) == len(table) == 10
    for ref in r_values["subgroups"]:
        row = table[(table.variable == names.get(ref["variable"], ref["variable"])) & (table.level == ref["level"])]
        row = row.iloc[0]
        for key in ("hr", "lower", "upper"):
            assert row[key] == pytest.approx(ref[key], rel=1e-6), (ref, key)
        assert row["p_value"] == pytest.approx(ref["p_value"], rel=1e-5), ref
        assert row["p_interaction"] == pytest.approx(ref["p_interaction"], rel=1e-5), ref


def test_table1_p_values_match_r(veteran, r_values):
    spec, data = veteran
    long = table1.baseline_table(data, spec, "primary").long
    p = long[long["stat"] == "p_value"].set_index("variable")["value"]
    for name, ref in r_values["table1_p"].items():
        assert p[name] == pytest.approx(ref, rel=1e-6), name


def test_ph_check_and_piecewise_rows_match_r(veteran, r_values):
    """The survival page's cox.zph table and piecewise model, as results rows, against R on the same data:
    cox.zph(multi) and coxph on survSplit(cut = median event time) with the model's dummy columns."""
    spec, data = veteran
    screen = sc.cox_screen(data, spec, "os")
    check = sc.piecewise_check(data, spec, screen)
    assert check is not None and check[0] == r_values["piecewise"]["cut"] == 62
    assert set(check[2]) == {"celltype", "karno"}            # R: p = 0.0025 and 9.9e-05; age 0.058
    rows = pd.DataFrame(sc.ph_rows([screen], {"os": check}))
    names = {"celltype": "celltype", "karno70": "karno", "age60": "age", "GLOBAL": "GLOBAL"}
    for ref in r_values["cox_zph"]:
        got = rows[(rows.analysis == "ph.os") & (rows.variable == names[ref["term"]])].set_index("stat")["value"]
        assert got["chisq"] == pytest.approx(ref["chisq"], rel=1e-6), ref["term"]
        assert got["df"] == ref["df"]
        assert got["p_value"] == pytest.approx(ref["p_value"], rel=1e-5), ref["term"]
    terms = {"celltypesmallcell": ("celltype", "smallcell;"), "celltypeadeno": ("celltype", "adeno;"),
             "celltypelarge": ("celltype", "large;"), "karno70..70": ("karno", ">=70;"), "age60..60": ("age", ">=60;")}
    pw = rows[rows.analysis == "piecewise.os"]
    assert len(r_values["piecewise"]["coefficients"]) == 10
    for ref in r_values["piecewise"]["coefficients"]:
        term, group = ref["term"].split(":strata(tgroup)tgroup=")
        variable, prefix = terms[term]
        interval = "t=0-62" if group == "1" else "t=62-inf"
        got = pw[(pw.variable == variable) & (pw.level == prefix + interval)].set_index("stat")["value"]
        for key in ("hr", "lower", "upper"):
            assert got[key] == pytest.approx(ref[key], rel=1e-6), (ref["term"], key)
        assert got["p_value"] == pytest.approx(ref["p_value"], rel=1e-5), ref["term"]
        assert got["events"] == r_values["piecewise"]["events"][int(group) - 1]


# --------------------------------------------------------------- the tutorial's table of dates and raw codes
def _break_colon(csv: Path) -> None:
    """The six mistakes book/own_data.md shows: a sex code 3, a recurrence before randomisation, a death after the
    date last seen, a 31 September, a date in 2094, and a node count written 'unk'."""
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    df.loc[1, "sex"] = "3"                       # row 3
    df.loc[2, "date_recurrence"] = "27/06/1984"  # row 4
    df.loc[4, "date_death"] = "22/10/1987"       # row 6
    df.loc[6, "date_last_seen"] = "31/09/1993"   # row 8
    df.loc[8, "date_last_seen"] = "23/01/2094"   # row 10
    df.loc[9, "nodes"] = "unk"                   # row 11
    df.to_csv(csv, index=False)


def test_the_tutorials_date_and_code_mistakes_are_refused_as_the_page_shows(tmp_path, capsys):
    broken = tmp_path / "colon_broken.csv"
    shutil.copy2(STUDIES_DIR / "colon" / "patients.csv", broken)
    _break_colon(broken)
    assert main(["--validate-only", "--patients", f"colon={broken}"]) == 2
    err = capsys.readouterr().err
    page = (Path(__file__).parents[1] / "book" / "own_data.md").read_text(encoding="utf-8")
    shown = err.replace(str(broken), "data/private/colon_broken.csv")
    today = re.search(r"after (\d{4}-\d{2}-\d{2}), the day of this run", page).group(1)
    shown = re.sub(r"after \d{4}-\d{2}-\d{2}, the day of this run", f"after {today}, the day of this run", shown)
    lines = [line for line in shown.splitlines() if line.strip()]
    assert len(lines) == 8 and "6 problem(s) in the patient table" in lines[0]
    for line in lines:
        assert line in page, line
    rows = {(p.split("row ")[1].split(",")[0], p.split("column '")[1].split("'")[0]) for p in lines[1:7]}
    assert rows == {("3", "sex"), ("4", "date_recurrence"), ("6", "date_death"), ("8", "date_last_seen"),
                    ("10", "date_last_seen"), ("11", "nodes")}


def test_the_tutorials_undeclared_date_format_message(tmp_path):
    folder = tmp_path / "colon"
    shutil.copytree(STUDIES_DIR / "colon", folder)
    spec_file = folder / "study.yaml"
    text = spec_file.read_text(encoding="utf-8")
    assert "  date_format: day_first" in text
    spec_file.write_text(re.sub(r"\n  date_format: day_first[^\n]*", "", text), encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        load_patients(load_spec(spec_file))
    first = info.value.problems[0]
    assert (first.row, first.column) == (2, "date_randomisation")
    assert len(info.value.problems) == 4  # one per date column
    page = (Path(__file__).parents[1] / "book" / "own_data.md").read_text(encoding="utf-8")
    assert f"  - data/studies/colon/patients.csv: {first}" in page
