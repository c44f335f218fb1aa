"""Engines for confounding adjustment against R: weighted / clustered / stratified Cox, propensity-score weights,
balance statistics, weighted Kaplan-Meier, SAS-PSMATCH-like matching options, the matched-set bootstrap, E-values.

Reference values: tests/reference/causal_reference.R -> tests/reference/r_values/causal.json (R 4.2.2,
survival 3.5-3, MatchIt 4.5.1), on survival::rotterdam (chemotherapy as the treatment), MatchIt's lalonde and
survival::lung. R is not needed here. Tolerances: estimates 1e-6, p-values 1e-4.
E-values: hand calculations and the worked examples of VanderWeele & Ding (2017).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.stats import cox

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "r_values" / "causal.json").read_text())
EST, PTOL = 1e-6, 1e-4


def f(values) -> np.ndarray:
    """R's '%.17g' strings (None for NA) as floats."""
    if isinstance(values, (str, float, int)) or values is None:
        values = [values]
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


# ------------------------------------------------------------------------------------------ data as the R script
@pytest.fixture(scope="module")
def rot() -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "rotterdam.csv")
    d["size_20_50"] = (d["size"] == "20-50").astype(float)
    d["size_gt50"] = (d["size"] == ">50").astype(float)
    d["w_ate"] = f(R["weights"]["ate"])
    d["w_ato"] = f(R["weights"]["ato"])
    i = np.arange(1, len(d) + 1)
    d["w_int"] = 1 + i % 3
    d["cl"] = (i - 1) // 5
    return d


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "lung.csv")
    d["dead"] = (d["status"] == 2).astype(float)
    d["female"] = (d["sex"] == 2).astype(float)
    i = np.arange(1, len(d) + 1)
    d["w"] = 0.25 + (i % 7) / 3
    d["cl"] = (i - 1) // 4
    d["w_int"] = 1 + i % 3
    return d


@pytest.fixture(scope="module")
def matched(rot) -> pd.DataFrame:
    """R's match.data() of the 1:1 MatchIt matching of rotterdam (chemo), caliper 0.1 SD of the score."""
    m = R["matched"]
    d = rot.set_index("pid").loc[m["pid"]].reset_index()
    d["subclass"] = m["subclass"]
    d["weights"] = f(m["weights"])
    return d


# ---------------------------------------------------------------------------------- 1. weighted / stratified Cox
COX_SPECS = {
    "rot_ate_efron_robust": ("rot", "rtime", "recur", ["chemo"], dict(weights="w_ate", robust=True)),
    "rot_ate_breslow_robust": ("rot", "rtime", "recur", ["chemo"], dict(weights="w_ate", robust=True, ties="breslow")),
    "rot_ate_efron_default": ("rot", "rtime", "recur", ["chemo"], dict(weights="w_ate")),
    "rot_ate_efron_naive": ("rot", "rtime", "recur", ["chemo"], dict(weights="w_ate", robust=False)),
    "rot_multi_ato_robust": ("rot", "rtime", "recur", ["chemo", "age", "nodes", "hormon", "size_20_50", "size_gt50"],
                             dict(weights="w_ato", robust=True)),
    "rot_strata_grade": ("rot", "rtime", "recur", ["chemo", "age"], dict(strata="grade")),
    "rot_strata_grade_breslow": ("rot", "rtime", "recur", ["chemo", "age"], dict(strata="grade", ties="breslow")),
    "rot_strata_ate_cluster": ("rot", "rtime", "recur", ["chemo"], dict(strata="grade", weights="w_ate", cluster="cl")),
    "rot_int_weights": ("rot", "dtime", "death", ["chemo", "age"], dict(weights="w_int")),
    "rot_cluster_unweighted": ("rot", "dtime", "death", ["chemo", "nodes"], dict(cluster="cl", ties="breslow")),
    "lung_weights_cluster": ("lung", "time", "dead", ["female", "age"], dict(weights="w", cluster="cl")),
    "matched_cluster": ("matched", "rtime", "recur", ["chemo"], dict(weights="weights", cluster="subclass")),
    "matched_strata": ("matched", "rtime", "recur", ["chemo"], dict(strata="subclass")),
    "matched_strata_breslow": ("matched", "rtime", "recur", ["chemo"], dict(strata="subclass", ties="breslow")),
}
COX_REF = {m["id"]: m for m in R["cox"]}


def test_every_r_cox_model_has_a_python_spec():
    assert set(COX_REF) == set(COX_SPECS)


