"""An audit a reviewer can trust: roles apart from statuses, tolerances that respect conclusions, one row per
estimate, the paper's own numbering, key claims, checked on hand-made cases and on the built site."""
from __future__ import annotations

import math
from collections import Counter

import pandas as pd
import pytest

from helpers.analyses import audit
from helpers.analyses.catalogue import study_numbering
from helpers.analyses.claims import Claim, claim_rows
from helpers.study.spec import load_spec
from helpers.study.toc import study_pages

KEY = ["cohort", "section", "analysis", "variable", "level", "group", "stat"]


def frame(rows, extra=()):
    cols = KEY + ["value", *extra]
    return pd.DataFrame([dict(zip(cols, r)) for r in rows], columns=cols)


def published(rows):
    out = frame([r[:8] for r in rows])
    out["printed"] = [r[8] for r in rows]
    out["relation"] = [r[9] if len(r) > 9 else None for r in rows]
    out["source"] = "Table 2"
    out["note"] = None
    out["study"] = "demo"
    return out


HR = ("primary", "survival", "cox_multivariate.os", "arm", "B", "all")


def test_a_hazard_ratio_far_on_the_log_scale_is_not_close_even_inside_the_ci():
    """0.47 against 0.30 (0.10-0.91): inside the published CI, but |log 0.47 - log 0.30| = 0.449 > 0.1, and its
    p crosses 0.05: the old rule called it close."""
    pub = published([(*HR, "hr", 0.30, "0.30"), (*HR, "lower", 0.10, "0.10"), (*HR, "upper", 0.91, "0.91"),
                     (*HR, "p_value", 0.033, "0.033")])
    res = frame([(*HR, "hr", 0.47), (*HR, "lower", 0.20), (*HR, "upper", 1.08), (*HR, "p_value", 0.076)])
    out = audit.compare_with_published(res, pub).set_index("stat")
    assert out.loc["hr", "status"] == "differs"
    assert "p < 0.05 in the paper, ≥ 0.05 here" in out.loc["hr", "conclusion"]
    assert "the upper CI limit is on the other side of 1" in out.loc["hr", "conclusion"]
    assert out.loc["p_value", "status"] == "differs"  # same distance rule, but it crosses 0.05


def test_a_near_hazard_ratio_with_the_same_conclusion_is_close():
    pub = published([(*HR, "hr", 0.30, "0.30"), (*HR, "p_value", 0.033, "0.033")])
    res = frame([(*HR, "hr", 0.32), (*HR, "p_value", 0.040)])  # |log(0.32/0.30)| = 0.0645
    out = audit.compare_with_published(res, pub).set_index("stat")
    assert out.loc["hr", "status"] == "close" and out.loc["hr", "conclusion"] == ""


def test_roles_separate_targets_structural_counts_and_tests(tmp_path):
    spec = load_spec("erhcc_hait_mp")
    targets = audit.reconstruction_targets(spec)
    report = pd.read_csv(spec.folder / "reconstruction_report.csv", keep_default_na=False)
    hr = report[report["stat"] == "hr"].iloc[0]
    row = type("R", (), dict(tolerance="hazard ratio", stat="hr", analysis=hr["analysis"], cohort=hr["cohort"],
                             variable=hr["variable"], level=hr["level"], group=hr["group"]))
    assert audit.role_of(row, targets, real_data=False) == "calibration target"
    assert audit.role_of(row, targets, real_data=True) == "untargeted"
    count = type("R", (), dict(tolerance="count", stat="n", analysis="table1", cohort="primary", variable="sex",
                               level="male", group="HAIT"))
    assert audit.role_of(count, targets, real_data=False) == "structural"
    setting = type("R", (), dict(tolerance="setting", stat="estimate", analysis="psm", cohort="matched",
                                 variable="caliper_width", level="", group="all"))
    assert audit.role_of(setting, targets, real_data=True) == "structural"
    other = type("R", (), dict(tolerance="p-value", stat="p_value", analysis="subgroup.pfs", cohort="primary",
                               variable="sex", level="male", group="all"))
    assert audit.role_of(other, targets, real_data=False) == "untargeted"


