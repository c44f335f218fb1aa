"""Competing risks (helpers.stats.competing) against R: cmprsk 2.2-11 and survival 3.5-3 on survival::pbc.

Reference values: tests/reference/r_values/competing.json, written by tests/reference/competing_reference.R
from tests/reference/data/pbc.csv. R is not needed here. Tolerances: 1e-6 on estimates (CIF, variances,
SEs, CI limits, coefficients, test statistics), 1e-4 on p-values.
"""
from __future__ import annotations

import json
import time as _time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.stats import competing as cr
from helpers.stats import cox

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "r_values" / "competing.json").read_text())
EST, PTOL = 1e-6, 1e-4


def arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


# ------------------------------------------------------------------ data, derived as in the R script
def _derive(d: pd.DataFrame) -> pd.DataFrame:
    d = d.copy()
    d["lbili"] = np.log(d["bili"])
    d["trt2"] = np.where(d["trt"].isna(), np.nan, (d["trt"] == 2).astype(float))
    d["edema05"] = (d["edema"] == 0.5).astype(float)
    d["edema1"] = (d["edema"] == 1).astype(float)
    d["female"] = (d["sex"] == "f").astype(float)
    return d


ALL = _derive(pd.read_csv(REF / "data" / "pbc.csv"))
TRT = ALL[ALL["trt"].notna()].reset_index(drop=True)
TRT_MONTHS = TRT.assign(time=np.ceil(TRT["time"] / 30.4375))
TINY = pd.DataFrame({"time": [1, 2, 2, 2, 3, 4, 4, 5, 5, 6, 6], "status": [1, 2, 0, 1, 1, 0, 2, 1, 2, 1, 1],
                     "grp": [1, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1]}).astype(float)
DATA = {"all": ALL, "trt": TRT, "trt_months": TRT_MONTHS, "tiny": TINY}
CUMINC = {c["id"]: c for c in R["cuminc"]}


def rlabel(v) -> str:
    """A group label as R prints it (1.0 -> '1', 0.5 -> '0.5', 'f' -> 'f')."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def fit_ci(case: dict, variance: str, **kw) -> cr.CumulativeIncidence:
    d = DATA[case["data"]]
    g = None if case["group"] is None else d[case["group"]]
    return cr.cumulative_incidence(d["time"], d["status"], g, variance=variance, **kw)


def rows_of(df: pd.DataFrame, case: dict, rname: str) -> pd.DataFrame:
    """Our rows for R's curve name '<group> <cause>' (cuminc's names; 'cause' alone without groups)."""
    glab, cause = rname.rsplit(" ", 1)
    sel = df["cause"].astype(float) == float(cause)
    if case["group"] is not None:
        sel &= df["group"].map(rlabel) == glab
    return df[sel]


# ------------------------------------------------------------------ cuminc: estimate and variance
@pytest.mark.parametrize("case_id", CUMINC)
def test_cuminc_curves_match_cmprsk(case_id):
    """cuminc's step vectors (0, t1, t1, t2, ...): the value at each corner time is the last entry there."""
    case = CUMINC[case_id]
    ci = fit_ci(case, "cmprsk")
    for curve in case["curves"]:
        r = pd.DataFrame({"time": curve["time"], "est": curve["est"], "var": curve["var"]})
        last = r.groupby("time", sort=True).last()
        ours = rows_of(ci.at(last.index.to_numpy()), case, curve["name"])
        assert len(ours) == len(last)
        np.testing.assert_allclose(ours["estimate"], last["est"], rtol=0, atol=EST)
        np.testing.assert_allclose(ours["variance"], last["var"], rtol=0, atol=EST)


@pytest.mark.parametrize("variance", cr.VARIANCES)
@pytest.mark.parametrize("case_id", CUMINC)
def test_timepoints_match_cmprsk(case_id, variance):
    case = CUMINC[case_id]
    tp = case["timepoints"]
    at = fit_ci(case, variance).at(tp["times"])
    for i, rname in enumerate(tp["rows"]):
        ours = rows_of(at, case, rname)
        est = arr(tp["est"][i])
        assert np.array_equal(np.isnan(ours["estimate"].to_numpy()), np.isnan(est)), rname   # NA after follow-up
        np.testing.assert_allclose(ours["estimate"], est, rtol=0, atol=EST)
        if variance == "cmprsk":
            np.testing.assert_allclose(ours["variance"], arr(tp["var"][i]), rtol=0, atol=EST)


