"""lifelines as a second, independent reference for the survival engines (R is the first).

Where lifelines computes what R computes, three implementations agree: R's printed value (tests/reference/
r_values/), lifelines, and ``helpers.stats``. Where lifelines knowingly follows another convention, the test
asserts the difference itself, so that the day lifelines changes its convention this file says so (and
book/methods.md, which names these differences, must change with it):

* Kaplan-Meier CI: lifelines' only interval is the log(-log) ("exponential Greenwood") one; R's default is
  ``conf.type = "log"``. lifelines equals R's ``conf.type = "log-log"`` and differs from R's default.
* Median: lifelines takes the first time S(t) <= 0.5; R's ``print.survfit`` takes the midpoint of a flat
  stretch at exactly 0.5.
* Log-rank: lifelines counts a group without expected events in the degrees of freedom; R's ``survdiff``
  does not.
* RMST: the area is the same; lifelines' ``return_variance=True`` is the variance of min(T, tau) itself
  (a property of the population), not the sampling variance of the estimate that survRM2 reports.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

lifelines = pytest.importorskip("lifelines")
from lifelines import CoxPHFitter, KaplanMeierFitter  # noqa: E402
from lifelines.statistics import logrank_test as ll_logrank, multivariate_logrank_test  # noqa: E402
from lifelines.utils import restricted_mean_survival_time  # noqa: E402

from helpers.stats import cox, rmst, survival  # noqa: E402

REF = Path(__file__).resolve().parent / "reference"
KM = json.loads((REF / "r_values" / "survival_km.json").read_text())
COX = {m["id"]: m for m in json.loads((REF / "r_values" / "survival_cox.json").read_text())["models"]}
RMST = json.loads((REF / "r_values" / "rmst.json").read_text())
LUNG = pd.read_csv(REF / "data" / "lung.csv")
VETERAN = pd.read_csv(REF / "data" / "veteran.csv")
DATA = {"lung": LUNG, "veteran": VETERAN}


def _num(values) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values])


def _km_case(case_id: str):
    case = next(c for c in KM["km"] if c["id"] == case_id)
    src = case["source"]
    d = DATA[src["dataset"]]
    if src.get("subset_col"):
        d = d[d[src["subset_col"]] == src["subset_value"]]
    return case, d[src["time"]].to_numpy(float), (d[src["status"]] == src["event_value"]).to_numpy(int)


def _lifelines_at(kmf: KaplanMeierFitter, times: np.ndarray) -> pd.DataFrame:
    """lifelines' estimate and CI at the given times (its frames are indexed by time, with a row at 0)."""
    frame = pd.concat([kmf.survival_function_, kmf.confidence_interval_], axis=1)
    frame.columns = ["surv", "lower", "upper"]
    return frame.loc[times]