def test_a_target_proven_out_of_reach_says_so_and_where_the_proof_is():
    """Seed 000's univariable tumour-number OS HR is listed out_of_reach in reconstruction.yaml: the audit's reason
    names the test file and the report (the full test id), and still gives the miss; a plain miss does not."""
    spec = load_spec("erhcc_hait_mp")
    targets = audit.reconstruction_targets(spec)
    key = ("primary", "cox_univariate.os", "tumor_number", "multiple", "all", "hr")
    assert targets[key]["status"] == "out_of_reach"
    assert targets[key]["proof"].startswith("tests/test_reconstruct_survival.py::test_seed000_tumour_number_os")
    rows = frame([("primary", "survival", "cox_univariate.os", "tumor_number", "multiple", "all", "hr", 5.77),
                  ("primary", "survival", "cox_univariate.os", "age", ">=60", "all", "hr", 0.70)],
                 extra=("reproduced", "status", "reason", "tolerance"))
    rows["reproduced"], rows["status"], rows["reason"], rows["tolerance"] = [0.16, 0.77], "differs", "", "hazard ratio"
    out = audit.assign_roles(rows, spec, real_data=False)
    assert out["reason"].tolist() == [
        "calibration target proven out of reach (by a test in tests/test_reconstruct_survival.py, named in "
        "reconstruction_report.csv); missed by 3.59 on the log scale",
        "calibration target missed by 0.10 on the log scale"]


def test_estimate_text_prints_as_a_paper():
    rows = pd.DataFrame([
        dict(stat="hr", value=0.30, reproduced=0.474, printed="0.30", relation=None, status="differs"),
        dict(stat="lower", value=0.10, reproduced=0.2, printed="0.10", relation=None, status="differs"),
        dict(stat="upper", value=0.91, reproduced=1.08, printed="0.91", relation=None, status="differs"),
        dict(stat="p_value", value=0.001, reproduced=0.0000123, printed="<0.001", relation="<", status="reproduced"),
    ])
    assert audit.estimate_text(rows, "value") == "0.30 (0.10–0.91), p < 0.001"
    assert audit.estimate_text(rows, "reproduced") == "0.47 (0.20–1.08), p < 0.001"  # never "0.000"
    counts = pd.DataFrame([dict(stat="n", value=47, reproduced=47, printed="47 (92.2%)", relation=None,
                                status="reproduced"),
                           dict(stat="pct", value=92.2, reproduced=92.157, printed="47 (92.2%)", relation=None,
                                status="reproduced")])
    assert audit.estimate_text(counts, "reproduced") == "47 (92.2%)"


def test_estimate_labels_are_words():
    spec = load_spec("erhcc_hait_mp")
    assert audit.estimate_label(spec, ("primary", "survival", "cox_multivariate.os", "child_pugh", "B", "all")) == \
        "Child-Pugh grade: B vs A, OS, multivariable Cox"
    assert audit.estimate_label(spec, ("matched", "survival", "km.pfs", "", "median", "HAIT")) == \
        "Matched cohort: Median PFS, HAIT"


def test_claim_verdicts_follow_direction_and_significance():
    key = dict(cohort="primary", analysis="cox_univariate.os", variable="arm", level="B", group="all", stat="hr")
    pkey = {**key, "stat": "p_value"}
    pub = pd.DataFrame([{**key, "value": 0.30, "relation": None}, {**pkey, "value": 0.033, "relation": None}])

    def verdict(hr, p):
        res = pd.DataFrame([{**key, "value": hr}, {**pkey, "value": p}])
        return claim_rows([Claim("c", "benefit", "Abstract", key, pkey, 1.0)], pub, res)["verdict"].iloc[0]

    assert verdict(0.35, 0.02) == "holds"
    assert verdict(0.47, 0.076) == "changed"      # loses significance
    assert verdict(1.20, 0.02) == "changed"       # other direction
    assert verdict(math.nan, math.nan) == "not computed"
    unsat = Claim("o", "ORR higher", "Abstract", key, pkey, 1.0, satisfiable=False, why="no test gives it")
    res = pd.DataFrame([{**key, "value": 0.3}, {**pkey, "value": 0.02}])
    assert claim_rows([unsat], pub, res)["verdict"].iloc[0] == "not reproducible by any data"


