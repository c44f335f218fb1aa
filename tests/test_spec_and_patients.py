"""Study specs and patient tables: parsing, typing, R-style cuts, and every bad-input case."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.study.patients import DataValidationError, analysis_column, load_patients
from helpers.study.spec import SpecError, available_studies, load_spec


def write(folder, name, text):
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def test_tiny_study_loads_with_types_and_cuts(tiny_study):
    spec = load_spec(tiny_study / "study.yaml")
    df = load_patients(spec)
    assert list(df.index) == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert list(df["arm"].cat.categories) == ["ctl", "trt"]  # reference first
    assert df["age"].dtype == float
    # R: cut(c(50,61,70,45,59,60), c(-Inf,60,Inf), right=FALSE) -> [-Inf,60) [60,Inf): 60 goes up
    assert list(df["age_cat"].astype(str)) == ["<60", ">=60", ">=60", "<60", "<60", ">=60"]
    # R: cut(c(30,40,41,20,55,40.5), c(-Inf,40,Inf)) -> (-Inf,40] (40,Inf]: 40 stays low
    assert list(df["alt_cat"].astype(str)) == ["<=40", "<=40", ">40", "<=40", ">40", ">40"]
    assert analysis_column(spec, "alt") == "alt_cat"
    assert analysis_column(spec, "age") == "age"


def test_shipped_studies_are_valid():
    assert {"erhcc_hait_mp", "haic_after_ab"} <= set(available_studies())
    for study in ("erhcc_hait_mp", "haic_after_ab"):
        spec = load_spec(study)
        df = load_patients(spec)
        assert spec.synthetic is True
        assert df.index.is_unique


def test_unknown_study_names_known_ones():
    with pytest.raises(FileNotFoundError, match="known studies: .*erhcc_hait_mp"):
        load_spec("no_such_study")


def test_spec_lists_every_problem(tiny_study):
    write(tiny_study, "study.yaml", """\
study_id: wrong_name
title: T
synthetic: false
design: {type: observational, timing: retrospective}
data: {patients: patients.csv, id_column: pid}
arm: {column: arm, reference: zzz, levels: {ctl: C, trt: T}}
variables:
  sex: {label: Sex, type: categorical, levels: {m: male}}
  age: {label: Age, type: numeric}
