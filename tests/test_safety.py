"""Adverse events: spec section, wide and long validation, max grade per patient, Table 4 rows and display."""
from __future__ import annotations

import math

import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers.study.patients import DataValidationError, adverse_event_grades, load_adverse_events, load_patients
from helpers.analyses.safety import adverse_event_display, adverse_event_table
from helpers.study.spec import AdverseEventSpec, Arm, SpecError, load_spec

AE_WIDE = textwrap.dedent("""\
    adverse_events:
      format: wide
      column_prefix: "ae_"
      test: fisher_if_expected_lt5
      severe_grades: [3, 4]
      terms: {fever: Fever, decreased_appetite: Decreased appetite}
    """)

ROWS_WIDE = textwrap.dedent("""\
    pid,arm,sex,age,alt,ae_fever,ae_decreased_appetite
    p1,ctl,m,50,30,0,1
    p2,ctl,f,61,40,2,0
    p3,ctl,m,70,41,3,0
    p4,trt,m,45,20,1,4
    p5,trt,f,59,55,0,2
    p6,trt,f,60,40.5,0,5
    """)

AE_LONG = textwrap.dedent("""\
    adverse_events:
      format: long
      file: adverse_events.csv
      test: fisher
      severe_grades: [3, 4]
      terms: {fever: Fever, decreased_appetite: Decreased appetite}
    """)

EVENTS = textwrap.dedent("""\
    pid,term,grade
    p2,fever,1
    p2,fever,2
    p3,fever,3
    p1,decreased_appetite,1
    p4,decreased_appetite,4
    p4,fever,1
    p5,decreased_appetite,2
    p6,decreased_appetite,5
    """)