def test_claim_rows_carry_the_audit_status_of_the_estimate():
    """The key-claims table shows, beside the conclusion, the audit's status of the claim's estimate (given by
    key); without statuses the column is left out."""
    from helpers.analyses.claims import claims_display

    key = dict(cohort="primary", analysis="rmst.pfs", variable="", level="", group="difference", stat="estimate")
    pkey = {**key, "stat": "p_value"}
    pub = pd.DataFrame([{**key, "value": 5.66, "relation": None}, {**pkey, "value": 0.001, "relation": "<"}])
    res = pd.DataFrame([{**key, "value": 11.79}, {**pkey, "value": 0.00001}])
    claim = Claim("r", "longer RMST", "Results", key, pkey, 0.0)
    rows = claim_rows([claim], pub, res, statuses={tuple(key.values()): "differs"})
    assert rows["verdict"].iloc[0] == "holds" and rows["estimate_status"].iloc[0] == "differs"
    shown = claims_display(rows)
    assert shown["Estimate"].iloc[0] == "✗ outside tolerance" and shown["Conclusion"].iloc[0] == "✓ holds"
    assert "Estimate" not in claims_display(claim_rows([claim], pub, res)).columns
    from helpers.analyses.claims import claims_verdict

    assert claims_verdict(rows) == ("1 of 1 key claims hold their conclusion on this data; 0 of 1 estimates are "
                                    "within the audit's tolerance of the paper's.")
    assert "tolerance" not in claims_verdict(claim_rows([claim], pub, res))


def test_a_matched_claim_is_checked_under_the_robust_and_weighted_analyses_too():
    """Hand-made: the paper's matched HR 0.40 (p = 0.035); the robust SE keeps p < 0.05, pair stratification and
    overlap weights lose it, ATE weights reverse the direction; ATT was not run (no such rows)."""
    from helpers.analyses.claims import claims_display

    key = dict(cohort="matched", analysis="cox_univariate.ehpfs", variable="arm", level="B", group="all", stat="hr")
    pkey = dict(cohort="matched", analysis="logrank.ehpfs", variable="", level="", group="comparison",
                stat="p_value")
    pub = pd.DataFrame([{**key, "value": 0.40, "relation": None}, {**pkey, "value": 0.035, "relation": None}])

    def alt(cohort, analysis, group, hr, p):
        k = dict(key, cohort=cohort, analysis=analysis, group=group)
        return [{**k, "value": hr}, {**k, "stat": "p_value", "value": p}]

    res = pd.DataFrame([{**key, "value": 0.45}, {**pkey, "value": 0.04},
                        *alt("matched", "matched_cox.ehpfs", "robust", 0.45, 0.049),
                        *alt("matched", "matched_cox.ehpfs", "stratified", 0.50, 0.12),
                        *alt("primary", "weighted_cox.ehpfs", "ATE", 1.10, 0.70),
                        *alt("primary", "weighted_cox.ehpfs", "ATO", 0.60, 0.051)])
    row = claim_rows([Claim("m", "benefit holds after matching", "Results", key, pkey, 1.0)], pub, res).iloc[0]
    assert row["verdict"] == "holds"
    assert (row["alternatives_run"], row["alternatives_holding"]) == (4, 1)
    assert row["alternatives"] == ("robust SE: 0.45, p = 0.049 ✓; pair-stratified: 0.50, p = 0.120 ✗; "
                                   "ATE weights: 1.10, p = 0.700 ✗; overlap weights: 0.60, p = 0.051 ✗")
    shown = claims_display(pd.DataFrame([row]))
    assert shown["Robust and weighted analyses"].iloc[0] == row["alternatives"]
    # a claim on the primary cohort has no such column
    primary = dict(key, cohort="primary")
    plain = claim_rows([Claim("p", "benefit", "Abstract", primary, {**primary, "stat": "p_value"}, 1.0)],
                       pd.DataFrame([{**primary, "value": 0.4, "relation": None}]),
                       pd.DataFrame([{**primary, "value": 0.5}]))
    assert plain["alternatives_run"].iloc[0] == 0
    assert "Robust and weighted analyses" not in claims_display(plain).columns