@pytest.mark.parametrize("case_id", CUMINC)
def test_default_cmprsk_interval_is_tidycmprsks_log_log(case_id):
    case = CUMINC[case_id]
    tp = case["timepoints"]
    ci = fit_ci(case, "cmprsk")
    assert ci.conf_type == "log-log"
    at = ci.at(tp["times"])
    for i, rname in enumerate(tp["rows"]):
        ours = rows_of(at, case, rname)
        lo, hi = arr(case["tidycmprsk_ci"]["low"][i]), arr(case["tidycmprsk_ci"]["high"][i])
        assert np.array_equal(np.isnan(ours["lower"].to_numpy()), np.isnan(lo)), rname
        np.testing.assert_allclose(ours["lower"], lo, rtol=0, atol=EST)
        np.testing.assert_allclose(ours["upper"], hi, rtol=0, atol=EST)


# ------------------------------------------------------------------ survfit multi-state
def _survfit_table(case: dict, **kw) -> pd.DataFrame:
    return fit_ci(case, "survfit", **kw).table


@pytest.mark.parametrize("case_id", CUMINC)
def test_survfit_estimate_std_err_and_n_risk_match(case_id):
    case = CUMINC[case_id]
    sf = case["survfit"]
    assert sf["states"] == ["(s0)", "1", "2"]
    tab = _survfit_table(case)
    for k, cause in enumerate((1, 2)):
        t = tab[tab["cause"] == cause]
        np.testing.assert_array_equal(t["time"], arr(sf["time"]))
        np.testing.assert_array_equal(t["n_risk"], arr(sf["n_risk"]))
        np.testing.assert_allclose(t["estimate"], arr(sf["pstate"][k]), rtol=0, atol=EST)
        np.testing.assert_allclose(t["std_err"], arr(sf["std_err"][k]), rtol=0, atol=EST)
        if case["group"] is not None:
            names = [f"{case['group']}={rlabel(g)}" for g in t["group"]]
            assert names == sf["strata"]


@pytest.mark.parametrize("conf_type, key", [("log", ""), ("log-log", "_log-log"), ("plain", "_plain")])
@pytest.mark.parametrize("case_id", CUMINC)
def test_survfit_bands_match(case_id, conf_type, key):
    """What survfit returns as lower/upper for each state of a multi-state fit (default conf.type "log")."""
    case = CUMINC[case_id]
    sf = case["survfit"]
    assert sf["conf_type"] == "log"
    tab = _survfit_table(case, conf_type=conf_type) if conf_type != "log" else _survfit_table(case)
    for k, cause in enumerate((1, 2)):
        t = tab[tab["cause"] == cause]
        lo, up = arr(sf["lower" + key][k]), arr(sf["upper" + key][k])
        assert np.array_equal(np.isnan(t["lower"].to_numpy()), np.isnan(lo))
        np.testing.assert_allclose(t["lower"], lo, rtol=0, atol=EST)
        np.testing.assert_allclose(t["upper"], up, rtol=0, atol=EST)


@pytest.mark.parametrize("case_id", CUMINC)
def test_survfit_summary_at_times_matches(case_id):
    case = CUMINC[case_id]
    ss = case["survfit_summary"]
    ci = fit_ci(case, "survfit")
    times = np.array(sorted(set(ss["time"])), float)
    at = ci.at(times)
    for k, cause in enumerate((1, 2)):
        a = at[at["cause"] == cause]
        key = [("all" if case["group"] is None else f"{case['group']}={rlabel(g)}", t)
               for g, t in zip(a["group"], a["time"])]
        a = a.set_axis(pd.MultiIndex.from_tuples(key))
        r = pd.DataFrame({"n_risk": ss["n_risk"], "estimate": arr(ss["pstate"][k]),
                          "std_err": arr(ss["std_err"][k]), "lower": arr(ss["lower"][k]),
                          "upper": arr(ss["upper"][k])},
                         index=pd.MultiIndex.from_arrays([ss["strata"], ss["time"]]))
        mine = a.loc[r.index]
        np.testing.assert_array_equal(mine["n_risk"], r["n_risk"])
        for col in ("estimate", "std_err", "lower", "upper"):
            assert np.array_equal(np.isnan(mine[col].to_numpy()), np.isnan(r[col].to_numpy())), col
            np.testing.assert_allclose(mine[col], r[col], rtol=0, atol=EST)
        # summary.survfit drops times after a stratum's last follow-up; they are NaN here
        dropped = a.index.difference(r.index)
        assert a.loc[dropped, "estimate"].isna().all()