@pytest.mark.parametrize("model_id", sorted(COX_SPECS))
def test_cox_fit_weights_cluster_strata_match_r_coxph(model_id, request):
    data_name, time, event, covs, kw = COX_SPECS[model_id]
    ref = COX_REF[model_id]
    fit = cox.cox_fit(request.getfixturevalue(data_name), time, event, covs, **kw)
    tab = fit.table
    assert fit.converged and tab["estimable"].all()
    assert (fit.n, fit.n_events, fit.iterations) == (ref["n"], ref["nevent"], ref["iter"])
    np.testing.assert_allclose(tab["coef"], f(ref["coef"]), rtol=EST)
    robust = ref["robust_se"] is not None
    assert fit.robust == robust
    np.testing.assert_allclose(tab["naive_se"] if robust else tab["se"], f(ref["se"]), rtol=EST)
    if robust:
        np.testing.assert_allclose(tab["se"], f(ref["robust_se"]), rtol=EST)
        assert fit.tests.loc["robust_score", "statistic"] == pytest.approx(float(ref["robust_score"]), rel=EST)
    np.testing.assert_allclose(tab["lower"], f(ref["lower"]), rtol=EST)
    np.testing.assert_allclose(tab["upper"], f(ref["upper"]), rtol=EST)
    np.testing.assert_allclose(tab["p_value"], f(ref["p_value"]), rtol=PTOL, atol=1e-12)
    assert (fit.loglik_null, fit.loglik) == pytest.approx(tuple(f(ref["loglik"])), rel=1e-10)
    tests = fit.tests
    assert tests.loc["score", "statistic"] == pytest.approx(float(ref["score"]), rel=EST)
    assert tests.loc["wald", "statistic"] == pytest.approx(float(ref["wald"]), rel=EST)
    for name, key in (("likelihood_ratio", "lr_p"), ("wald", "wald_p"), ("score", "score_p")):
        assert tests.loc[name, "p_value"] == pytest.approx(float(ref[key]), rel=PTOL, abs=1e-12)
    if ref["concordance"] is not None:       # R reports it for unweighted (or all-1 weighted) fits
        assert fit.concordance == pytest.approx(float(ref["concordance"]), rel=1e-12)


def test_r_default_robust_rule_for_weights(rot):
    """survival 3.5-3: robust unless told otherwise when a weight is not an integer; integer weights are counts."""
    assert cox.cox_fit(rot, "rtime", "recur", ["chemo"], weights="w_ate").robust
    assert not cox.cox_fit(rot, "rtime", "recur", ["chemo"], weights="w_int").robust
    assert cox.cox_fit(rot, "rtime", "recur", ["chemo"], weights="w_int", robust=True).robust
    with pytest.warns(UserWarning, match="cluster ignored"):
        naive = cox.cox_fit(rot, "rtime", "recur", ["chemo"], weights="w_ate", cluster="cl", robust=False)
    assert not naive.robust and naive.n_clusters is None


def test_integer_case_weights_equal_replicated_rows_with_breslow_ties(lung):
    """With Breslow ties, coxph(weights = k) is the fit of every row repeated k times (fitted by the unweighted,
    unchanged code path). With Efron ties it is not, in R either: a weighted death is one death of weight k in
    Efron's steps, k replicated deaths are k steps (the R-checked model rot_int_weights uses Efron)."""
    rep = lung.loc[lung.index.repeat(lung["w_int"].to_numpy())].reset_index(drop=True)
    a = cox.cox_fit(lung, "time", "dead", ["female", "age"], weights="w_int", ties="breslow")
    b = cox.cox_fit(rep, "time", "dead", ["female", "age"], ties="breslow")
    np.testing.assert_allclose(a.table["coef"], b.table["coef"], rtol=1e-9)
    np.testing.assert_allclose(a.table["se"], b.table["se"], rtol=1e-9)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)
    assert a.tests.loc["score", "statistic"] == pytest.approx(b.tests.loc["score", "statistic"], rel=1e-9)
    efron = cox.cox_fit(lung, "time", "dead", ["female", "age"], weights="w_int")
    assert abs(efron.coef["female"] - cox.cox_fit(rep, "time", "dead", ["female", "age"]).coef["female"]) > 1e-4


def test_strata_are_separate_risk_sets(lung):
    """A stratified fit maximises the sum of the per-stratum Efron partial likelihoods (written out below,
    independently of the engine): its log-likelihood is that sum at beta-hat, and the sum's slope there is 0."""
    d = lung.assign(half=(lung.index % 2).astype(int))
    both = cox.cox_fit(d, "time", "dead", ["female"], strata="half")
    assert both.n_strata == 2
    beta = both.coef["female"]
    halves = [d[d["half"] == k] for k in (0, 1)]
    total = sum(_loglik_fixed(h, beta) for h in halves)
    assert total == pytest.approx(both.loglik, rel=1e-10)
    slope = sum(_loglik_fixed(h, beta + 1e-6) - _loglik_fixed(h, beta - 1e-6) for h in halves) / 2e-6
    assert abs(slope) < 1e-4
    pooled = cox.cox_fit(d, "time", "dead", ["female"])
    assert abs(pooled.coef["female"] - beta) > 1e-4      # not the unstratified model


def _loglik_fixed(sub: pd.DataFrame, b: float) -> float:
    """Efron log partial likelihood of `dead ~ female` at coefficient b, written out directly (no engine)."""
    t, e, x = sub["time"].to_numpy(), sub["dead"].to_numpy(), sub["female"].to_numpy()
    r = np.exp(b * x)
    ll = 0.0
    for tj in np.unique(t[e == 1]):
        dead = (t == tj) & (e == 1)
        d = int(dead.sum())
        s0 = r[t >= tj].sum()
        e0 = r[dead].sum()
        ll += (b * x[dead]).sum() - sum(math.log(s0 - k / d * e0) for k in range(d))
    return ll