def _append(study, text):
    path = study / "study.yaml"
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _rewrite(study, old, new, file="patients.csv"):
    path = study / file
    content = path.read_text(encoding="utf-8")
    assert old in content
    path.write_text(content.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def wide_study(tiny_study):
    _append(tiny_study, AE_WIDE)
    (tiny_study / "patients.csv").write_text(ROWS_WIDE, encoding="utf-8")
    return tiny_study


@pytest.fixture
def long_study(tiny_study):
    _append(tiny_study, AE_LONG)
    (tiny_study / "adverse_events.csv").write_text(EVENTS, encoding="utf-8")
    return tiny_study


def value(rows, variable, level, group, stat):
    hit = rows[(rows.variable == variable) & (rows.level == level) & (rows.group == group) & (rows.stat == stat)]
    assert len(hit) == 1, (variable, level, group, stat)
    return float(hit["value"].iloc[0])


EXPECTED_GRADES = [[0, 1], [2, 0], [3, 0], [1, 4], [0, 2], [0, 5]]


def test_wide_and_long_give_the_same_max_grades(wide_study, tmp_path):
    spec = load_spec(wide_study / "study.yaml")
    assert spec.adverse_events.format == "wide" and spec.adverse_events.severe_grades == (3, 4)
    assert list(spec.adverse_events.terms) == ["fever", "decreased_appetite"]
    data = load_patients(spec)
    grades = adverse_event_grades(spec, data)
    assert list(grades.columns) == ["fever", "decreased_appetite"]
    assert grades.to_numpy().tolist() == EXPECTED_GRADES


def test_long_format_takes_max_grade_and_fills_zero(long_study):
    spec = load_spec(long_study / "study.yaml")
    assert spec.adverse_events.file == "adverse_events.csv" and spec.adverse_events.test == "fisher"
    data = load_patients(spec)
    grades = adverse_event_grades(spec, data)
    assert grades.to_numpy().tolist() == EXPECTED_GRADES  # p2 fever: max(1, 2) = 2
    assert list(grades.index) == list(data.index)
    wide = load_adverse_events(spec, data.index)
    assert wide.loc["p3", "decreased_appetite"] == 0
    # a sub-cohort: ids of the whole table may appear in the file
    sub = data.loc[["p1", "p4"]]
    assert adverse_event_grades(spec, sub, known_ids=data.index).to_numpy().tolist() == [[0, 1], [1, 4]]


def test_long_format_bad_rows_name_file_row_and_column(long_study):
    _rewrite(long_study, "p3,fever,3", "p3,fever,7", file="adverse_events.csv")
    _rewrite(long_study, "p1,decreased_appetite,1", "p1,nausea,1", file="adverse_events.csv")
    _rewrite(long_study, "p5,decreased_appetite,2", "p9,decreased_appetite,2", file="adverse_events.csv")
    spec = load_spec(long_study / "study.yaml")
    data = load_patients(spec)
    with pytest.raises(DataValidationError) as err:
        adverse_event_grades(spec, data)
    text = str(err.value)
    assert "adverse_events.csv: row 4, column 'grade': adverse event grade must be a whole number 0-5, got '7'" in text
    assert "adverse_events.csv: row 5, column 'term': unknown adverse event term 'nausea'" in text
    assert "adverse_events.csv: row 8, column 'pid': unknown patient id 'p9'" in text
    assert len(err.value.problems) == 3


def test_long_format_missing_column(long_study):
    (long_study / "adverse_events.csv").write_text("pid,term,severity\np1,fever,1\n", encoding="utf-8")
    spec = load_spec(long_study / "study.yaml")
    with pytest.raises(DataValidationError, match=r"adverse_events.csv: column 'grade': required column is missing"):
        load_adverse_events(spec, load_patients(spec).index)


def test_wide_grade_outside_0_5_names_file_row_and_column(wide_study):
    _rewrite(wide_study, "p3,ctl,m,70,41,3,0", "p3,ctl,m,70,41,7,0")
    _rewrite(wide_study, "p5,trt,f,59,55,0,2", "p5,trt,f,59,55,0,2.5")
    with pytest.raises(DataValidationError) as err:
        load_patients(load_spec(wide_study / "study.yaml"))
    text = str(err.value)
    assert "patients.csv: row 4, column 'ae_fever': adverse event grade must be a whole number 0-5 (0 = none), got '7'" in text
    assert "row 6, column 'ae_decreased_appetite'" in text


def test_wide_missing_term_column(wide_study):
    _rewrite(wide_study, ",ae_fever,", ",fever,")
    with pytest.raises(DataValidationError, match=r"column 'ae_fever': required column is missing"):
        load_patients(load_spec(wide_study / "study.yaml"))


def test_bad_ae_spec_lists_every_problem(long_study):
    _rewrite(long_study, "  file: adverse_events.csv\n", "", file="study.yaml")
    _rewrite(long_study, "test: fisher", "test: barnard", file="study.yaml")
    _rewrite(long_study, "severe_grades: [3, 4]", "severe_grades: [3, 7]", file="study.yaml")
    with pytest.raises(SpecError) as err:
        load_spec(long_study / "study.yaml")
    text = str(err.value)
    assert "adverse_events.file: required for format 'long'" in text
    assert "adverse_events.test: 'barnard' is not one of" in text
    assert "adverse_events.severe_grades: must be grades 1-5" in text
    assert "3 problem(s)" in text


def test_ae_format_must_be_known(wide_study):
    _rewrite(wide_study, "format: wide", "format: tall", file="study.yaml")
    with pytest.raises(SpecError, match=r"adverse_events.format: 'tall' is not one of \['wide', 'long'\]"):
        load_spec(wide_study / "study.yaml")


def test_table_on_the_tiny_study_by_hand(wide_study):
    spec = load_spec(wide_study / "study.yaml")
    data = load_patients(spec)
    grades = adverse_event_grades(spec, data)
    rows = adverse_event_table(grades, data["arm"], spec)
    assert list(dict.fromkeys(rows.variable)) == ["overall", "fever", "decreased_appetite"]
    # fever any grade: ctl p2, p3 (2/3); trt p4 (1/3); grade 3-4: ctl p3 only
    assert value(rows, "fever", "any_grade", "ctl", "n") == 2
    assert value(rows, "fever", "any_grade", "trt", "pct") == pytest.approx(100 / 3)
    assert value(rows, "fever", "grade_3_4", "ctl", "n") == 1
    # decreased appetite grade 3-4: p4 (grade 4) counts, p6 (grade 5) is outside 3-4
    assert value(rows, "decreased_appetite", "grade_3_4", "trt", "n") == 1
    assert value(rows, "decreased_appetite", "any_grade", "trt", "n") == 3
    # overall: any grade ctl 3/3, trt 3/3; grade 3-4 ctl 1 (p3), trt 1 (p4)
    assert value(rows, "overall", "any_grade", "ctl", "n") == 3
    assert value(rows, "overall", "grade_3_4", "trt", "n") == 1
    assert value(rows, "overall", "patients", "trt", "n") == 3
    assert value(rows, "fever", "any_grade", "comparison", "p_value") == pytest.approx(
        stats.fisher_exact([[2, 1], [1, 2]])[1])
    assert not rows.duplicated(["variable", "level", "group", "stat"]).any()
    table = adverse_event_display(rows, spec)
    assert list(table.index) == ["Any adverse event", "Fever", "Decreased appetite"]
    assert table.loc["Fever", ("Any grade", "Control (N=3)")] == "2 (66.7%)"
    assert table.loc["Decreased appetite", ("Grade 3–4", "Treated (N=3)")] == "1 (33.3%)"
    assert table.loc["Fever", ("Any grade", "P")] == "1.000"


def _hand_study():
    """40 patients per arm: fever any grade 12/40 vs 24/40, grade 3-4 1/40 vs 6/40; rash 2/40 vs 3/40."""
    spec = type("Spec", (), {})()
    spec.study_id = "hand"
    spec.arm = Arm("arm", "a", {"a": "A", "b": "B"})
    spec.adverse_events = AdverseEventSpec(terms={"rash": "Rash", "fever": "Fever"})
    fever = [3] + [1] * 11 + [0] * 28 + [4] * 6 + [2] * 18 + [0] * 16
    rash = [1, 2] + [0] * 38 + [1, 1, 1] + [0] * 37
    grades = pd.DataFrame({"rash": rash, "fever": fever}, index=[f"p{i}" for i in range(80)])
    arms = pd.Series(["a"] * 40 + ["b"] * 40, index=grades.index)
    return spec, grades, arms


def test_policy_p_values_match_scipy():
    spec, grades, arms = _hand_study()
    rows = adverse_event_table(grades, arms, spec)
    # fever any grade: expected counts 18/22 >= 5 -> chi-square with Yates
    chi = stats.chi2_contingency([[12, 28], [24, 16]], correction=True)[1]
    assert value(rows, "fever", "any_grade", "comparison", "p_value") == pytest.approx(chi, rel=1e-10)
    assert rows.attrs["tests"][("fever", "any_grade")].endswith("Yates' continuity correction")
    # fever grade 3-4: 1 vs 6, expected 3.5 -> Fisher
    assert value(rows, "fever", "grade_3_4", "comparison", "p_value") == pytest.approx(
        stats.fisher_exact([[1, 39], [6, 34]])[1], rel=1e-9)
    # rash grade 3-4: no events in either arm -> nothing to compare, NA as the paper prints it
    # (Fisher would give 1 and R's chisq.test NaN on such a table)
    assert math.isnan(value(rows, "rash", "grade_3_4", "comparison", "p_value"))
    # chi-square without correction when asked
    rows_c = adverse_event_table(grades, arms, spec, policy="chisq")
    assert value(rows_c, "fever", "any_grade", "comparison", "p_value") == pytest.approx(
        stats.chi2_contingency([[12, 28], [24, 16]], correction=False)[1], rel=1e-10)


def test_frequency_order_and_unknown_order():
    spec, grades, arms = _hand_study()
    paper = adverse_event_table(grades, arms, spec, order="paper")
    freq = adverse_event_table(grades, arms, spec, order="frequency")
    assert list(dict.fromkeys(paper.variable)) == ["overall", "rash", "fever"]
    assert list(dict.fromkeys(freq.variable)) == ["overall", "fever", "rash"]
    with pytest.raises(ValueError, match="unknown order"):
        adverse_event_table(grades, arms, spec, order="alphabetical")


def test_butterfly_figure():
    import matplotlib

    matplotlib.use("Agg")
    from helpers.report.figures import ae_butterfly

    spec, grades, arms = _hand_study()
    spec.arm_labels = {"a": "A", "b": "B"}
    rows = adverse_event_table(grades, arms, spec)
    fig = ae_butterfly(rows, spec)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Patients (%)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Rash", "Fever"]  # table order, top first
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths[0] == -30.0 and widths[-1] == 60.0  # reference arm drawn to the left
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert not any(label.startswith(("-", "−")) for label in labels if label)


def test_discrepancy_note_names_the_test_behind_seed000_ast_p_value():
    """CONVENTIONS.md: AST increased, any grade, 41/51 vs 47/50 is printed as 0.072, which is Fisher's exact
    p; the stated rule (no expected count below 5, so Yates' chi-square) gives 0.081."""
    import pandas as pd

    from helpers.analyses.audit import p_value_discrepancies as discrepancy_note
    from helpers.study.spec import load_spec

    spec = load_spec("erhcc_hait_mp")
    ref, exp = spec.arm.codes
    rows = pd.DataFrame([
        dict(variable="aspartate_aminotransferase_increased", level="any_grade", group=ref, stat="n", value=41),
        dict(variable="aspartate_aminotransferase_increased", level="any_grade", group=exp, stat="n", value=47),
    ])
    differs = pd.DataFrame([dict(Quantity="aspartate_aminotransferase_increased any_grade", Statistic="p_value",
                                 Published="0.072")])
    note = discrepancy_note(differs, rows, spec, "fisher_if_expected_lt5", {ref: 51, exp: 50})
    assert "gives 0.081" in note
    assert "the printed value is what Fisher's exact test gives" in note
    # the policy in words, not the spec's setting name
    assert "fisher_if_expected_lt5" not in note
    assert "(Fisher's exact test when an expected count is below 5, otherwise Pearson's χ² test" in note
