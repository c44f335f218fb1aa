"""Response helpers: spec section, validation, Clopper-Pearson, Newcombe, kappa, Table 3 rows and display."""
from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
from scipy import stats

from helpers.study.patients import DataValidationError, load_patients
from helpers.analyses.response import (best_response_table, clopper_pearson, cohen_kappa, proportion_difference_ci,
                              response_agreement, response_display, wilson_interval)
from helpers.study.spec import SpecError, load_spec

RESPONSE = textwrap.dedent("""\
    response:
      categories: [CR, PR, SD, PD]
      objective: [CR, PR]
      control: [CR, PR, SD]
      test: fisher_if_expected_lt5
      criteria:
        recist11: {label: RECIST 1.1, column: recist11_best}
        mrecist:  {label: mRECIST, column: mrecist_best}
    """)

ROWS = textwrap.dedent("""\
    pid,arm,sex,age,alt,recist11_best,mrecist_best
    p1,ctl,m,50,30,PR,CR
    p2,ctl,f,61,40,SD,PR
    p3,ctl,m,70,41,PD,PD
    p4,trt,m,45,20,CR,CR
    p5,trt,f,59,55,PR,PR
    p6,trt,f,60,40.5,SD,SD
    """)


@pytest.fixture
def response_study(tiny_study):
    spec_path = tiny_study / "study.yaml"
    spec_path.write_text(spec_path.read_text(encoding="utf-8") + RESPONSE, encoding="utf-8")
    (tiny_study / "patients.csv").write_text(ROWS, encoding="utf-8")
    return tiny_study


def _rewrite(study, old, new, file="patients.csv"):
    path = study / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def value(rows, level, group, stat, variable="recist11"):
    hit = rows[(rows.variable == variable) & (rows.level == level) & (rows.group == group) & (rows.stat == stat)]
    assert len(hit) == 1, (level, group, stat)
    return float(hit["value"].iloc[0])


# --- exact and score intervals -------------------------------------------------------------------------
def test_clopper_pearson_matches_r_binom_test():
    # R: binom.test(15, 50)$conf.int -> 0.1786178 0.4460823
    lo, hi = clopper_pearson(15, 50)
    assert lo == pytest.approx(0.1786178, abs=5e-7) and hi == pytest.approx(0.4460823, abs=5e-7)
    # R: binom.test(0, 10)$conf.int -> 0.0000000 0.3084971 ; binom.test(10, 10) -> 0.6915029 1
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 0.3084971), abs=5e-7)
    assert clopper_pearson(10, 10) == pytest.approx((0.6915029, 1.0), abs=5e-7)
    # definition: P(X >= k | lower) = alpha/2 and P(X <= k | upper) = alpha/2
    assert stats.binom.sf(14, 50, lo) == pytest.approx(0.025, abs=1e-9)
    assert stats.binom.cdf(15, 50, hi) == pytest.approx(0.025, abs=1e-9)


def test_clopper_pearson_rejects_bad_counts():
    with pytest.raises(ValueError, match="0 <= k <= n"):
        clopper_pearson(6, 5)
    with pytest.raises(ValueError):
        clopper_pearson(1, 0)


def test_wilson_interval_matches_r_prop_test():
    # R: prop.test(81, 263, correct = FALSE)$conf.int -> 0.2553 0.3662 (Newcombe 1998a example)
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert wilson_interval(0, 20)[0] == 0.0


@pytest.mark.parametrize("k1,n1,k2,n2,d,lo,hi", [
    (56, 70, 48, 80, 0.2000, 0.0524, 0.3339),   # Newcombe (1998) Table II, example (a), method 10
    (9, 10, 3, 10, 0.6000, 0.1705, 0.8090),     # example (b)
    (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),    # example (d)
])
def test_newcombe_hybrid_score_matches_paper(k1, n1, k2, n2, d, lo, hi):
    got = proportion_difference_ci(k1, n1, k2, n2)
    assert got == pytest.approx((d, lo, hi), abs=5e-5)