def test_cox_fit_weight_errors(lung):
    with pytest.raises(ValueError, match="must be finite and > 0"):
        cox.cox_fit(lung.assign(w=0.0), "time", "dead", ["female"], weights="w")
    with pytest.raises(ValueError, match="one value per row"):
        cox.cox_fit(lung, "time", "dead", ["female"], weights=[1.0, 2.0])
    with pytest.raises(KeyError, match="strata column"):
        cox.cox_fit(lung, "time", "dead", ["female"], strata="nope")
    with pytest.raises(ValueError, match="weighted or stratified"):
        cox.proportional_hazards_test(cox.cox_fit(lung, "time", "dead", ["female"], strata="inst"))
    # a missing weight drops the row, as R's na.omit
    w = lung["w"].copy()
    w.iloc[:3] = np.nan
    fit = cox.cox_fit(lung.assign(w=w), "time", "dead", ["female"], weights="w")
    assert fit.n == len(lung) - 3 and fit.n_dropped == 3


# ----------------------------------------------------------------------------------- 2. propensity-score weights
from helpers.stats import weights as psw  # noqa: E402
from helpers.stats.matching import propensity_scores  # noqa: E402

W = R["weights"]


def test_propensity_scores_are_r_glm_on_rotterdam(rot):
    ps = propensity_scores(rot, rot["chemo"], ["age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon"])
    np.testing.assert_allclose(ps.to_numpy(), f(W["ps"]), rtol=1e-8)


@pytest.mark.parametrize("key, estimand, stabilize, trim", [
    ("ate", "ATE", False, None), ("ate_stabilized", "ATE", True, None), ("att", "ATT", False, None),
    ("atc", "ATC", False, None), ("ato", "ATO", False, None), ("ate_trim", "ATE", False, 0.1),
    ("ate_stabilized_trim", "ATE", True, 0.1)])
def test_ipw_weights_match_the_r_formulas(rot, key, estimand, stabilize, trim):
    w = psw.ipw_weights(f(W["ps"]), rot["chemo"], estimand, stabilize=stabilize, trim=trim)
    np.testing.assert_allclose(w, f(W[key]), rtol=1e-12)
    if trim is not None:
        assert np.count_nonzero(w) == W["n_kept_trim"]


@pytest.mark.parametrize("key, estimand, stabilize, trim", [
    ("ate", "ATE", False, None), ("ate_stabilized", "ATE", True, None), ("att", "ATT", False, None),
    ("atc", "ATC", False, None), ("ato", "ATO", False, None), ("ate_trim", "ATE", False, 0.1)])
def test_effective_sample_size_per_arm_matches_r(rot, key, estimand, stabilize, trim):
    w = psw.ipw_weights(f(W["ps"]), rot["chemo"], estimand, stabilize=stabilize, trim=trim)
    ess = psw.effective_sample_size(w, rot["chemo"])
    assert ess["treated"] == pytest.approx(float(W["ess"][key]["treated"]), rel=1e-12)
    assert ess["control"] == pytest.approx(float(W["ess"][key]["control"]), rel=1e-12)


def test_weights_by_hand():
    # e = 0.25 treated: ATE 4, ATT 1, ATC 3, ATO 0.75; e = 0.4 control: ATE 1/0.6, ATT 0.4/0.6, ATC 1, ATO 0.4
    e, t = [0.25, 0.4], [1, 0]
    assert psw.ipw_weights(e, t, "ATE") == pytest.approx([4.0, 1 / 0.6])
    assert psw.ipw_weights(e, t, "ATT") == pytest.approx([1.0, 0.4 / 0.6])
    assert psw.ipw_weights(e, t, "ATC") == pytest.approx([3.0, 1.0])
    assert psw.ipw_weights(e, t, "ATO") == pytest.approx([0.75, 0.4])
    # stabilized: one treated of two patients, P(T = 1) = 0.5
    assert psw.ipw_weights(e, t, "ATE", stabilize=True) == pytest.approx([2.0, 0.5 / 0.6])
    # trimming keeps the bounds: [0.1, 0.9]
    assert psw.trim_mask([0.0999, 0.1, 0.9, 0.9001]).tolist() == [False, True, True, False]
    assert psw.effective_sample_size([2.0, 2.0, 0.0]) == 2.0
    assert psw.effective_sample_size([1.0, 3.0]) == pytest.approx(16 / 10)


def test_weights_errors():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        psw.ipw_weights([0.0, 0.5], [1, 0])
    with pytest.raises(ValueError, match="ATE weights only"):
        psw.ipw_weights([0.3, 0.5], [1, 0], "ATT", stabilize=True)
    with pytest.raises(ValueError, match="estimand must be one of"):
        psw.ipw_weights([0.3, 0.5], [1, 0], "ATX")
    with pytest.raises(ValueError, match="leaves an arm empty"):
        psw.ipw_weights([0.05, 0.5], [1, 0], trim=0.1)
    with pytest.raises(ValueError, match="both a treated and a control"):
        psw.ipw_weights([0.3, 0.5], [1, 1])


