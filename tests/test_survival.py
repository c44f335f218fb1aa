"""Tests of helpers.stats.survival against R (survival 3.5-3, prodlim) and hand calculations.

The R values are produced by tests/reference/survival_km_reference.R (``make r-reference``), which
also exports the R data sets to tests/reference/data/; R is not needed to run these tests.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.stats.survival import (
    FollowUp,
    KaplanMeier,
    SurvivalSample,
    MedianEstimate,
    format_median,
    kaplan_meier,
    kaplan_meier_by_group,
    landmark_comparison,
    logrank_test,
    median_followup,
    reverse_kaplan_meier,
)

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "r_values" / "survival_km.json").read_text())
KM = REF["km"]
KM_BY_ID = {r["id"]: r for r in KM}
CONF_TYPES = ["log", "log-log", "plain"]

EST = dict(rtol=1e-6, atol=1e-9)   # estimates
PV = dict(rtol=1e-4, atol=1e-10)   # p-values


def arr(v) -> np.ndarray:
    """JSON value (string numbers, null = NA/NaN, scalar for length-1 vectors) -> float array."""
    v = v if isinstance(v, list) else [v]
    return np.array([math.nan if x is None else float(x) for x in v], dtype=float)


def close(got, want, **tol):
    np.testing.assert_allclose(np.asarray(got, dtype=float), arr(want) if not isinstance(want, np.ndarray) else want,
                               equal_nan=True, **(tol or EST))


_DATA: dict[str, pd.DataFrame] = {}


def dataset(name: str) -> pd.DataFrame:
    if name not in _DATA:
        _DATA[name] = pd.read_csv(HERE / "data" / f"{name}.csv")
    return _DATA[name]


def load(source: dict):
    """time, event (and group if any) exactly as R built them."""
    if "dataset" not in source:
        group = np.array(source["group"]) if "group" in source else None
        return arr(source["time"]), np.array(source["event"] if isinstance(source["event"], list)
                                             else [source["event"]]), group
    d = dataset(source["dataset"])
    if source.get("subset_col"):
        d = d[d[source["subset_col"]].notna() & (d[source["subset_col"]] == source["subset_value"])]
    if source.get("group"):
        d = d[d[source["group"]].notna()]
    event = (d[source["status"]] == source["event_value"]).astype(int).to_numpy()
    group = d[source["group"]].to_numpy() if source.get("group") else None
    return d[source["time"]].to_numpy(dtype=float), event, group


def test_reference_file_records_versions():
    assert REF["R_version"].startswith("R version")
    assert REF["packages"]["survival"].startswith("3.5")
    assert len(KM) >= 20 and len(REF["logrank"]) >= 10 and len(REF["followup"]) >= 10
    for name in ("lung", "veteran", "aml", "ovarian"):
        assert (HERE / "data" / f"{name}.csv").exists()


# ------------------------------------------------------------------------------------------------
# Kaplan-Meier vs R survfit
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rec", KM, ids=[r["id"] for r in KM])
def test_km_table_matches_survfit(rec):
    time, event, _ = load(rec["source"])
    assert len(time) == rec["n"]
    r = rec["log"]
    km = kaplan_meier(time, event)
    tab = km.table
    close(tab["time"], r["time"])
    np.testing.assert_array_equal(tab["n_risk"], arr(r["n_risk"]))
    np.testing.assert_array_equal(tab["n_event"], arr(r["n_event"]))
    np.testing.assert_array_equal(tab["n_censor"], arr(r["n_censor"]))
    close(tab["surv"], r["surv"])
    close(tab["std_err"], r["std_err"])
    assert km.n == rec["n"]


@pytest.mark.parametrize("conf_type", CONF_TYPES)
@pytest.mark.parametrize("rec", KM, ids=[r["id"] for r in KM])
def test_km_bands_medians_quantiles_summary_match_r(rec, conf_type):
    time, event, _ = load(rec["source"])
    r = rec[conf_type]
    km = kaplan_meier(time, event, conf_type=conf_type)
    close(km.lower, r["lower"])
    close(km.upper, r["upper"])

    m = km.median()
    close([m.estimate, m.lower, m.upper], r["print_median"])

    q = km.quantile(r["quantile"]["probs"])
    close(q["estimate"], r["quantile"]["quantile"])
    close(q["lower"], r["quantile"]["lower"])
    close(q["upper"], r["quantile"]["upper"])
    mq = km.median(rule="quantile")
    i = r["quantile"]["probs"].index(0.5)
    close([mq.estimate, mq.lower, mq.upper],
          [r["quantile"][k][i] for k in ("quantile", "lower", "upper")])

    st = r["summary_times"]
    times = arr(st["times"])
    got = km.survival_at(times, extend=True)
    close(got["time"], st["time"])
    close(got["surv"], st["surv"])
    close(got["se_surv"], st["std_err"])
    close(got["lower"], st["lower"])
    close(got["upper"], st["upper"])
    np.testing.assert_array_equal(got["n_risk"], arr(st["n_risk"]))
    np.testing.assert_array_equal(km.at_risk(times), arr(st["n_risk"]))
    # without extend, times after the last observation are NaN (R drops them); others unchanged
    plain = km.survival_at(times)
    beyond = times > float(rec["max_time"])
    assert plain.loc[beyond, "surv"].isna().all()
    close(plain.loc[~beyond, "surv"], arr(st["surv"])[~beyond])
    np.testing.assert_array_equal(plain["n_risk"], arr(st["n_risk"]))


@pytest.mark.parametrize("rec", KM, ids=[r["id"] for r in KM])
def test_km_conf_level_90(rec):
    time, event, _ = load(rec["source"])
    km = kaplan_meier(time, event, conf_level=0.9)
    close(km.lower, rec["log_90"]["lower"])
    close(km.upper, rec["log_90"]["upper"])
    m = km.median()
    close([m.estimate, m.lower, m.upper], rec["log_90"]["print_median"])


def test_by_group_equals_separate_fits():
    d = dataset("lung")
    event = (d["status"] == 2).astype(int)
    fits = kaplan_meier_by_group(d["time"], event, d["sex"])
    assert list(fits) == [1, 2]
    close(fits[1].surv, KM_BY_ID["lung_male"]["log"]["surv"])
    close(fits[2].surv, KM_BY_ID["lung_female"]["log"]["surv"])
    rev = kaplan_meier_by_group(d["time"], event, d["sex"].map({1: "m", 2: "f"}), order=["m", "f"])
    assert list(rev) == ["m", "f"]
    cat = pd.Series(pd.Categorical(d["sex"].map({1: "m", 2: "f"}), categories=["m", "f"]))
    assert list(kaplan_meier_by_group(d["time"], event, cat)) == ["m", "f"]
    # missing groups are dropped, as R does
    ecog = kaplan_meier_by_group(d["time"], event, d["ph.ecog"])
    assert sum(k.n for k in ecog.values()) == d["ph.ecog"].notna().sum()
    with pytest.raises(ValueError, match="not in order"):
        kaplan_meier_by_group(d["time"], event, d["sex"], order=[1])


# ------------------------------------------------------------------------------------------------
# Log-rank vs survdiff
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rec", REF["logrank"], ids=[r["id"] for r in REF["logrank"]])
def test_logrank_matches_survdiff(rec):
    time, event, group = load(rec["source"])
    levels = rec["levels"] if isinstance(rec["levels"], list) else [rec["levels"]]
    if group.dtype.kind in "if":
        levels = [type(group[0])(float(x)) if group.dtype.kind == "f" else int(float(x)) for x in levels]
    res = logrank_test(time, event, group, order=levels)
    close(res.observed, rec["obs"])
    close(res.expected, rec["exp"])
    close(res.variance.to_numpy(), np.array([arr(row) for row in rec["var"]]))
    close([res.chisq], rec["chisq"])
    assert res.df == rec["df"]
    close([res.p_value], rec["p_value"], **PV)


def test_logrank_two_groups_symmetric_and_default_order():
    d = dataset("aml")
    a = logrank_test(d["time"], d["status"], d["x"])
    b = logrank_test(d["time"], d["status"], d["x"], order=["Nonmaintained", "Maintained"])
    assert list(a.observed.index) == ["Maintained", "Nonmaintained"]
    assert a.chisq == pytest.approx(b.chisq, rel=1e-12)
    assert a.observed.sum() == pytest.approx(a.expected.sum())


# ------------------------------------------------------------------------------------------------
# Landmark comparisons
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rec", REF["landmark"], ids=[r["id"] for r in REF["landmark"]])
def test_landmark_matches_r_summary(rec):
    fa = kaplan_meier(*load(KM_BY_ID[rec["a"]]["source"])[:2])
    fb = kaplan_meier(*load(KM_BY_ID[rec["b"]]["source"])[:2])
    t = float(rec["t"])
    c = landmark_comparison(fa, fb, t)
    close([c.surv_a, c.lower_a, c.upper_a, c.se_a], [rec[k] for k in ("surv_a", "lower_a", "upper_a", "se_a")])
    close([c.surv_b, c.lower_b, c.upper_b, c.se_b], [rec[k] for k in ("surv_b", "lower_b", "upper_b", "se_b")])
    close([c.difference, c.se_difference, c.z], [rec["difference"], rec["se_difference"], rec["z"]])
    close([c.p_value], rec["p_value"], **PV)
    assert c.method == "naive"
    cl = landmark_comparison(fa, fb, t, method="cloglog")
    close([cl.z], rec["z_cloglog"])
    close([cl.p_value], rec["p_cloglog"], **PV)
    assert np.sign(cl.z) == np.sign(c.z)
    assert cl.difference == c.difference


def test_landmark_hand_calculation_and_edges():
    a = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])      # S(2.5) = 0.5, Greenwood var of S = 1/16
    b = kaplan_meier([1, 2, 3, 4], [0, 0, 0, 0])      # S = 1, var 0
    c = landmark_comparison(a, b, 2.5)
    assert c.difference == pytest.approx(-0.5)
    assert c.se_difference == pytest.approx(0.25)
    assert c.z == pytest.approx(-2.0)
    assert c.p_value == pytest.approx(0.04550026389635842)
    assert c.diff_lower == pytest.approx(-0.5 - 1.959963984540054 * 0.25)
    assert math.isnan(landmark_comparison(a, b, 2.5, method="cloglog").z)   # S_b = 1
    assert math.isnan(landmark_comparison(a, b, 10).surv_a)                # after follow-up
    with pytest.raises(ValueError, match="method"):
        landmark_comparison(a, b, 1, method="wald")


# ------------------------------------------------------------------------------------------------
# Reverse Kaplan-Meier follow-up vs prodlim
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rec", REF["followup"], ids=[r["id"] for r in REF["followup"]])
def test_followup_matches_prodlim(rec):
    time, event, _ = load(rec["source"])
    tab = reverse_kaplan_meier(time, event)
    close(tab["time"], rec["time"])
    np.testing.assert_array_equal(tab["n_risk"], arr(rec["n_risk"]))
    np.testing.assert_array_equal(tab["n_event"], arr(rec["n_event"]))
    np.testing.assert_array_equal(tab["n_lost"], arr(rec["n_lost"]))
    close(tab["surv"], rec["surv"])
    close(tab["se_surv"], rec["se_surv"])
    close(tab["lower"], rec["lower"])
    close(tab["upper"], rec["upper"])

    fu = median_followup(time, event)
    assert isinstance(fu, FollowUp) and fu.n == rec["n"]
    q = {float(k): i for i, k in enumerate(rec["quantile"]["q"])}
    quant, lower, upper = (arr(rec["quantile"][k]) for k in ("quantile", "lower", "upper"))
    close([fu.median, fu.q1, fu.q3], [quant[q[0.5]], quant[q[0.75]], quant[q[0.25]]])
    close([fu.lower, fu.upper], [lower[q[0.5]], upper[q[0.5]]])


def test_followup_tie_handling_differs_from_flipped_survfit():
    """prodlim removes the deaths at t before counting censorings at t; survfit(Surv(time,
    1 - status)) keeps them at risk. With ties the two disagree (documented in median_followup)."""
    rec = next(r for r in REF["followup"] if r["id"] == "ties")
    flipped = arr(rec["survfit_flipped"]["quantile"])        # probs .25, .5, .75
    time, event, _ = load(rec["source"])
    fu = median_followup(time, event)
    assert fu.median == 4.0 and flipped[1] == 6.0   # G: prodlim 0.469 at t = 4, survfit 0.519
    # a flat stretch at G = 0.5: prodlim takes the next time with G < 0.5, survfit the midpoint
    t = np.arange(1, 11)
    e = np.zeros(10, dtype=int)
    e[5] = 1
    assert median_followup(t, e).median == 7.0
    assert kaplan_meier(t, 1 - e).median().estimate == 6.0


# ------------------------------------------------------------------------------------------------
# Hand-calculated cases
# ------------------------------------------------------------------------------------------------
def test_hand_calculated_km():
    km = kaplan_meier([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1])
    t = km.table
    assert t["time"].tolist() == [1, 2, 3, 4, 5]
    assert t["n_risk"].tolist() == [6, 5, 3, 2, 1]
    s = [5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3, 5 / 6 * 4 / 5 * 2 / 3, 0.0]
    assert t["surv"].tolist() == pytest.approx(s)
    gw = np.cumsum([1 / (6 * 5), 1 / (5 * 4), 1 / (3 * 2), 0])
    assert t["std_err"].iloc[:4].tolist() == pytest.approx(np.sqrt(gw).tolist())
    assert math.isinf(t["std_err"].iloc[4]) and math.isnan(t["lower"].iloc[4])
    z = 1.959963984540054
    assert t["lower"].iloc[0] == pytest.approx(5 / 6 * math.exp(-z * math.sqrt(1 / 30)))
    assert km.median().estimate == 3.0
    # numbers at risk count time >= t
    assert km.at_risk([0, 1, 1.5, 2, 5, 6]).tolist() == [6, 6, 5, 5, 1, 0]


def test_median_rules_on_plateaus():
    m = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median()
    assert m.estimate == 2.5                                       # S = 0.5 on [2, 3)
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median(rule="quantile").estimate == 2.5
    end = kaplan_meier([1, 2, 3, 4], [1, 1, 0, 0])                  # ends at S = 0.5
    assert end.median().estimate == 2.0                            # print.survfit
    assert end.median(rule="quantile").estimate == 3.0             # quantile.survfit: (2 + 4) / 2
    nr = kaplan_meier(np.arange(1, 11), [1, 0, 0, 1, 0, 0, 0, 0, 0, 0]).median()
    assert math.isnan(nr.estimate) and nr.reasons[0] == "NR"
    assert format_median(nr) .startswith("NR (")
    with pytest.raises(ValueError, match="rule"):
        end.median(rule="lifelines")


def test_quantile_api():
    km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    q = km.quantile([0.25, 0.5, 0.75])
    assert list(q.columns) == ["p", "estimate", "lower", "upper"]
    assert q["estimate"].tolist() == [1.5, 2.5, 3.5]
    assert isinstance(km.quantile(0.5), MedianEstimate)
    assert km.quantile(0).estimate == 0.0
    with pytest.raises(ValueError, match="probabilities"):
        km.quantile(1.5)


def test_edge_curves():
    none = kaplan_meier([3, 5, 5, 8], [0, 0, 0, 0])
    assert (none.surv == 1).all() and (none.std_err == 0).all()
    assert math.isnan(none.median().estimate)
    one = kaplan_meier([7], [1])
    assert one.surv.tolist() == [0.0] and one.median().estimate == 7.0
    assert kaplan_meier(7, 0).surv.tolist() == [1.0]
    assert kaplan_meier([1, 2], [True, False]).n_events == 1
    nob = kaplan_meier([1, 2, 3], [1, 1, 0], conf_type="none")
    assert np.isnan(nob.lower).all()
    assert format_median(nob.median()) == "2.0 (NE\u2013NE)"
    assert repr(nob).startswith("KaplanMeier(n=3")
    c = kaplan_meier([2, 3], [1, 0]).curve()
    assert c["time"].tolist() == [0, 2, 3] and c["surv"].tolist() == [1, 0.5, 0.5]


def test_format_median():
    assert format_median(MedianEstimate(10.06, 7.2, math.nan)) == "10.1 (7.2\u2013NR)"
    assert format_median(MedianEstimate(10.06, 7.2, math.nan, (None, None, "NE")), 2) == "10.06 (7.20\u2013NE)"
    assert format_median(MedianEstimate(math.nan, 3, math.nan), sep="-") == "NR (3.0-NR)"
    assert str(MedianEstimate(1, 0.5, 2)) == "1.0 (0.5\u20132.0)"


# ------------------------------------------------------------------------------------------------
# Input validation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("time, event, message", [
    ([1, 2], [1], "same length"),
    ([], [], "empty"),
    ([[1, 2]], [[1, 0]], "one-dimensional"),
    ([1, np.nan], [1, 0], "finite"),
    ([1, np.inf], [1, 0], "finite"),
    ([1, -1], [1, 0], ">= 0"),
    ([1, 2], [1, 2], "only 0"),
    ([1, 2], [1, np.nan], "only 0"),
    ([1, 2], ["a", "b"], "only 0"),
    (["a", "b"], [1, 0], "numeric"),
])
def test_validation(time, event, message):
    with pytest.raises(ValueError, match=message):
        kaplan_meier(time, event)
    with pytest.raises(ValueError, match=message):
        median_followup(time, event)


def test_validation_options_and_groups():
    with pytest.raises(ValueError, match="conf_type"):
        kaplan_meier([1], [1], conf_type="logit")
    with pytest.raises(ValueError, match="conf_level"):
        kaplan_meier([1], [1], conf_level=95)
    with pytest.raises(ValueError, match="same length"):
        logrank_test([1, 2, 3], [1, 1, 0], ["a", "b"])
    with pytest.raises(ValueError, match="two groups"):
        logrank_test([1, 2, 3], [1, 1, 0], ["a", "a", "a"])
    with pytest.raises(ValueError, match="no patients"):
        kaplan_meier_by_group([1, 2], [1, 0], ["a", "a"], order=["a", "b"])


# ------------------------------------------------------------------------------------------------
# Scale: one sort, vectorised (the benchmark runs 1,000,000 patients)
# ------------------------------------------------------------------------------------------------
def test_large_input_is_fast():
    import time as _time
    rng = np.random.default_rng(1)
    n = 300_000
    t = np.round(rng.exponential(20, n), 2)
    e = rng.binomial(1, 0.6, n)
    g = rng.integers(0, 3, n)
    start = _time.perf_counter()
    km = kaplan_meier(t, e)
    lr = logrank_test(t, e, g)
    fu = median_followup(t, e)
    km.median(), km.quantile([0.25, 0.75]), km.survival_at([5, 10])
    elapsed = _time.perf_counter() - start
    assert isinstance(km, KaplanMeier) and lr.df == 2 and fu.n == n
    assert elapsed < 5, elapsed


def test_one_sort_gives_the_numbers_of_separate_fits():
    """SurvivalSample (one sort shared by the groups' KM fits, the log-rank test and the reverse KM) gives
    exactly, to the bit, what fitting each group on its own arrays gives; ties and ungrouped patients included."""
    rng = np.random.default_rng(7)
    n = 5_000
    t = np.round(rng.exponential(10, n), 1)  # many ties
    e = rng.binomial(1, 0.6, n)
    codes = rng.integers(-1, 3, n)           # -1: in no group
    sample = SurvivalSample(t, e, codes)
    for k in range(3):
        sel = codes == k
        a, b = sample.kaplan_meier(k, conf_type="log-log"), kaplan_meier(t[sel], e[sel], conf_type="log-log")
        pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
        assert a.n == b.n
        pd.testing.assert_frame_equal(sample.reverse_kaplan_meier(k), reverse_kaplan_meier(t[sel], e[sel]),
                                      check_exact=True)
    pd.testing.assert_frame_equal(sample.kaplan_meier().table, kaplan_meier(t, e).table, check_exact=True)
    keep = codes >= 0
    for s, ev in ((sample, e), (sample.with_event(1 - sample.event), 1 - e)):
        got = s.logrank(["a", "b", "c"])
        ref = logrank_test(t[keep], ev[keep], np.array(["a", "b", "c"])[codes[keep]])
        assert got.chisq == ref.chisq and got.df == ref.df and got.p_value == ref.p_value
        for attr in ("observed", "expected", "n"):
            pd.testing.assert_series_equal(getattr(got, attr), getattr(ref, attr), check_exact=True)
        pd.testing.assert_frame_equal(got.variance, ref.variance, check_exact=True)
    # a categorical group gives the groups of its labels, through its codes
    cat = pd.Series(pd.Categorical(np.array(["x", "y", "z"])[np.maximum(codes, 0)], categories=["z", "y", "x"]))
    assert list(kaplan_meier_by_group(t, e, cat)) == ["z", "y", "x"]
    assert logrank_test(t, e, cat).chisq == logrank_test(t, e, cat.astype(str), order=["z", "y", "x"]).chisq