def test_newcombe_by_hand_for_six_of_seven_vs_two_of_seven():
    # Wilson limits by hand: z = 1.959964; 6/7 -> (0.4869, 0.9743), 2/7 -> (0.0822, 0.6411)
    z = stats.norm.ppf(0.975)

    def wilson(k, n):
        p = k / n
        c = (p + z * z / (2 * n)) / (1 + z * z / n)
        h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return c - h, c + h

    (l1, u1), (l2, u2) = wilson(6, 7), wilson(2, 7)
    assert (l1, u1) == pytest.approx((0.4869, 0.9743), abs=5e-5)
    assert (l2, u2) == pytest.approx((0.0822, 0.6411), abs=5e-5)
    d = 4 / 7
    expected = (d, d - math.hypot(6 / 7 - l1, u2 - 2 / 7), d + math.hypot(u1 - 6 / 7, 2 / 7 - l2))
    got = proportion_difference_ci(6, 7, 2, 7)
    assert got == pytest.approx(expected, abs=1e-12)
    assert got == pytest.approx((0.5714, 0.0582, 0.8062), abs=5e-5)


# --- kappa ---------------------------------------------------------------------------------------------
def test_cohen_kappa_by_hand():
    # [[20, 5], [10, 15]], n = 50: po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4
    # var = [0.4(1-1.1*0.6)^2 + 0.3(1-0.9*0.6)^2 + 0.36(0.1*1.1^2 + 0.2*0.9^2) - (0.4-0.5*0.6)^2] / (50*0.25)
    #     = (0.04624 + 0.06348 + 0.10188 - 0.01) / 12.5 = 0.016128
    k, se = cohen_kappa([[20, 5], [10, 15]])
    assert k == pytest.approx(0.4, abs=1e-12)
    assert se == pytest.approx(math.sqrt(0.016128), abs=1e-12)


def test_cohen_kappa_agrees_with_the_1969_paper_form():
    # Fleiss, Cohen & Everitt (1969) eq.: var = {sum p_ii[(1-pe) - (p.i+pi.)(1-po)]^2 + (1-po)^2 sum_{i!=j}
    # p_ij (p.i + pj.)^2 - (po pe - 2 pe + po)^2} / (n (1-pe)^4)
    x = np.array([[11, 3, 1, 0], [2, 14, 4, 1], [0, 3, 9, 2], [1, 0, 2, 7]], dtype=float)
    n = x.sum()
    p = x / n
    r, c = p.sum(1), p.sum(0)
    po, pe = np.trace(p), r @ c
    a = sum(p[i, i] * ((1 - pe) - (c[i] + r[i]) * (1 - po)) ** 2 for i in range(4))
    b = (1 - po) ** 2 * sum(p[i, j] * (c[i] + r[j]) ** 2 for i in range(4) for j in range(4) if i != j)
    var = (a + b - (po * pe - 2 * pe + po) ** 2) / (n * (1 - pe) ** 4)
    k, se = cohen_kappa(x)
    assert k == pytest.approx((po - pe) / (1 - pe), abs=1e-12)
    assert se == pytest.approx(math.sqrt(var), abs=1e-12)


def test_response_agreement_crosstab_and_ci(response_study):
    spec = load_spec(response_study / "study.yaml")
    data = load_patients(spec)
    tab, k, se, lo, hi = response_agreement(data, spec, "recist11", "mrecist")
    assert list(tab.index) == ["CR", "PR", "SD", "PD"] and list(tab.columns) == ["CR", "PR", "SD", "PD"]
    assert tab.to_numpy().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]]
    # po = 4/6; rows (1,2,2,1)/6, cols (2,2,1,1)/6: pe = (2+4+2+1)/36 = 0.25; kappa = (2/3-1/4)/(3/4) = 5/9
    assert k == pytest.approx(5 / 9, abs=1e-12)
    assert (lo, hi) == pytest.approx((k - 1.959963985 * se, k + 1.959963985 * se), abs=1e-8)