# ------------------------------------------------------------------------------------------------- 4. E-values
from helpers.stats.evalue import e_value, e_value_rr, hr_to_rr  # noqa: E402


def test_e_value_worked_example_of_vanderweele_and_ding_2017():
    """VanderWeele & Ding, Ann Intern Med 2017;167:268-274, breastfeeding and infant death from respiratory
    infection (Victora et al.): RR 3.9 (95% CI 1.8 to 8.7).
    Point: 3.9 + sqrt(3.9 * 2.9) = 3.9 + sqrt(11.31) = 3.9 + 3.36303 = 7.26.
    Lower limit: 1.8 + sqrt(1.8 * 0.8) = 1.8 + sqrt(1.44) = 1.8 + 1.2 = 3.00 (exactly 3)."""
    e = e_value(3.9, 1.8, 8.7, measure="RR")
    assert round(e.point, 2) == 7.26 and e.point == pytest.approx(7.263034, abs=1e-6)
    assert e.ci == pytest.approx(3.0, abs=1e-12) and e.limit == "lower"


def test_e_value_protective_example_of_vanderweele_and_ding_2017():
    """The paper's leukemia example, as the EValue package's documentation cites it: RR 0.80 (0.71, 0.91).
    1 / 0.80 = 1.25: 1.25 + sqrt(1.25 * 0.25) = 1.25 + 0.559017 = 1.809017 (1.81).
    Upper limit (closest to 1) 0.91: 1/0.91 = 1.098901; 1.098901 + sqrt(1.098901 * 0.098901) = 1.428571 (1.43)."""
    e = e_value(0.80, 0.71, 0.91, measure="RR")
    assert e.point == pytest.approx(1.809017, abs=1e-6)
    assert e.ci == pytest.approx(1.428571, abs=1e-6) and e.limit == "upper"


def test_e_value_of_a_hazard_ratio_rare_and_common_outcome():
    # rare outcome: the HR is the RR. HR 2 (1.5, 2.7): 2 + sqrt(2) = 3.414214; 1.5 + sqrt(0.75) = 2.366025
    rare = e_value(2.0, 1.5, 2.7, measure="HR", rare=True)
    assert (rare.point, rare.ci) == pytest.approx((3.414214, 2.366025), abs=1e-6)
    # common outcome (VanderWeele 2017): RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)).
    # HR 2: 0.5^1.414214 = 0.375214, 0.5^0.707107 = 0.612547 -> RR = 0.624786 / 0.387453 = 1.612547;
    # E = 1.612547 + sqrt(1.612547 * 0.612547) = 2.606409.
    # HR 1.5: 0.5^1.224745 = 0.427873, 0.5^0.816497 = 0.567819 -> RR = 0.572127 / 0.432181 = 1.323813;
    # E = 1.323813 + sqrt(1.323813 * 0.323813) = 1.978541.
    common = e_value(2.0, 1.5, 2.7, measure="HR", rare=False)
    assert common.rr == pytest.approx(1.612547, abs=1e-6)
    assert common.point == pytest.approx(2.606409, abs=1e-6)
    assert common.rr_lower == pytest.approx(1.323813, abs=1e-6)
    assert common.ci == pytest.approx(1.978541, abs=1e-6) and common.limit == "lower"
    assert hr_to_rr(4.0) == pytest.approx(0.75 / (1 - math.sqrt(0.5)), rel=1e-12)


def test_e_value_ci_including_one_and_edge_cases():
    e = e_value(0.8, 0.6, 1.1)
    assert e.ci == 1.0 and e.limit is None
    assert e.point == pytest.approx(1.25 + math.sqrt(1.25 * 0.25))
    assert e_value(1.0).point == 1.0 and e_value(1.0).ci is None
    assert e_value_rr(0.5) == pytest.approx(e_value_rr(2.0))        # symmetric on the ratio scale
    with pytest.raises(ValueError, match="does not contain"):
        e_value(2.0, 2.1, 3.0)
    with pytest.raises(ValueError, match="both CI limits"):
        e_value(2.0, 1.5)
    with pytest.raises(ValueError, match="positive"):
        e_value_rr(0.0)


# ------------------------------------------------------------------------------------------ 3. balance statistics
from helpers.stats import balance as bal  # noqa: E402

B = R["balance"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "lalonde.csv")
    for race in ("black", "hispan", "white"):
        d[race] = (d["race"] == race).astype(float)
    return d


def _bal_weights(name):
    return None if name is None else f(B["weights"][name])


def test_balance_inputs_are_python_propensity_scores(lalonde):
    ps = propensity_scores(lalonde, lalonde["treat"], ["age", "educ", "race", "married", "nodegree", "re74", "re75"])
    np.testing.assert_allclose(ps.to_numpy(), f(B["ps"]), rtol=1e-8)
    e = f(B["ps"])
    np.testing.assert_allclose(psw.ipw_weights(e, lalonde["treat"], "ATT"), f(B["weights"]["att"]), rtol=1e-12)
    np.testing.assert_allclose(psw.ipw_weights(e, lalonde["treat"], "ATE"), f(B["weights"]["ate"]), rtol=1e-12)


