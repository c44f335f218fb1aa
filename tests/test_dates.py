"""Time-to-event from dates, and codes as exported: the loader derives each endpoint's time and event from a start
date, event dates and a last-seen date, refuses every inconsistent or unreadable date with its row and column, and
reads raw codes (1/2, 9 for unknown) as the spec maps them.

Expected values are hand calculations (days counted on the calendar, divided by 7, 30.4375 or 365.25) or R's
(tests/reference/colon_dates_reference.R: as.Date and difftime on the worked example's table, output
tests/reference/r_values/colon_dates.json).
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.study.patients import DataValidationError, load_patients
from helpers.study.spec import SpecError, load_spec

TODAY = datetime.date(2025, 1, 31)
R_VALUES = Path(__file__).parent / "reference" / "r_values" / "colon_dates.json"

SPEC = """\
study_id: dated
title: Dated
synthetic: false
design: {type: observational, timing: retrospective}
data: {patients: patients.csv, id_column: pid, date_format: day_first}
arm: {column: arm, reference: 1, levels: {1: Control, 2: Treated}}
variables:
  sex: {label: Sex, type: categorical, levels: {1: male, 2: female}, missing_codes: [9], missing_allowed: true}
  age: {label: Age, type: continuous, range: [18, 100], missing_codes: [999], missing_allowed: true}
table1: {variables: [sex, age]}
survival:
  time_unit: UNIT
  endpoints:
    pfs: {label: Progression-free survival, short: PFS, start: d0, events: [dprog, ddeath], last_seen: dlast}
    os: {label: Overall survival, short: OS, start: d0, events: [ddeath], last_seen: dlast}
