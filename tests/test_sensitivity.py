"""Matching sensitivity: weighted Cox against R coxph, grid rows against R MatchIt + coxph, and edge cases.

Reference values: tests/reference/sensitivity_reference.R -> tests/reference/r_values/sensitivity.json
(R 4.2.2, survival 3.5-3, MatchIt 4.5.1 with the 2^30 distance rescaling of matchit_reference.R).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.analyses import balance
from helpers.analyses import cohorts
from helpers.stats import cox
from helpers.report import figures
from helpers.study import published
from helpers.analyses import sensitivity as sens
from helpers.analyses import survival as sc
from helpers.study.patients import load_patients
from helpers.study.results import ResultsTable
from helpers.study.spec import load_spec

from test_survival_spec import survival_study  # noqa: F401  (fixture)

REF = json.loads((Path(__file__).parent / "reference" / "r_values" / "sensitivity.json").read_text())
LUNG = Path(__file__).parent / "reference" / "data" / "lung.csv"


@pytest.fixture(scope="module")
def lung():
    d = pd.read_csv(LUNG)
    d["dead"] = (d["status"] == 2).astype(float)
    d["female"] = (d["sex"] == 2).astype(float)
    i = np.arange(1, len(d) + 1)
    d["w"] = 0.25 + (i % 7) / 3   # as the R script
    d["cl"] = (i - 1) // 4
    return d


@pytest.fixture(scope="module")
def seed000():
    spec = load_spec("erhcc_hait_mp")
    data = load_patients(spec)
    return spec, data, sens.matching_sensitivity(data, spec, endpoints=["pfs", "os"])


@pytest.mark.parametrize("model_id, weighted, cluster", [("weights_cluster", True, True),
                                                         ("weights_robust", True, False),
                                                         ("unweighted_cluster", False, True)])
def test_weighted_cox_matches_r_coxph_on_lung(lung, model_id, weighted, cluster):
    """The chapter's weighted Cox model is helpers.stats.cox.cox_fit with weights and clusters."""
    ref = next(m for m in REF["lung"] if m["id"] == model_id)
    fit = cox.cox_fit(lung, "time", "dead", ["female"], weights="w" if weighted else None,
                      cluster="cl" if cluster else None, robust=True)
    row = fit.table.iloc[0]
    assert fit.converged and row["estimable"]
    assert row["coef"] == pytest.approx(float(ref["coef"]), rel=1e-8)
    assert row["naive_se"] == pytest.approx(float(ref["se"]), rel=1e-7)
    assert row["se"] == pytest.approx(float(ref["robust_se"]), rel=1e-7)
    assert fit.loglik == pytest.approx(float(ref["loglik"]), rel=1e-10)


def test_arm_cox_with_unit_weights_is_the_chapter_cox_model(lung):
    fit = sens._arm_cox(lung["time"], lung["dead"], lung["female"], np.ones(len(lung)), np.arange(len(lung)))
    row = cox.cox_fit(lung, "time", "dead", ["female"]).table.iloc[0]
    assert fit.table["hr"].iloc[0] == pytest.approx(row["hr"], rel=1e-9)
    lower, upper, p = fit.wald("arm", naive=True)
    assert (lower, upper, p) == pytest.approx((row["lower"], row["upper"], row["p_value"]), rel=1e-8)


def test_arm_cox_without_events_in_an_arm_is_not_estimable():
    t = np.array([1.0, 2, 3, 4, 5, 6])
    fit = sens._arm_cox(t, [1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 2, 1, 0.5, 1, 1], np.arange(6))
    assert not fit.table["estimable"].iloc[0]
    assert all(math.isnan(v) for v in fit.wald("arm", naive=True))


def test_grid_rows_match_r_matchit_and_coxph(seed000):
    _, _, table = seed000
    assert len(REF["seed000"]) == 12
    for ref in REF["seed000"]:
        cal = ref["caliper"]
        row = table[(table["cohort"] == "matched") & (table["convention"] == "MatchIt") & (table["ratio"] == 1)
                    & (table["replace"] == ref["replace"])
                    & (table["endpoint"] == ref["endpoint"])
                    & (table["caliper"].isna() if cal is None else np.isclose(table["caliper"], cal))]
        assert len(row) == 1, ref
        row = row.iloc[0]
        for key in ("n_treated", "n_control", "events_treated", "events_control"):
            assert row[key] == ref[key], (ref, key)
        assert row["weighted"] == (not ref["weights_all_one"])
        for key in ("hr", "lower", "upper", "robust_lower", "robust_upper"):
            assert row[key] == pytest.approx(float(ref[key]), rel=1e-7), (ref, key)


