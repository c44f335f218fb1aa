"""The draft spec (``python -m helpers.build --draft-spec FILE --study ID``): its guesses, its `# check:` and TODO
lines, that it validates against the schema as written and with load_spec once the TODOs are replaced, that it
never overwrites a spec, and the tutorial's path on the worked example: draft, edit, validate, run the chapters."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from helpers.build.pipeline import main
from helpers.paths import ROOT, STUDIES_DIR
from helpers.study import schema
from helpers.study.draft import DraftError, draft_spec, read_redcap_dictionary, write_draft
from helpers.study.patients import load_patients
from helpers.study.spec import SpecError, load_spec

COLON = STUDIES_DIR / "colon"
COMMAND = ("python -m helpers.build --draft-spec data/studies/colon/patients.csv --study colon "
           "--data-dictionary data/studies/colon/data_dictionary.csv")
#: The tutorial's edits of the draft (book/own_data.md shows each): the line that starts so -> the new line.
EDITS = [
    ('title: "TODO', 'title: "Levamisole plus fluorouracil versus observation after resection of colon cancer"'),
    ("  type: observational", "  type: randomised"),
    ("  timing: retrospective", "  timing: prospective"),
    ('  # time_zero: "..."', '  time_zero: "randomisation"'),
    ('  # immortal_time: "..."', "  immortal_time: none"),
    ('  # source: "..."', '  source: "Data set colon of the R package survival (LGPL >= 2), as convert_colon.R '
                          'writes it"'),
    ("    range: [18, 85]", "    range: [18, 100]"),
    ("    range: [0, 27]", "    range: [0, null]"),
]


def apply_edits(text: str, edits=EDITS) -> str:
    lines = text.splitlines()
    for old, new in edits:
        hits = [i for i, line in enumerate(lines) if line.startswith(old)]
        assert len(hits) == 1, (old, hits)
        lines[hits[0]] = new
    return "\n".join(lines) + "\n"


def colon_draft(folder: Path = COLON) -> str:
    return draft_spec(COLON / "patients.csv", "colon", folder, COLON / "data_dictionary.csv", COMMAND).text


def yaml_lines(text: str) -> dict[str, str]:
    """Key line (stripped, without its comment) -> its comment."""
    out = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#") or "#" not in line:
            continue
        code, _, comment = line.partition("  # ")
        out[code.strip()] = comment.strip()
    return out


# ------------------------------------------------------------------------------------------- the example
def test_the_committed_draft_is_what_the_command_writes():
    """data/studies/colon/study.draft.yaml (shown by the tutorial) is the command's output, byte for byte, and the
    tutorial quotes the command's summary line as it is."""
    draft = draft_spec(COLON / "patients.csv", "colon", COLON, COLON / "data_dictionary.csv", COMMAND)
    assert draft.text == (COLON / "study.draft.yaml").read_text(encoding="utf-8")
    page = (ROOT / "book" / "own_data.md").read_text(encoding="utf-8")
    assert (f"# wrote data/studies/colon/study.yaml: {draft.columns} columns of {draft.rows} rows; {draft.checks} "
            f"guesses marked '# check:', {draft.todos} TODO(s) to replace") in page


def test_draft_validates_against_the_schema_as_written_and_names_its_todos(tmp_path):
    text = colon_draft(tmp_path / "colon")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../study.schema.json"
    raw = yaml.safe_load(text)
    jsonschema.Draft202012Validator(schema.json_schema()).validate(raw)
    _, problems, _ = schema.check_structure(raw)
    assert problems == []
    assert raw["synthetic"] is False and raw["design"] == {"type": "observational", "timing": "retrospective"}
    folder = tmp_path / "colon"
    folder.mkdir()
    (folder / "study.yaml").write_text(text, encoding="utf-8")
    shutil.copy2(COLON / "patients.csv", folder / "patients.csv")
    with pytest.raises(SpecError) as info:
        load_spec(folder / "study.yaml")
    (todo,) = info.value.problems
    assert todo.startswith("line 9: title: still a TODO of the draft")