"""

HEADER = "pid,arm,sex,age,d0,dprog,ddeath,dlast\n"
ROWS = """\
p1,1,1,50,01/01/2020,01/03/2020,,01/05/2021
p2,1,2,999,15/01/2020,,10/02/2021,10/02/2021
p3,2,9,60,01/02/2020,,,01/12/2021
p4,2,1,70,01/02/2020,01/08/2021,05/09/2021,05/09/2021
"""
# Days counted on the calendar (2020 is a leap year, so a year from a date in January or February 2020 is 366 days):
#   p1 PFS 2020-01-01 -> 2020-03-01: 31 + 29 = 60 (event); OS -> 2021-05-01: 366 + 31 + 28 + 31 + 30 = 486 (censored)
#   p2 both 2020-01-15 -> 2021-02-10: 366 + 16 + 10 = 392 (death; sex 2, age 999 = unknown)
#   p3 both 2020-02-01 -> 2021-12-01: 366 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 30 = 669 (censored; sex 9)
#   p4 PFS 2020-02-01 -> 2021-08-01: 366 + 28 + 31 + 30 + 31 + 30 + 31 = 547 (event); OS -> 2021-09-05: 547 + 31 + 4
#   = 582 (death)
DAYS = {"pfs": [60, 392, 669, 547], "os": [486, 392, 669, 582]}
EVENTS = {"pfs": [1, 1, 0, 1], "os": [0, 1, 0, 1]}


def study(tmp_path, rows=ROWS, unit="days", spec=SPEC, header=HEADER, **replace) -> Path:
    folder = tmp_path / "dated"
    folder.mkdir(exist_ok=True)
    text = spec.replace("UNIT", unit)
    for old, new in replace.items():
        old = old.replace("__", " ")
        assert old in text, old
        text = text.replace(old, new)
    (folder / "study.yaml").write_text(text, encoding="utf-8")
    (folder / "patients.csv").write_text(header + rows, encoding="utf-8")
    return folder / "study.yaml"


def problems(spec_file, today=TODAY) -> dict[tuple, str]:
    with pytest.raises(DataValidationError) as info:
        load_patients(load_spec(spec_file), today=today)
    return {(p.row, p.column): p.message for p in info.value.problems}


def spec_problems(spec_file) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(spec_file)
    return info.value.problems


# ------------------------------------------------------------------------------------ derived times
def test_day_counts_by_hand(tmp_path):
    # the day counts of the comment above, recounted with the calendar (not with the code under test)
    assert (datetime.date(2021, 12, 1) - datetime.date(2020, 2, 1)).days == 669
    data = load_patients(load_spec(study(tmp_path, unit="days")), today=TODAY)
    for ep in ("pfs", "os"):
        assert data[f"{ep}_time"].tolist() == DAYS[ep]
        assert data[f"{ep}_event"].tolist() == EVENTS[ep]
    assert str(data["d0"].dtype).startswith("datetime64") and data["dprog"].isna().sum() == 2


@pytest.mark.parametrize("unit, per", [("weeks", 7), ("months", 30.4375), ("years", 365.25)])
def test_time_units_are_days_divided_by_the_stated_convention(tmp_path, unit, per):
    data = load_patients(load_spec(study(tmp_path, unit=unit)), today=TODAY)
    for ep in ("pfs", "os"):
        np.testing.assert_allclose(data[f"{ep}_time"], np.array(DAYS[ep]) / per, rtol=0, atol=1e-12)
    assert data["pfs_time"].iloc[0] == pytest.approx(60 / 30.4375 if unit == "months" else 60 / per)


def test_time_unit_must_be_one_that_dates_convert_to(tmp_path):
    found = "\n".join(spec_problems(study(tmp_path, unit="month")))
    assert ("survival.time_unit: 'month' cannot be derived from dates (endpoint pfs): use one of ['days', 'weeks', "
            "'months', 'years'] (did you mean `months`?)") in found


def test_codes_as_exported_and_missing_codes(tmp_path):
    data = load_patients(load_spec(study(tmp_path)), today=TODAY)
    assert list(data["arm"].cat.categories) == ["1", "2"]                     # YAML's 1 is the cell text "1"
    assert data["sex"].tolist()[:2] == ["1", "2"] and pd.isna(data["sex"].iloc[2])   # 9: unknown
    assert np.isnan(data["age"].iloc[1]) and data["age"].iloc[0] == 50          # 999: unknown


def test_cutoff_censors_later_events_and_ends_follow_up(tmp_path):
    spec_file = study(tmp_path, unit="days", **{"date_format: day_first": "date_format: day_first, "
                                                                          "cutoff_date: 2021-03-31"})
    data = load_patients(load_spec(spec_file), today=TODAY)
    # cut-off 2021-03-31: p1 OS censored at the cut-off (2020-01-01 -> 2021-03-31 = 455 days) instead of 486;
    # p3 censored at the cut-off (2020-02-01 -> 2021-03-31 = 424); p4's progression (2021-08) and death come
    # after it: censored at 424; p2's death 2021-02-10 is before it: unchanged
    assert (datetime.date(2021, 3, 31) - datetime.date(2020, 1, 1)).days == 455
    assert (datetime.date(2021, 3, 31) - datetime.date(2020, 2, 1)).days == 424
    assert data["pfs_time"].tolist() == [60, 392, 424, 424] and data["pfs_event"].tolist() == [1, 1, 0, 0]
    assert data["os_time"].tolist() == [455, 392, 424, 424] and data["os_event"].tolist() == [0, 1, 0, 0]


def test_a_start_after_the_cutoff_is_refused(tmp_path):
    spec_file = study(tmp_path, **{"date_format: day_first": "date_format: day_first, cutoff_date: 2020-01-31"})
    found = problems(spec_file)
    assert found[(4, "d0")] == ("start date '01/02/2020' is after the data cut-off 2020-01-31 (data.cutoff_date): "
                                "remove the patient or correct the date")
    assert (5, "d0") in found and len(found) == 2


def test_a_cutoff_in_the_future_or_without_dates_is_refused(tmp_path):
    later = (datetime.date.today() + datetime.timedelta(days=400)).isoformat()
    found = "\n".join(spec_problems(study(tmp_path, **{"date_format: day_first": f"date_format: day_first, "
                                                                                 f"cutoff_date: {later}"})))
    assert f"data.cutoff_date: {later} is after today" in found and "cannot be in the future" in found
    found = "\n".join(spec_problems(study(tmp_path, **{"date_format: day_first": "cutoff_date: 31/01/2025"})))
    assert "data.cutoff_date: must be a date written YYYY-MM-DD (e.g. 2025-01-31), got '31/01/2025'" in found


def test_excel_date_cells_are_read_as_dates(tmp_path):
    spec_file = study(tmp_path, unit="days")
    table = pd.read_csv(spec_file.parent / "patients.csv", dtype=str, keep_default_na=False)
    for column in ("d0", "dprog", "ddeath", "dlast"):
        table[column] = pd.to_datetime(table[column].replace("", None), format="%d/%m/%Y")  # real date cells
    xlsx = tmp_path / "dated.xlsx"
    table.to_excel(xlsx, index=False)
    data = load_patients(load_spec(spec_file), xlsx, today=TODAY)
    assert data["pfs_time"].tolist() == DAYS["pfs"] and data["os_time"].tolist() == DAYS["os"]


def test_month_first_and_a_declared_format(tmp_path):
    rows = ROWS.replace("01/03/2020", "03/01/2020").replace("15/01/2020", "01/15/2020").replace(
        "10/02/2021", "02/10/2021").replace("01/05/2021", "05/01/2021").replace("01/12/2021", "12/01/2021").replace(
        "01/02/2020", "02/01/2020").replace("01/08/2021", "08/01/2021").replace("05/09/2021", "09/05/2021")
    data = load_patients(load_spec(study(tmp_path, rows=rows, **{"day_first": "month_first"})), today=TODAY)
    assert data["os_time"].tolist() == DAYS["os"]
    dotted = ROWS.replace("/", ".")
    data = load_patients(load_spec(study(tmp_path, rows=dotted, **{"day_first": '"%d.%m.%Y"'})), today=TODAY)
    assert data["pfs_time"].tolist() == DAYS["pfs"]


# --------------------------------------------------------------------------------- refused, with row and column
def test_every_inconsistent_date_is_refused_with_row_and_column(tmp_path):
    rows = """\