def test_at_risk_counts_time_ge_t():
    case = CUMINC["trt"]
    ss = case["survfit_summary"]
    ci = fit_ci(case, "cmprsk")
    for strata in ("trt=1", "trt=2"):
        sel = [s == strata for s in ss["strata"]]
        times = np.array(ss["time"])[sel]
        n_risk = np.array(ss["n_risk"])[sel]
        ours = ci.at_risk(times).loc[float(strata[-1])]
        np.testing.assert_array_equal(ours.to_numpy(), n_risk)


def _weighted_aj(t, s, w, k, t0):
    """A direct (slow, obvious) Aalen-Johansen estimate with case weights, for the brute-force check."""
    surv, f = 1.0, 0.0
    for u in np.unique(t):
        if u > t0:
            break
        y = w[t >= u].sum()
        dk = w[(t == u) & (s == k)].sum()
        dall = w[(t == u) & (s != 0)].sum()
        f += surv * dk / y
        surv *= 1 - dall / y
    return f


def test_survfit_variance_is_the_infinitesimal_jackknife_by_brute_force():
    """The IJ variance is sum_j (dF/dw_j)^2 at unit weights: numerical derivatives of a direct weighted
    estimator on the tiny set (ties of both causes and a censoring at t = 2, S = 0 at the end of group 1)."""
    d = TINY[TINY["grp"] == 1]
    t, s = d["time"].to_numpy(), d["status"].to_numpy()
    ci = cr.cumulative_incidence(t, s, variance="survfit")
    h = 1e-6
    for k in (1, 2):
        for t0 in np.unique(t):
            grads = []
            for j in range(len(t)):
                w = np.ones(len(t))
                w[j] += h
                up = _weighted_aj(t, s, w, k, t0)
                w[j] -= 2 * h
                grads.append((up - _weighted_aj(t, s, w, k, t0)) / (2 * h))
            var = ci.at([t0]).query("cause == @k")["variance"].iloc[0]
            assert var == pytest.approx(np.sum(np.square(grads)), abs=1e-8)


def test_estimate_by_hand_with_ties_of_both_causes_and_a_censoring():
    # t = 2: one death of each cause and a censoring among 10 at risk (9 after the event at t = 1)
    t = [1, 2, 2, 2, 3, 4, 5, 6, 7, 8]
    s = [1, 1, 2, 0, 1, 0, 2, 0, 1, 0]
    at = cr.cumulative_incidence(t, s).at([2, 3])
    f1 = at[at["cause"] == 1]["estimate"].to_numpy()
    f2 = at[at["cause"] == 2]["estimate"].to_numpy()
    # S(2-) = 9/10, 9 at risk at t = 2; S(2) = 0.9 * 7/9 = 0.7 and 6 at risk at t = 3
    assert f1 == pytest.approx([0.1 + 0.9 / 9, 0.1 + 0.9 / 9 + 0.7 / 6], abs=1e-12)
    assert f2 == pytest.approx([0.9 / 9, 0.9 / 9], abs=1e-12)


