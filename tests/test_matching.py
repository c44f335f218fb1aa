"""Tests of helpers.stats.matching against MatchIt (R) and against hand-checkable cases.

The R reference values are produced by tests/reference/matchit_reference.R (``make r-reference``);
R is not needed to run these tests. See that script for how it works around two bugs of the
MatchIt 4.5.1 installed on the build machine (integer abs(), MatchIt#163; 0/1-based index
comparison for ratio > 1).
"""
from __future__ import annotations

import functools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.stats.matching import (MatchResult, match_cohort, nearest_neighbor_kernel, nearest_neighbor_match,
                                   propensity_scores)

REF = Path(__file__).parent / "reference"
LALONDE_JSON = REF / "r_values" / "matchit_lalonde.json"
TIES_JSON = REF / "r_values" / "matchit_ties.json"
LALONDE_CSV = REF / "data" / "lalonde.csv"


@pytest.fixture(scope="module")
def lalonde_ref():
    return json.loads(LALONDE_JSON.read_text())


@pytest.fixture(scope="module")
def lalonde():
    return pd.read_csv(LALONDE_CSV)


@pytest.fixture(scope="module")
def r_distance(lalonde_ref):
    d = lalonde_ref["distance"]
    return pd.Series([float(v) for v in d["distance"]], index=d["id"], name="distance")


@pytest.fixture(scope="module")
def lalonde_treated(lalonde):
    return pd.Series(lalonde["treat"].to_numpy() == 1, index=lalonde["id"])


def _load_cases(path: Path, key: str | None = None):
    if not path.exists():
        return []
    ref = json.loads(path.read_text())
    if key is None:
        return [(c["name"], c) for c in ref["cases"]]
    out = []
    for set_name, ds in ref["datasets"].items():
        for c in ds["cases"]:
            out.append((c["name"], set_name, c))
    return out


LALONDE_CASES = _load_cases(LALONDE_JSON)
TIE_CASES = _load_cases(TIES_JSON, key="datasets")


def _run(scores, treated, case) -> MatchResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Not all treated units will get k matches" etc.
        return nearest_neighbor_match(
            scores,
            treated,
            ratio=case["ratio"],
            caliper=case.get("caliper_arg"),
            std_caliper=True,
            replace=case["replace"],
            order=case["m_order"],
        )


def _assert_same_as_r(result: MatchResult, case, *, exact_caliper: bool = True):
    # pairs: identical as sets, and identical round by round (MatchIt's match.matrix columns)
    want_pairs = set(zip(case["pairs"]["treated_id"], case["pairs"]["control_id"]))
    got_pairs = set(zip(result.pairs["treated_id"], result.pairs["control_id"]))
    assert got_pairs == want_pairs
    want_slots = set(zip(case["pairs"]["treated_id"], case["pairs"]["control_id"], case["pairs"]["slot"]))
    mm = result.match_matrix
    got_slots = {(t, c, int(s)) for t in mm.index for s, c in mm.loc[t].items() if c is not None}
    assert got_slots == want_slots
    assert set(mm.index[mm[1].isna()]) == set(case["unmatched_treated"])
    assert result.n_unmatched_treated == len(case["unmatched_treated"])
    # weights
    rw = pd.Series([float(v) for v in case["weights"]["weight"]], index=case["weights"]["id"])
    np.testing.assert_allclose(result.weights.reindex(rw.index).to_numpy(), rw.to_numpy(), rtol=1e-12, atol=1e-14)
    # subclasses (MatchIt gives none with replacement)
    if case["subclass"] is None:
        assert result.subclass is None
    else:
        rs = pd.Series(case["subclass"]["subclass"], index=case["subclass"]["id"])
        got = result.subclass.reindex(rs.index)
        for unit, want in rs.items():
            if want is None:
                assert pd.isna(got[unit]), unit
            else:
                assert got[unit] == int(want), unit
    # summary(m)$nn
    nn = result.summary()
    assert list(nn.index) == case["nn"]["rows"]
    np.testing.assert_allclose(nn["Control"].to_numpy(), [float(v) for v in case["nn"]["Control"]], rtol=1e-12)
    np.testing.assert_allclose(nn["Treated"].to_numpy(), [float(v) for v in case["nn"]["Treated"]], rtol=1e-12)
    # caliper width on the distance scale
    if case["caliper"] is None:
        assert result.caliper_width is None
    else:
        tol = 1e-15 if exact_caliper else 1e-9
        assert result.caliper_width == pytest.approx(float(case["caliper"]), rel=tol, abs=0)