@pytest.mark.parametrize("case", B["cases"], ids=lambda c: c["id"])
def test_balance_table_matches_cobalt_formulas_in_r(lalonde, case):
    tab = bal.balance_table(lalonde[B["covariates"]], lalonde["treat"], _bal_weights(case["weights"]),
                            estimand=case["estimand"], binary=case["binary"]).set_index("variable")
    for ref in case["rows"]:
        row = tab.loc[ref["variable"]]
        assert row["type"] == ref["type"]
        for key, value in ref.items():
            if key in ("variable", "type"):
                continue
            if value is None:          # R: no variance ratio for a binary variable
                assert np.isnan(row[key]), (ref["variable"], key)
            else:
                assert row[key] == pytest.approx(float(value), rel=1e-10, abs=1e-12), (ref["variable"], key)


@pytest.mark.parametrize("case", B["matchit"], ids=lambda c: c["id"])
def test_balance_statistics_match_matchit_bal1var(lalonde, case):
    """MatchIt's own routine (summary.matchit): binary variables standardized, eCDF mean and max."""
    w = _bal_weights(case["weights"])
    treat = lalonde["treat"]
    for ref in case["rows"]:
        x = lalonde[ref["variable"]].to_numpy(float)
        ww = np.ones(len(x)) if w is None else w
        assert bal.weighted_mean(x[treat == 1], ww[treat == 1]) == pytest.approx(float(ref["mean_treated"]), rel=1e-12)
        assert bal.weighted_mean(x[treat == 0], ww[treat == 0]) == pytest.approx(float(ref["mean_control"]), rel=1e-12)
        smd = bal.standardized_mean_difference(x, treat, w, binary="std", s_d_denom=case["s_d_denom"])
        assert smd == pytest.approx(float(ref["smd"]), rel=1e-10)
        vr = bal.variance_ratio(x, treat, w)
        assert (np.isnan(vr) and ref["var_ratio"] is None) or vr == pytest.approx(float(ref["var_ratio"]), rel=1e-10)
        mean, mx = bal.ecdf_statistics(x, treat, w)
        assert (mean, mx) == pytest.approx((float(ref["ecdf_mean"]), float(ref["ecdf_max"])), rel=1e-10)


@pytest.mark.parametrize("which", ["all", "matched"])
def test_balance_of_the_matching_matches_summary_matchit(lalonde, which):
    """summary(matchit(...)) on lalonde (ATT: the treated group's SD, binary variables standardized)."""
    w = None if which == "all" else _bal_weights("matching")
    tab = bal.balance_table(lalonde[B["covariates"]], lalonde["treat"], w, estimand="ATT",
                            binary="std").set_index("variable")
    suffix = "un" if which == "all" else "adj"
    for ref in B["matchit_summary"][which]:
        row = tab.loc[ref["variable"]]
        assert row[f"diff_{suffix}"] == pytest.approx(float(ref["smd"]), rel=1e-10)
        assert row[f"ks_{suffix}"] == pytest.approx(float(ref["ecdf_max"]), rel=1e-10)
        assert row[f"ecdf_mean_{suffix}"] == pytest.approx(float(ref["ecdf_mean"]), rel=1e-10)
        if ref["var_ratio"] is not None:
            assert row[f"var_ratio_{suffix}"] == pytest.approx(float(ref["var_ratio"]), rel=1e-10)


def test_balance_by_hand():
    # x treated 1, 2, 3 (mean 2, var 1), control 2, 3, 4, 5 (mean 3.5, var 5/3)
    x = np.array([1.0, 2, 3, 2, 3, 4, 5])
    t = np.array([1, 1, 1, 0, 0, 0, 0])
    pooled = math.sqrt((1 + 5 / 3) / 2)
    assert bal.standardized_mean_difference(x, t, estimand="ATE") == pytest.approx(-1.5 / pooled)
    assert bal.standardized_mean_difference(x, t, estimand="ATT") == pytest.approx(-1.5)
    assert bal.variance_ratio(x, t) == pytest.approx(1 / (5 / 3))
    # weights change the means, not the (unweighted) denominator: control weights 3, 1, 0, 0 -> mean 2.25
    w = np.array([1.0, 1, 1, 3, 1, 0, 0])
    assert bal.standardized_mean_difference(x, t, w, estimand="ATE") == pytest.approx(-0.25 / pooled)
    # eCDF: treated F at 1, 2, 3, 4, 5 = 1/3, 2/3, 1, 1, 1; control = 0, 1/4, 1/2, 3/4, 1
    assert bal.ecdf_statistics(x, t) == pytest.approx(((1 / 3 + 5 / 12 + 1 / 2 + 1 / 4 + 0) / 5, 1 / 2))
    # binary: raw difference by default, standardized on request (pooled p(1 - p))
    b = np.array([1.0, 1, 0, 1, 0, 0, 0])
    assert bal.standardized_mean_difference(b, t) == pytest.approx(2 / 3 - 1 / 4)
    sd = math.sqrt((2 / 9 + 3 / 16) / 2)
    assert bal.standardized_mean_difference(b, t, binary="std") == pytest.approx((2 / 3 - 1 / 4) / sd)
    assert np.isnan(bal.variance_ratio(b, t))
    assert bal.ecdf_statistics(b, t) == pytest.approx((2 / 3 - 1 / 4, 2 / 3 - 1 / 4))
    with pytest.raises(ValueError, match="binary must be"):
        bal.standardized_mean_difference(b, t, binary="raw_diff")
    with pytest.raises(ValueError, match="estimand must be"):
        bal.standardized_mean_difference(x, t, estimand="XYZ")


