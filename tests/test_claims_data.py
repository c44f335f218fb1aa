"""The key claims of each study's ``published.yaml`` (format: book/results_table.md, "Key claims") as data.

Checked here without building the book: every claim has the fields of the format and nothing else; ids are unique;
the estimate and p-value keys name published numbers of the file's own ``values:``; each seed paper has 8-15 claims
(the veteran example 4-6); every claim no data set could satisfy says why. Independently of the file, the one known
unsatisfiable claim (seed 004's ORR, p = 0.031 from 12/66 vs 12/34) is recomputed with scipy. The veteran example's
published numbers are R's (tests/reference/r_values/veteran_study.json); they are checked against that JSON at the
printed decimals so the two cannot drift apart.
"""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from scipy.stats import chi2_contingency, fisher_exact

from helpers.paths import ROOT, STUDIES_DIR
from helpers.study.published import load_published
from helpers.study.spec import load_spec

SEED_PAPERS = ("erhcc_hait_mp", "haic_after_ab")
STUDIES = (*SEED_PAPERS, "veteran")
R_VALUES = Path(__file__).parent / "reference" / "r_values" / "veteran_study.json"

KEY_FIELDS = ("cohort", "analysis", "variable", "level", "group", "stat")
REQUIRED = {"id", "claim", "where", "estimate", "no_effect"}
OPTIONAL = {"p_value", "threshold", "satisfiable", "why", "note"}
RATIO_STATS = {"hr"}


@functools.cache
def raw_file(study: str) -> dict:
    return yaml.safe_load((STUDIES_DIR / study / "published.yaml").read_text(encoding="utf-8"))


@functools.cache
def _published(study: str) -> pd.DataFrame:
    return load_published(STUDIES_DIR / study / "published.yaml")


def published_of(study: str) -> pd.DataFrame:
    """The file's values as the audit loads them (helpers.study.published.load_published), one load per study."""
    return _published(study).copy()


def claims_of(study: str) -> list[dict]:
    return raw_file(study).get("claims") or []


def p_key(claim: dict) -> dict:
    """The claim's p-value key: ``p_value``, or by default the estimate's key with ``stat: p_value``."""
    return claim.get("p_value") or {**claim["estimate"], "stat": "p_value"}


def published_rows(published: pd.DataFrame, key: dict) -> pd.DataFrame:
    mask = pd.Series(True, index=published.index)
    for field in KEY_FIELDS:
        mask &= published[field] == str(key[field])
    return published[mask]


def all_claims():
    return [pytest.param(study, claim, id=f"{study}:{claim.get('id')}") for study in STUDIES
            for claim in claims_of(study)]


# ------------------------------------------------------------------------------------------- the format
@pytest.mark.parametrize("study", STUDIES)
def test_each_file_names_its_study_and_has_claims(study):
    raw = raw_file(study)
    assert raw["study"] == study and isinstance(raw.get("paper"), str) and raw["paper"]
    assert isinstance(raw.get("claims"), list) and raw["claims"]


@pytest.mark.parametrize("study", SEED_PAPERS)
def test_each_seed_paper_has_8_to_15_claims(study):
    assert 8 <= len(claims_of(study)) <= 15


def test_the_veteran_example_has_4_to_6_claims():
    assert 4 <= len(claims_of("veteran")) <= 6


@pytest.mark.parametrize("study", STUDIES)
def test_claim_ids_are_unique(study):
    ids = [c["id"] for c in claims_of(study)]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


