"""The ``survival`` section of a study spec and the validation of endpoint columns."""
from __future__ import annotations

import textwrap

import pytest

from helpers.study.patients import DataValidationError, load_patients
from helpers.study.spec import SpecError, load_spec

SURVIVAL = textwrap.dedent("""\
    survival:
      time_unit: months
      at_risk_times: [0, 6, 12]
      landmarks: [12]
      followup_endpoint: os
      endpoints:
        pfs:   {label: Progression-free survival, short: PFS, time: pfs_months, event: pfs_event}
        ihpfs: {label: Intrahepatic PFS, short: IH-PFS, time: ihpfs_months, event: ihpfs_event, part_of: pfs}
        os:    {label: Overall survival, short: OS, time: os_months, event: os_event}
      cox:
        endpoints: [pfs, os]
        candidates: [sex, age]
        reference_levels: {sex: f}
        entry_p: 0.1
      rmst: {endpoints: [os], tau: floor_min_max}
    """)

ROWS = textwrap.dedent("""\
    pid,arm,sex,age,alt,pfs_months,pfs_event,ihpfs_months,ihpfs_event,os_months,os_event
    p1,ctl,m,50,30,3.5,1,3.5,1,10,1
    p2,ctl,f,61,40,4.0,1,4.0,0,12,0
    p3,ctl,m,70,41,6.0,0,6.0,0,6,0
    p4,trt,m,45,20,8.0,1,8.0,1,20,1
    p5,trt,f,59,55,2.0,1,2.0,1,9,1
    p6,trt,f,60,40.5,12.5,0,12.5,0,12.5,0
    """)


@pytest.fixture
def survival_study(tiny_study):
    spec_path = tiny_study / "study.yaml"
    spec_path.write_text(spec_path.read_text(encoding="utf-8") + SURVIVAL, encoding="utf-8")
    (tiny_study / "patients.csv").write_text(ROWS, encoding="utf-8")
    return tiny_study


def test_survival_section_is_parsed(survival_study):
    spec = load_spec(survival_study / "study.yaml")
    s = spec.survival
    assert list(s.endpoints) == ["pfs", "ihpfs", "os"]
    assert s.endpoints["ihpfs"].part_of == "pfs"
    assert s.at_risk_times == (0.0, 6.0, 12.0) and s.landmarks == (12.0,)
    assert s.cox.reference_levels == {"sex": "f"} and s.cox.entry_p == 0.1
    assert s.rmst_endpoints == ("os",) and s.rmst_tau == "floor_min_max"
    data = load_patients(spec)
    assert data["os_months"].tolist() == [10, 12, 6, 20, 9, 12.5]
    assert data["pfs_event"].sum() == 4


def _rewrite(study, old, new, file="patients.csv"):
    path = study / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_negative_time_names_file_row_and_column(survival_study):
    _rewrite(survival_study, "p3,ctl,m,70,41,6.0,0,6.0,0,6,0", "p3,ctl,m,70,41,6.0,0,6.0,0,-6,0")
    with pytest.raises(DataValidationError) as err:
        load_patients(load_spec(survival_study / "study.yaml"))
    assert "row 4, column 'os_months': negative time -6" in str(err.value)
    assert "patients.csv" in str(err.value)


def test_event_must_be_zero_or_one(survival_study):
    _rewrite(survival_study, "p2,ctl,f,61,40,4.0,1,4.0,0,12,0", "p2,ctl,f,61,40,4.0,yes,4.0,0,12,0")
    with pytest.raises(DataValidationError, match=r"row 3, column 'pfs_event': event indicator must be 0"):
        load_patients(load_spec(survival_study / "study.yaml"))


def test_missing_time_column_is_named(survival_study):
    _rewrite(survival_study, ",os_months,os_event", ",os_time,os_event")
    with pytest.raises(DataValidationError, match=r"column 'os_months': required column is missing"):
        load_patients(load_spec(survival_study / "study.yaml"))


def test_sub_endpoint_event_must_be_a_parent_event(survival_study):
    # intrahepatic progression at 3.0 while PFS says 3.5: inconsistent progression type
    _rewrite(survival_study, "p1,ctl,m,50,30,3.5,1,3.5,1,10,1", "p1,ctl,m,50,30,3.5,1,3.0,1,10,1")
    with pytest.raises(DataValidationError, match=r"row 2, column 'ihpfs_event': a IH-PFS event must also be a "
                                                   r"PFS event at the same time"):
        load_patients(load_spec(survival_study / "study.yaml"))


def test_bad_survival_spec_lists_every_problem(survival_study):
    _rewrite(survival_study, "followup_endpoint: os", "followup_endpoint: dfs", file="study.yaml")
    _rewrite(survival_study, "reference_levels: {sex: f}", "reference_levels: {sex: x}", file="study.yaml")
    _rewrite(survival_study, "tau: floor_min_max", "tau: -3", file="study.yaml")
    with pytest.raises(SpecError) as err:
        load_spec(survival_study / "study.yaml")
    text = str(err.value)
    assert "survival.followup_endpoint: 'dfs' is not an endpoint" in text
    assert "survival.cox.reference_levels.sex: 'x' is not a level of sex" in text
    assert "survival.rmst.tau" in text
    assert "3 problem(s)" in text