def test_paper_setting_is_the_cohorts_and_survival_chapters_matched_analysis(seed000):
    spec, data, table = seed000
    paper = table[table["paper_setting"]]
    assert list(paper["endpoint"]) == ["pfs", "os"]
    assert paper["key"].nunique() == 1 and paper["key"].iloc[0] == "caliper=0.1;ratio=1;replace=false"
    # the paper reports 24 matched pairs (published.yaml, an independent source)
    pub = published.load_published(spec)
    pairs = pub[(pub["analysis"] == "psm") & (pub["variable"] == "pairs")]["value"].astype(float).unique()
    assert list(pairs) == [24.0]
    assert set(paper["n_treated"]) == {24} and set(paper["n_control"]) == {24}
    matched = cohorts.match_study(data, spec, cohorts.matching_settings(spec))
    for r in paper.itertuples():
        cmp = sc.compare_arms(matched.data, spec, r.endpoint)
        hr = cmp.arm_hr
        assert (r.hr, r.lower, r.upper, r.p_value) == (hr["hr"], hr["lower"], hr["upper"], hr["p_value"])
        assert r.logrank_p == cmp.logrank.p_value
        assert r.events_treated == cmp.events[spec.arm.experimental]
        assert not r.weighted


def test_primary_row_is_the_unmatched_cohort(seed000):
    spec, data, table = seed000
    primary = table[table["cohort"] == "primary"]
    assert list(primary["key"]) == ["unmatched", "unmatched"]
    assert set(primary["n_treated"]) == {50} and set(primary["n_control"]) == {51}
    assert primary["robust_lower"].isna().all()


def test_ratio_and_replacement_change_the_matched_n_as_expected(seed000):
    _, _, table = seed000
    rows = table[(table["endpoint"] == "pfs") & (table["cohort"] == "matched")].set_index("key")
    # no caliper, 1:1 without replacement: every treated patient (50) gets one of the 51 controls
    assert tuple(rows.loc["caliper=none;ratio=1;replace=false", ["n_treated", "n_control"]]) == (50, 50)
    # 1:2 without replacement: the second round has 1 control left
    assert tuple(rows.loc["caliper=none;ratio=2;replace=false", ["n_treated", "n_control"]]) == (50, 51)
    assert rows.loc["caliper=none;ratio=2;replace=false", "weighted"]
    for cal in ("0.5", "0.2", "0.1", "0.05"):
        no_rep = rows.loc[f"caliper={cal};ratio=1;replace=false"]
        rep = rows.loc[f"caliper={cal};ratio=1;replace=true"]
        two = rows.loc[f"caliper={cal};ratio=2;replace=false"]
        assert no_rep["n_control"] == no_rep["n_treated"]
        assert rep["n_treated"] >= no_rep["n_treated"]        # re-usable controls: more treated find one
        assert rep["n_control"] <= rep["n_treated"]
        assert two["n_treated"] == no_rep["n_treated"] and two["n_control"] > no_rep["n_control"]
    # tighter calipers keep fewer treated patients (without replacement)
    kept = [rows.loc[f"caliper={c};ratio=1;replace=false", "n_treated"] for c in ("none", "0.5", "0.2", "0.1", "0.05")]
    assert kept == sorted(kept, reverse=True) and kept[0] > kept[-1]


def test_a_setting_that_matches_nobody_gives_a_clear_row(survival_study):
    spec = load_spec(survival_study / "study.yaml")
    data = load_patients(spec)
    grid = [cohorts.matching_settings(spec, ["age"], ratio=1, caliper=0.0, replace_=False),
            cohorts.matching_settings(spec, ["age"], ratio=1, caliper=None, replace_=False)]
    table = sens.matching_sensitivity(data, spec, grid=grid, endpoints=["os"])
    nobody = table[table["key"] == "caliper=0;ratio=1;replace=false"].iloc[0]
    assert nobody["n_treated"] == 0 and nobody["n_control"] == 0 and not nobody["estimable"]
    assert math.isnan(nobody["hr"]) and "no patient matched" in nobody["note"]
    everyone = table[table["key"] == "caliper=none;ratio=1;replace=false"].iloc[0]
    assert everyone["n_treated"] == 3 and everyone["n_control"] == 3
    shown = sens.sensitivity_display(table, spec, "os")
    assert "no patient matched" in shown.iloc[1]["HR (95% CI)"]
    ResultsTable(spec.study_id, "sensitivity").extend(sens.result_rows(table, spec))  # NaN rows are written, no crash


