"""Tests of helpers.stats.hypothesis_tests against R's stats package and hand calculations.

The R values are produced by tests/reference/hypothesis_tests_reference.R (``make r-reference``);
R is not needed to run these tests.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from helpers.stats.hypothesis_tests import (
    CATEGORICAL_POLICIES,
    CONTINUOUS_POLICIES,
    categorical_p_value,
    chisq_test,
    continuous_p_value,
    fisher_test,
    mann_whitney_p,
    t_test_from_summary,
    t_test_p,
    wilcoxon_rank_sum_p,
)

REF_JSON = Path(__file__).parent / "reference" / "r_values" / "hypothesis_tests.json"
_REF = json.loads(REF_JSON.read_text()) if REF_JSON.exists() else {"records": []}
TABLES = [r for r in _REF["records"] if r["kind"] == "table"]
SAMPLES = [r for r in _REF["records"] if r["kind"] == "samples"]


def _f(x):
    return math.nan if x is None else float(x)


def assert_p_equal(got: float, want: float):
    """Agreement with R: 1e-8 relative or 1e-10 absolute; NaN only where R gives NaN."""
    if math.isnan(want):
        assert math.isnan(got), got
    else:
        assert abs(got - want) <= max(1e-10, 1e-8 * abs(want)), (got, want)


def test_reference_file_records_r_version():
    assert _REF["R_version"].startswith("R version")
    assert len(TABLES) > 40 and len(SAMPLES) > 10


# ------------------------------------------------------------------------------------------------
# Contingency tables vs R
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rec", TABLES, ids=[r["id"] for r in TABLES])
def test_chisq_matches_r(rec):
    table = np.array(rec["table"])
    with_nan = rec["chisq_yates_p"] is None
    one_row = min(table.shape) == 1
    if with_nan or one_row:
        with pytest.warns(UserWarning):
            p_yates = chisq_test(table, correct=True)
        with pytest.warns(UserWarning):
            p_plain = chisq_test(table, correct=False)
    else:
        p_yates = chisq_test(table, correct=True)
        p_plain = chisq_test(table, correct=False)
    assert_p_equal(p_yates, _f(rec["chisq_yates_p"]))
    assert_p_equal(p_plain, _f(rec["chisq_p"]))


@pytest.mark.parametrize("rec", [r for r in TABLES if "fisher_p" in r and r["id"] != "fisher_help_Job"],
                         ids=[r["id"] for r in TABLES if "fisher_p" in r and r["id"] != "fisher_help_Job"])
def test_fisher_matches_r(rec):
    assert_p_equal(fisher_test(np.array(rec["table"])), _f(rec["fisher_p"]))


@pytest.mark.parametrize("rec", [r for r in TABLES if min(np.array(r["table"]).shape) >= 2 and r["chisq_yates_p"] is not None],
                         ids=[r["id"] for r in TABLES if min(np.array(r["table"]).shape) >= 2 and r["chisq_yates_p"] is not None])
def test_categorical_policies_match_r(rec):
    table = np.array(rec["table"])
    p, name = categorical_p_value(table, "chisq_yates")
    assert_p_equal(p, _f(rec["chisq_yates_p"]))
    assert name == rec["chisq_yates_method"]  # R's method string, with or without Yates
    p, name = categorical_p_value(table, "chisq")
    assert_p_equal(p, _f(rec["chisq_p"]))
    assert name == rec["chisq_method"]
    if "fisher_p" in rec and rec["id"] != "fisher_help_Job":
        p, name = categorical_p_value(table, "fisher")
        assert_p_equal(p, _f(rec["fisher_p"]))
        assert name == "Fisher's Exact Test for Count Data"
        p, name = categorical_p_value(table, "fisher_if_expected_lt5")
        if _f(rec["min_expected"]) < 5:
            assert_p_equal(p, _f(rec["fisher_p"]))
            assert name.startswith("Fisher")
        else:
            assert_p_equal(p, _f(rec["chisq_yates_p"]))
            assert name.startswith("Pearson")


def test_zero_row_fisher_if_expected_lt5_uses_fisher():
    # an empty level makes every expected count in that row 0 < 5: Fisher, p = 1 as in R
    rec = next(r for r in TABLES if r["id"] == "seed000_table1_psm_child_pugh")
    p, name = categorical_p_value(np.array(rec["table"]), "fisher_if_expected_lt5")
    assert_p_equal(p, _f(rec["fisher_p"]))
    assert name.startswith("Fisher")


def test_large_table_fisher_refuses_instead_of_guessing():
    rec = next(r for r in TABLES if r["id"] == "fisher_help_Job")  # 4 x 4, n = 96: 9e7 tables
    with pytest.raises(ValueError, match="too many to enumerate"):
        fisher_test(np.array(rec["table"]), max_tables=100_000)


# ------------------------------------------------------------------------------------------------
# Seed paper 000, Table 1: the printed p-values from the published counts
# ------------------------------------------------------------------------------------------------
# (levels x groups; columns HAIT n = 51, HAIT-M-P n = 50), printed p
PRIMARY = {
    "sex": ([[47, 44], [4, 6]], "0.714"),
    "ALT": ([[39, 36], [12, 14]], "0.775"),
    "AST": ([[38, 33], [13, 17]], "0.473"),
    "ALB": ([[1, 2], [50, 48]], "0.986"),
    "TBil": ([[44, 43], [7, 7]], "1.000"),
    "HBsAg": ([[8, 7], [43, 43]], "1.000"),
    "anti-HCV": ([[49, 49], [2, 1]], "1.000"),
    "AFP": ([[38, 30], [13, 20]], "0.179"),
    "cirrhosis": ([[18, 22], [33, 28]], "0.490"),
    "Child-Pugh": ([[51, 46], [0, 4]], "0.121"),
    "tumor size": ([[47, 42], [4, 8]], "0.337"),
    "tumor number": ([[2, 0], [49, 50]], "0.484"),
    "PVTT": ([[48, 44], [3, 6]], "0.466"),
    "HAIT type": ([[4, 17], [42, 20], [5, 13]], "<0.001"),
}
# PSM cohort (24 vs 24)
PSM = {
    "sex": ([[22, 21], [2, 3]], "1.000"),
    "ALT": ([[20, 18], [4, 6]], "0.722"),
    "AST": ([[19, 20], [5, 4]], "1.000"),
    "ALB": ([[1, 0], [23, 24]], "1.000"),
    "TBil": ([[21, 23], [3, 1]], "0.602"),
    "HBsAg": ([[4, 4], [20, 20]], "1.000"),
    "anti-HCV": ([[23, 23], [1, 1]], "1.000"),
    "AFP": ([[16, 15], [8, 9]], "1.000"),
    "cirrhosis": ([[13, 11], [11, 13]], "0.773"),
    "Child-Pugh": ([[24, 24], [0, 0]], "1.000"),
    "tumor size": ([[21, 21], [3, 3]], "1.000"),
    "tumor number": ([[0, 0], [24, 24]], "1.000"),
    "PVTT": ([[23, 21], [1, 3]], "0.602"),
    "HAIT type": ([[4, 4], [16, 16], [4, 4]], "1.000"),
}


def _fmt(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


@pytest.mark.parametrize("variable", list(PRIMARY))
def test_seed000_table1_primary_p_values_reproduce_with_yates_chisq(variable):
    table, printed = PRIMARY[variable]
    p, _ = categorical_p_value(table, "chisq_yates")
    assert _fmt(p) == printed


@pytest.mark.parametrize("variable", list(PSM))
def test_seed000_table1_psm_p_values_reproduce_with_yates_chisq(variable):
    # Empty levels (Child-Pugh B, single tumour) are absent from the matched data in R, so R
    # tableone's chisq.test sees a one-row table (goodness of fit, p = 1 for 24 vs 24).
    table, printed = PSM[variable]
    with pytest.warns(UserWarning) if np.min(np.array(table).sum(axis=1)) == 0 else _no_warning():
        p, _ = categorical_p_value(table, "chisq_yates", drop_empty_levels=True)
    assert _fmt(p) == printed


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_child_pugh_fisher_would_differ():
    # CONVENTIONS: Fisher would give 0.056 for Child-Pugh, so the paper used Yates' chi-square
    assert f"{fisher_test([[51, 46], [0, 4]]):.3f}" == "0.056"


# ------------------------------------------------------------------------------------------------
# Two samples vs R
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rec", SAMPLES, ids=[r["id"] for r in SAMPLES])
def test_continuous_tests_match_r(rec):
    x = [_f(v) for v in rec["x"]]
    y = [_f(v) for v in rec["y"]]
    assert_p_equal(mann_whitney_p(x, y), _f(rec["kruskal_p"]))
    assert_p_equal(wilcoxon_rank_sum_p(x, y, correct=False, exact=False), _f(rec["wilcox_nocorrect_approx_p"]))
    assert_p_equal(wilcoxon_rank_sum_p(x, y, exact=False), _f(rec["wilcox_correct_approx_p"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cannot compute exact p-value with ties": tested below
        assert_p_equal(wilcoxon_rank_sum_p(x, y), _f(rec["wilcox_default_p"]))
        p_cc, _ = continuous_p_value(x, y, "wilcox_cc")
    assert_p_equal(p_cc, _f(rec["wilcox_default_p"]))
    assert_p_equal(t_test_p(x, y, equal_var=True), _f(rec["t_student_p"]))
    assert_p_equal(t_test_p(x, y, equal_var=True), _f(rec["oneway_equal_var_p"]))
    assert_p_equal(t_test_p(x, y, equal_var=False), _f(rec["t_welch_p"]))
    summary = (_f(rec["mean_x"]), _f(rec["sd_x"]), rec["n_x"], _f(rec["mean_y"]), _f(rec["sd_y"]), rec["n_y"])
    assert_p_equal(t_test_from_summary(*summary, equal_var=True), _f(rec["t_student_p"]))
    assert_p_equal(t_test_from_summary(*summary, equal_var=False), _f(rec["t_welch_p"]))
    for policy, key in [("mann_whitney", "kruskal_p"), ("t_test", "t_student_p"), ("welch", "t_welch_p")]:
        p, name = continuous_p_value(x, y, policy)
        assert_p_equal(p, _f(rec[key]))
        assert isinstance(name, str) and name


def test_r_uses_exact_wilcoxon_only_without_ties():
    exact = [r for r in SAMPLES if r["wilcox_default_method"] == "Wilcoxon rank sum exact test"]
    assert exact and all(not r["has_ties"] for r in exact)
    with_ties = [r for r in SAMPLES if r["has_ties"] and len(r["x"]) < 50 and len(r["y"]) < 50]
    assert with_ties
    for r in with_ties:
        assert r["wilcox_default_warning"] == "cannot compute exact p-value with ties"
        with pytest.warns(UserWarning, match="ties"):
            wilcoxon_rank_sum_p([_f(v) for v in r["x"]], [_f(v) for v in r["y"]])


# ------------------------------------------------------------------------------------------------
# Hand calculations
# ------------------------------------------------------------------------------------------------
def test_fisher_2x2_by_hand():
    # margins all 4, n = 8: P(x11 = k) = C(4,k) C(4,4-k) / C(8,4) = (1, 16, 36, 16, 1) / 70.
    # Observed x11 = 3 (probability 16/70): p = (1 + 16 + 16 + 1) / 70.
    assert fisher_test([[3, 1], [1, 3]]) == pytest.approx(34 / 70, rel=1e-12)
    # one-sided extreme: x11 = 4 -> p = (1 + 1) / 70
    assert fisher_test([[4, 0], [0, 4]]) == pytest.approx(2 / 70, rel=1e-12)


def test_fisher_2x3_by_hand():
    # rows (2, 1), columns (1, 1, 1): the three tables put the row-2 count in one of the columns,
    # each with probability 1/3; all are as probable as the observed one -> p = 1
    assert fisher_test([[1, 1, 0], [0, 0, 1]]) == pytest.approx(1.0, rel=1e-12)
    # rows (3, 3), columns (2, 2, 2): the first row (a, b, c), a + b + c = 3, has probability
    # C(2,a) C(2,b) C(2,c) / C(6,3): the 6 permutations of (2, 1, 0) have 2/20 each, (1, 1, 1) has
    # 8/20. Observed (2, 1, 0): p = 6 * 2/20 = 0.6
    assert fisher_test([[2, 1, 0], [0, 1, 2]]) == pytest.approx(0.6, rel=1e-12)


def test_chisq_2x2_by_hand():
    # n = 100, rows 30/70, columns 40/60 -> E = 12, 18, 28, 42 and |O - E| = 2 in every cell
    table = [[10, 20], [30, 40]]
    inv_e = 1 / 12 + 1 / 18 + 1 / 28 + 1 / 42
    x2 = 4 * inv_e
    x2_yates = 1.5**2 * inv_e
    # chi-square with 1 df: P(X > x) = erfc(sqrt(x / 2))
    assert chisq_test(table, correct=False) == pytest.approx(math.erfc(math.sqrt(x2 / 2)), rel=1e-12)
    assert chisq_test(table, correct=True) == pytest.approx(math.erfc(math.sqrt(x2_yates / 2)), rel=1e-12)
    # Yates' correction is capped by min |O - E|: here 0.2 < 0.5
    table = [[12.2, 17.8], [27.8, 42.2]]
    # E is unchanged; |O - E| = 0.2 everywhere -> corrected statistic is 0, p = 1
    assert chisq_test(table, correct=True) == pytest.approx(1.0)


def test_rank_tests_by_hand():
    x, y = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    # rank sums 6 and 15, n = 6: H = 12 / (6 * 7) * (36/3 + 225/3) - 3 * 7 = 27/7
    h = 12 / 42 * (12 + 75) - 21
    assert mann_whitney_p(x, y) == pytest.approx(math.erfc(math.sqrt(h / 2)), rel=1e-12)
    # exact Wilcoxon: W = 0 is the most extreme of C(6, 3) = 20 equally likely rank sets
    assert wilcoxon_rank_sum_p(x, y) == pytest.approx(2 / 20, rel=1e-12)
    # W = 1 (x = 1, 2, 4): P(W <= 1) = 2 / 20 -> p = 0.2
    assert wilcoxon_rank_sum_p([1.0, 2.0, 4.0], [3.0, 5.0, 6.0]) == pytest.approx(4 / 20, rel=1e-12)


def test_rank_test_all_tied_is_nan():
    with pytest.warns(UserWarning, match="tied"):
        assert math.isnan(mann_whitney_p([1, 1, 1], [1, 1]))


def test_t_tests_by_hand():
    x, y = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    # means 2 and 5, both variances 1: pooled SE = sqrt(1/3 + 1/3), t = -3 / SE, df = 4
    t = 3 / math.sqrt(2 / 3)
    assert t_test_p(x, y) == pytest.approx(2 * stats.t.sf(t, 4), rel=1e-12)
    assert t_test_from_summary(2, 1, 3, 5, 1, 3) == pytest.approx(2 * stats.t.sf(t, 4), rel=1e-12)
    # Welch: x var 1 (n 3), y = 4, 6, 8, 10 var 20/3 (n 4)
    y2 = [4.0, 6.0, 8.0, 10.0]
    sx2, sy2 = 1 / 3, (20 / 3) / 4
    se = math.sqrt(sx2 + sy2)
    df = se**4 / (sx2**2 / 2 + sy2**2 / 3)
    assert t_test_p(x, y2, equal_var=False) == pytest.approx(2 * stats.t.sf(5 / se, df), rel=1e-12)


def test_nan_values_are_dropped_like_r():
    assert t_test_p([1.0, 2.0, 3.0, float("nan")], [4.0, 5.0, 6.0]) == pytest.approx(t_test_p([1, 2, 3], [4, 5, 6]))
    assert mann_whitney_p([1.0, np.nan, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(mann_whitney_p([1, 2, 3], [4, 5, 6]))


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------
def test_unknown_policies_list_the_valid_ones():
    with pytest.raises(ValueError) as err:
        categorical_p_value([[1, 2], [3, 4]], "g_test")
    assert all(p in str(err.value) for p in CATEGORICAL_POLICIES)
    with pytest.raises(ValueError) as err:
        continuous_p_value([1, 2], [3, 4], "kruskal")
    assert all(p in str(err.value) for p in CONTINUOUS_POLICIES)


@pytest.mark.parametrize(
    "table, message",
    [
        ([[1, -2], [3, 4]], "non-negative"),
        ([1, 2, 3], "two-dimensional"),
        ([[[1, 2], [3, 4]]], "two-dimensional"),
        ([[1, float("nan")], [3, 4]], "finite"),
        ([[0, 0], [0, 0]], "positive"),
        ([["a", "b"], ["c", "d"]], "numbers"),
        ([], "two-dimensional"),
    ],
)
@pytest.mark.parametrize("test", [chisq_test, fisher_test])
def test_bad_tables(test, table, message):
    with pytest.raises(ValueError, match=message):
        test(table)


def test_fisher_specific_bad_tables():
    with pytest.raises(ValueError, match="integer"):
        fisher_test([[1.5, 2], [3, 4]])
    with pytest.raises(ValueError, match="at least 2 rows"):
        fisher_test([[1, 2, 3]])


@pytest.mark.parametrize("fn", [mann_whitney_p, wilcoxon_rank_sum_p, t_test_p])
def test_empty_group(fn):
    with pytest.raises(ValueError, match="empty"):
        fn([], [1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        fn([1.0, 2.0], [float("nan")])


@pytest.mark.parametrize("fn", [mann_whitney_p, wilcoxon_rank_sum_p, t_test_p])
def test_non_numeric_samples(fn):
    with pytest.raises(ValueError, match="numbers"):
        fn(["a", "b"], [1.0, 2.0])
    with pytest.raises(ValueError, match="one-dimensional"):
        fn([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0])


def test_t_test_degenerate_input():
    with pytest.raises(ValueError, match="constant"):
        t_test_p([1.0, 1.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="at least 2"):
        t_test_p([1.0], [2.0, 3.0], equal_var=False)
    with pytest.raises(ValueError, match="not enough"):
        t_test_p([1.0], [2.0])
    with pytest.raises(ValueError, match="positive integers"):
        t_test_from_summary(1.0, 1.0, 0, 2.0, 1.0, 5)
    with pytest.raises(ValueError, match="non-negative"):
        t_test_from_summary(1.0, -1.0, 3, 2.0, 1.0, 5)


def test_seed004_age_p_value_comes_from_students_pooled_t_test():
    """From the paper's own summaries (65.79 ± 11.19, n = 66 vs 62.12 ± 13.46, n = 34) the printed p = 0.151 is
    Student's pooled-variance t-test; Welch's test would print 0.178. This is why ``t_test`` pools."""
    from helpers.stats.hypothesis_tests import t_test_from_summary

    assert round(t_test_from_summary(65.79, 11.19, 66, 62.12, 13.46, 34, equal_var=True), 3) == 0.151
    assert round(t_test_from_summary(65.79, 11.19, 66, 62.12, 13.46, 34, equal_var=False), 3) == 0.178


def _fisher_2x2_exact_r_rule(table):
    """R's fisher.test rule in exact rational arithmetic: the sum of P(t) over tables with P(t) <=
    P(observed) (1 + 1e-7)."""
    from fractions import Fraction

    (a, b), (c, d) = table
    row1, col1, total = a + b, a + c, a + b + c + d
    lo, hi = max(0, row1 + col1 - total), min(row1, col1)
    w = {t: Fraction(math.comb(row1, t) * math.comb(total - row1, col1 - t)) for t in range(lo, hi + 1)}
    limit = w[a] * Fraction(10**7 + 1, 10**7)
    return float(sum(v for v in w.values() if v <= limit) / sum(w.values()))


@pytest.mark.parametrize("table", [[[3, 1], [1, 3]], [[10, 2], [3, 15]], [[50, 55], [23, 133]], [[17, 176], [15, 86]],
                                   [[0, 5], [5, 0]], [[1, 9], [11, 3]], [[40, 60], [60, 40]], [[7, 7], [7, 7]]])
def test_fisher_2x2_from_scipy_keeps_r_tolerance(table):
    # the 2 x 2 test is scipy.stats.fisher_exact plus R's tie tolerance; checked against exact arithmetic
    assert fisher_test(table) == pytest.approx(_fisher_2x2_exact_r_rule(table), rel=1e-12)