def test_draft_guesses_of_the_example_with_their_check_comments():
    lines = yaml_lines((COLON / "study.draft.yaml").read_text(encoding="utf-8"))
    assert lines["id_column: record_id"] == "check: unique and never missing in all 619 rows"
    assert lines["date_format: day_first"] == "check: date_dmy in the dictionary; '27/08/1987' is day first"
    assert lines["column: rx"] == "check: two values, 1, 3; named like an arm"
    assert lines["reference: 1"] == "check: the comparator: hazard ratios are 3 vs 1"
    assert lines["levels: {1: Male, 2: Female}"] == "check: code: label; the first is the reference level"
    assert lines["levels: {0: \"No\", 1: \"Yes\"}"].startswith("check:")   # quoted: YAML reads No as false
    assert lines["missing_codes: [9]"] == "check: read as unknown (cells 9: 13)"        # the dictionary's Unknown
    assert lines["missing_codes: [99]"] == "check: read as unknown (cells 99: 12)"      # its field note
    assert lines["range: [18, 85]"].startswith("check: the observed range")
    assert lines["unit: years"] == "check: from the data dictionary's label"
    assert lines["events: [date_recurrence, date_death]"] == "check: the first of these dates is the event"
    assert lines["label: Recurrence-free survival"] == "check: from the column date_recurrence"
    assert lines["last_seen: date_last_seen"] == "check: a patient without an event is censored here"
    assert lines["time_unit: months"].startswith("check: days, weeks, months (days / 30.4375)")
    # every guess is marked: each line of the variables and survival sections with a value has a comment
    text = (COLON / "study.draft.yaml").read_text(encoding="utf-8")
    body = text.split("\nvariables:")[1]
    for line in body.splitlines():
        if ": " in line and not line.lstrip().startswith(("#", "title:", "1:", "2:", "3:", "4:")) \
                and not line.strip().startswith(("extent, ", "differ, ")):
            assert "# check:" in line or "#" in line, line


def test_the_tutorials_edits_make_the_worked_example(tmp_path):
    """Draft + the edits of book/own_data.md = data/studies/colon/study.yaml, as the book reads them."""
    folder = tmp_path / "colon"
    folder.mkdir()
    (folder / "study.yaml").write_text(apply_edits(colon_draft(folder)), encoding="utf-8")
    shutil.copy2(COLON / "patients.csv", folder / "patients.csv")
    edited, shipped = load_spec(folder / "study.yaml"), load_spec("colon")
    for name in ("id_column", "arm", "variables", "table1", "survival", "design", "table_format", "cutoff_date",
                 "synthetic", "matching", "subgroups"):
        assert getattr(edited, name) == getattr(shipped, name), name
    pd.testing.assert_frame_equal(load_patients(edited), load_patients(shipped))
    page = (ROOT / "book" / "own_data.md").read_text(encoding="utf-8")
    for _, new in EDITS:
        assert f"`{new.strip()}`" in page, new   # the page's table of the edits


