"""Proportional-hazards diagnostics (helpers.stats.cox, end of the module) against R survival 3.5-3 on pbc:
cox.zph(fit, transform, terms = FALSE) residuals, the smooth and band of plot.cox.zph, and piecewise hazard
ratios from a survSplit + coxph fit.

Reference values: tests/reference/r_values/cox_zph_plot.json, written by tests/reference/cox_zph_plot_reference.R
(the plot data are captured from plot.cox.zph's own lines() calls). R is not needed here.
Tolerances: 1e-6 on estimates, 1e-4 on p-values.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.stats import cox

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "r_values" / "cox_zph_plot.json").read_text())
EST, PTOL = 1e-6, 1e-4


def _pbc() -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "pbc.csv")
    d["death"] = (d["status"] == 2).astype(int)
    d["lbili"] = np.log(d["bili"])
    d["edema05"] = (d["edema"] == 0.5).astype(int)
    d["edema1"] = (d["edema"] == 1).astype(int)
    d["months"] = np.ceil(d["time"] / 30.4375)
    d["age2"] = 2 * d["age"]
    return d


PBC = _pbc()
MULTI = ["age", "lbili", "albumin", "edema05", "edema1"]
# model id -> (formula R printed, time column, covariates, ties)
SETUP = {
    "multi_km": ("Surv(time, death) ~ age + lbili + albumin + edema05 + edema1", "time", MULTI, "efron"),
    "multi_identity": ("Surv(time, death) ~ age + lbili + albumin + edema05 + edema1", "time", MULTI, "efron"),
    "multi_rank": ("Surv(time, death) ~ age + lbili + albumin + edema05 + edema1", "time", MULTI, "efron"),
    "multi_log": ("Surv(time, death) ~ age + lbili + albumin + edema05 + edema1", "time", MULTI, "efron"),
    "multi_km_df3": ("Surv(time, death) ~ age + lbili + albumin + edema05 + edema1", "time", MULTI, "efron"),
    "months_km": ("Surv(months, death) ~ age + lbili + albumin", "months", ["age", "lbili", "albumin"], "efron"),
    "months_breslow": ("Surv(months, death) ~ age + lbili + albumin", "months", ["age", "lbili", "albumin"],
                       "breslow"),
    "uni_edema1_km": ("Surv(time, death) ~ edema1", "time", ["edema1"], "efron"),
    "collinear_km": ("Surv(time, death) ~ age + lbili + age2", "time", ["age", "lbili", "age2"], "efron"),
}
ZPH = {c["id"]: c for c in R["zph"]}
_Z: dict[str, cox.ZphResiduals] = {}


def zph(model_id: str) -> cox.ZphResiduals:
    if model_id not in _Z:
        formula, tcol, covs, ties = SETUP[model_id]
        assert ZPH[model_id]["formula"] == formula and ZPH[model_id]["ties"] == ties
        fit = cox.cox_fit(PBC, tcol, "death", covs, ties=ties)
        _Z[model_id] = cox.scaled_schoenfeld(fit, ZPH[model_id]["transform"])
    return _Z[model_id]


def test_every_r_case_has_a_setup():
    assert set(ZPH) == set(SETUP)


# ------------------------------------------------------------------ cox.zph(terms = FALSE)
@pytest.mark.parametrize("model_id", SETUP)
def test_scaled_schoenfeld_match_cox_zph(model_id):
    r, z = ZPH[model_id], zph(model_id)
    assert list(z.y.columns) == r["terms"]
    np.testing.assert_array_equal(z.time, r["time"])
    np.testing.assert_allclose(z.x, r["x"], rtol=0, atol=EST)
    for i, term in enumerate(r["terms"]):
        np.testing.assert_allclose(z.y[term], r["y"][i], rtol=0, atol=EST)
    np.testing.assert_allclose(z.var.to_numpy(), np.array(r["var"], float), rtol=1e-9, atol=EST)
    np.testing.assert_allclose(z.coef, np.array(r["coef"], float)[~np.isnan(np.array(r["coef"], float))],
                               rtol=0, atol=EST)


def test_collinear_coefficient_is_left_out_as_in_r():
    r = ZPH["collinear_km"]
    assert r["coef"][2] is None                        # R: NA for age2
    assert list(zph("collinear_km").y.columns) == ["age", "lbili"]


def test_tied_event_times_share_their_mean():
    """With Efron ties every event at one time has the same mean subtracted: y - beta differ by the scaled x."""
    r = ZPH["months_km"]
    times = np.array(r["time"])
    assert (pd.Series(times).value_counts() > 1).sum() > 20     # heavily tied, as intended
    z = zph("months_km")
    np.testing.assert_allclose(z.y["age"], r["y"][0], rtol=0, atol=EST)


@pytest.mark.parametrize("model_id", SETUP)
def test_zph_table_terms_false_matches(model_id):
    """The existing score test (proportional_hazards_test, terms=False) on the same fits."""
    r = ZPH[model_id]
    formula, tcol, covs, ties = SETUP[model_id]
    fit = cox.cox_fit(PBC, tcol, "death", covs, ties=ties)
    tab = cox.proportional_hazards_test(fit, transform=r["transform"], terms=False)
    assert list(tab.index) == r["table"]["rows"]
    np.testing.assert_allclose(tab["chisq"], r["table"]["chisq"], rtol=0, atol=EST)
    np.testing.assert_allclose(tab["p_value"], r["table"]["p"], rtol=0, atol=PTOL)


# ------------------------------------------------------------------ plot.cox.zph smooth and band
@pytest.mark.parametrize("model_id", SETUP)
def test_smooth_and_band_match_plot_cox_zph(model_id):
    r, z = ZPH[model_id], zph(model_id)
    sm = cox.zph_smooth(z, df=r["df"])
    for i, term in enumerate(r["terms"]):
        s = sm[sm["term"] == term]
        p = r["plot"][i]
        assert len(s) == 40
        drawn = np.exp(s["x"]) if r["transform"] == "log" else s["x"]    # R draws log against exp(grid)
        np.testing.assert_allclose(drawn, p["x_drawn"], rtol=1e-12, atol=EST)
        np.testing.assert_allclose(s["beta"], p["beta"], rtol=0, atol=EST)
        np.testing.assert_allclose(s["upper"], p["upper"], rtol=0, atol=EST)
        np.testing.assert_allclose(s["lower"], p["lower"], rtol=0, atol=EST)
        np.testing.assert_allclose(s["hr"], np.exp(p["beta"]), rtol=EST)
        np.testing.assert_allclose(s["time"], r["grid_time"], rtol=1e-9, atol=EST)


def test_points_frame_is_tidy():
    z = zph("multi_km")
    f = z.frame()
    assert list(f.columns) == ["term", "time", "x", "y"] and len(f) == len(z.time) * 5
    np.testing.assert_allclose(f.loc[f["term"] == "lbili", "y"], ZPH["multi_km"]["y"][1], rtol=0, atol=EST)


def test_singular_spline_is_skipped_as_in_r():
    r = R["singular_spline"]
    assert r["lines_drawn"] == 0 and "singular" in r["warnings"][0]
    small = pd.concat([PBC[PBC["death"] == 1].iloc[:3], PBC[PBC["death"] == 0].iloc[:20]])
    z = cox.scaled_schoenfeld(cox.cox_fit(small, "time", "death", ["age"]))
    np.testing.assert_allclose(z.y["age"], r["y"], rtol=0, atol=EST)
    with pytest.warns(UserWarning, match="singular"):
        sm = cox.zph_smooth(z)
    assert sm["beta"].isna().all()


def test_scaled_schoenfeld_refuses_fits_without_data():
    fit = cox.cox_fit(PBC, "time", "death", ["age"], keep_data=False)
    with pytest.raises(ValueError, match="keep_data"):
        cox.scaled_schoenfeld(fit)
    with pytest.raises(ValueError, match="transform"):
        cox.scaled_schoenfeld(cox.cox_fit(PBC, "time", "death", ["age"]), transform="sqrt")


# ------------------------------------------------------------------ piecewise hazard ratios (survSplit)
@pytest.mark.parametrize("case", R["piecewise"], ids=lambda c: c["id"])
def test_piecewise_hazard_ratio_matches_survsplit_fit(case):
    pw = cox.piecewise_hazard_ratio(PBC, case["time"], "death", case["covariates"], case["cuts"])
    covs, ncut = case["covariates"], len(case["cuts"])
    # R orders the coefficients term by term, then tgroup: age:strata(tgroup)tgroup=1, ...=2, lbili:...
    expected = [f"{c}:strata(tgroup)tgroup={m}" for c in covs for m in range(1, ncut + 2)]
    assert case["terms"] == expected
    t = pw.table.set_index(["term", "interval"]).loc[[(c, m) for c in covs for m in range(1, ncut + 2)]]
    np.testing.assert_allclose(t["coef"], case["coef"], rtol=0, atol=EST)
    np.testing.assert_allclose(t["se"], case["se"], rtol=0, atol=EST)
    np.testing.assert_allclose(t["lower"], case["lower"], rtol=EST, atol=EST)
    np.testing.assert_allclose(t["upper"], case["upper"], rtol=EST, atol=EST)
    np.testing.assert_allclose(t["p_value"], case["p"], rtol=0, atol=PTOL)
    # the partial likelihood factorises: R's joint log-likelihoods are the sums over the intervals
    assert sum(f.loglik for f in pw.fits) == pytest.approx(case["loglik"][1], abs=1e-6)
    assert sum(f.loglik_null for f in pw.fits) == pytest.approx(case["loglik"][0], abs=1e-6)
    assert sum(f.n_events for f in pw.fits) == case["nevent"]
    assert [f.n for f in pw.fits] == case["rows_per_group"]        # survSplit's rows per tgroup


def test_piecewise_events_at_the_cut_belong_to_the_earlier_interval():
    case = next(c for c in R["piecewise"] if c["id"] == "months_cut_at_event_time")
    cut = case["cuts"][0]
    at_cut = int(((PBC["months"] == cut) & (PBC["death"] == 1)).sum())
    assert at_cut > 0                                       # the edge case is really in the data
    pw = cox.piecewise_hazard_ratio(PBC, "months", "death", case["covariates"], cut)
    assert pw.fits[0].n_events == int(((PBC["months"] <= cut) & (PBC["death"] == 1)).sum())


def test_piecewise_refuses_bad_cuts():
    with pytest.raises(ValueError, match="cuts"):
        cox.piecewise_hazard_ratio(PBC, "time", "death", ["age"], [2000, 1000])
    with pytest.raises(ValueError, match="cuts"):
        cox.piecewise_hazard_ratio(PBC, "time", "death", ["age"], 0)


def test_speed_at_registry_size():
    """10^5 patients, continuous times: residuals, smooth and a two-cut piecewise model in a few seconds."""
    import time as _time

    rng = np.random.default_rng(2)
    n = 100_000
    x = rng.normal(size=(n, 3))
    t = rng.exponential(1 / np.exp(0.3 * x[:, 0] - 0.2 * x[:, 1]))
    c = rng.uniform(0, 3, n)
    d = pd.DataFrame({"time": np.minimum(t, c), "ev": (t <= c).astype(int), "a": x[:, 0], "b": x[:, 1],
                      "c": x[:, 2]})
    t0 = _time.perf_counter()
    fit = cox.cox_fit(d, "time", "ev", ["a", "b", "c"])
    z = cox.scaled_schoenfeld(fit)
    sm = cox.zph_smooth(z)
    pw = cox.piecewise_hazard_ratio(d, "time", "ev", ["a", "b", "c"], [0.5, 1.0])
    elapsed = _time.perf_counter() - t0
    assert len(z.time) == int(d["ev"].sum()) and len(sm) == 3 * 40
    assert sum(f.n_events for f in pw.fits) == int(d["ev"].sum())
    assert elapsed < 30, elapsed