def test_unknown_endpoint_is_a_clear_error(seed000):
    spec, data, _ = seed000
    with pytest.raises(ValueError, match=r"no endpoint 'dfs'.*pfs"):
        sens.matching_sensitivity(data, spec, endpoints=["pfs", "dfs"])


def test_default_grid_contains_the_paper_setting_once_and_in_the_spec_scale(seed000):
    spec, _, table = seed000
    grid = sens.matching_grid(spec)
    assert len(grid) == 20 + len(sens.CONVENTION_VARIANTS)  # and the paper's setting the SAS PSMATCH way
    assert [sens.convention_text(g) for g in grid[20:]] == [
        "logit of the score", "pooled-SD caliper", "common support", "SAS PSMATCH"]
    assert sum(sens.is_same_setting(g, cohorts.matching_settings(spec)) for g in grid) == 1
    # calipers are SD units of the propensity score, as the spec's matching.caliper
    assert spec.matching.caliper == 0.1 and 0.1 in {g.caliper for g in grid}
    extra = sens.matching_grid(spec, calipers=[0.3], ratios=[1], replace_options=[False])
    assert [g.caliper for g in extra][:2] == [0.3, 0.1]  # the paper's setting is added when missing
    assert table["paper_setting"].sum() == 2  # one setting x two endpoints


def test_weighted_smd_hand_computed(tiny_study):
    spec = load_spec(tiny_study / "study.yaml")
    data = load_patients(spec)
    # age: ctl 50, 61, 70; trt 45, 59, 60
    w = pd.Series([1.0, 1.0, 2.0, 1.0, 3.0, 0.0], index=data.index)
    smd = balance.standardized_differences(data, spec, ["age"], weights=w)["smd"].iloc[0]
    # trt: weights 1, 3 on 45, 59 (60 dropped): mean 55.5, var = (110.25 + 3*12.25) * 4 / (16 - 10) = 98
    # ctl: weights 1, 1, 2 on 50, 61, 70: mean 62.75, var = (162.5625 + 3.0625 + 2*52.5625) * 4 / (16 - 6)
    v0 = (162.5625 + 3.0625 + 2 * 52.5625) * 4 / 10
    assert smd == pytest.approx((55.5 - 62.75) / math.sqrt((98 + v0) / 2), rel=1e-12)
    ones = balance.standardized_differences(data, spec, ["age", "sex"], weights=pd.Series(1.0, index=data.index))
    plain = balance.standardized_differences(data, spec, ["age", "sex"])
    assert ones["smd"].to_numpy() == pytest.approx(plain["smd"].to_numpy(), rel=1e-12)


def test_results_rows_summary_and_figure(seed000):
    spec, _, table = seed000
    rows = sens.result_rows(table, spec)
    results = ResultsTable(spec.study_id, "sensitivity")
    results.extend(rows)
    frame = results.frame()  # raises on duplicate keys
    hr = frame[(frame["analysis"] == "sensitivity.pfs") & (frame["level"] == "caliper=0.1;ratio=1;replace=false")
               & (frame["stat"] == "hr")]["value"]
    assert hr.iloc[0] == table[table["paper_setting"] & (table["endpoint"] == "pfs")]["hr"].iloc[0]
    text = sens.summary_text(table, spec)
    matched = table[(table["endpoint"] == "os") & (table["cohort"] == "matched")]
    assert f"ranged from {matched['hr'].min():.2f}" in text and f"to {matched['hr'].max():.2f}" in text
    both = sens.sensitivity_display(table, spec)
    assert len(both) == 21 + len(sens.CONVENTION_VARIANTS) and {"PFS HR (95% CI)", "OS HR (95% CI)"} <= set(both.columns)
    assert both["Setting"].str.endswith("(paper)").sum() == 1
    fig = figures.sensitivity_forest(table, spec)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["PFS", "OS"]
    assert all(ax.get_xscale() == "log" for ax in fig.axes if ax.get_title())