@pytest.mark.parametrize("study", ["erhcc_hait_mp", "haic_after_ab", "veteran"])
def test_numbering_gives_no_number_twice_and_the_papers_own(study):
    spec = load_spec(study)
    labels = study_numbering(spec, list(study_pages(study)))
    counts = Counter(labels.values())
    assert [label for label, n in counts.items() if n > 1] == []
    for key, label in spec.paper_numbers.items():
        assert labels[key] == label


def test_seed_papers_numbers_as_printed():
    """The paper's own numbering (from the seed texts): seed 004's response table is its Table 2, its Cox tables
    are Tables 3 and 4, its KM figures are Figures 1 and 2; seed 000's forest plots are Figure 4A/B."""
    l004 = study_numbering(load_spec("haic_after_ab"), list(study_pages("haic_after_ab")))
    assert (l004["best_response"], l004["cox.os"], l004["cox.pfs"]) == ("Table 2", "Table 3", "Table 4")
    assert (l004["km.primary.os"], l004["km.primary.pfs"]) == ("Figure 1", "Figure 2")
    l000 = study_numbering(load_spec("erhcc_hait_mp"), list(study_pages("erhcc_hait_mp")))
    assert (l000["forest.pfs"], l000["forest.os"], l000["cox"]) == ("Figure 4A", "Figure 4B", "Table 2")
    assert l000["rmst.primary"] == "Table S3" and l000["medians.primary"].startswith("Table S")
    assert int(l000["medians.primary"].removeprefix("Table S")) > 4  # after the paper's own S1-S4


def test_a_target_in_a_proven_conflict_says_so_and_a_twice_printed_key_is_matched_by_its_value():
    """Seed 004's 12-month OS p is the member of its ``conflicts`` set the report marks ``conflict``; seed 000's
    HAIT median follow-up is printed as 30.1 (hit) and 27.6 (``out_of_reach``), and each audit row finds its own."""
    spec = load_spec("haic_after_ab")
    key = ("primary", "landmark.os", "", "t=12", "comparison", "p_value")
    assert audit.reconstruction_targets(spec)[key]["status"] == "conflict"
    rows = frame([("primary", "survival", "landmark.os", "", "t=12", "comparison", "p_value", 0.043)],
                 extra=("reproduced", "status", "reason", "tolerance"))
    rows["reproduced"], rows["status"], rows["reason"], rows["tolerance"] = [0.0347], "differs", "", "p-value"
    reason = audit.assign_roles(rows, spec, real_data=False)["reason"].iloc[0]
    assert reason.startswith("calibration target proven in conflict with other published numbers (by a test in "
                             "tests/test_reconstruct_survival.py, named in reconstruction_report.csv); missed by ")
    spec = load_spec("erhcc_hait_mp")
    targets = audit.reconstruction_targets(spec)
    base = ("primary", "followup.os", "", "median", "HAIT", "estimate")
    assert targets[base + ("30.1",)]["status"] == "hit"
    assert targets[base + ("27.6",)]["status"] == "out_of_reach"
    rows = frame([("primary", "survival", "followup.os", "", "median", "HAIT", "estimate", 27.6)],
                 extra=("reproduced", "status", "reason", "tolerance"))
    rows["reproduced"], rows["status"], rows["reason"], rows["tolerance"] = [30.1], "differs", "", "months"
    assert audit.assign_roles(rows, spec, real_data=False)["reason"].iloc[0].startswith(
        "calibration target proven out of reach (by a test in tests/test_reconstruct_survival.py")