# --- spec and validation -------------------------------------------------------------------------------
def test_response_section_is_parsed_and_loaded(response_study):
    spec = load_spec(response_study / "study.yaml")
    r = spec.response
    assert r.categories == ("CR", "PR", "SD", "PD") and r.objective == ("CR", "PR")
    assert r.control == ("CR", "PR", "SD") and r.test == "fisher_if_expected_lt5"
    assert r.criteria["mrecist"].label == "mRECIST" and r.criteria["recist11"].column == "recist11_best"
    data = load_patients(spec)
    assert list(data["recist11_best"].cat.categories) == ["CR", "PR", "SD", "PD"]
    assert spec.adverse_events is None


def test_unknown_response_category_names_file_row_and_column(response_study):
    _rewrite(response_study, "p5,trt,f,59,55,PR,PR", "p5,trt,f,59,55,PR,XR")
    _rewrite(response_study, "p6,trt,f,60,40.5,SD,SD", "p6,trt,f,60,40.5,,SD")
    with pytest.raises(DataValidationError) as err:
        load_patients(load_spec(response_study / "study.yaml"))
    text = str(err.value)
    assert "patients.csv: row 6, column 'mrecist_best': unknown response category 'XR'" in text
    assert "row 7, column 'recist11_best': value is missing" in text


def test_missing_response_column_is_named(response_study):
    _rewrite(response_study, ",mrecist_best", ",mrecist")
    with pytest.raises(DataValidationError, match=r"column 'mrecist_best': required column is missing"):
        load_patients(load_spec(response_study / "study.yaml"))


def test_bad_response_spec_lists_every_problem(response_study):
    _rewrite(response_study, "objective: [CR, PR]", "objective: [CR, VGPR]", file="study.yaml")
    _rewrite(response_study, "control: [CR, PR, SD]", "control: [CR, SD, XX]", file="study.yaml")
    _rewrite(response_study, "test: fisher_if_expected_lt5", "test: exact", file="study.yaml")
    _rewrite(response_study, "column: mrecist_best", "column: sex", file="study.yaml")
    with pytest.raises(SpecError) as err:
        load_spec(response_study / "study.yaml")
    text = str(err.value)
    assert "response.objective: ['VGPR'] not in response.categories" in text
    assert "response.control: ['XX'] not in response.categories" in text
    assert "response.control: must include every objective response code" in text
    assert "response.test: 'exact' is not one of" in text
    assert "response.criteria.mrecist.column: column 'sex' is already used" in text
    assert "5 problem(s)" in text


# --- Table 3 -------------------------------------------------------------------------------------------
def test_best_response_table_by_hand(response_study):
    spec = load_spec(response_study / "study.yaml")
    data = load_patients(spec)
    rows = best_response_table(data, spec, "recist11")
    assert set(rows.analysis) == {"best_response"} and set(rows.variable) == {"recist11"}
    # ctl: PR, SD, PD; trt: CR, PR, SD
    assert value(rows, "CR", "trt", "n") == 1 and value(rows, "CR", "ctl", "n") == 0
    assert value(rows, "ORR", "ctl", "n") == 1 and value(rows, "ORR", "trt", "pct") == pytest.approx(200 / 3)
    assert value(rows, "DCR", "trt", "n") == 3 and value(rows, "DCR", "ctl", "pct") == pytest.approx(200 / 3)
    assert value(rows, "patients", "ctl", "n") == 3
    assert (value(rows, "ORR", "ctl", "lower"), value(rows, "ORR", "ctl", "upper")) == pytest.approx(
        clopper_pearson(1, 3))
    assert value(rows, "DCR", "trt", "upper") == 1.0
    # expected counts < 5 -> Fisher: ORR [[1, 2], [2, 1]] -> p = 1; DCR [[2, 3], [1, 0]] -> p = 1
    assert value(rows, "ORR", "comparison", "p_value") == pytest.approx(stats.fisher_exact([[1, 2], [2, 1]])[1])
    assert value(rows, "DCR", "comparison", "p_value") == pytest.approx(stats.fisher_exact([[2, 3], [1, 0]])[1])
    assert rows.attrs["tests"]["ORR"].startswith("Fisher")
    d, lo, hi = proportion_difference_ci(2, 3, 1, 3)
    assert value(rows, "ORR", "comparison", "difference") == pytest.approx(1 / 3)
    assert value(rows, "ORR", "comparison", "lower") == pytest.approx(lo)
    assert not rows.duplicated(["variable", "level", "group", "stat"]).any()