# ------------------------------------------------------------------ edge cases on the R cases
def test_group_without_events_of_one_cause_has_a_zero_curve():
    assert not ((ALL["edema"] == 1) & (ALL["status"] == 1)).any()      # no transplant with edema = 1
    case = CUMINC["all_edema"]
    r = next(c for c in case["curves"] if c["name"] == "1 1")
    assert max(r["est"]) == 0 and max(r["var"]) == 0
    for variance in cr.VARIANCES:
        ci = fit_ci(case, variance)
        t = ci.table[(ci.table["group"] == 1.0) & (ci.table["cause"] == 1)]
        assert len(t) > 0 and (t["estimate"] == 0).all() and (t["variance"] == 0).all()
    ci = fit_ci(case, "cmprsk")                                        # Gray's test over the three groups
    np.testing.assert_allclose(ci.tests["statistic"], case["tests"]["stat"], rtol=0, atol=EST)
    assert list(ci.tests["df"]) == [2, 2]


def test_months_data_have_ties_between_causes_and_censoring():
    d = TRT_MONTHS
    by = d.groupby("time")["status"].agg(lambda s: {0, 1, 2} <= set(s))
    assert by.sum() >= 3          # months with a censoring, a transplant and a death: the R cases above
    by_trt = d.groupby(["trt", "time"])["status"].agg(lambda s: {1, 2} <= set(s))
    assert by_trt.sum() >= 1      # and both causes within one group at one time


def test_single_group_has_no_test_and_gray_needs_two_groups():
    ci = fit_ci(CUMINC["all_single"], "cmprsk")
    assert ci.groups == ["all"] and ci.tests is None
    with pytest.raises(ValueError, match="two groups"):
        cr.gray_test(ALL["time"], ALL["status"], np.ones(len(ALL)))


def test_rows_in_any_order_give_rs_numbers():
    case = CUMINC["trt_months"]
    d = TRT_MONTHS.sample(frac=1.0, random_state=3)
    tp = case["timepoints"]
    at = cr.cumulative_incidence(d["time"], d["status"], d["trt"]).at(tp["times"])
    for i, rname in enumerate(tp["rows"]):
        np.testing.assert_allclose(rows_of(at, case, rname)["variance"], arr(tp["var"][i]), rtol=0, atol=EST)


def test_missing_values_are_dropped():
    d = TRT.copy()
    d.loc[:4, "time"] = np.nan
    ci = cr.cumulative_incidence(d["time"], d["status"], d["trt"])
    assert ci.n_dropped == 5 and sum(ci.n.values()) == len(TRT) - 5


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="variance"):
        cr.cumulative_incidence([1, 2], [1, 0], variance="greenwood")
    with pytest.raises(ValueError, match="conf_type"):
        cr.cumulative_incidence([1, 2], [1, 0], conf_type="logit")
    with pytest.raises(ValueError, match=">= 0"):
        cr.cumulative_incidence([-1, 2], [1, 0])


# ------------------------------------------------------------------ Gray's test
@pytest.mark.parametrize("case_id", [c for c in CUMINC if "tests" in CUMINC[c]])
def test_gray_test_matches_cuminc_tests(case_id):
    case = CUMINC[case_id]
    d = DATA[case["data"]]
    g = cr.gray_test(d["time"], d["status"], d[case["group"]])
    assert [str(int(c)) for c in g.index] == case["tests"]["causes"]
    np.testing.assert_allclose(g["statistic"], case["tests"]["stat"], rtol=0, atol=EST)
    np.testing.assert_allclose(g["p_value"], case["tests"]["pv"], rtol=0, atol=PTOL)
    assert list(g["df"]) == case["tests"]["df"]


@pytest.mark.parametrize("case", R["gray"], ids=lambda c: c["id"])
def test_gray_test_with_strata_and_rho(case):
    d = DATA[case["data"]]
    strata = None if case["strata"] is None else d[case["strata"]]
    g = cr.gray_test(d["time"], d["status"], d[case["group"]], strata=strata, rho=case["rho"])
    np.testing.assert_allclose(g["statistic"], case["stat"], rtol=0, atol=EST)
    np.testing.assert_allclose(g["p_value"], case["pv"], rtol=0, atol=PTOL)