# ------------------------------------------------------------------------------------------ 5. weighted Kaplan-Meier
from helpers.stats.survival import (kaplan_meier_by_group, weighted_kaplan_meier,  # noqa: E402
                                    weighted_kaplan_meier_by_group)

KM_SPECS = {"lung_nonint": ("w", "auto", "log", "robust"),
            "lung_nonint_greenwood": ("w", "greenwood", "log", "greenwood"),
            "lung_int": ("w_int", "auto", "log", "greenwood"),
            "lung_int_robust": ("w_int", "robust", "log", "robust"),
            "lung_loglog": ("w", "auto", "log-log", "robust")}


@pytest.mark.parametrize("ref", R["km"]["lung"], ids=lambda r: r["id"])
def test_weighted_km_matches_r_survfit_on_lung(lung, ref):
    """Every time of summary(survfit(Surv(time, dead) ~ female, weights), censored = TRUE): weighted counts,
    S(t), R's std.err (the SE of S) and the bands; the median and its CI."""
    wcol, se, conf_type, variance = KM_SPECS[ref["id"]]
    fits = weighted_kaplan_meier_by_group(lung["time"], lung["dead"], lung["female"].astype(int), lung[wcol], se=se,
                                          conf_type=conf_type)
    assert ref["logse"] == (variance == "greenwood")    # R stores log-scale SEs only for Greenwood
    strata = np.array(ref["strata"])
    for k, level in enumerate((0, 1)):
        km = fits[level]
        assert km.variance == variance
        sel = strata == f"female={level}"
        tab = km.table
        for col, key in (("time", "time"), ("n_risk", "n_risk"), ("n_event", "n_event"), ("surv", "surv"),
                         ("se_surv", "std_err"), ("lower", "lower"), ("upper", "upper")):
            np.testing.assert_allclose(tab[col].to_numpy(), f(ref[key])[sel], rtol=EST, atol=1e-12,
                                       equal_nan=True, err_msg=f"{ref['id']} female={level} {col}")
        m = km.median()
        assert (m.estimate, m.lower, m.upper) == (f(ref["median"])[k], f(ref["median_lower"])[k],
                                                  f(ref["median_upper"])[k])


def test_weighted_km_with_ipw_weights_matches_r_on_rotterdam(rot):
    ref = R["km"]["rotterdam"][0]
    fits = weighted_kaplan_meier_by_group(rot["rtime"], rot["recur"], rot["chemo"], rot["w_ate"])
    strata = np.array(ref["strata"])
    grid = f(ref["time"])[strata == "chemo=0"]
    for k, level in enumerate((0, 1)):
        sel = strata == f"chemo={level}"
        at = fits[level].survival_at(f(ref["time"])[sel], extend=True)
        assert fits[level].variance == "robust"
        for col, key in (("surv", "surv"), ("se_surv", "std_err"), ("lower", "lower"), ("upper", "upper"),
                         ("n_risk", "n_risk")):
            np.testing.assert_allclose(at[col].to_numpy(), f(ref[key])[sel], rtol=EST, err_msg=col)
        m = fits[level].median()
        assert (m.estimate, m.lower, m.upper) == (f(ref["median"])[k], f(ref["median_lower"])[k],
                                                  f(ref["median_upper"])[k])
    assert len(grid) == 10


def test_weighted_km_with_unit_weights_is_the_kaplan_meier(lung):
    plain = kaplan_meier_by_group(lung["time"], lung["dead"], lung["female"])
    unit = weighted_kaplan_meier_by_group(lung["time"], lung["dead"], lung["female"], np.ones(len(lung)))
    for level in plain:
        assert unit[level].variance == "greenwood"
        for col in ("time", "n_risk", "n_event", "surv", "std_err", "lower", "upper"):
            np.testing.assert_allclose(unit[level].table[col], plain[level].table[col], rtol=1e-12)