# ------------------------------------------------------------------------------------------------
# Propensity scores: R's glm
# ------------------------------------------------------------------------------------------------
def test_reference_files_record_versions(lalonde_ref):
    assert lalonde_ref["R_version"].startswith("R version")
    assert lalonde_ref["MatchIt_version"]


def test_propensity_scores_match_r_glm(lalonde, lalonde_ref, r_distance):
    ps = propensity_scores(lalonde, lalonde["treat"], lalonde_ref["covariates"])
    assert ps.index.equals(lalonde.index)
    assert np.max(np.abs(ps.to_numpy() - r_distance.to_numpy())) < 1e-9


def test_propensity_scores_reference_level_does_not_change_fit(lalonde, lalonde_ref, r_distance):
    data = lalonde.copy()
    data["race"] = pd.Categorical(data["race"], categories=["white", "hispan", "black"])
    data["married"] = data["married"] == 1  # a boolean covariate is coded like a 0/1 dummy
    ps = propensity_scores(data, data["treat"] == 1, lalonde_ref["covariates"])
    assert np.max(np.abs(ps.to_numpy() - r_distance.to_numpy())) < 1e-9


def test_propensity_scores_constant_covariate_is_dropped_like_r(lalonde, lalonde_ref, r_distance):
    data = lalonde.assign(const=3.0)
    with pytest.warns(UserWarning, match="aliased"):
        ps = propensity_scores(data, data["treat"], lalonde_ref["covariates"] + ["const"])
    assert np.max(np.abs(ps.to_numpy() - r_distance.to_numpy())) < 1e-9


def test_propensity_scores_separation_warns_and_returns():
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    treated = pd.Series([0, 0, 0, 1, 1, 1])
    with pytest.warns(UserWarning):
        ps = propensity_scores(data, treated, ["x"])
    assert ps.iloc[:3].max() < 1e-6 and ps.iloc[3:].min() > 1 - 1e-6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(covariates=["nope"]), "not a column"),
        (dict(treated=pd.Series([1, 0, 1])), "length"),
        (dict(treated=pd.Series([0] * 614)), "empty"),
        (dict(treated=pd.Series([2] * 614)), "boolean or 0/1"),
    ],
)
def test_propensity_scores_bad_input(lalonde, lalonde_ref, kwargs, message):
    args = dict(data=lalonde, treated=lalonde["treat"], covariates=lalonde_ref["covariates"])
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        propensity_scores(**args)


def test_propensity_scores_missing_covariate_value(lalonde, lalonde_ref):
    data = lalonde.copy()
    data.loc[3, "age"] = np.nan
    with pytest.raises(ValueError, match="missing"):
        propensity_scores(data, data["treat"], lalonde_ref["covariates"])


# ------------------------------------------------------------------------------------------------
# Matching against MatchIt
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, case", LALONDE_CASES, ids=[c[0] for c in LALONDE_CASES])
def test_lalonde_matching_on_r_distance(name, case, r_distance, lalonde_treated):
    result = _run(r_distance, lalonde_treated, case)
    _assert_same_as_r(result, case)


@pytest.mark.parametrize("name, case", LALONDE_CASES, ids=[c[0] for c in LALONDE_CASES])
def test_lalonde_matching_on_python_propensity_scores(name, case, lalonde, lalonde_ref, lalonde_treated):
    ps = propensity_scores(lalonde, lalonde["treat"], lalonde_ref["covariates"])
    ps.index = lalonde["id"]
    result = _run(ps, lalonde_treated, case)
    _assert_same_as_r(result, case, exact_caliper=False)


@pytest.mark.parametrize("name, case", LALONDE_CASES, ids=[c[0] for c in LALONDE_CASES])
def test_kernel_matches_the_units_matchit_gives_a_weight(name, case, r_distance, lalonde_treated):
    """The kernel the generator calls (no checks, no tables): its matched rows are MatchIt's units of positive
    weight and its matched treated count MatchIt's, case by case."""
    t = lalonde_treated.reindex(r_distance.index).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = nearest_neighbor_kernel(r_distance.to_numpy(), t, case["ratio"], case.get("caliper_arg"), True,
                                    case["replace"], case["m_order"], False, "all", "none")
    rw = pd.Series([float(v) for v in case["weights"]["weight"]], index=case["weights"]["id"])
    assert set(r_distance.index[m.matched_rows()]) == set(rw.index[rw > 0])
    assert m.n_matched_treated == int(t.sum()) - len(case["unmatched_treated"])