# ------------------------------------------------------------------ Fine-Gray (crr)
@pytest.mark.parametrize("case", R["crr"], ids=lambda c: c["id"])
def test_fine_gray_matches_crr(case):
    d = DATA[case["data"]]
    f = cr.fine_gray(d["time"], d["status"], d[case["covariates"]], failcode=case["failcode"],
                     maxiter=case["maxiter"])
    t = f.table
    assert list(t["term"]) == case["covariates"]
    assert f.converged == case["converged"]
    assert f.n == case["n"] and f.n_dropped == case["n_missing"]
    np.testing.assert_allclose(t["coef"], case["coef"], rtol=0, atol=EST)
    np.testing.assert_allclose(t["se"], case["se"], rtol=0, atol=EST)
    np.testing.assert_allclose(t["naive_se"], case["naive_se"], rtol=0, atol=EST)
    np.testing.assert_allclose(f.var.to_numpy(), np.array(case["var"], float), rtol=0, atol=EST)
    np.testing.assert_allclose(t["shr"], case["shr"], rtol=EST, atol=EST)
    np.testing.assert_allclose(t["lower"], case["lower"], rtol=EST, atol=EST)
    np.testing.assert_allclose(t["upper"], case["upper"], rtol=EST, atol=EST)
    np.testing.assert_allclose(t["z"], case["z"], rtol=0, atol=EST)
    np.testing.assert_allclose(t["p_value"], case["p"], rtol=0, atol=PTOL)
    assert f.loglik == pytest.approx(case["loglik"], abs=EST)
    assert f.loglik_null == pytest.approx(case["loglik_null"], abs=EST)
    assert f.logtest == pytest.approx(case["logtest"], abs=EST)
    np.testing.assert_allclose(f.score, case["score"], rtol=0, atol=EST)
    np.testing.assert_array_equal(f.uftime, case["uftime"])
    np.testing.assert_allclose(f.bfitj, case["bfitj"], rtol=EST, atol=EST)


def test_fine_gray_convergence_flags_as_crr():
    one = next(c for c in R["crr"] if c["id"] == "all_transplant_age_maxiter1")
    sep = next(c for c in R["crr"] if c["id"] == "all_transplant_edema1")
    assert one["converged"] is False and sep["converged"] is False
    f1 = cr.fine_gray(ALL["time"], ALL["status"], ALL[["age"]], failcode=1, maxiter=1)
    assert not f1.converged and f1.iterations == 1 and f1.warnings
    fs = cr.fine_gray(ALL["time"], ALL["status"], ALL[["edema1"]], failcode=1)
    assert not fs.converged and fs.iterations == 10 and fs.coef["edema1"] < -10    # drifting to -infinity
    ok = cr.fine_gray(ALL["time"], ALL["status"], ALL[["age"]], failcode=2)
    assert ok.converged and not ok.warnings


def test_fine_gray_constant_covariate_is_an_error_as_in_crr():
    assert "singular" in R["crr_constant_error"]
    with pytest.raises(ValueError, match="singular"):
        cr.fine_gray(ALL["time"], ALL["status"], np.ones((len(ALL), 1)), failcode=1)


def test_fine_gray_rows_in_any_order():
    case = next(c for c in R["crr"] if c["id"] == "months_death_multi")
    d = TRT_MONTHS.sample(frac=1.0, random_state=11)
    f = cr.fine_gray(d["time"], d["status"], d[case["covariates"]].to_numpy(), failcode=2)
    assert list(f.table["term"]) == ["x1", "x2", "x3", "x4"]
    np.testing.assert_allclose(f.table["coef"], case["coef"], rtol=0, atol=EST)
    np.testing.assert_allclose(f.table["se"], case["se"], rtol=0, atol=EST)


# ------------------------------------------------------------------ cause-specific Cox
def test_cause_specific_event_by_hand():
    np.testing.assert_array_equal(cr.cause_specific_event([0, 1, 2, 1, np.nan, 2], cause=1),
                                  [0, 1, 0, 1, np.nan, 0])
    with pytest.raises(ValueError):
        cr.cause_specific_event([0, 1], cause=0)