def test_best_response_p_value_uses_the_policy_on_level_vs_not():
    # a larger hand-made study (no files needed): 40 per arm, ORR 20/40 vs 8/40 -> chi-square with Yates
    from helpers.study.spec import Arm, ResponseCriterion, ResponseSpec
    import pandas as pd

    class Spec:  # the attributes best_response_table reads
        study_id = "hand"
        arm = Arm("arm", "a", {"a": "A", "b": "B"})
        response = ResponseSpec(("CR", "PR", "SD", "PD"), ("CR", "PR"), ("CR", "PR", "SD"),
                                {"r": ResponseCriterion("r", "R", "best")}, "fisher_if_expected_lt5")

    best = ["PR"] * 8 + ["SD"] * 12 + ["PD"] * 20 + ["CR"] * 5 + ["PR"] * 15 + ["SD"] * 10 + ["PD"] * 10
    data = pd.DataFrame({"arm": ["a"] * 40 + ["b"] * 40, "best": best})
    rows = best_response_table(data, Spec, "r")
    chi = stats.chi2_contingency([[8, 32], [20, 20]], correction=True)[1]
    assert value(rows, "ORR", "comparison", "p_value", "r") == pytest.approx(chi, rel=1e-10)
    # CR: 0 vs 5 -> expected 2.5 < 5 -> Fisher
    assert value(rows, "CR", "comparison", "p_value", "r") == pytest.approx(
        stats.fisher_exact([[0, 40], [5, 35]])[1], rel=1e-9)
    rows_f = best_response_table(data, Spec, "r", policy="fisher")
    assert value(rows_f, "ORR", "comparison", "p_value", "r") == pytest.approx(
        stats.fisher_exact([[8, 32], [20, 20]])[1], rel=1e-9)


def test_response_display_layout(response_study):
    import pandas as pd

    spec = load_spec(response_study / "study.yaml")
    data = load_patients(spec)
    rows = pd.concat([best_response_table(data, spec, c) for c in spec.response.criteria], ignore_index=True)
    table = response_display(rows, spec, ["recist11", "mrecist"])
    assert table.shape == (6, 6)
    assert list(table.columns.get_level_values(0).unique()) == ["RECIST 1.1", "mRECIST"]
    assert table.loc["ORR (CR + PR)", ("RECIST 1.1", "Treated (N=3)")] == "2 (66.7%)"
    assert table.loc["Complete response (CR)", ("mRECIST", "Control (N=3)")] == "1 (33.3%)"
    assert table.loc["DCR (CR + PR + SD)", ("RECIST 1.1", "P")] == "1.000"
    with_ci = response_display(rows, spec, ["recist11"], ci=True)
    assert with_ci.loc["ORR (CR + PR)", ("RECIST 1.1", "Control (N=3)")] == "1 (33.3%) [0.8–90.6]"


def test_response_bars_figure(response_study):
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from helpers.report.seaborn_plots import response_bars

    spec = load_spec(response_study / "study.yaml")
    data = load_patients(spec)
    rows = pd.concat([best_response_table(data, spec, c) for c in spec.response.criteria], ignore_index=True)
    fig = response_bars(rows, spec)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Patients (%)"
    assert len(ax.patches) == 4 * 4  # 2 criteria x 2 arms x 4 categories
    widths = [p.get_width() for p in ax.patches]
    assert sum(widths) == pytest.approx(400.0)