def test_match_cohort_reproduces_matchit_default_call(lalonde, lalonde_ref, r_distance):
    case = dict(LALONDE_CASES)["a_ratio1_cal0.1"]
    result, scores = match_cohort(
        lalonde, "treat", 1, lalonde_ref["covariates"], ratio=1, caliper=0.1, id_column="id"
    )
    assert scores.index.equals(pd.Index(lalonde["id"]))
    assert np.max(np.abs(scores.to_numpy() - r_distance.to_numpy())) < 1e-9
    _assert_same_as_r(result, case, exact_caliper=False)
    assert set(result.matched_ids) == set(case["weights"]["id"][i] for i, w in enumerate(case["weights"]["weight"]) if float(w) > 0)


def test_installed_matchit_literal_run_ignores_the_caliper(lalonde_ref, r_distance):
    """Documents why the reference does not use the literal MatchIt 4.5.1 call (MatchIt#163)."""
    lit = lalonde_ref["installed_matchit_literal"]
    width = float(lit["caliper"])
    gaps = [abs(r_distance[t] - r_distance[c]) for t, c in zip(lit["pairs"]["treated_id"], lit["pairs"]["control_id"])]
    assert max(gaps) > width  # pairs outside the caliper: the bug
    fixed = dict(LALONDE_CASES)["a_ratio1_cal0.1"]
    fixed_gaps = [abs(r_distance[t] - r_distance[c]) for t, c in zip(fixed["pairs"]["treated_id"], fixed["pairs"]["control_id"])]
    assert max(fixed_gaps) <= width


@functools.lru_cache(maxsize=None)
def _tie_units(set_name: str):
    units = json.loads(TIES_JSON.read_text())["datasets"][set_name]["units"]
    scores = pd.Series([float(v) for v in units["distance"]], index=units["id"])
    treated = pd.Series(np.asarray(units["treat"]) == 1, index=units["id"])
    return scores, treated


@pytest.mark.parametrize("name, set_name, case", TIE_CASES, ids=[c[0] for c in TIE_CASES])
def test_tied_and_synthetic_distances(name, set_name, case):
    scores, treated = _tie_units(set_name)
    if "error" in case:
        with pytest.raises(ValueError):
            _run(scores, treated, case)
        return
    _assert_same_as_r(_run(scores, treated, case), case)