@pytest.mark.parametrize("case", R["cause_specific"], ids=lambda c: c["id"])
def test_cause_specific_cox_matches_coxph(case):
    d = DATA[case["data"]]
    covs = case["terms"]
    f = cr.cause_specific_cox(d, "time", "status", case["cause"], covs)
    assert f.n == case["n"] and f.n_events == case["nevent"]
    t = f.table
    np.testing.assert_allclose(t["coef"], case["coef"], rtol=0, atol=EST)
    np.testing.assert_allclose(t["se"], case["se"], rtol=0, atol=EST)
    np.testing.assert_allclose(t["hr"], case["hr"], rtol=EST, atol=EST)
    np.testing.assert_allclose(t["lower"], case["lower"], rtol=EST, atol=EST)
    np.testing.assert_allclose(t["upper"], case["upper"], rtol=EST, atol=EST)
    np.testing.assert_allclose(t["p_value"], case["p"], rtol=0, atol=PTOL)
    # the same as calling cox_fit on the indicator directly
    d2 = d.assign(ev=cr.cause_specific_event(d["status"], case["cause"]))
    np.testing.assert_allclose(cox.cox_fit(d2, "time", "ev", covs).table["coef"], case["coef"], rtol=0, atol=EST)


# ------------------------------------------------------------------ 1 - KM versus the CIF
@pytest.mark.parametrize("case", R["km_vs_cif"], ids=lambda c: c["id"])
def test_km_vs_cif_matches_survfit_and_timepoints(case):
    d = DATA[case["data"]]
    out = cr.km_vs_cif(d["time"], d["status"], case["cause"], case["times"], d[case["group"]])
    for g, sub in out.groupby("group", sort=False):
        strata = f"{case['group']}={rlabel(g)}"
        sel = [s == strata for s in case["strata"]]
        r_times = np.array(case["time"])[sel]
        r_omk = np.array(case["one_minus_km"])[sel]
        mine = sub.set_index("time").loc[r_times]
        ok = mine["cif"].notna().to_numpy()          # summary(extend = TRUE) carries past follow-up; we give NaN
        np.testing.assert_allclose(mine["one_minus_km"].to_numpy()[ok], r_omk[ok], rtol=0, atol=EST)
        row = case["cif_rows"].index(f"{rlabel(g)} {case['cause']}")
        cif = arr(case["cif"][row])
        np.testing.assert_allclose(sub["cif"], cif, rtol=0, atol=EST)
        good = ~np.isnan(cif)
        assert np.all(sub["one_minus_km"].to_numpy()[good] >= cif[good] - 1e-12)   # 1 - KM overstates
        np.testing.assert_allclose(sub["excess"], sub["one_minus_km"] - sub["cif"])


# ------------------------------------------------------------------ scale
def _registry(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    arm = rng.integers(0, 2, n)
    lin = 0.3 * x[:, 0] - 0.2 * x[:, 1] + 0.25 * arm
    t1 = rng.exponential(1 / (0.10 * np.exp(lin)))
    t2 = rng.exponential(1 / (0.05 * np.exp(-0.5 * lin)))
    c = rng.uniform(0, 15, n)
    time = np.minimum.reduce([t1, t2, c])
    status = np.where(time == c, 0, np.where(time == t1, 1, 2))
    return pd.DataFrame({"time": time, "status": status, "arm": arm, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})


def test_speed_at_registry_size():
    """10^5 patients, continuous times (as many distinct times as patients): no O(n^2) step anywhere."""
    d = _registry(100_000)
    timings = {}
    t0 = _time.perf_counter()
    ci = cr.cumulative_incidence(d["time"], d["status"], d["arm"], tests=False)
    timings["cuminc_cmprsk"] = _time.perf_counter() - t0
    t0 = _time.perf_counter()
    cr.cumulative_incidence(d["time"], d["status"], d["arm"], variance="survfit", tests=False)
    timings["cuminc_survfit"] = _time.perf_counter() - t0
    t0 = _time.perf_counter()
    g = cr.gray_test(d["time"], d["status"], d["arm"])
    timings["gray"] = _time.perf_counter() - t0
    t0 = _time.perf_counter()
    f = cr.fine_gray(d["time"], d["status"], d[["arm", "x1", "x2", "x3"]], failcode=1)
    timings["fine_gray"] = _time.perf_counter() - t0
    assert len(ci.table) == 2 * sum(d.groupby("arm")["time"].nunique())    # one row per cause and time
    assert f.converged and np.isfinite(g["statistic"]).all()
    assert sum(timings.values()) < 30, timings