@pytest.mark.parametrize(("study", "claim"), all_claims())
def test_claim_has_the_fields_of_the_format(study, claim):
    assert REQUIRED <= set(claim), f"missing {REQUIRED - set(claim)}"
    assert set(claim) <= REQUIRED | OPTIONAL, f"unknown fields {set(claim) - REQUIRED - OPTIONAL}"
    assert isinstance(claim["id"], str) and claim["id"].isidentifier()
    assert isinstance(claim["claim"], str) and len(claim["claim"]) > 10
    assert isinstance(claim["where"], str) and claim["where"]
    for name in ("estimate", "p_value"):
        if name in claim:
            key = claim[name]
            assert isinstance(key, dict) and set(key) == set(KEY_FIELDS), f"{name}: {sorted(key)}"
            assert all(isinstance(v, str) for v in key.values()), f"{name}: every key field is text: {key}"
    assert claim["estimate"]["stat"] != "p_value"
    assert p_key(claim)["stat"] == "p_value"
    no_effect = claim["no_effect"]
    assert (isinstance(no_effect, (int, float)) and not isinstance(no_effect, bool)) or \
        (isinstance(no_effect, dict) and set(no_effect) <= set(KEY_FIELDS)), no_effect
    threshold = claim.get("threshold", 0.05)
    assert isinstance(threshold, float) and 0 < threshold < 1
    assert isinstance(claim.get("satisfiable", True), bool)


@pytest.mark.parametrize(("study", "claim"), all_claims())
def test_unsatisfiable_claims_say_why_and_only_they_do(study, claim):
    if claim.get("satisfiable", True) is False:
        assert isinstance(claim.get("why"), str) and len(claim["why"]) > 40
    else:
        assert "why" not in claim


@pytest.mark.parametrize(("study", "claim"), all_claims())
def test_claim_keys_are_published_numbers_of_the_same_file(study, claim):
    """The estimate and the p-value are keys of ``values:`` (loaded with the audit's own loader), each with a
    number: the claim's published side is the first occurrence of each key."""
    published = published_of(study)
    for name, key in (("estimate", claim["estimate"]), ("p_value", p_key(claim))):
        rows = published_rows(published, key)
        assert len(rows), f"{name} key {key} is not among the values"
        assert not math.isnan(rows["value"].iloc[0]), f"{name} key {key}: first occurrence has no number"


@pytest.mark.parametrize(("study", "claim"), all_claims())
def test_no_effect_is_one_zero_or_the_reference_arm(study, claim):
    """``no_effect`` is 1 for a ratio, 0 for a difference; for one arm's rate or median (the paper prints no
    difference) it is ``{group: <reference arm>}``, the same key in the reference arm, which must be published."""
    spec = load_spec(study)
    key = claim["estimate"]
    if key["stat"] in RATIO_STATS:
        assert claim["no_effect"] == 1
    elif key["group"] == "difference" or key["stat"] == "difference":
        assert claim["no_effect"] == 0
    else:
        assert key["group"] in spec.arm.codes and key["group"] != spec.arm.reference, key
        assert claim["no_effect"] == {"group": spec.arm.reference}
        reference = published_rows(published_of(study), {**key, "group": spec.arm.reference})
        assert len(reference), f"no published value for the reference arm under {key}"


def no_effect_value(claim, frame):
    if isinstance(claim["no_effect"], dict):
        return published_rows(frame, {**claim["estimate"], **claim["no_effect"]})["value"].iloc[0]
    return claim["no_effect"]


@pytest.mark.parametrize(("study", "claim"), all_claims())
def test_published_side_of_each_claim_is_decidable(study, claim):
    """The published estimate lies off its null, so the claim has a direction to keep."""
    published = published_of(study)
    estimate = published_rows(published, claim["estimate"])["value"].iloc[0]
    assert estimate != no_effect_value(claim, published)