def test_weighted_km_by_hand():
    # times 1 (event, w 0.5), 2 (event, w 1.5), 2 (censored, w 1), 3 (event, w 2)
    km = weighted_kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1], [0.5, 1.5, 1.0, 2.0], se="greenwood")
    # n_w = 5, 4.5, 2; d_w = 0.5, 1.5, 2: S = 0.9, 0.9 * 3 / 4.5 = 0.6, 0
    assert km.n_risk.tolist() == [5.0, 4.5, 2.0] and km.surv.tolist() == pytest.approx([0.9, 0.6, 0.0])
    # Greenwood: 0.5 / (5 * 4.5), then + 1.5 / (4.5 * 3)
    assert km.std_err[:2] == pytest.approx([math.sqrt(0.5 / 22.5), math.sqrt(0.5 / 22.5 + 1.5 / 13.5)])
    # robust (IJ) at t = 1: D_k = w_k dS/dw_k with S = 1 - d/n: the death (w 0.5) -0.5 (n - d)/n^2 = -0.09,
    # each survivor w_k d/n^2 = w_k * 0.02 (w = 1.5, 1, 2) -> var = 0.09^2 + 0.02^2 (2.25 + 1 + 4)
    rob = weighted_kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1], [0.5, 1.5, 1.0, 2.0], se="robust")
    assert rob.se_surv[0] == pytest.approx(math.sqrt(0.09**2 + 0.02**2 * 7.25), rel=1e-12)
    assert rob.se_surv[-1] == 0.0                     # S = 0: R reports an SE of 0
    with pytest.raises(ValueError, match="non-negative"):
        weighted_kaplan_meier([1, 2], [1, 0], [1.0, -1.0])
    with pytest.raises(ValueError, match="se must be one of"):
        weighted_kaplan_meier([1, 2], [1, 0], [1.0, 1.0], se="ij")


# --------------------------------------------------------------------------- 6. SAS-PSMATCH-like matching options
from helpers.stats.matching import match_cohort, nearest_neighbor_match, resolve_convention  # noqa: E402

MATCH_SPECS = {  # data, caliper, keyword switches (as the R script's run_match calls)
    "lalonde_logit_discard_allsd": ("lalonde", 0.1, dict(logit=True, caliper_sd="all", discard="both")),
    "lalonde_sas": ("lalonde", 0.1, dict(convention="sas_psmatch")),
    "lalonde_sas_025": ("lalonde", 0.25, dict(convention="sas_psmatch")),
    "lalonde_pooled_only": ("lalonde", 0.1, dict(caliper_sd="pooled")),
    "lalonde_discard_only": ("lalonde", 0.1, dict(discard="both")),
    "lalonde_logit_only": ("lalonde", 0.2, dict(logit=True)),
    "lalonde_discard_control": ("lalonde", 0.1, dict(convention="sas_psmatch", discard="control")),
    "rotterdam_sas": ("rot", 0.2, dict(convention="sas_psmatch")),
    "rotterdam_matchit": ("rot", 0.1, dict(convention="matchit")),
}


def _scores(name, lalonde, rot):
    if name == "lalonde":
        ids = lalonde["id"].astype(str).to_numpy()
        return pd.Series(f(B["ps"]), index=ids), pd.Series(lalonde["treat"].to_numpy() == 1, index=ids)
    ids = rot["pid"].astype(str).to_numpy()
    return pd.Series(f(W["ps"]), index=ids), pd.Series(rot["chemo"].to_numpy() == 1, index=ids)


def _check_matching(res, ref):
    got = res.pairs
    assert len(got) == ref["n_matched_treated"] == len(ref["treated_id"])
    assert dict(zip(got["treated_id"], got["control_id"])) == dict(zip(ref["treated_id"], ref["control_id"]))
    assert dict(zip(got["treated_id"], got["subclass"])) == dict(zip(ref["treated_id"], ref["subclass"]))
    assert sorted(res.discarded[res.discarded].index) == sorted(str(i) for i in ref["discarded"])
    assert res.caliper_width == pytest.approx(float(ref["caliper_width"]), rel=1e-12)
    np.testing.assert_allclose(res.weights.to_numpy(), f(ref["weights"]), rtol=1e-12)
    nn = res.summary()
    assert list(nn.index) == ref["nn"]["rows"]
    np.testing.assert_allclose(nn["Control"], f(ref["nn"]["control"]), rtol=1e-12)
    np.testing.assert_allclose(nn["Treated"], f(ref["nn"]["treated"]), rtol=1e-12)


@pytest.mark.parametrize("ref", R["matching"], ids=lambda r: r["id"])
def test_matching_options_match_matchit(lalonde, rot, ref):
    """logit distance (MatchIt link = "linear.logit"), discard (MatchIt discard), pooled-SD caliper (an absolute
    caliper computed in R): pairs, subclasses, discarded units, caliper width, weights and summary(m)$nn."""
    data, caliper, kw = MATCH_SPECS[ref["id"]]
    scores, treated = _scores(data, lalonde, rot)
    _check_matching(nearest_neighbor_match(scores, treated, caliper=caliper, **kw), ref)


def test_sas_convention_from_the_covariates_matches_matchit(lalonde):
    """match_cohort fits the propensity model itself, then matches as SAS PSMATCH would (R: MatchIt)."""
    ref = next(r for r in R["matching"] if r["id"] == "lalonde_sas")
    res, _ = match_cohort(lalonde.assign(id=lalonde["id"].astype(str)), "treat", 1,
                          ["age", "educ", "race", "married", "nodegree", "re74", "re75"], caliper=0.1,
                          id_column="id", convention="sas_psmatch")
    _check_matching(res, ref)