# ------------------------------------------------------------------------------------------------
# Hand-checkable cases
# ------------------------------------------------------------------------------------------------
def _match(d, t, ids=None, **kw):
    ids = ids or [f"u{i}" for i in range(len(d))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nearest_neighbor_match(pd.Series(d, index=ids), pd.Series(t, index=ids), **kw)


def _pairs(res):
    return sorted(zip(res.pairs["treated_id"], res.pairs["control_id"]))


def test_nearest_control_is_taken_even_above_the_treated_score():
    # treated 0.50; controls 0.20 (gap 0.30) and 0.51 (gap 0.01): MatchIt 4.5.1 took 0.20 (bug #163)
    res = _match([0.50, 0.20, 0.51], [1, 0, 0], caliper=None)
    assert _pairs(res) == [("u0", "u2")]


def test_equal_gap_goes_to_the_lower_score():
    # 0.25 and 0.75 are both exactly 0.25 away from 0.5 (dyadic, so exactly equal in floating point)
    res = _match([0.75, 0.5, 0.25], [0, 1, 0], caliper=None)
    assert _pairs(res) == [("u1", "u2")]


def test_equal_scores_left_neighbour_in_row_order_wins():
    # all 0.5: stable sort -> c0, t1, c2, c3; left neighbour of t1 is c0 (gap 0 = right gap 0)
    res = _match([0.5, 0.5, 0.5, 0.5, 0.25], [0, 1, 0, 0, 0], caliper=None)
    assert _pairs(res) == [("u1", "u0")]
    # treated last among equals: its left neighbour is the control just before it in row order
    res = _match([0.5, 0.5, 0.5, 0.25], [0, 0, 1, 0], caliper=None)
    assert _pairs(res) == [("u2", "u1")]


def test_gap_equal_to_caliper_is_allowed():
    d = [0.5, 0.25, 0.875, 0.875]
    t = [1, 0, 1, 0]
    res = _match(d, t, caliper=0.25, std_caliper=False)
    assert _pairs(res) == [("u0", "u1"), ("u2", "u3")]
    res = _match(d, t, caliper=0.24, std_caliper=False)
    assert _pairs(res) == [("u2", "u3")]
    assert res.n_unmatched_treated == 1
    assert res.caliper_width == 0.24


def test_standardised_caliper_uses_sample_sd_of_all_units():
    d = [0.0, 0.25, 0.5, 0.75, 1.0]
    res = _match(d, [1, 0, 1, 0, 0], caliper=1.0)
    # mean 0.5; squared deviations 0.25, 0.0625, 0, 0.0625, 0.25 -> var = 0.625 / 4, sd = 0.3953
    width = math.sqrt(0.625 / 4)
    assert res.caliper_width == pytest.approx(width, rel=1e-15)
    # t(0.5) takes 0.25 (equal gap, lower side); t(0.0) is then 0.75 away from 0.75: unmatched
    assert _pairs(res) == [("u2", "u1")]


def test_matching_order_largest_smallest_data():
    # t0 = 0.55 and t1 = 0.60 compete for the control at 0.56; the other control is at 0.10
    d = [0.55, 0.60, 0.56, 0.10]
    t = [1, 1, 0, 0]
    assert _pairs(_match(d, t, caliper=None, order="largest")) == [("u0", "u3"), ("u1", "u2")]
    assert _pairs(_match(d, t, caliper=None, order="smallest")) == [("u0", "u2"), ("u1", "u3")]
    assert _pairs(_match(d, t, caliper=None, order="data")) == [("u0", "u2"), ("u1", "u3")]


def test_ratio_two_is_matched_in_rounds():
    # rounds: t0 -> 0.89, t1 -> 0.81, then t0 -> 0.70, t1 -> nothing left.
    # (Matching each treated unit's two controls at once would give t0 -> 0.89, 0.81.)
    d = [0.90, 0.80, 0.89, 0.81, 0.70]
    t = [1, 1, 0, 0, 0]
    res = _match(d, t, caliper=None, ratio=2)
    assert res.match_matrix.loc["u0"].tolist() == ["u2", "u4"]
    assert res.match_matrix.loc["u1"].tolist() == ["u3", None]
    # weights: u0's controls 1/2 each, u1's control 1; rescaled to sum to 3 matched controls
    assert res.weights.to_dict() == pytest.approx({"u0": 1, "u1": 1, "u2": 0.75, "u3": 1.5, "u4": 0.75})


def test_replacement_reuses_controls_and_weights():
    # both treated units are nearest to u2; with replacement they both get it
    d = [0.40, 0.45, 0.43, 0.10]
    t = [1, 1, 0, 0]
    res = _match(d, t, caliper=None, replace=True)
    assert _pairs(res) == [("u0", "u2"), ("u1", "u2")]
    assert res.weights.to_dict() == pytest.approx({"u0": 1, "u1": 1, "u2": 1, "u3": 0})
    assert res.subclass is None
    # ratio 2 with replacement: t0 -> u2, u4 (0.34); t1 -> u2, u5 (0.47)
    d = [0.40, 0.45, 0.43, 0.10, 0.34, 0.47]
    t = [1, 1, 0, 0, 0, 0]
    res = _match(d, t, caliper=None, replace=True, ratio=2)
    assert _pairs(res) == [("u0", "u2"), ("u0", "u4"), ("u1", "u2"), ("u1", "u5")]
    # raw weights u2 = 1/2 + 1/2, u4 = u5 = 1/2; rescaled by 3 matched controls / 2
    assert res.weights.to_dict() == pytest.approx({"u0": 1, "u1": 1, "u2": 1.5, "u3": 0, "u4": 0.75, "u5": 0.75})


def test_subclasses_are_numbered_like_matchit():
    # 12 treated units in rows 1..12 (1-based) each with its own control; MatchIt numbers the
    # subclasses by the treated row numbers sorted as strings: "1" "10" "11" "12" "2" ... "9"
    d = [i / 64 for i in range(12)] + [i / 64 + 1 / 256 for i in range(12)]
    t = [1] * 12 + [0] * 12
    res = _match(d, t, caliper=None)
    sub = res.subclass
    assert [int(sub[f"u{i}"]) for i in range(12)] == [1, 5, 6, 7, 8, 9, 10, 11, 12, 2, 3, 4]
    for tr, c in zip(res.pairs["treated_id"], res.pairs["control_id"]):
        assert sub[tr] == sub[c]


def test_summary_counts():
    d = [0.5, 0.25, 0.875, 0.875, 0.0625]
    t = [1, 0, 1, 0, 0]
    res = _match(d, t, caliper=0.24, std_caliper=False)
    nn = res.summary()
    assert nn.loc["All", "Control"] == 3 and nn.loc["All", "Treated"] == 2
    assert nn.loc["Matched", "Control"] == 1 and nn.loc["Matched", "Treated"] == 1
    assert nn.loc["Unmatched", "Control"] == 2 and nn.loc["Unmatched", "Treated"] == 1
    assert nn.loc["Discarded"].tolist() == [0, 0]


def _naive_greedy(d, t, ratio, cal, order):
    """Quadratic, literal version of the rule: in rounds, each treated unit (in order) takes the
    available control with the smallest gap; an equal gap goes to the lower side, then to the
    control nearest in the stable sort."""
    d = np.asarray(d)
    t = np.asarray(t, dtype=bool)
    pos = np.empty(len(d), dtype=int)
    pos[np.argsort(d, kind="stable")] = np.arange(len(d))
    tr = np.flatnonzero(t)
    if order == "largest":
        tr = tr[np.argsort(-d[tr], kind="stable")]
    avail = set(np.flatnonzero(~t).tolist())
    out = {int(i): [] for i in tr}
    for _ in range(ratio):
        for i in tr:
            best = None
            for c in avail:
                gap = abs(d[c] - d[i])
                if gap > cal:
                    continue
                key = (gap, 0 if pos[c] < pos[i] else 1, abs(pos[c] - pos[i]))
                if best is None or key < best[0]:
                    best = (key, c)
            if best is not None:
                out[int(i)].append(best[1])
                avail.discard(best[1])
    return {k: v for k, v in out.items() if v}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("ratio", [1, 2])
def test_union_find_agrees_with_quadratic_scan(seed, ratio):
    rng = np.random.default_rng(seed)
    n = 600
    d = np.round(rng.beta(2, 3, n) * 64) / 64  # many exact ties
    t = rng.random(n) < 0.3
    for cal in (math.inf, 0.02):
        res = _match(d.tolist(), t.tolist(), ratio=ratio, caliper=None if math.isinf(cal) else cal, std_caliper=False)
        got = {}
        for tr, c in zip(res.pairs["treated_id"], res.pairs["control_id"]):
            got.setdefault(int(tr[1:]), []).append(int(c[1:]))
        want = _naive_greedy(d, t, ratio, cal, "largest")
        assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in want.items()}


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(treated=pd.Series([True, False])), "length"),
        (dict(scores=pd.Series([0.1, 0.2, 0.3, 0.4], index=["a", "a", "b", "c"])), "unique"),
        (dict(scores=pd.Series([0.1, np.nan, 0.3, 0.4], index=list("abcd"))), "finite"),
        (dict(treated=pd.Series([False] * 4, index=list("abcd"))), "empty"),
        (dict(ratio=0), "ratio"),
        (dict(ratio=1.5), "ratio"),
        (dict(caliper=-0.1), "non-negative"),
        (dict(order="random"), "unknown order"),
        (dict(scores=pd.Series([0.1, 0.1, 0.3, 0.3], index=list("abcd"))), "two distinct values"),
        (dict(caliper=1e-6, std_caliper=False), "No units were matched"),
    ],
)
def test_matching_bad_input(kwargs, message):
    args = dict(
        scores=pd.Series([0.1, 0.2, 0.35, 0.4], index=list("abcd")),
        treated=pd.Series([True, False, True, False], index=list("abcd")),
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        nearest_neighbor_match(**args)


def test_fewer_controls_than_treated_warns():
    with pytest.warns(UserWarning, match="Fewer control units"):
        res = nearest_neighbor_match(
            pd.Series([0.1, 0.2, 0.3]), pd.Series([True, True, False]), caliper=None
        )
    assert res.n_unmatched_treated == 1


def test_match_cohort_bad_input(lalonde, lalonde_ref):
    with pytest.raises(ValueError, match="arm column"):
        match_cohort(lalonde, "arm", 1, lalonde_ref["covariates"])
    with pytest.raises(ValueError, match="empty treated group"):
        match_cohort(lalonde, "treat", "yes", lalonde_ref["covariates"])
    with pytest.raises(ValueError, match="unique"):
        match_cohort(lalonde.assign(pid=1), "treat", 1, lalonde_ref["covariates"], id_column="pid")


def test_treated_aligned_on_ids_when_in_another_order():
    scores = pd.Series([0.5, 0.25, 0.875, 0.875], index=list("abcd"))
    treated = pd.Series([False, True, False, True], index=list("dcba"))  # a, c treated
    res = nearest_neighbor_match(scores, treated, caliper=None)
    assert sorted(zip(res.pairs["treated_id"], res.pairs["control_id"])) == [("a", "b"), ("c", "d")]