# ------------------------------------------------------------------- seed 004's ORR, computed independently
def test_seed_004_orr_p_of_0031_cannot_come_from_its_own_counts():
    """Results 3.3: "The ORR was significantly higher in the post-ate-beva HAIC group at 35.3% (12 of 34 patients)
    compared to 18.1% (12 of 66 patients) in the first-line HAIC group (p = 0.031)". No standard test of that 2x2
    table gives 0.031, nor any p below 0.05."""
    published = published_of("haic_after_ab")
    orr = {"cohort": "primary", "analysis": "best_response", "variable": "mrecist", "level": "ORR"}
    arms = {"cohort": "primary", "analysis": "flow", "variable": "patients", "level": "included", "stat": "n"}
    counts = {}
    for group in ("first_line", "post_ab"):
        responders = published_rows(published, {**orr, "group": group, "stat": "n"})["value"].iloc[0]
        size = published_rows(published, {**arms, "group": group})["value"].iloc[0]
        counts[group] = (int(responders), int(size))
    assert counts == {"first_line": (12, 66), "post_ab": (12, 34)}  # the counts of the paper's text
    table = [[r, n - r] for r, n in counts.values()]
    p = {"Pearson chi-square": chi2_contingency(table, correction=False)[1],
         "chi-square with Yates' correction": chi2_contingency(table, correction=True)[1],
         "Fisher's exact test": fisher_exact(table)[1]}
    printed = published_rows(published, {**orr, "group": "comparison", "stat": "p_value"})["value"].iloc[0]
    assert printed == 0.031
    for test, value in p.items():
        assert round(value, 3) != printed, test
        assert value > 0.05, test
    claim = next(c for c in claims_of("haic_after_ab") if c["estimate"]["level"] == "ORR")
    assert claim["satisfiable"] is False
    for value in p.values():  # the reason quotes the p-values computed here
        assert f"{value:.3f}" in claim["why"]


def test_only_the_orr_claim_is_marked_unsatisfiable():
    unsatisfiable = [(s, c["id"]) for s in STUDIES for c in claims_of(s) if c.get("satisfiable", True) is False]
    assert unsatisfiable == [("haic_after_ab", "orr_higher")]


# ------------------------------------------------------------------------------- veteran: R's own numbers
def _r_number(r: dict, row) -> float:
    """The number of veteran_study.json that the published value with key ``row`` transcribes."""
    medians = {m["arm"]: m for m in r["medians"]}
    analysis, variable, level, group, stat = row.analysis, row.variable, row.level, row.group, row.stat
    prefixes = {"arm": "test", "karno": "karno70", "age": "age60", "celltype": "celltype", "prior": "prior"}
    if analysis == "flow":
        return r["n"] if group == "all" else medians[group]["n"]
    if analysis == "table1" and group == "comparison":
        return r["table1_p"][variable]
    if analysis == "table1" and stat == "n":
        return next(c[group]["n"] for c in r["table1_counts"][variable] if c["level"] == level)
    if analysis == "table1" and stat == "pct":
        return next(c[group]["pct"] for c in r["table1_counts"][variable] if c["level"] == level)
    if analysis == "table1":
        return r["table1_quartiles"][variable][group][stat]
    if analysis == "km.os" and level == "median":
        return medians[group][{"estimate": "median"}.get(stat, stat)]
    if analysis == "logrank.os":
        return r["logrank"][stat]
    if analysis in ("cox_univariate.os", "cox_multivariate.os"):
        rows = r["cox_univariate"][variable] if analysis == "cox_univariate.os" else r["cox_multivariable"]
        term = prefixes[variable] + ("" if variable == "arm" else level)
        return next(t for t in rows if t["term"] == term)[stat]
    if analysis == "rmst.os":
        part = r["rmst"][group]
        return part["rmst"] if group != "difference" and stat == "estimate" else part[stat]
    raise KeyError(f"no R number for {analysis} / {variable} / {level} / {group} / {stat}")


def _decimals(row) -> int:
    """Decimals a paper prints: counts and Karnofsky scores whole, hazard ratios 2, p-values 3, days 1."""
    if row.stat == "p_value":
        return 3
    if row.stat in ("hr", "lower", "upper") and row.analysis.startswith("cox"):
        return 2
    if row.analysis in ("km.os", "rmst.os"):
        return 1
    if row.stat in ("n", "median"):
        return 0
    raise KeyError(f"no printing rule for {row.analysis} / {row.stat}")


def test_veteran_published_values_are_rs_numbers_as_printed():
    r = json.loads(R_VALUES.read_text(encoding="utf-8"))
    published = published_of("veteran")
    assert 20 <= len(published) <= 40
    assert not published.duplicated(["cohort", "section", "analysis", "variable", "level", "group", "stat"]).any()
    for row in published.itertuples():
        where = f"{row.analysis} {row.variable} {row.level} {row.group} {row.stat}"
        assert row.source.startswith("R "), where
        number = _r_number(r, row)
        if row.relation == "<":
            assert row.stat == "p_value" and row.value == 0.001 and number < row.value, where
            assert "p < 0.001" in row.printed, where
            continue
        decimals = _decimals(row)
        assert abs(number - row.value) <= 0.5 * 10 ** -decimals + 1e-9, f"{where}: R {number}, file {row.value}"
        assert f"{row.value:.{decimals}f}" in row.printed, where