def test_convention_switches_and_defaults(lalonde, rot):
    assert resolve_convention(None) == (False, "all", "none") == resolve_convention("matchit")
    assert resolve_convention("sas_psmatch") == (True, "pooled", "both")
    assert resolve_convention("sas_psmatch", logit=False) == (False, "pooled", "both")
    with pytest.raises(ValueError, match="unknown convention"):
        resolve_convention("stata")
    with pytest.raises(ValueError, match="discard must be"):
        resolve_convention(None, discard="all")
    scores, treated = _scores("lalonde", lalonde, rot)
    default = nearest_neighbor_match(scores, treated, caliper=0.1)
    explicit = nearest_neighbor_match(scores, treated, caliper=0.1, convention="matchit")
    assert default.pairs.equals(explicit.pairs) and not default.discarded.any()
    # the pooled SD by hand on the logit scale: sqrt((var_1 + var_0) / 2)
    lp = np.log(scores / (1 - scores))
    sas = nearest_neighbor_match(scores, treated, caliper=0.1, logit=True, caliper_sd="pooled")
    pooled = math.sqrt((lp[treated].var(ddof=1) + lp[~treated].var(ddof=1)) / 2)
    assert sas.caliper_width == pytest.approx(0.1 * pooled, rel=1e-12)
    assert sas.distance.to_numpy() == pytest.approx(lp.to_numpy(), rel=1e-12)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        nearest_neighbor_match(scores * 10, treated, caliper=0.1, logit=True)


# ------------------------------------------------------------------------------------ 7. matched-set bootstrap
from helpers.stats.bootstrap import matched_bootstrap, matched_set_resamples  # noqa: E402

BOOT = R["bootstrap"]


def test_bootstrap_refits_agree_with_r_on_the_same_resamples(matched):
    """R drew 60 resamples of matched sets (set.seed, sample) and refitted coxph on each; the same resamples
    (R's 1-based positions minus 1) give the same HRs and the same type-7 percentile interval."""
    assert list(np.unique(matched["subclass"])) == BOOT["sets"]
    draws = np.array(BOOT["draws"]) - 1
    res = matched_bootstrap(matched["rtime"], matched["recur"], matched["chemo"], matched["subclass"],
                            matched["weights"], resamples=draws)
    assert res.n_boot == BOOT["n_boot"] and res.n_failed == 0
    np.testing.assert_allclose(res.boot_hr, f(BOOT["hr"]), rtol=EST)
    assert res.hr == pytest.approx(float(BOOT["hr_full"]), rel=EST)
    assert (res.lower, res.upper) == pytest.approx(tuple(f(BOOT["percentile"])), rel=EST)
    assert res.se_log_hr == pytest.approx(float(BOOT["sd_log_hr"]), rel=EST)


def test_bootstrap_is_deterministic_given_the_seed(matched):
    args = (matched["rtime"], matched["recur"], matched["chemo"], matched["subclass"])
    a = matched_bootstrap(*args, n_boot=40, seed=7)
    b = matched_bootstrap(*args, n_boot=40, seed=7)
    c = matched_bootstrap(*args, n_boot=40, seed=8)
    assert np.array_equal(a.boot_hr, b.boot_hr) and np.array_equal(a.resamples, b.resamples)
    assert (a.lower, a.upper) == (b.lower, b.upper) and a.seed == 7
    assert not np.array_equal(a.resamples, c.resamples)
    assert np.array_equal(a.resamples, matched_set_resamples(len(a.sets), 40, 7))


def test_bootstrap_se_agrees_with_the_cluster_robust_se(matched):
    """Sanity: resampling matched sets estimates the same sampling variability as R's cluster-robust sandwich
    (coxph(..., cluster = subclass)): 400 resamples put the SD of log HR within 15% of it (the Monte Carlo
    error of an SD from 400 draws is about 3.5%), and the interval contains the estimate."""
    res = matched_bootstrap(matched["rtime"], matched["recur"], matched["chemo"], matched["subclass"],
                            n_boot=400, seed=20240611)
    robust_se = float(BOOT["robust_se"])
    assert abs(res.se_log_hr / robust_se - 1) < 0.15
    assert res.lower < res.hr < res.upper
    # the percentile interval is close to the Wald interval with the robust SE
    assert math.log(res.lower) == pytest.approx(math.log(res.hr) - 1.96 * robust_se, abs=0.05)
    assert math.log(res.upper) == pytest.approx(math.log(res.hr) + 1.96 * robust_se, abs=0.05)


def test_bootstrap_input_checks(matched):
    args = (matched["rtime"], matched["recur"], matched["chemo"], matched["subclass"])
    with pytest.raises(ValueError, match="resamples must be"):
        matched_bootstrap(*args, resamples=np.zeros((3, 5), dtype=int))
    with pytest.raises(ValueError, match="weights must be > 0"):
        matched_bootstrap(*args, weights=np.zeros(len(matched)))