table1: {variables: [sex, weight], continuous_summary: mode}
matching: {covariates: [height], caliper: -1, ratio: 0}
""")
    with pytest.raises(SpecError) as info:
        load_spec(tiny_study / "study.yaml")
    text = str(info.value)
    assert "study.yaml" in text
    for fragment in ["study_id: 'wrong_name' must equal the folder name 'tiny'",
                     "arm.reference: 'zzz' is not one of", "variables.sex.levels: a categorical variable needs",
                     "variables.age.type: 'numeric' is not one of", "table1.variables[1]: 'weight' is not declared",
                     "table1.continuous_summary: 'mode'", "matching.covariates[0]: 'height'", "matching.caliper",
                     "matching.ratio"]:
        assert fragment in text
    assert len(info.value.problems) == 9


def test_spec_invalid_yaml(tiny_study):
    write(tiny_study, "study.yaml", "study_id: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(tiny_study / "study.yaml")


def bad_table(tiny_study, text, name="patients.csv"):
    spec = load_spec(tiny_study / "study.yaml")
    path = write(tiny_study, name, text)
    with pytest.raises(DataValidationError) as info:
        load_patients(spec, path)
    return info.value


def test_missing_and_duplicate_ids(tiny_study):
    err = bad_table(tiny_study, "pid,arm,sex,age,alt\np1,ctl,m,50,30\n,trt,f,61,40\np1,trt,m,70,41\n")
    msgs = [str(p) for p in err.problems]
    assert "row 3, column 'pid': patient id is missing" in msgs
    assert "row 4, column 'pid': duplicate patient id 'p1' (first seen in row 2)" in msgs
    assert "patients.csv" in str(err)


def test_unknown_arm_and_category_nonnumeric_negative_and_missing(tiny_study):
    err = bad_table(tiny_study, "pid,arm,sex,age,alt\n"
                                "p1,placebo,m,50,30\n"
                                "p2,ctl,x,61,40\n"
                                "p3,ctl,m,seventy,41\n"
                                "p4,trt,m,45,-3\n"
                                "p5,trt,f,,20\n")
    msgs = [str(p) for p in err.problems]
    assert "row 2, column 'arm': unknown arm 'placebo': expected one of ['ctl', 'trt']" in msgs
    assert "row 3, column 'sex': unknown category 'x': expected one of ['m', 'f']" in msgs
    assert "row 4, column 'age': not a number: 'seventy'" in msgs
    assert "row 5, column 'alt': value -3 is below the allowed minimum 0" in msgs
    assert any(m.startswith("row 6, column 'age': value is missing") for m in msgs)
    assert len(err.problems) == 5  # every problem, not only the first


def test_missing_column(tiny_study):
    err = bad_table(tiny_study, "pid,arm,sex,age\np1,ctl,m,50\n")
    assert [str(p) for p in err.problems][0].startswith("column 'alt': required column is missing")


def test_malformed_csv_names_row(tiny_study):
    err = bad_table(tiny_study, "pid,arm,sex,age,alt\np1,ctl,m,50,30\np2,ctl,f,61\n")
    assert "row 3: has 4 fields but the header has 5" in [str(p) for p in err.problems]


def test_wrong_file_type_and_missing_file(tiny_study):
    err = bad_table(tiny_study, "{}", name="patients.json")
    assert "unsupported file type '.json'" in str(err)
    spec = load_spec(tiny_study / "study.yaml")
    with pytest.raises(DataValidationError, match="file not found"):
        load_patients(spec, tiny_study / "nope.csv")
    binary = tiny_study / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(DataValidationError, match="not UTF-8"):
        load_patients(spec, binary)


def test_excel_input(tiny_study):
    spec = load_spec(tiny_study / "study.yaml")
    df = pd.read_csv(tiny_study / "patients.csv")
    xlsx = tiny_study / "patients.xlsx"
    df.to_excel(xlsx, index=False)
    loaded = load_patients(spec, xlsx)
    assert loaded.loc["p6", "alt"] == 40.5
    assert np.array_equal(loaded["alt"], load_patients(spec)["alt"])


def test_integer_variable_rejects_fractions(tiny_study):
    spec_file = tiny_study / "study.yaml"
    spec_file.write_text(spec_file.read_text(encoding="utf-8").replace(
        "age: {label: Age, unit: years, type: continuous,", "age: {label: Age, unit: years, type: continuous, integer: true,"),
        encoding="utf-8")
    assert load_spec(spec_file).variables["age"].integer
    err = bad_table(tiny_study, "pid,arm,sex,age,alt\np1,ctl,m,50,30\np2,trt,f,61.5,40\np3,trt,m,70.25,41\n")
    assert [str(p) for p in err.problems] == [
        "row 3, column 'age': value 61.5 is not a whole number (the spec declares integer: true)",
        "row 4, column 'age': value 70.25 is not a whole number (the spec declares integer: true)"]


# ------------------------------------------------------------------------- files as users have them
def _spec_with_data(tiny_study, extra: str):
    spec_file = tiny_study / "study.yaml"
    spec_file.write_text(spec_file.read_text().replace("data: {patients: patients.csv, id_column: pid}",
                                                       "data: {patients: patients.csv, id_column: pid" + extra + "}"))
    return load_spec(spec_file)


def test_semicolon_file_is_recognised_and_named(tiny_study):
    rows = (tiny_study / "patients.csv").read_text().replace(",", ";")
    (tiny_study / "patients.csv").write_text(rows)
    err = bad_table(tiny_study, rows)
    assert "row 1: the header has no ',' but 4 ';': this looks like a semicolon-separated file" in str(err)
    assert 'declare `data.delimiter: ";"`' in str(err)


def test_semicolon_and_decimal_comma_declared_in_the_spec(tiny_study):
    rows = (tiny_study / "patients.csv").read_text().replace(",", ";").replace("40.5", "40,5")
    (tiny_study / "patients.csv").write_text(rows)
    spec = _spec_with_data(tiny_study, ', delimiter: ";", decimal: ","')
    data = load_patients(spec)
    assert data.loc["p6", "alt"] == 40.5 and data.loc["p1", "age"] == 50


def test_decimal_comma_without_the_spec_key_gets_a_hint(tiny_study):
    err = bad_table(tiny_study, (tiny_study / "patients.csv").read_text().replace("40.5", "\"40,5\""))
    assert "row 7, column 'alt': not a number: '40,5' (a comma as the decimal mark? declare `data.decimal: \",\"`" \
        in str(err)


def test_latin1_file_names_row_and_column_and_the_key(tiny_study):
    text = (tiny_study / "patients.csv").read_text().replace("p5,trt,f", "p5,trt,\xe9")
    (tiny_study / "patients.csv").write_bytes(text.encode("latin-1"))  # an older Excel export
    spec = load_spec(tiny_study / "study.yaml")
    with pytest.raises(DataValidationError) as info:
        load_patients(spec)
    assert "row 6, column 'sex': byte 0xe9 is not valid UTF-8 text" in str(info.value)
    assert "declare `data.encoding: cp1252`" in str(info.value)
    spec = _spec_with_data(tiny_study, ", encoding: latin-1")
    with pytest.raises(DataValidationError, match="row 6, column 'sex': unknown category '\xe9'"):
        load_patients(spec)


def test_bom_and_crlf_files_still_load(tiny_study):
    text = (tiny_study / "patients.csv").read_text()
    (tiny_study / "patients.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    data = load_patients(load_spec(tiny_study / "study.yaml"))
    assert list(data.index) == ["p1", "p2", "p3", "p4", "p5", "p6"] and data.loc["p6", "alt"] == 40.5