# ------------------------------------------------------------------ Kaplan-Meier
@pytest.mark.parametrize("case_id", ["lung", "lung_male", "lung_female", "veteran"])
def test_kaplan_meier_estimate_agrees_in_all_three(case_id):
    case, time, event = _km_case(case_id)
    r = case["log"]
    ours = survival.kaplan_meier(time, event)
    kmf = KaplanMeierFitter().fit(time, event)
    ll = _lifelines_at(kmf, _num(r["time"]))
    np.testing.assert_allclose(ll["surv"], _num(r["surv"]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.surv, _num(r["surv"]), rtol=0, atol=1e-12)
    # numbers at risk at each time (time >= t, all three)
    table = kmf.event_table.loc[_num(r["time"])]
    assert table["at_risk"].tolist() == r["n_risk"] == ours.n_risk.tolist()


@pytest.mark.parametrize("case_id", ["lung", "veteran"])
def test_kaplan_meier_ci_lifelines_is_r_log_log_not_r_default(case_id):
    case, time, event = _km_case(case_id)
    times = _num(case["log"]["time"])
    ll = _lifelines_at(KaplanMeierFitter().fit(time, event), times)
    loglog = {k: _num(case["log-log"][k]) for k in ("lower", "upper")}
    default = {k: _num(case["log"][k]) for k in ("lower", "upper")}
    ok = np.isfinite(loglog["lower"]) & (ll["surv"].to_numpy() > 0)
    # agreement: lifelines' interval is R's conf.type = "log-log"
    np.testing.assert_allclose(ll["lower"].to_numpy()[ok], loglog["lower"][ok], rtol=1e-9)
    np.testing.assert_allclose(ll["upper"].to_numpy()[ok], loglog["upper"][ok], rtol=1e-9)
    # the known difference: R's (and the book's) default, conf.type = "log", is another interval
    ours = survival.kaplan_meier(time, event)
    np.testing.assert_allclose(ours.lower[ok], default["lower"][ok], rtol=1e-9)
    assert np.max(np.abs(ll["lower"].to_numpy()[ok] - default["lower"][ok])) > 0.01
    assert np.max(np.abs(ll["upper"].to_numpy()[ok] - np.minimum(default["upper"][ok], 1))) > 0.005


def test_median_lifelines_has_no_midpoint_rule():
    case = next(c for c in KM["km"] if c["id"] == "plateau_half")
    time, event = _num(case["source"]["time"]), np.array(case["source"]["event"])
    r_median = float(case["log"]["print_median"][0])
    assert r_median == 2.5                                           # R: S = 0.5 on [2, 3): the midpoint
    assert survival.kaplan_meier(time, event).median().estimate == r_median
    assert KaplanMeierFitter().fit(time, event).median_survival_time_ == 2.0   # lifelines: first S <= 0.5


@pytest.mark.parametrize("case_id", ["lung", "veteran"])
def test_median_agrees_without_a_plateau_at_one_half(case_id):
    case, time, event = _km_case(case_id)
    r_median = float(case["log"]["print_median"][0])
    assert KaplanMeierFitter().fit(time, event).median_survival_time_ == r_median
    assert survival.kaplan_meier(time, event).median().estimate == r_median


# ------------------------------------------------------------------ log-rank
@pytest.mark.parametrize("case_id", ["lung_sex", "lung_ecog", "veteran_trt", "veteran_celltype"])
def test_logrank_agrees_in_all_three(case_id):
    case = next(c for c in KM["logrank"] if c["id"] == case_id)
    src = case["source"]
    d = DATA[src["dataset"]].dropna(subset=[src["group"]])
    t, e, g = d[src["time"]].to_numpy(float), (d[src["status"]] == src["event_value"]).to_numpy(int), d[src["group"]]
    r_chisq = float(case["chisq"])
    if len(case["levels"]) == 2:
        a = (g == g.unique()[0]).to_numpy()
        ll = ll_logrank(t[a], t[~a], e[a], e[~a])
    else:
        ll = multivariate_logrank_test(t, g.to_numpy(), e)
    assert ll.test_statistic == pytest.approx(r_chisq, rel=1e-9)
    assert ll.degrees_of_freedom == case["df"]
    ours = survival.logrank_test(t, e, g.astype(str).to_numpy())
    assert ours.chisq == pytest.approx(r_chisq, rel=1e-9)
    assert ll.p_value == pytest.approx(float(case["p_value"]), rel=1e-7)


def test_logrank_lifelines_counts_a_group_without_expected_events():
    case = next(c for c in KM["logrank"] if c["id"] == "group_without_expected")
    src = case["source"]
    t, e, g = _num(src["time"]), np.array(src["event"]), np.array(src["group"])
    ours = survival.logrank_test(t, e, g)
    assert (ours.df, ours.chisq) == (case["df"], pytest.approx(float(case["chisq"]), rel=1e-9))   # R: df 1
    ll = multivariate_logrank_test(t, g, e)
    assert ll.degrees_of_freedom == 2            # lifelines: every group, so another p-value
    assert ll.test_statistic == pytest.approx(float(case["chisq"]), rel=1e-9)
    assert ll.p_value != pytest.approx(float(case["p_value"]), rel=1e-3)


# ------------------------------------------------------------------ Cox (Efron)
def _lung_cox_frame() -> pd.DataFrame:
    d = LUNG.copy()
    d["dead"] = (d["status"] == 2).astype(int)
    d["female"] = (d["sex"] == 2).astype(int)
    return d


@pytest.mark.parametrize("model,covariates", [("lung_uni_female", ["female"]), ("lung_uni_age", ["age"])])
def test_cox_efron_agrees_in_all_three(model, covariates):
    r = COX[model]
    d = _lung_cox_frame()[["time", "dead", *covariates]].dropna()
    cph = CoxPHFitter(penalizer=0.0).fit(d, "time", "dead")
    ours = cox.cox_fit(d, "time", "dead", covariates)
    # lifelines' Newton stops at |step| < 1e-7 (R: relative change of the log-likelihood < 1e-9): 1e-5
    np.testing.assert_allclose(cph.params_[covariates].to_numpy(), r["coef"], atol=1e-5)
    np.testing.assert_allclose(cph.standard_errors_[covariates].to_numpy(), r["se"], atol=1e-5)
    np.testing.assert_allclose(ours.table["coef"].to_numpy(), r["coef"], atol=1e-8)
    assert cph.log_likelihood_ == pytest.approx(r["loglik"][1], abs=1e-6)


# ------------------------------------------------------------------ RMST
@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
def test_rmst_area_agrees_but_lifelines_variance_is_not_survrm2s():
    c = next(c for c in RMST["comparisons"] if c["id"] == "lung_female_floor")
    d = _lung_cox_frame()
    arm1 = d[d["female"] == 1]
    r = c["arm1"]
    kmf = KaplanMeierFitter().fit(arm1["time"], arm1["dead"])
    area, variance = restricted_mean_survival_time(kmf, t=c["tau"], return_variance=True)
    ours = rmst.rmst(arm1["time"].to_numpy(float), arm1["dead"].to_numpy(int), c["tau"])
    assert area == pytest.approx(r["rmst"], rel=1e-9)
    assert ours.rmst == pytest.approx(r["rmst"], rel=1e-9)
    assert ours.variance == pytest.approx(r["var"], rel=1e-8)
    # the known difference: lifelines' variance is Var(min(T, tau)) = 2 int_0^tau t S(t) dt - RMST^2, a
    # spread of the restricted times (SD 264 days), not the variance of the estimate
    # (survRM2: SE 32.9 days); the RMST's SE must come from survRM2's formula
    t_grid = np.r_[0.0, kmf.survival_function_.index[kmf.survival_function_.index <= c["tau"]], c["tau"]]
    surv = kmf.survival_function_at_times(t_grid[:-1]).to_numpy()
    second_moment = np.sum(surv * (t_grid[1:] ** 2 - t_grid[:-1] ** 2))   # int_0^tau 2 t S(t) dt, S a step
    assert variance == pytest.approx(second_moment - r["rmst"] ** 2, rel=1e-3)  # lifelines integrates by quad
    assert variance / r["var"] > 50