def test_veteran_file_names_the_r_that_printed_it():
    r = json.loads(R_VALUES.read_text(encoding="utf-8"))
    text = (STUDIES_DIR / "veteran" / "published.yaml").read_text(encoding="utf-8")
    assert text.startswith("# NOT A PAPER'S NUMBERS.")
    assert r["R_version"].startswith("R version 4.2.2") and "R 4.2.2" in text
    assert r["survival"] == "3.5.3" and "survival 3.5-3" in text


@pytest.mark.book
def test_book_reproduces_every_veteran_value_and_claim():
    """After a build: the book's own results for veteran equal R's numbers at the printed decimals, so every
    comparison of the veteran pages is "reproduced" and every claim holds."""
    from helpers.analyses.audit import compare_with_published

    folder = ROOT / "_build" / "results" / "veteran"
    if not folder.exists():
        pytest.skip("no build results for veteran")
    results = pd.concat([pd.read_csv(f, dtype={"level": str, "variable": str}, keep_default_na=False,
                                     na_values={"value": [""]}) for f in sorted(folder.glob("*.csv"))])
    published = published_of("veteran")
    comparison = compare_with_published(results, published, include_missing=True)
    assert len(comparison) == len(published)
    assert (comparison["status"] == "reproduced").all(), comparison[comparison["status"] != "reproduced"]
    for claim in claims_of("veteran"):
        values = []
        for key in (claim["estimate"], p_key(claim)):
            pub = published_rows(published, key)["value"].iloc[0]
            rep = published_rows(results.assign(value=pd.to_numeric(results["value"])), key)["value"].iloc[0]
            values.append((pub, rep))
        (pub_est, rep_est), (pub_p, rep_p) = values
        threshold = claim.get("threshold", 0.05)
        assert (pub_est > no_effect_value(claim, published)) == (rep_est > claim["no_effect"]), claim["id"]
        assert (pub_p < threshold) == (rep_p < threshold), claim["id"]


def test_seed_004_dcr_p_and_first_line_orr_are_out_of_reach_of_the_stated_policy_and_the_counts():
    """Two more response targets no patient table with the paper's counts can print: the DCR p = 0.008, which is
    the uncorrected chi-square of 39/66 vs 29/34, while the stated policy (Yates' chi-square, every expected count
    >= 5) gives 0.015; and the first-line ORR printed 18.1% for 12 of 66 (= 18.18%, which rounds to 18.2%).  The
    reconstruction report lists both as missed."""
    published = published_of("haic_after_ab")
    dcr = {"cohort": "primary", "analysis": "best_response", "variable": "mrecist", "level": "DCR"}
    counts = {g: int(published_rows(published, {**dcr, "group": g, "stat": "n"})["value"].iloc[0])
              for g in ("first_line", "post_ab")}
    assert counts == {"first_line": 39, "post_ab": 29}  # "85.3% (29 of 34 patients)"; 39 of 66 first-line
    table = [[39, 66 - 39], [29, 34 - 29]]
    expected = chi2_contingency(table)[3]
    assert (expected >= 5).all()                      # so the policy takes the chi-square, with Yates' correction
    assert round(chi2_contingency(table, correction=True)[1], 3) == 0.015
    assert round(chi2_contingency(table, correction=False)[1], 3) == 0.008
    assert round(100 * 12 / 66, 1) == 18.2
    assert published_rows(published, {**dcr, "group": "comparison", "stat": "p_value"})["value"].iloc[0] == 0.008
    report = pd.read_csv(STUDIES_DIR / "haic_after_ab" / "reconstruction_report.csv")
    rows = report[(report["analysis"] == "best_response")].set_index(["level", "group", "stat"])
    assert not rows.loc[("DCR", "comparison", "p_value"), "hit"]
    assert not rows.loc[("ORR", "first_line", "pct"), "hit"]
