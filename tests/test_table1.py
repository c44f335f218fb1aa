"""Table 1 on the tiny hand-made study, against values computed by hand."""
from __future__ import annotations

import math

import pytest

from helpers.study.patients import load_patients
from helpers.study.spec import load_spec
from helpers.analyses.table1 import baseline_table
from helpers.report.format import format_p


@pytest.fixture
def table(tiny_study):
    spec = load_spec(tiny_study / "study.yaml")
    return baseline_table(load_patients(spec), spec)


def test_counts_and_percentages(table):
    # sex: ctl m,f,m  trt m,f,f
    assert table.value("sex", "m", "ctl", "n") == 2
    assert table.value("sex", "f", "trt", "n") == 2
    assert table.value("sex", "m", "ctl", "pct") == pytest.approx(200 / 3)
    # alt cut at 40, right-closed: ctl 30,40,41 -> 2 low; trt 20,55,40.5 -> 1 low
    assert table.value("alt", "<=40", "ctl", "n") == 2
    assert table.value("alt", ">40", "trt", "n") == 2


def test_yates_p_by_hand(table):
    # [[2,1],[1,2]]: every |O - E| = 0.5, Yates subtracts min(0.5, |O - E|) = 0.5 -> statistic 0 -> p = 1
    assert table.value("sex", "", "comparison", "p_value") == pytest.approx(1.0)


def test_type7_quartiles_by_hand(table):
    # ctl ages 50, 61, 70: type 7 positions 1.5, 2, 2.5 -> 55.5, 61, 65.5
    assert (table.value("age", "", "ctl", "q1"), table.value("age", "", "ctl", "median"),
            table.value("age", "", "ctl", "q3")) == pytest.approx((55.5, 61, 65.5))
    assert table.value("age", "", "trt", "sd") == pytest.approx(math.sqrt(((45 - 164 / 3) ** 2 + (59 - 164 / 3) ** 2
                                                                         + (60 - 164 / 3) ** 2) / 2))


def test_mann_whitney_without_continuity_by_hand(table):
    # ranks of ctl ages among all six: 2, 5, 6 -> U = 13 - 6 = 7; E[U] = 4.5; Var[U] = 3*3*7/12 = 5.25
    z = (7 - 4.5) / math.sqrt(5.25)
    assert table.value("age", "", "comparison", "p_value") == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)


def test_policy_override_and_display(tiny_study):
    spec = load_spec(tiny_study / "study.yaml")
    t = baseline_table(load_patients(spec), spec, categorical_test="fisher", continuous_test="t_test")
    # Fisher 2x2 [[2,1],[1,2]]: hypergeometric probabilities of a = 0..3 are 1/20, 9/20, 9/20, 1/20; all <= 9/20
    assert t.value("sex", "", "comparison", "p_value") == pytest.approx(1.0)
    shown = t.display()
    assert "Control (N=3)" in shown.columns and "Treated (N=3)" in shown.columns
    assert shown.loc["Age (years), median [IQR]", "Control (N=3)"] == "61.00 [55.50, 65.50]"


def test_format_p():
    assert format_p(0.0004) == "<0.001"
    assert format_p(0.12049) == "0.120"
    assert format_p(float("nan")) == "NA"


def test_empty_arm_is_a_clear_error(tiny_study):
    spec = load_spec(tiny_study / "study.yaml")
    df = load_patients(spec)
    with pytest.raises(ValueError, match=r"arm\(s\) \['trt'\] have none"):
        baseline_table(df[df["arm"] == "ctl"], spec)
