"""RMST (helpers.stats.rmst) against R: survRM2's rmst1/rmst2 formulas, survival::pseudo(type = "rmst"), lm + HC0.

Reference values: tests/reference/r_values/rmst.json, written by tests/reference/survival_cox_reference.R.
R is not needed here. Tolerances: 1e-6 on estimates, 1e-4 on p-values.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.stats import design
from helpers.stats import rmst

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "r_values" / "rmst.json").read_text())
EST, PTOL = 1e-6, 1e-4


def _data() -> dict[str, pd.DataFrame]:
    lung = pd.read_csv(REF / "data" / "lung_full.csv")
    lung["dead"] = (lung["status"] == 2).astype(int)
    lung["female"] = (lung["sex"] == 2).astype(int)
    lung["months"] = np.ceil(lung["time"] / 30)
    lung["months_frac"] = lung["time"] / 30.4375
    ecog = np.where(lung["ph.ecog"].isna(), np.nan, np.minimum(lung["ph.ecog"], 2))
    lung["ecog3"] = pd.Series(ecog).map({0.0: "0", 1.0: "1", 2.0: "2+"})
    lung = pd.concat([lung, design.design_matrix(lung, {"ecog3": ("categorical", ["0", "1", "2+"], "0")}).frame],
                     axis=1)
    vet = pd.read_csv(REF / "data" / "veteran.csv")
    vet["trt2"] = (vet["trt"] == 2).astype(int)
    dm = design.design_matrix(vet, {"celltype": ("categorical", ["squamous", "smallcell", "adeno", "large"], None)})
    vet = pd.concat([vet, dm.frame], axis=1)
    ov = pd.read_csv(REF / "data" / "ovarian.csv")
    return {"lung": lung, "veteran": vet, "ovarian": ov}


DATA = _data()
REG_TERMS = {"lung_365": ["female", "age", "ecog31", "ecog32+"],
             "veteran_200": ["trt2", "celltypesmallcell", "celltypeadeno", "celltypelarge", "karno"]}


# ------------------------------------------------------------------ rmst2
@pytest.mark.parametrize("c", R["comparisons"], ids=[c["id"] for c in R["comparisons"]])
def test_rmst_difference_matches_survrm2(c):
    d = DATA[c["data"]]
    rule = c["tau_rule"] if c["tau_rule"] != "number" else c["tau"]
    res = rmst.rmst_difference(d[c["time"]], d[c["status"]], d[c["arm"]], tau_rule=rule, order=[0, 1])
    assert res.tau == pytest.approx(c["tau"], abs=1e-12)
    for arm, key in ((1, "arm1"), (0, "arm0")):
        a, r = res.arms[arm], c[key]
        for f in ("rmst", "se", "lower", "upper"):
            assert getattr(a, f) == pytest.approx(r[f], abs=EST), f
        # survfit's own restricted mean and its SE agree with survRM2's formulas
        assert a.rmst == pytest.approx(r["survfit_rmean"], abs=EST)
        assert a.se == pytest.approx(r["survfit_se_rmean"], abs=EST)
    dif = c["difference"]
    assert res.difference == pytest.approx(dif["est"], abs=EST)
    assert res.difference_se == pytest.approx(dif["se"], abs=EST)
    assert res.difference_lower == pytest.approx(dif["lower"], abs=EST)
    assert res.difference_upper == pytest.approx(dif["upper"], abs=EST)
    assert res.p_value == pytest.approx(dif["p"], abs=PTOL)
    for f, key in (("ratio", "ratio"), ("rmtl_ratio", "rmtl_ratio")):
        r = c[key]
        assert getattr(res, f) == pytest.approx(r["est"], abs=EST)
        assert getattr(res, f + "_lower") == pytest.approx(r["lower"], abs=EST)
        assert getattr(res, f + "_upper") == pytest.approx(r["upper"], abs=EST)
        assert getattr(res, f + "_p_value") == pytest.approx(r["p"], abs=PTOL)


def test_tau_rules():
    d = DATA["lung"]
    t, e, g = d["months_frac"], d["dead"], d["female"]
    max0, max1 = t[g == 0].max(), t[g == 1].max()
    assert rmst.rmst_difference(t, e, g).tau == math.floor(min(max0, max1))
    assert rmst.rmst_difference(t, e, g, tau_rule="min_max").tau == pytest.approx(min(max0, max1))
    assert rmst.rmst_difference(t, e, g, tau=12).tau == 12
    assert rmst.rmst_difference(t, e, g, tau_rule=12.5).tau == 12.5
    # both arms end censored: tau may not exceed the smaller of the largest times
    with pytest.raises(ValueError, match="too large"):
        rmst.rmst_difference(t, e, g, tau=min(max0, max1) + 0.01)
    with pytest.raises(ValueError, match="tau_rule"):
        rmst.rmst_difference(t, e, g, tau_rule="median")
    with pytest.raises(ValueError, match="> 0"):
        rmst.rmst_difference(t, e, g, tau=0)


def test_tau_limit_follows_survrm2_when_the_shorter_arm_ends_with_an_event():
    # arm 0 ends at 5 with an event (curve 0 after it), arm 1 ends at 8 censored: survRM2 allows tau <= 8
    t = np.array([1, 2, 5, 1, 3, 8.0])
    e = np.array([1, 0, 1, 1, 0, 0])
    g = np.array([0, 0, 0, 1, 1, 1])
    res = rmst.rmst_difference(t, e, g, tau=8)
    assert res.tau_max == 8
    # arm 0: S = 2/3 after t = 1 (one of three dies), unchanged at 2 (censored), 0 after 5
    assert res.arms[0].rmst == pytest.approx(1 + (2 / 3) * 4)
    # the rounded-down rule is still the minimum of the largest times
    assert rmst.rmst_difference(t, e, g).tau == 5
    with pytest.raises(ValueError, match="too large"):
        rmst.rmst_difference(t, e, g, tau=9)
    # the other way round: shorter arm ends censored -> limit is the shorter arm's largest time
    e2 = np.array([1, 0, 0, 1, 0, 1])
    assert rmst.rmst_difference(t, e2, g, tau=5).tau_max == 5
    with pytest.raises(ValueError, match="<= 5"):
        rmst.rmst_difference(t, e2, g, tau=6)


def test_arms_order_and_group_errors():
    t = np.array([1, 2, 3, 4, 5, 6.0])
    e = np.array([1, 1, 0, 1, 0, 1])
    g = np.array(["b", "a", "b", "a", "b", "a"])
    res = rmst.rmst_difference(t, e, g, tau=4, order=["b", "a"])
    assert res.order == ["b", "a"]
    assert res.difference == pytest.approx(res.arms["a"].rmst - res.arms["b"].rmst)
    assert rmst.rmst_difference(t, e, g, tau=4).order == ["a", "b"]
    assert list(res.table.index)[:2] == ["RMST (b)", "RMST (a)"]
    with pytest.raises(ValueError, match="two values"):
        rmst.rmst_difference(t, e, np.array(list("abcabc")), tau=4)
    with pytest.raises(ValueError, match="no observations"):
        rmst.rmst_difference(t, e, g, tau=4, order=["a", "z"])
    with pytest.raises(ValueError, match="0/1"):
        rmst.rmst_difference(t, e * 2, g, tau=4)


# ------------------------------------------------------------------ single-arm hand checks
def test_rmst_without_censoring_is_the_mean_of_truncated_times():
    t = np.array([2.0, 5, 5, 7, 11, 13])
    e = np.ones(6)
    r = rmst.rmst(t, e, 10)
    assert r.rmst == pytest.approx(np.minimum(t, 10).mean())
    assert r.rmtl == pytest.approx(10 - r.rmst)
    # Greenwood plug-in by hand: areas after each event time <= 10
    s = {2: 5 / 6, 5: 3 / 6, 7: 2 / 6}
    area_after = {7: (10 - 7) * s[7], 5: (7 - 5) * s[5] + (10 - 7) * s[7]}
    area_after[2] = (5 - 2) * s[2] + area_after[5]
    var = (area_after[2] ** 2 * 1 / (6 * 5) + area_after[5] ** 2 * 2 / (5 * 3) + area_after[7] ** 2 * 1 / (3 * 2))
    assert r.se == pytest.approx(math.sqrt(var))
    assert (r.lower, r.upper) == pytest.approx((r.rmst - 1.959963984540054 * r.se, r.rmst + 1.959963984540054 * r.se))


def test_rmst_agrees_with_lifelines_area():
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    d = DATA["veteran"]
    kmf = KaplanMeierFitter().fit(d["time"], d["status"])
    assert rmst.rmst(d["time"], d["status"], 200).rmst == pytest.approx(
        restricted_mean_survival_time(kmf, t=200), abs=1e-6)


def test_tau_beyond_last_censored_time_warns_and_extends_flat():
    t = np.array([1.0, 2, 3])
    e = np.array([1, 0, 0])
    with pytest.warns(rmst.RMSTWarning):
        r = rmst.rmst(t, e, 5)
    assert r.rmst == pytest.approx(1 + (2 / 3) * 4)


# ------------------------------------------------------------------ pseudo-values
@pytest.mark.parametrize("p", R["pseudo"], ids=[p["id"] for p in R["pseudo"]])
def test_pseudo_values_match_survival_pseudo(p):
    d = DATA[p["data"]]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rmst.RMSTWarning)
        pv = rmst.rmst_pseudo_values(d[p["time"]], d[p["status"]], p["tau"])
    assert len(pv) == len(p["values"]) == len(d)
    np.testing.assert_allclose(pv, p["values"], rtol=0, atol=EST)


def test_pseudo_values_hand_checks():
    rng = np.random.default_rng(2)
    t = rng.integers(1, 20, 50).astype(float)        # ties
    # no censoring: the pseudo-values are min(T, tau) exactly
    np.testing.assert_allclose(rmst.rmst_pseudo_values(t, np.ones(50), 12), np.minimum(t, 12), atol=1e-10)
    # with censoring, their mean is the RMST (the IJ influences sum to 0)
    e = rng.integers(0, 2, 50)
    pv = rmst.rmst_pseudo_values(t, e, 12)
    assert pv.mean() == pytest.approx(rmst.rmst(t, e, 12).rmst, abs=1e-10)


def test_pseudo_values_scale_linearly():
    import time as _time

    rng = np.random.default_rng(4)
    n = 1_000_000
    t = rng.exponential(10, n)
    e = (rng.uniform(size=n) < 0.7).astype(float)
    start = _time.perf_counter()
    pv = rmst.rmst_pseudo_values(t, e, 15)
    assert _time.perf_counter() - start < 5
    assert pv.mean() == pytest.approx(rmst.rmst(t, e, 15).rmst, rel=1e-9)


# ------------------------------------------------------------------ pseudo-value regression
@pytest.mark.parametrize("g", R["regressions"], ids=[g["id"] for g in R["regressions"]])
def test_pseudo_regression_matches_lm_hc0(g):
    d = DATA[g["data"]]
    out = rmst.rmst_regression(d, g["time"], g["status"], g["tau"], REG_TERMS[g["id"]])
    assert list(out["term"]) == ["(Intercept)", *[t for t in g["terms"][1:]]]
    assert out.attrs["n"] == g["n"]
    np.testing.assert_allclose(out["estimate"], g["estimate"], rtol=0, atol=EST)
    np.testing.assert_allclose(out["se"], g["se"], rtol=0, atol=EST)
    np.testing.assert_allclose(out["lower"], g["lower"], rtol=0, atol=EST)
    np.testing.assert_allclose(out["upper"], g["upper"], rtol=0, atol=EST)
    np.testing.assert_allclose(out["p_value"], g["p"], rtol=0, atol=PTOL)
    if "geepack_se" in g:  # geepack's sandwich (independence GEE) is the same HC0
        np.testing.assert_allclose(out["se"], g["geepack_se"], rtol=0, atol=1e-5)


def test_pseudo_regression_with_one_binary_covariate_is_a_difference_in_means():
    d = DATA["lung"][["time", "dead", "female"]]
    out = rmst.rmst_regression(d, "time", "dead", 365, ["female"]).set_index("term")
    pv = out.attrs["pseudo_values"]
    g = d["female"].to_numpy()
    assert out.loc["female", "estimate"] == pytest.approx(pv[g == 1].mean() - pv[g == 0].mean(), abs=1e-9)
    # HC0 for a two-group design: sqrt(sum of squared residuals / n_k^2 per group)
    v = sum(((pv[g == k] - pv[g == k].mean()) ** 2).sum() / (g == k).sum() ** 2 for k in (0, 1))
    assert out.loc["female", "se"] == pytest.approx(math.sqrt(v), abs=1e-9)


def test_pseudo_regression_errors():
    d = DATA["lung"][["time", "dead", "female"]].assign(one=1.0)
    with pytest.raises(ValueError, match="rank deficient"):
        rmst.rmst_regression(d, "time", "dead", 365, ["female", "one"])
    with pytest.raises(KeyError):
        rmst.rmst_regression(d, "time", "dead", 365, ["nope"])


def test_rmst_regression_refuses_a_rank_deficient_design():
    rng = np.random.default_rng(0)
    n = 400
    d = pd.DataFrame({"t": rng.exponential(10, n), "e": rng.integers(0, 2, n), "x": rng.integers(0, 2, n)})
    d["twice_x"] = 2.0 * d["x"]
    d["constant"] = 1.0
    for terms in (["x", "twice_x"], ["constant"]):
        with pytest.raises(ValueError, match="rank deficient"):
            rmst.rmst_regression(d, "t", "e", 5.0, terms)
    assert list(rmst.rmst_regression(d, "t", "e", 5.0, ["x"])["term"]) == ["(Intercept)", "x"]