p1,1,1,50,01/01/2020,01/03/2019,,01/05/2021
p2,1,2,60,15/01/2020,,10/03/2021,10/02/2021
p3,2,1,60,01/02/2020,,,
p4,2,1,70,01/02/2020,,,01/12/2019
p5,2,1,70,01/02/2020,,,01/09/2031
"""
    found = problems(study(tmp_path, rows=rows))
    assert found == {
        (2, "dprog"): "event date '01/03/2019' is before the start date '01/01/2020' (d0)",
        (3, "ddeath"): "event date '10/03/2021' is after the last-seen date '10/02/2021' (dlast): a patient is seen "
                       "at or after every event; is one of the two dates mistyped?",
        (4, "dlast"): "no event date (dprog, ddeath) and no last-seen date: this patient's PFS follow-up is unknown",
        (5, "dlast"): "last-seen date '01/12/2019' is before the start date '01/02/2020' (d0)",
        (6, "dlast"): "'01/09/2031' is in the future (after 2025-01-31, the day of this run)",
    }


def test_unreadable_dates_are_reported_as_written(tmp_path):
    rows = """\
p1,1,1,50,31/02/2020,,,01/05/2021
p2,1,2,60,15/01/2020,,,15-03-21
p3,2,1,60,01/02/2020,,,43000
p4,2,1,70,01/02/2020,,,2020-05-01 13:20
p5,2,1,70,01/02/2020,,,01/13/2020
p6,2,1,70,01/02/2020,,,1/5/0202
p7,2,1,70,01/02/2020,,,soon
"""
    found = problems(study(tmp_path, rows=rows))
    assert found[(2, "d0")] == ("'31/02/2020' is not a date of the calendar: February 2020 has no day 31 "
                                "(read as DD/MM/YYYY, data.date_format: day_first)")
    assert "two-digit year" in found[(3, "dlast")]
    assert found[(4, "dlast")].startswith("'43000' looks like an Excel day number, not a date")
    assert "has a time of day" in found[(5, "dlast")]
    assert found[(6, "dlast")] == ("'01/13/2020' is not a date: there is no month 13 (read as DD/MM/YYYY, "
                                   "data.date_format: day_first)")
    assert "before 1900" in found[(7, "dlast")]
    assert found[(8, "dlast")] == ("'soon' is not a date written DD/MM/YYYY (day first, e.g. 31/01/2025), as "
                                   "data.date_format: day_first says")
    assert len(found) == 7  # the rows with an unreadable date get no further (cascading) messages


def test_a_declared_format_is_named_in_the_users_terms(tmp_path):
    rows = ROWS.replace("/", ".").replace("01.05.2021", "2021/05/01x")
    found = problems(study(tmp_path, rows=rows, **{"day_first": '"%d.%m.%Y"'}))
    assert found == {(2, "dlast"): "'2021/05/01x' is not a date written DD.MM.YYYY (e.g. 31.01.2025), as "
                                   "data.date_format \"%d.%m.%Y\" says"}


def test_day_first_or_month_first_is_refused_unless_the_spec_says(tmp_path):
    found = problems(study(tmp_path, **{", date_format: day_first": ""}))
    assert set(found) == {(2, "d0"), (2, "dprog"), (3, "ddeath"), (2, "dlast")}  # one per column
    assert found[(2, "d0")] == (
        "4 date(s) of this column are written like '01/01/2020' (day first 1 January 2020 or month first January 1, "
        "2020), and the spec does not say which is meant: declare `data.date_format: day_first` (DD/MM/YYYY) or "
        "`data.date_format: month_first` (MM/DD/YYYY) in the study spec; '15/01/2020' can only be day first, so "
        "`day_first` looks right")
    # ISO dates need no declaration
    iso = ROWS
    for d in ("01/01/2020", "01/03/2020", "01/05/2021", "15/01/2020", "10/02/2021", "01/02/2020", "01/12/2021",
              "01/08/2021", "05/09/2021"):
        day, month, year = d.split("/")
        iso = iso.replace(d, f"{year}-{month}-{day}")
    data = load_patients(load_spec(study(tmp_path, rows=iso, **{", date_format: day_first": ""})), today=TODAY)
    assert data["os_time"].tolist() == DAYS["os"]


def test_the_start_date_and_derived_names_are_checked(tmp_path):
    found = problems(study(tmp_path, rows="p1,1,1,50,,,,01/05/2021\n"))
    assert found == {(2, "d0"): "the start date is missing (time 0 of every endpoint declared from dates)"}
    found = problems(study(tmp_path, header=HEADER.replace("\n", ",os_time\n"),
                           rows=ROWS.replace("\n", ",1\n")))
    assert found == {(None, "os_time"): "the table has a column 'os_time', but the spec derives 'os_time' from the "
                                        "dates of endpoint os: drop or rename the column, or rename the endpoint"}


def test_missing_date_column_is_named(tmp_path):
    found = problems(study(tmp_path, header=HEADER.replace(",dlast", ",last"),
                           rows=ROWS))
    assert (None, "dlast") in found and found[(None, "dlast")].startswith("required column is missing")


def test_part_of_with_dates(tmp_path):
    spec = SPEC.replace("    os: {label", "    ttp: {label: Time to progression, short: TTP, start: d0, events: "
                                         "[dprog], last_seen: dlast, part_of: pfs}\n    os: {label")
    data = load_patients(load_spec(study(tmp_path, spec=spec)), today=TODAY)
    assert data["ttp_time"].tolist() == [60, 392, 669, 547] and data["ttp_event"].tolist() == [1, 0, 0, 1]


# --------------------------------------------------------------------------------------- the spec's checks
def test_endpoint_forms_are_checked(tmp_path):
    spec = SPEC.replace("events: [ddeath], last_seen: dlast}", "events: [ddeath], time: os_days}")
    found = "\n".join(spec_problems(study(tmp_path, spec=spec)))
    assert "survival.endpoints.os.time: give either time and event (durations) or start, events and last_seen " \
           "(dates), not both" in found
    assert "survival.endpoints.os.last_seen: required key is missing: an endpoint declared from dates needs start, " \
           "events and last_seen" in found
    spec = SPEC.replace("start: d0, events: [ddeath], last_seen: dlast}", "time: os_days}")
    found = "\n".join(spec_problems(study(tmp_path, spec=spec)))
    assert "survival.endpoints.os.event: required key is missing (or declare the endpoint from dates: start, " \
           "events and last_seen)" in found
    spec = SPEC.replace("events: [ddeath], last_seen: dlast}", "events: [ddeath, d0], last_seen: age}")
    found = "\n".join(spec_problems(study(tmp_path, spec=spec)))
    assert "survival.endpoints.os.events[1]: 'd0' is also the start date" in found
    assert "survival.endpoints.os.last_seen: column 'age' is already used by a variable, the arm or the id" in found
    spec = SPEC.replace("  age: {label: Age,", "  os_time: {label: Age,").replace("[sex, age]", "[sex, os_time]")
    found = "\n".join(spec_problems(study(tmp_path, spec=spec)))
    assert "survival.endpoints.os: the column derived from its dates, 'os_time', has the name of another column" \
           in found


def test_date_format_values_are_checked(tmp_path):
    for value, expected in [("dayfirst", "'dayfirst' is not one of iso, day_first, month_first nor a format such "
                                         "as \"%d/%m/%Y\" (did you mean `day_first`?)"),
                            ('"%d/%m/%y"', "has a two-digit year (%y)"),
                            ('"%d/%m/%Y %H:%M"', "uses %H, %M"),
                            ('"%m/%Y"', "needs a day (%d)")]:
        found = "\n".join(spec_problems(study(tmp_path, **{"date_format: day_first": f"date_format: {value}"})))
        assert "data.date_format: " in found and expected in found, (value, found)


def test_date_keys_without_dated_endpoints_are_refused(tmp_path):
    spec = SPEC.replace("start: d0, events: [dprog, ddeath], last_seen: dlast", "time: t1, event: e1").replace(
        "start: d0, events: [ddeath], last_seen: dlast", "time: t2, event: e2").replace(
        "date_format: day_first", "date_format: day_first, cutoff_date: 2024-12-31")
    found = "\n".join(spec_problems(study(tmp_path, spec=spec)))
    assert "data.date_format: no endpoint is declared from dates" in found
    assert "data.cutoff_date: no endpoint is declared from dates" in found


def test_missing_codes_need_missing_allowed_and_differ_from_levels(tmp_path):
    spec = SPEC.replace("missing_codes: [9], missing_allowed: true", "missing_codes: [9, 2]")
    found = "\n".join(spec_problems(study(tmp_path, spec=spec)))
    assert "variables.sex.missing_codes: these codes become missing values: set `missing_allowed: true`" in found
    assert "variables.sex.missing_codes: '2' is both a level and a missing code" in found
    spec = SPEC.replace("missing_codes: [9]", "missing_codes: [no]")
    assert any("missing code False was read as a boolean" in p for p in spec_problems(study(tmp_path, spec=spec)))


def test_numeric_codes_are_compared_as_written(tmp_path):
    spec = SPEC.replace("levels: {1: male, 2: female}", "levels: {01: male, 010: female}")
    rows = ROWS.replace("p1,1,1,", "p1,1,01,").replace("p2,1,2,", "p2,1,010,").replace(
        "p4,2,1,", "p4,2,1,")
    found = problems(study(tmp_path, spec=spec, rows=rows))
    # YAML 1.1 would read 010 as 8 and 01 as 1: the spec keeps them as written, so '1' is not '01'
    assert found == {(5, "sex"): "unknown category '1': expected one of ['01', '010']"}


def test_a_draft_todo_is_reported_once_at_its_line(tmp_path):
    spec_file = study(tmp_path, **{"start: d0, events: [ddeath]": 'start: "TODO: the date of time 0", events: '
                                                                  "[ddeath]"})
    (problem,) = spec_problems(spec_file)
    assert problem == ("line 15: survival.endpoints.os.start: still a TODO of the draft ('TODO: the date of time 0'): "
                       "replace it with your choice (the comment on this line says what is needed)")


# ------------------------------------------------------------------------------ the worked example vs R
@pytest.fixture(scope="module")
def colon():
    spec = load_spec("colon")
    return spec, load_patients(spec), json.loads(R_VALUES.read_text(encoding="utf-8"))


def test_colon_times_equal_r_difftime(colon):
    spec, data, r = colon
    assert [str(i) for i in data.index] == [str(i) for i in r["record_id"]] and len(data) == 619
    assert r["days_per_month"] == 30.4375 and spec.survival.time_unit == "months"
    for ep in ("rfs", "os"):
        np.testing.assert_allclose(data[f"{ep}_time"], r[ep]["months"], rtol=1e-12, atol=0)
        assert (np.round(data[f"{ep}_time"].to_numpy() * 30.4375) == np.array(r[ep]["days"])).all()
        assert data[f"{ep}_event"].tolist() == r[ep]["event"]
    assert int(data["rfs_event"].sum()) == 324 and int(data["os_event"].sum()) == 291


def test_colon_times_with_a_cutoff_equal_r(colon):
    spec, _, r = colon
    cut = dataclasses.replace(spec, cutoff_date=datetime.date.fromisoformat(r["cutoff"]))
    data = load_patients(cut)
    for ep in ("rfs", "os"):
        np.testing.assert_allclose(data[f"{ep}_time"], r[f"{ep}_cutoff"]["months"], rtol=1e-12, atol=0)
        assert data[f"{ep}_event"].tolist() == r[f"{ep}_cutoff"]["event"]


def test_colon_codes_as_exported(colon):
    spec, data, _ = colon
    assert data["rx"].value_counts().to_dict() == {"1": 315, "3": 304}
    assert data["sex"].value_counts().to_dict() == {"2": 312, "1": 307}
    # the data set's NA, written 9 and 99 by convert_colon.R, are missing again (README: 13 and 12 patients)
    assert int(data["differ"].isna().sum()) == 13 and int(data["nodes"].isna().sum()) == 12


def test_colon_survival_chapter_numbers_equal_r(colon):
    from helpers.analyses import survival as sc

    spec, data, r = colon
    for ep in ("rfs", "os"):
        ref = r["chapter"][ep]
        cmp = sc.compare_arms(data, spec, ep)
        assert cmp.logrank.chisq == pytest.approx(ref["logrank_chisq"], rel=1e-8)
        assert cmp.logrank.p_value == pytest.approx(ref["logrank_p"], rel=1e-8)
        for key in ("hr", "lower", "upper"):
            assert cmp.arm_hr[key] == pytest.approx(ref["hr" if key == "hr" else f"hr_{key}"], rel=1e-6)
        for m in ref["medians"]:
            med = cmp.kms[m["arm"]].median()
            for got, want in ((med.estimate, m["median"]), (med.lower, m["lower"]), (med.upper, m["upper"])):
                assert (np.isnan(got) and want == "NA") or got == pytest.approx(want, rel=1e-10)
    _, shown = sc.followup_rows(data, spec)
    assert shown.loc["All patients", "Median follow-up (months)"] == f"{r['followup_median_months']:.1f}"


def test_pages_say_how_times_were_derived_and_which_codes_are_missing(colon):
    from helpers.analyses import survival as sc
    from helpers.analyses import table1

    spec, data, _ = colon
    text = sc.derived_times_text(spec)
    assert text.startswith("Times are derived from the table's dates (written DD/MM/YYYY): RFS from "
                           "`date_randomisation` to the first of `date_recurrence` and `date_death`, or to "
                           "`date_last_seen` (censored) when there is none; OS from")
    assert "Times in months are days / 30.4375." in text and "median follow-up below uses the same dates (OS)" in text
    cut = dataclasses.replace(spec, cutoff_date=datetime.date(1990, 6, 30))
    assert "Data cut-off 1990-06-30: an event after it is not counted and follow-up ends at it." in \
        sc.derived_times_text(cut)
    assert sc.derived_times_text(load_spec("veteran")) == ""
    table = table1.baseline_table(data, spec, "primary")
    long = table.long
    missing = long[long.stat == "n_missing"].groupby("variable")["value"].sum().to_dict()
    assert missing == {"differ": 13, "nodes": 12}          # the 9 and 99 cells, counted as missing
    assert ("Counted as missing are also the codes the study specification declares as unknown (missing_codes): "
            "Number of lymph nodes with detectable cancer 99; Differentiation of tumour 9.") in table1.policy_note(table)


def test_an_in_memory_table_with_date_cells_validates_like_the_file(tmp_path):
    from helpers.study.patients import validate_patients

    spec_file = study(tmp_path, unit="days")
    table = pd.read_csv(spec_file.parent / "patients.csv", dtype=str, keep_default_na=False)
    for column in ("d0", "dprog", "ddeath", "dlast"):
        table[column] = pd.to_datetime(table[column].replace("", None), format="%d/%m/%Y")  # NaT where empty
    table["age"] = pd.to_numeric(table["age"])
    data = validate_patients(load_spec(spec_file), table, today=TODAY)
    assert data["pfs_time"].tolist() == DAYS["pfs"] and data["os_event"].tolist() == EVENTS["os"]
