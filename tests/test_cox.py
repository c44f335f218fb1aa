"""Cox models (helpers.stats.cox) against R survival 3.5-3: coxph (Efron), summary.coxph, cox.zph.

Reference values: tests/reference/r_values/survival_cox.json, written by
tests/reference/survival_cox_reference.R from the data sets in tests/reference/data/. R is not needed here.
Tolerances: 1e-6 on estimates (coef, se, HR, CI, test statistics), 1e-4 on p-values.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.stats import cox, design

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "r_values" / "survival_cox.json").read_text())
MODELS = {m["id"]: m for m in R["models"]}
EST, PTOL = 1e-6, 1e-4


def arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


# ------------------------------------------------------------------ data, derived as in the R script
def _lung() -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "lung_full.csv")
    d["dead"] = (d["status"] == 2).astype(int)
    d["female"] = (d["sex"] == 2).astype(int)
    d["ecog3"] = np.where(d["ph.ecog"].isna(), np.nan, np.minimum(d["ph.ecog"], 2))
    d["ecog3"] = d["ecog3"].map({0.0: "0", 1.0: "1", 2.0: "2+"})
    d["months"] = np.ceil(d["time"] / 30)
    d["nodeath"] = 0
    d.loc[np.flatnonzero(d["dead"] == 0)[:15], "nodeath"] = 1
    d["const"] = 1.0
    d["age2"] = 2 * d["age"]
    dm = design.design_matrix(d, {"ecog3": ("categorical", ["0", "1", "2+"], "0")})
    d = pd.concat([d, dm.frame], axis=1)
    dm1 = design.design_matrix(d, {"ecog3": ("categorical", ["0", "1", "2+"], "1")}, sep="_ref1_")
    return pd.concat([d, dm1.frame], axis=1)


def _veteran() -> tuple[pd.DataFrame, design.DesignMatrix]:
    d = pd.read_csv(REF / "data" / "veteran.csv")
    d["trt2"] = (d["trt"] == 2).astype(int)
    d["prior10"] = (d["prior"] == 10).astype(int)
    dm = design.design_matrix(d, {"celltype": ("categorical", ["squamous", "smallcell", "adeno", "large"], None)})
    d = pd.concat([d, dm.frame], axis=1)
    for col in dm.variables["celltype"]:          # trt2 * celltype, as R's model matrix builds it
        d[f"trt2:{col}"] = d["trt2"] * d[col]
    return d, dm


def _ovarian() -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "ovarian.csv")
    d["rx2"] = (d["rx"] == 2).astype(int)
    d["resid2"] = (d["resid.ds"] == 2).astype(int)
    d["ecog2"] = (d["ecog.ps"] == 2).astype(int)
    return d


LUNG = _lung()
VET, VET_DM = _veteran()
OVARIAN = _ovarian()
ECOG = ["ecog31", "ecog32+"]
ECOG_REF1 = ["ecog3_ref1_0", "ecog3_ref1_2+"]
CELL = VET_DM.variables["celltype"]

# model id -> (data, time, event, covariates, groups (variable -> columns), kwargs)
SETUP = {
    "lung_uni_female": (LUNG, "time", "dead", ["female"], None, {}),
    "lung_uni_age": (LUNG, "time", "dead", ["age"], None, {}),
    "lung_uni_ecog3": (LUNG, "time", "dead", ECOG, {"ecog3": ECOG}, {}),
    "lung_uni_wtloss": (LUNG, "time", "dead", ["wt.loss"], None, {}),
    "lung_multi": (LUNG, "time", "dead", ["female", "age", *ECOG, "wt.loss"],
                   {"female": ["female"], "age": ["age"], "ecog3": ECOG, "wt.loss": ["wt.loss"]}, {}),
    "lung_multi_ref1": (LUNG, "time", "dead", ["female", "age", *ECOG_REF1],
                        {"female": ["female"], "age": ["age"], "ecog3": ECOG_REF1}, {}),
    "lung_months_ties": (LUNG, "months", "dead", ["female", "age", *ECOG, "ph.karno"],
                         {"female": ["female"], "age": ["age"], "ecog3": ECOG, "ph.karno": ["ph.karno"]}, {}),
    "lung_months_breslow": (LUNG, "months", "dead", ["female", "age", *ECOG, "ph.karno"],
                            {"female": ["female"], "age": ["age"], "ecog3": ECOG, "ph.karno": ["ph.karno"]},
                            {"ties": "breslow", "robust": True}),
    "lung_robust": (LUNG, "time", "dead", ["female", "age", *ECOG], None, {"robust": True}),
    "lung_months_robust": (LUNG, "months", "dead", ["female", "age", *ECOG], None, {"robust": True}),
    "veteran_multi": (VET, "time", "status", ["trt2", *CELL, "karno", "age", "prior10"],
                      {"trt2": ["trt2"], "celltype": CELL, "karno": ["karno"], "age": ["age"],
                       "prior10": ["prior10"]}, {}),
    "ovarian_multi": (OVARIAN, "futime", "fustat", ["rx2", "age", "resid2", "ecog2"], None, {}),
    "lung_months_codes": (LUNG, "months", "dead", ["female", *ECOG], {"female": ["female"], "ecog3": ECOG}, {}),
    "lung_months_codes_breslow": (LUNG, "months", "dead", ["female", *ECOG], None,
                                  {"ties": "breslow", "robust": True}),
    "veteran_trt_by_celltype": (VET, "time", "status", ["trt2", *CELL, *[f"trt2:{c}" for c in CELL]], None, {}),
    "lung_infinite": (LUNG, "time", "dead", ["nodeath", "age"], None, {}),
    "lung_constant": (LUNG, "time", "dead", ["age", "const", "female"], None, {}),
    "lung_collinear": (LUNG, "time", "dead", ["age", "female", "age2"], None, {}),
}
_FITS: dict[str, cox.CoxResult] = {}


def fit(model_id: str) -> cox.CoxResult:
    if model_id not in _FITS:
        data, time, event, covs, groups, kw = SETUP[model_id]
        _FITS[model_id] = cox.cox_fit(data, time, event, covs, groups=groups, **kw)
    return _FITS[model_id]


def test_every_r_model_has_a_python_setup():
    assert set(MODELS) == set(SETUP)


# ------------------------------------------------------------------ coxph
REGULAR = [m for m in SETUP if m not in ("lung_infinite", "lung_constant", "lung_collinear")]


@pytest.mark.parametrize("model_id", REGULAR)
def test_coefficients_match_r(model_id):
    r, f = MODELS[model_id], fit(model_id)
    t = f.table
    assert list(t["term"]) == [c for c in SETUP[model_id][3]]
    assert f.n == r["n"] and f.n_events == r["nevent"]
    np.testing.assert_allclose(t["coef"], arr(r["coef"]), rtol=0, atol=EST)
    np.testing.assert_allclose(t["se"], arr(r["se"]), rtol=0, atol=EST)
    np.testing.assert_allclose(t["hr"], arr(r["hr"]), rtol=EST, atol=EST)
    np.testing.assert_allclose(t["lower"], arr(r["lower"]), rtol=EST, atol=EST)
    np.testing.assert_allclose(t["upper"], arr(r["upper"]), rtol=EST, atol=EST)
    np.testing.assert_allclose(t["z"], arr(r["z"]), rtol=0, atol=EST)
    np.testing.assert_allclose(t["p_value"], arr(r["p"]), rtol=0, atol=PTOL)
    assert t["estimable"].all() and not f.warnings
    assert f.converged and f.iterations == r["iter"]


@pytest.mark.parametrize("model_id", REGULAR)
def test_global_tests_loglik_and_concordance_match_r(model_id):
    r, f = MODELS[model_id], fit(model_id)
    np.testing.assert_allclose([f.loglik_null, f.loglik], r["loglik"], rtol=0, atol=EST)
    for name, key in (("likelihood_ratio", "lr_test"), ("wald", "wald_test"), ("score", "score_test")):
        stat, df, p = r[key]
        assert f.tests.loc[name, "statistic"] == pytest.approx(stat, abs=EST)
        assert f.tests.loc[name, "df"] == df
        assert f.tests.loc[name, "p_value"] == pytest.approx(p, abs=PTOL)
    c = f.concordance_counts
    got = [c["concordant"], c["discordant"], c["tied_x"], c["tied_y"], c["tied_xy"]]
    assert got == [int(v) for v in r["concordance"][:5]]
    assert f.concordance == pytest.approx(r["concordance"][5], abs=1e-12)


@pytest.mark.parametrize("model_id", ["lung_robust", "lung_months_robust", "lung_months_breslow",
                                      "lung_months_codes_breslow"])
def test_robust_variance_matches_r(model_id):
    r, f = MODELS[model_id], fit(model_id)
    np.testing.assert_allclose(f.table["se"], arr(r["robust_se"]), rtol=0, atol=EST)
    np.testing.assert_allclose(f.table["naive_se"], arr(r["naive_se"]), rtol=0, atol=EST)
    stat, df, p = r["robust_test"]
    assert f.tests.loc["robust_score", "statistic"] == pytest.approx(stat, abs=EST)
    assert f.tests.loc["robust_score", "p_value"] == pytest.approx(p, abs=PTOL)


def test_lifelines_agrees_on_efron_fit():
    """Cross-check with lifelines (Efron, no penalty); its Newton stops at |step| < 1e-7, hence 1e-5."""
    from lifelines import CoxPHFitter

    data, time, event, covs, _, _ = SETUP["lung_multi"]
    d = data[[time, event, *covs]].dropna()
    cph = CoxPHFitter(penalizer=0.0).fit(d, time, event)
    f = fit("lung_multi")
    np.testing.assert_allclose(cph.params_[covs].to_numpy(), f.table["coef"], atol=1e-5)
    np.testing.assert_allclose(cph.standard_errors_[covs].to_numpy(), f.table["se"], atol=1e-5)
    assert cph.log_likelihood_ == pytest.approx(f.loglik, abs=1e-6)


# ------------------------------------------------------------------ edge cases, as R
def test_infinite_coefficient_is_flagged_ne_like_r():
    r, f = MODELS["lung_infinite"], fit("lung_infinite")
    assert any("coefficient may be infinite" in w for w in r["warnings"])
    row = f.table.set_index("term").loc["nodeath"]
    assert not row["estimable"] and row["note"] == "NE"
    assert row["coef"] < -10 and any("nodeath" in w for w in f.warnings)
    # same iterations as R, so the same (meaningless) huge estimate; the finite term is still right
    assert f.iterations == r["iter"]
    assert row["coef"] == pytest.approx(r["coef"][0], abs=1e-4)
    assert f.table.set_index("term").loc["age", "coef"] == pytest.approx(r["coef"][1], abs=EST)
    assert f.table.set_index("term").loc["age", "estimable"]


@pytest.mark.parametrize("model_id,bad", [("lung_constant", "const"), ("lung_collinear", "age2")])
def test_constant_or_collinear_covariate_is_na_like_r(model_id, bad):
    r, f = MODELS[model_id], fit(model_id)
    t = f.table.set_index("term")
    assert r["coef"][r["terms"].index(bad)] is None
    assert math.isnan(t.loc[bad, "coef"]) and not t.loc[bad, "estimable"] and t.loc[bad, "note"].startswith("NA")
    ok = [c for c in r["terms"] if c != bad]
    np.testing.assert_allclose(t.loc[ok, "coef"], [r["coef"][r["terms"].index(c)] for c in ok], atol=EST)
    np.testing.assert_allclose(t.loc[ok, "p_value"], [r["p"][r["terms"].index(c)] for c in ok], atol=PTOL)
    assert f.tests.loc["wald", "df"] == 2
    assert f.tests.loc["likelihood_ratio", "statistic"] == pytest.approx(r["lr_test"][0], abs=EST)
    assert any(bad in w for w in f.warnings)


def test_perfect_separation_in_a_two_arm_model_gives_ne_not_a_crash():
    # every event in arm 0; arm 1 all censored -> HR for arm 1 is 0 (coef -> -inf)
    d = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6, 7, 8], "event": [1, 1, 1, 1, 0, 0, 0, 0],
                      "arm": [0, 0, 0, 0, 1, 1, 1, 1]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warnings leak out
        f = cox.cox_fit(d, "time", "event", ["arm"])
    row = f.table.iloc[0]
    assert row["note"] == "NE" and not row["estimable"] and f.warnings


def test_no_events_gives_na_like_r():
    d = pd.DataFrame({"time": [1.0, 2, 3, 4], "event": [0, 0, 0, 0], "x": [1.0, 0, 1, 0]})
    f = cox.cox_fit(d, "time", "event", ["x"])
    assert f.n_events == 0 and f.table["coef"].isna().all() and not f.table["estimable"].any()
    assert f.table["note"].iloc[0] == "NA: no events" and f.warnings
    assert f.tests.loc["likelihood_ratio", "p_value"] == 1.0
    with pytest.raises(ValueError, match="no events"):
        cox.proportional_hazards_test(f)


def test_errors_are_clear():
    d = pd.DataFrame({"time": [1.0, 2, 3], "event": [0, 0, 0], "x": [1.0, 2, 3]})
    with pytest.raises(ValueError, match="no covariates"):
        cox.cox_fit(d.assign(event=1), "time", "event", [])
    with pytest.raises(KeyError, match="zz"):
        cox.cox_fit(d, "time", "event", ["zz"])
    with pytest.raises(ValueError, match="0/1"):
        cox.cox_fit(d.assign(event=2), "time", "event", ["x"])
    with pytest.raises(ValueError, match="negative"):
        cox.cox_fit(d.assign(event=1, time=[-1.0, 2, 3]), "time", "event", ["x"])
    with pytest.raises(ValueError, match="no rows"):
        cox.cox_fit(d.assign(x=np.nan), "time", "event", ["x"])


# ------------------------------------------------------------------ hand checks
def test_hand_computed_mle_without_ties():
    # times 1, 2, 3 all events, x = 0, 1, 0: logL = -log(u + 2) + b - log(u + 1), u = e^b -> u^2 = 2
    d = pd.DataFrame({"time": [1.0, 2, 3], "event": [1, 1, 1], "x": [0.0, 1, 0]})
    f = cox.cox_fit(d, "time", "event", ["x"])
    u = math.sqrt(2)
    p1, p2 = u / (u + 2), u / (u + 1)
    info = p1 * (1 - p1) + p2 * (1 - p2)
    assert f.table["coef"].iloc[0] == pytest.approx(0.5 * math.log(2), abs=1e-9)
    assert f.table["se"].iloc[0] == pytest.approx(1 / math.sqrt(info), abs=1e-9)
    assert f.loglik == pytest.approx(-math.log(u + 2) + math.log(u) - math.log(u + 1), abs=1e-12)


def test_hand_computed_efron_ties():
    # two deaths at t = 1 (x = 1 and 0), one at t = 2 (x = 0): Efron denominators u + 2 and (u + 3) / 2,
    # score 1 - u/(u+2) - u/(u+3) = 0  ->  u^2 = 6
    d = pd.DataFrame({"time": [1.0, 1, 2], "event": [1, 1, 1], "x": [1.0, 0, 0]})
    f = cox.cox_fit(d, "time", "event", ["x"])
    assert f.table["coef"].iloc[0] == pytest.approx(0.5 * math.log(6), abs=1e-9)
    u = math.sqrt(6)
    assert f.loglik == pytest.approx(math.log(u) - math.log(u + 2) - math.log((u + 3) / 2), abs=1e-12)


def test_score_test_equals_logrank_without_ties():
    rng = np.random.default_rng(7)
    n = 60
    t = rng.permutation(np.arange(1, n + 1)).astype(float)
    e = rng.integers(0, 2, n)
    g = rng.integers(0, 2, n).astype(float)
    f = cox.cox_fit(pd.DataFrame({"t": t, "e": e, "g": g}), "t", "e", ["g"])
    # log-rank by hand: sum over event times of (O - E) and hypergeometric variance
    o_e, v = 0.0, 0.0
    for ti in np.sort(t[e == 1]):
        risk = t >= ti
        n_r, n1 = risk.sum(), (risk & (g == 1)).sum()
        d1 = ((t == ti) & (e == 1) & (g == 1)).sum()
        o_e += d1 - n1 / n_r
        v += n1 / n_r * (1 - n1 / n_r)
    assert f.tests.loc["score", "statistic"] == pytest.approx(o_e ** 2 / v, rel=1e-10)


def test_missing_rows_are_dropped_and_counted():
    f = fit("lung_multi")
    assert f.n == 213 and f.n_dropped == len(LUNG) - 213


def test_row_order_does_not_matter():
    data, time, event, covs, groups, _ = SETUP["lung_months_ties"]
    shuffled = data.sample(frac=1, random_state=3)
    a, b = fit("lung_months_ties"), cox.cox_fit(shuffled, time, event, covs)
    np.testing.assert_allclose(a.table["coef"], b.table["coef"], atol=1e-12)
    np.testing.assert_allclose(a.table["se"], b.table["se"], atol=1e-12)


# ------------------------------------------------------------------ 0/1 designs summed by covariate pattern
PATTERN_MODELS = ["lung_uni_female", "lung_uni_ecog3", "lung_months_codes", "lung_months_codes_breslow",
                  "veteran_trt_by_celltype"]


@pytest.mark.parametrize("model_id", PATTERN_MODELS)
def test_code_designs_take_the_pattern_sums_and_match_the_row_sums(model_id):
    """These R-checked models (test_coefficients_match_r) go through _PatternSums; forcing the row-by-row
    sums gives the same fit to rounding."""
    data, time, event, covs, groups, kw = SETUP[model_id]
    f = fit(model_id)
    assert isinstance(cox._PatternSums.build(f._data["cd"], f._data["cd"].x), cox._PatternSums)
    rows = cox.cox_fit(data, time, event, covs, groups=groups, use_patterns=False, **kw)
    np.testing.assert_allclose(f.table["coef"], rows.table["coef"], rtol=1e-10)
    np.testing.assert_allclose(f.table["se"], rows.table["se"], rtol=1e-10)
    assert f.loglik == pytest.approx(rows.loglik, rel=1e-13) and f.iterations == rows.iterations


@pytest.mark.parametrize("seed", range(12))
def test_pattern_sums_agree_with_row_sums_on_random_designs(seed):
    """Arm, factor dummies, interactions and a -1/1 code; untied, tied and heavily tied times; Efron and
    Breslow: both ways of summing give the same likelihood, score and information."""
    rng = np.random.default_rng(seed)
    n, levels = int(rng.integers(30, 2000)), int(rng.integers(2, 5))
    arm = rng.integers(0, 2, n)
    lev = rng.integers(0, levels, n)
    t = rng.exponential(10, n) * np.exp(-0.4 * arm + 0.2 * lev)
    t = [t, np.ceil(t), np.ceil(t / 5)][seed % 3]
    d = pd.DataFrame({"time": t, "event": (rng.random(n) < 0.6).astype(int), "arm": arm,
                      "pm": np.where(rng.random(n) < 0.5, -1, 1)})
    covs = ["arm", "pm"]
    for j in range(1, levels):
        d[f"l{j}"] = (lev == j).astype(int)
        d[f"arm:l{j}"] = arm * d[f"l{j}"]
        covs += [f"l{j}", f"arm:l{j}"]
    ties = "breslow" if seed % 4 == 0 else "efron"
    a = cox.cox_fit(d, "time", "event", covs, ties=ties)
    b = cox.cox_fit(d, "time", "event", covs, ties=ties, use_patterns=False)
    assert isinstance(cox._PatternSums.build(a._data["cd"], a._data["cd"].x), cox._PatternSums)
    np.testing.assert_allclose(a.table["coef"], b.table["coef"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.table["se"], b.table["se"], rtol=1e-9)
    np.testing.assert_allclose(a.tests["statistic"], b.tests["statistic"], rtol=1e-8)
    assert a.iterations == b.iterations


def test_many_patterns_or_non_codes_use_the_row_sums():
    rng = np.random.default_rng(2)
    n = 500
    d = pd.DataFrame({"time": rng.exponential(1, n), "event": 1, "x": rng.normal(size=n)})
    for j in range(6):                                  # 2^6 = 64 patterns > MAX_PATTERNS
        d[f"b{j}"] = rng.integers(0, 2, n)
    f = cox.cox_fit(d, "time", "event", [f"b{j}" for j in range(6)])
    assert cox._PatternSums.build(f._data["cd"], f._data["cd"].x) is None
    g = cox.cox_fit(d, "time", "event", ["x", "b0"])
    assert not np.all(np.isin(g._data["cd"].x, (-1, 0, 1)))   # scaled continuous column: no patterns


def test_rows_sorted_once_give_the_same_fit():
    """sort_for_cox puts rows in the order cox_fit stores them; fitting the sorted rows (or a boolean
    subset of them) gives the fit of the unsorted rows (to rounding: the covariate means used for
    centring are summed in another order), without sorting again."""
    data, time, event, covs, groups, _ = SETUP["lung_months_ties"]
    order = cox.sort_for_cox(data[time])
    assert np.all(np.diff(data[time].to_numpy()[order]) <= 0)
    presorted = data.iloc[order].reset_index(drop=True)
    for use_patterns in (True, False):
        a = cox.cox_fit(data, time, event, covs, use_patterns=use_patterns)
        b = cox.cox_fit(presorted, time, event, covs, use_patterns=use_patterns)
        pd.testing.assert_frame_equal(a.table, b.table, check_exact=False, rtol=1e-12)
    female = (data["female"] == 1).to_numpy()
    a = cox.cox_fit(data[female], time, event, ["age"])
    b = cox.cox_fit(presorted[female[order]], time, event, ["age"])
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=False, rtol=1e-12)


# ------------------------------------------------------------------ design matrix
def test_design_matrix_names_and_mapping():
    dm = design.design_matrix(LUNG, {"ecog3": {"kind": "categorical", "levels": ["0", "1", "2+"], "reference": "1"},
                                  "age": "numeric"})
    assert list(dm.frame.columns) == ["ecog30", "ecog32+", "age"]
    assert dm.terms["ecog30"] == ("ecog3", "0") and dm.terms["age"] == ("age", None)
    assert dm.variables == {"ecog3": ["ecog30", "ecog32+"], "age": ["age"]}
    assert dm.reference == {"ecog3": "1", "age": None}
    missing = LUNG["ecog3"].isna()
    assert dm.frame.loc[missing, "ecog30"].isna().all()
    assert dm.frame.loc[~missing, ["ecog30", "ecog32+"]].sum(axis=1).le(1).all()
    # default levels are sorted, reference = first, numbers and strings match ("1" == 1.0)
    dm2 = design.design_matrix(pd.DataFrame({"k": [2.0, 1.0, 3.0, 1.0]}), {"k": "categorical"})
    assert list(dm2.frame.columns) == ["k2", "k3"] and dm2.reference["k"] == "1"


def test_design_matrix_errors():
    d = pd.DataFrame({"k": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="not among its levels"):
        design.design_matrix(d, {"k": ("categorical", ["a", "b"], None)})
    with pytest.raises(ValueError, match="reference level"):
        design.design_matrix(d, {"k": ("categorical", ["a", "b", "c"], "z")})
    with pytest.raises(KeyError):
        design.design_matrix(d, {"nope": "numeric"})


def test_table_variable_and_level_come_from_design_terms():
    dm = design.design_matrix(VET, {"celltype": ("categorical", ["squamous", "smallcell", "adeno", "large"], None),
                                 "karno": "numeric"})
    data = dm.with_columns(VET, ["time", "status"])
    f = cox.cox_fit(data, "time", "status", list(dm.terms), terms=dm.terms)
    assert list(f.table["variable"]) == ["celltype"] * 3 + ["karno"]
    assert list(f.table["level"]) == ["smallcell", "adeno", "large", None]
    assert f.groups == {"celltype": CELL, "karno": ["karno"]}


# ------------------------------------------------------------------ univariate screen
def test_screen_matches_r_any_term():
    scr = R["screen"]
    candidates = {"female": ["female"], "age": ["age"], "ecog3": ECOG, "wt.loss": ["wt.loss"],
                  "ph.karno": ["ph.karno"], "meal.cal": ["meal.cal"]}
    res = cox.univariate_then_multivariate(LUNG, "time", "dead", candidates, entry_p=scr["entry_p"])
    assert res.selected == scr["selected"]
    for u in scr["univariate"]:
        rows = res.univariate[res.univariate["model_variable"] == u["variable"]]
        assert list(rows["term"]) == u["terms"]
        np.testing.assert_allclose(rows["p_value"], u["p"], atol=PTOL)
        assert rows["global_wald_p"].iloc[0] == pytest.approx(u["wald_p"], abs=PTOL)
        assert rows["n"].iloc[0] == u["n"]
    m = res.multivariate
    assert list(m.table["term"]) == scr["multivariate"]["terms"] and m.n == scr["multivariate"]["n"]
    np.testing.assert_allclose(m.table["coef"], scr["multivariate"]["coef"], atol=EST)
    np.testing.assert_allclose(m.table["se"], scr["multivariate"]["se"], atol=EST)
    np.testing.assert_allclose(m.table["p_value"], scr["multivariate"]["p"], atol=PTOL)
    assert list(m.table["variable"]) == ["female", "age", "ecog3", "ecog3", "ph.karno"]
    assert m.groups["ecog3"] == ECOG


def test_screen_rules_and_forced():
    candidates = {"female": ["female"], "ecog3": ECOG, "wt.loss": ["wt.loss"]}
    # ecog3: term "1 vs 0" has p = 0.064, "2+ vs 0" p < 0.001 and the joint Wald p = 0.0001, so at
    # entry_p = 0.01 both rules select it; wt.loss (p = 0.83) is selected only when forced
    a = cox.univariate_then_multivariate(LUNG, "time", "dead", candidates, entry_p=0.01, rule="any_term")
    g = cox.univariate_then_multivariate(LUNG, "time", "dead", candidates, entry_p=0.01, rule="global_wald")
    assert a.selected == ["female", "ecog3"] and g.selected == ["female", "ecog3"]
    f = cox.univariate_then_multivariate(LUNG, "time", "dead", candidates, entry_p=0.1, forced=["wt.loss"])
    assert f.selected == ["female", "ecog3", "wt.loss"]
    assert f.univariate.set_index("term").loc["wt.loss", "selected"]
    with pytest.raises(ValueError, match="rule"):
        cox.univariate_then_multivariate(LUNG, "time", "dead", candidates, rule="stepwise")
    with pytest.raises(ValueError, match="forced"):
        cox.univariate_then_multivariate(LUNG, "time", "dead", candidates, forced=["nope"])


def test_any_term_versus_global_wald_can_differ():
    # a 3-level factor where one term is borderline: joint test p differs from the smallest term p
    rng = np.random.default_rng(11)
    n = 300
    lvl = rng.integers(0, 3, n)
    t = rng.exponential(np.exp(-0.35 * (lvl == 2)))
    d = pd.DataFrame({"time": t, "event": 1, "l1": (lvl == 1) * 1.0, "l2": (lvl == 2) * 1.0})
    fitted = cox.cox_fit(d, "time", "event", ["l1", "l2"])
    p_terms = fitted.table["p_value"].min()
    p_global = fitted.tests.loc["wald", "p_value"]
    cut = (p_terms + p_global) / 2
    a = cox.univariate_then_multivariate(d, "time", "event", {"lvl": ["l1", "l2"]}, entry_p=cut)
    g = cox.univariate_then_multivariate(d, "time", "event", {"lvl": ["l1", "l2"]}, entry_p=cut,
                                         rule="global_wald")
    assert (a.selected == ["lvl"]) != (g.selected == ["lvl"])


# ------------------------------------------------------------------ cox.zph
ZPH = R["zph"]


@pytest.mark.parametrize("z", ZPH, ids=[f"{z['model']}-{z['transform']}-{'terms' if z['terms'] else 'cols'}"
                                        for z in ZPH])
def test_cox_zph_matches_r(z):
    tab = cox.proportional_hazards_test(fit(z["model"]), transform=z["transform"], terms=z["terms"])
    rows = [r.replace("ecog3_ref1_", "ecog3") for r in tab.index]
    assert rows == z["rows"]
    np.testing.assert_allclose(tab["chisq"], z["chisq"], rtol=1e-8, atol=EST)
    np.testing.assert_allclose(tab["df"], z["df"])
    np.testing.assert_allclose(tab["p_value"], z["p"], atol=PTOL)


def test_cox_zph_is_invariant_to_covariate_scale():
    data, time, event, covs, groups, _ = SETUP["lung_multi"]
    scaled = data.assign(age=data["age"] * 10 + 3)
    a = cox.proportional_hazards_test(fit("lung_multi"))
    b = cox.proportional_hazards_test(cox.cox_fit(scaled, time, event, covs, groups=groups))
    np.testing.assert_allclose(a["chisq"], b["chisq"], rtol=1e-9)


def test_cox_zph_drops_na_coefficients_and_rejects_bad_transform():
    tab = cox.proportional_hazards_test(fit("lung_constant"))
    assert list(tab.index) == ["age", "female", "GLOBAL"]
    with pytest.raises(ValueError, match="transform"):
        cox.proportional_hazards_test(fit("lung_uni_age"), transform="spline")


# ------------------------------------------------------------------ scale
def test_large_fit_is_fast_and_consistent():
    import time as _time

    rng = np.random.default_rng(5)
    n = 100_000
    x = rng.normal(size=(n, 3))
    t = np.round(rng.exponential(np.exp(-(0.5 * x[:, 0] - 0.2 * x[:, 1]))), 3)   # rounding -> ties
    c = rng.uniform(0, 3, n)
    d = pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int), "x1": x[:, 0], "x2": x[:, 1],
                      "x3": x[:, 2]})
    start = _time.perf_counter()
    f = cox.cox_fit(d, "time", "event", ["x1", "x2", "x3"], compute_concordance=False)
    assert _time.perf_counter() - start < 5
    np.testing.assert_allclose(f.table["coef"], [0.5, -0.2, 0.0], atol=0.03)


def test_fits_without_kept_data_give_the_same_table_and_refuse_a_ph_test():
    data, time, event, covs, groups, _ = SETUP["lung_multi"]
    lean = cox.cox_fit(data, time, event, covs, groups=groups, keep_data=False)
    pd.testing.assert_frame_equal(lean.table, fit("lung_multi").table)
    with pytest.raises(ValueError, match="keep_data=True"):
        cox.proportional_hazards_test(lean)
    screen = cox.univariate_then_multivariate(LUNG, "time", "dead", {"female": ["female"], "age": ["age"]},
                                              keep_univariate_data=False)
    assert all(f._data is None for f in screen.univariate_fits.values())
    assert len(cox.proportional_hazards_test(screen.multivariate)) == len(screen.selected) + 1