# ------------------------------------------------------------------------------------------- the command
def test_cli_writes_the_draft_and_never_overwrites_a_spec(tmp_path, monkeypatch, capsys):
    import helpers.paths

    monkeypatch.setattr(helpers.paths, "STUDIES_DIR", tmp_path)
    table = COLON / "patients.csv"
    assert main(["--draft-spec", str(table), "--study", "mine"]) == 0
    written = (tmp_path / "mine" / "study.yaml").read_text(encoding="utf-8")
    out = capsys.readouterr()
    assert "wrote " in out.out and "1 TODO(s) to replace" in out.out and "--validate-only --patients mine=" in out.out
    assert "data_dictionary" not in written and "levels: {1: \"1\", 2: \"2\"}" in written  # no labels without one
    assert main(["--draft-spec", str(table), "--study", "mine"]) == 2
    err = capsys.readouterr().err
    assert "exists: a draft never overwrites a spec" in err and "Traceback" not in err
    assert (tmp_path / "mine" / "study.yaml").read_text(encoding="utf-8") == written
    assert main(["--draft-spec", str(table)]) == 2
    assert "go together" in capsys.readouterr().err
    assert main(["--draft-spec", str(table), "--study", "my study"]) == 2
    assert "a study id is letters, digits" in capsys.readouterr().err
    assert main(["--draft-spec", str(tmp_path / "nope.csv"), "--study", "x"]) == 2
    assert "patient table not found" in capsys.readouterr().err
    bad = tmp_path / "dictionary.csv"
    bad.write_text("name,type\nsex,radio\n", encoding="utf-8")
    assert main(["--draft-spec", str(table), "--study", "y", "--data-dictionary", str(bad)]) == 2
    assert "not a REDCap data dictionary: no column starting 'variable'" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_draft_refuses_an_unreadable_table(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2,3\n", encoding="utf-8")
    with pytest.raises(DraftError, match="row 2: has 3 fields but the header has 2"):
        write_draft(table, "t", tmp_path)


# ------------------------------------------------------------------------------------------- the guesses
HOSPITAL = textwrap.dedent("""\
    patient_id,group,sex,age,ecog,stage,albumin,site,date_start,date_progression,date_death,date_last_fu,notes,centre
    H01,A,1,61,0,II,3.51,liver,2021-01-04,2021-06-01,,2022-01-10,first,X
    H02,B,2,55,1,III,4.02,liver,2021-02-11,,2021-12-24,2021-12-24,second note,X
    H03,A,9,70,2,unknown,2.95,lung,2021-03-15,2021-05-30,2021-09-02,2021-09-02,third,X
    H04,B,1,48,0,I,3.80,liver,2021-04-01,,,2022-02-01,a fourth one,X
    H05,A,2,66,1,II,,bone,2021-05-20,2021-11-11,,2022-03-15,fifth,X
    H06,B,1,59,3,III,4.40,lung,2021-06-30,,,2022-04-01,sixth,X
    H07,A,2,72,1,I,3.10,liver,2021-07-07,2022-01-02,2022-02-02,2022-02-02,seventh,X
    H08,B,2,63,0,II,3.33,bone,2021-08-08,,,2022-05-05,eighth,X
    H09,A,1,51,2,III,2.80,liver,2021-09-09,2022-03-03,,2022-06-06,ninth,X
    H10,B,1,68,1,II,3.95,lung,2021-10-10,,,2022-07-07,tenth,X
    H11,A,2,57,0,I,4.15,liver,2021-11-11,,,2022-08-08,eleventh,X
    H12,B,9,64,1,II,3.70,bone,2021-12-12,2022-06-06,,2022-09-09,twelfth,X
    """)


def test_guesses_on_a_hospital_style_table(tmp_path):
    table = tmp_path / "hospital.csv"
    table.write_text(HOSPITAL, encoding="utf-8")
    text = draft_spec(table, "hosp", tmp_path / "hosp").text
    raw = yaml.safe_load(text)
    assert raw["data"]["id_column"] == "patient_id" and raw["data"]["date_format"] == "iso"
    assert raw["arm"]["column"] == "group" and raw["arm"]["levels"] == {"A": "A", "B": "B"}
    v = raw["variables"]
    assert v["sex"]["levels"] == {1: "1", 2: "2"} and v["sex"]["missing_codes"] == [9]     # 9 beside 1/2
    assert v["stage"]["levels"] == {"I": "I", "II": "II", "III": "III"} and v["stage"]["missing_codes"] == ["unknown"]
    assert v["ecog"]["type"] == "categorical" and list(v["ecog"]["levels"]) == [0, 1, 2, 3]
    assert v["age"] == {"label": "Age", "type": "continuous", "range": [48, 72], "decimals": 0}
    assert v["albumin"]["range"] == [2.80, 4.40] and v["albumin"]["decimals"] == 2
    assert v["albumin"]["missing_allowed"] is True and "1 empty cell" in text
    assert v["site"]["type"] == "categorical"
    assert "notes" not in v and "centre" not in v
    assert "#   notes: text with 12 distinct values (free text or names?)" in text
    assert "#   centre: one value only ('X')" in text
    pfs, os_ = raw["survival"]["endpoints"]["pfs"], raw["survival"]["endpoints"]["os"]
    assert pfs == {"label": "Progression-free survival", "short": "PFS", "start": "date_start",
                   "events": ["date_progression", "date_death"], "last_seen": "date_last_fu"}
    assert os_["events"] == ["date_death"] and raw["survival"]["followup_endpoint"] == "os"
    # fill the TODO, and the draft is a spec the loader accepts
    folder = tmp_path / "hosp"
    folder.mkdir()
    (folder / "study.yaml").write_text(text.replace('"TODO: the title of the study, as the pages show it"', "H"),
                                       encoding="utf-8")
    shutil.copy2(table, folder / "hospital.csv")
    spec = load_spec(folder / "study.yaml")
    data = load_patients(spec)
    # H01: 2021-01-04 -> 2021-06-01 = 27 + 28 + 31 + 30 + 31 + 1 = 148 days (progression)
    assert data.loc["H01", "pfs_time"] == pytest.approx(148 / 30.4375, abs=1e-12)
    assert data["sex"].isna().sum() == 2 and data["stage"].isna().sum() == 1


def test_day_first_month_first_and_arm_choices_left_as_todos(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text(textwrap.dedent("""\
        id,sex,smoker,d_start,d_death,d_last
        1,m,1,01/02/2020,03/04/2021,03/04/2021
        2,f,2,05/06/2020,,07/08/2021
        3,m,1,02/02/2020,,01/01/2021
        """), encoding="utf-8")
    text = draft_spec(table, "t", tmp_path / "t").text
    assert 'date_format: "TODO: day_first or month_first"' in text
    assert "# no date shows whether 03/05 is 3 May (day_first) or March 5 (month_first)" in text
    assert 'column: "TODO: the column of the two arms"' in text  # sex and treatment_line have two values each
    assert "columns with two values: sex, smoker" in text
    raw = yaml.safe_load(text)
    jsonschema.Draft202012Validator(schema.json_schema()).validate(raw)
    assert raw["survival"]["endpoints"]["os"]["start"] == "d_start"
    assert raw["survival"]["endpoints"]["os"]["last_seen"] == "d_last"
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "study.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(folder / "study.yaml")
    todos = [p for p in info.value.problems if "still a TODO" in p]
    assert len(todos) == len(info.value.problems) == sum('"TODO' in line for line in text.splitlines()) == 6


def test_durations_become_time_and_event_endpoints(tmp_path):
    """A table with durations (the veteran example): os_days + os_event, time_unit days; valid once titled."""
    folder = tmp_path / "vet"
    text = draft_spec(STUDIES_DIR / "veteran" / "patients.csv", "vet", folder).text
    raw = yaml.safe_load(text)
    assert raw["survival"]["time_unit"] == "days"
    assert raw["survival"]["endpoints"] == {"os": {"label": "Overall survival", "short": "OS", "time": "os_days",
                                                   "event": "os_event"}}
    assert raw["arm"]["column"] == "arm" and raw["data"]["id_column"] == "patient_id"
    assert raw["variables"]["prior"]["levels"] == {"no": "no", "yes": "yes"}  # quoted in the draft: still text
    assert 'levels: {"no": "no", "yes": "yes"}' in text
    folder.mkdir()
    (folder / "study.yaml").write_text(text.replace('"TODO: the title of the study, as the pages show it"', "V"),
                                       encoding="utf-8")
    shutil.copy2(STUDIES_DIR / "veteran" / "patients.csv", folder / "patients.csv")
    data = load_patients(load_spec(folder / "study.yaml"))
    assert len(data) == 137 and int(data["os_event"].sum()) == 128


def test_csv_written_by_a_european_excel_and_an_excel_workbook(tmp_path):
    table = tmp_path / "eu.csv"
    table.write_bytes("nr;arm;gewicht;datum\n1;a;70,5;01.02.2020\n2;b;81,25;13.02.2020\n3;a;66,0;03.03.2020\n"
                      "4;b;90,1;04.04.2020\n5;a;58,3;05.05.2020\n6;b;77,7;06.06.2020\n7;a;71,1;07.07.2020\n"
                      "8;b;62,2;08.08.2020\nü;a;1,0;09.09.2020\n".encode("cp1252"))
    text = draft_spec(table, "eu", tmp_path / "eu").text
    assert 'delimiter: ";"' in text and 'decimal: ","' in text and "encoding: cp1252" in text
    assert "date_format: day_first" in text and "'13.02.2020' can only be day first" in text
    xlsx = tmp_path / "book.xlsx"
    pd.read_csv(STUDIES_DIR / "veteran" / "patients.csv").to_excel(xlsx, index=False)
    raw = yaml.safe_load(draft_spec(xlsx, "x", tmp_path / "x").text)
    assert raw["data"]["patients"] == "../book.xlsx" and raw["survival"]["endpoints"]["os"]["time"] == "os_days"


def test_redcap_checkbox_options_get_their_labels(tmp_path):
    """REDCap exports a checkbox field as one 0/1 column per option, named <field>___<code>."""
    dictionary = tmp_path / "dictionary.csv"
    dictionary.write_text('"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
                          '"Choices, Calculations, OR Slider Labels"\n'
                          'record_id,f,,text,Record ID,\n'
                          'site,f,,checkbox,Metastatic site,"1, Liver | 2, Lung"\n', encoding="utf-8")
    table = tmp_path / "t.csv"
    table.write_text("record_id,site___1,site___2\n1,0,1\n2,1,0\n3,1,1\n", encoding="utf-8")
    raw = yaml.safe_load(draft_spec(table, "t", tmp_path / "t", dictionary).text)
    assert raw["variables"]["site___1"] == {"label": "Metastatic site: Liver", "type": "categorical",
                                            "levels": {0: "Unchecked", 1: "Checked"}}
    assert raw["variables"]["site___2"]["label"] == "Metastatic site: Lung"


def test_redcap_dictionary_is_read(tmp_path):
    fields = read_redcap_dictionary(COLON / "data_dictionary.csv")
    assert fields["sex"].choices == {"1": "Male", "2": "Female"}
    assert fields["obstruct"].choices == {"0": "No", "1": "Yes"}
    assert fields["differ"].choices["9"] == "Unknown" and fields["date_death"].validation == "date_dmy"
    bad = tmp_path / "d.csv"
    bad.write_text('"Variable / Field Name","Field Type","Field Label","Choices, Calculations, OR Slider Labels"\n'
                   'sex,radio,Sex,"1 Male | 2, Female"\n', encoding="utf-8")
    with pytest.raises(DraftError, match="row 2, column 'Choices, Calculations, OR Slider Labels': choice '1 Male'"):
        read_redcap_dictionary(bad)


# ------------------------------------------------------------------ the tutorial's path, as a new user runs it
def test_draft_edit_validate_and_run_the_chapters(tmp_path):
    """In a copy of the repository without the example's spec: the draft command, the tutorial's edits, the
    validation and the cohorts and survival chapters, each as the command line runs it."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "*.ipynb", "__pycache__",
                                                              "benchmarks"))
    (repo / "data" / "studies" / "colon" / "study.yaml").unlink()
    env = {**os.environ, "HCC_BOOK_ROOT": str(repo), "PYTHONPATH": str(repo / "src")}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "helpers.build", *args], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=900)

    proc = run("--draft-spec", "data/studies/colon/patients.csv", "--study", "colon",
               "--data-dictionary", "data/studies/colon/data_dictionary.csv")
    assert proc.returncode == 0, proc.stderr
    spec_file = repo / "data" / "studies" / "colon" / "study.yaml"
    assert spec_file.read_text(encoding="utf-8") == (COLON / "study.draft.yaml").read_text(encoding="utf-8")
    proc = run("--validate-only", "--patients", "colon=data/studies/colon/patients.csv")
    assert proc.returncode == 2 and "title: still a TODO of the draft" in proc.stderr
    assert "Traceback" not in proc.stderr
    spec_file.write_text(apply_edits(spec_file.read_text(encoding="utf-8")), encoding="utf-8")
    proc = run("--validate-only", "--patients", "colon=data/studies/colon/patients.csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run("--output", str(tmp_path / "run"), "--only", "colon/cohorts", "--only", "colon/survival")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    survival = (tmp_path / "run" / "book" / "colon" / "survival.ipynb").read_text(encoding="utf-8")
    assert "Times are derived from the table" in survival and "days / 30.4375" in survival
    cohorts = (tmp_path / "run" / "book" / "colon" / "cohorts.ipynb").read_text(encoding="utf-8")
    assert "Table 1" in cohorts and "Counted as missing are also the codes" in cohorts
    results = pd.read_csv(tmp_path / "run" / "results" / "colon" / "survival_primary.csv")
    assert set(results["study"]) == {"colon"}
