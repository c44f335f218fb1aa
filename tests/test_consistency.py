"""Internal consistency checks of published numbers, on hand-made inputs and on the seed papers."""
from __future__ import annotations

import pandas as pd

from helpers.analyses.consistency import (categorical_p_checks, consistency_report, hazard_ratio_checks,
                                 percentage_checks, study_policies)
from helpers.study.published import load_published
from helpers.study.spec import load_spec


def pub(rows):
    base = dict(cohort="primary", section="x", analysis="table1", variable="v", level="", group="all", stat="n",
                relation=None, source="T", note=None)
    return pd.DataFrame([{**base, **r} for r in rows])


FLOW = [dict(analysis="flow", variable="patients", level="included", group="A", value=50, printed="50"),
        dict(analysis="flow", variable="patients", level="included", group="B", value=40, printed="40")]


def test_percentage_against_count_and_arm_size():
    rows = FLOW + [
        dict(analysis="adverse_events", variable="rash", level="any_grade", group="A", value=9, printed="9 (18.0%)"),
        dict(analysis="adverse_events", variable="rash", level="any_grade", group="A", stat="pct", value=18.0,
             printed="9 (18.0%)"),
        dict(analysis="adverse_events", variable="rash", level="any_grade", group="B", value=9, printed="9 (22.0%)"),
        dict(analysis="adverse_events", variable="rash", level="any_grade", group="B", stat="pct", value=22.0,
             printed="9 (22.0%)"),  # 9/40 = 22.5%: inconsistent
    ]
    out = percentage_checks(pub(rows)).set_index("group")["verdict"]
    assert out.to_dict() == {"A": "consistent", "B": "inconsistent"}


def test_categorical_p_names_the_test_and_flags_the_stated_policy():
    # 41/51 vs 47/50 (seed 000 AST): Fisher 0.072, Yates 0.081, uncorrected 0.041
    flow = [dict(analysis="flow", variable="patients", level="included", group="A", value=51, printed="51"),
            dict(analysis="flow", variable="patients", level="included", group="B", value=50, printed="50")]
    rows = flow + [
        dict(analysis="adverse_events", variable="ast", level="any_grade", group="A", value=41, printed="41"),
        dict(analysis="adverse_events", variable="ast", level="any_grade", group="B", value=47, printed="47"),
        dict(analysis="adverse_events", variable="ast", level="any_grade", group="comparison", stat="p_value",
             value=0.072, printed="0.072"),
        dict(analysis="adverse_events", variable="ok", level="any_grade", group="A", value=41, printed="41"),
        dict(analysis="adverse_events", variable="ok", level="any_grade", group="B", value=47, printed="47"),
        dict(analysis="adverse_events", variable="ok", level="any_grade", group="comparison", stat="p_value",
             value=0.081, printed="0.081"),
        dict(analysis="adverse_events", variable="bad", level="any_grade", group="A", value=41, printed="41"),
        dict(analysis="adverse_events", variable="bad", level="any_grade", group="B", value=47, printed="47"),
        dict(analysis="adverse_events", variable="bad", level="any_grade", group="comparison", stat="p_value",
             value=0.031, printed="0.031"),
    ]
    out = categorical_p_checks(pub(rows), ["A", "B"], {"adverse_events": "fisher_if_expected_lt5"})
    verdicts = out.set_index("variable")["verdict"].to_dict()
    assert verdicts["ok"] == "consistent"
    assert verdicts["ast"] == "not the stated test (fisher_if_expected_lt5 gives 0.081)"
    assert verdicts["bad"] == "no standard test gives it"
    assert out.set_index("variable").loc["ast", "tests"] == "Fisher's exact test"


def test_hazard_ratio_checks_allow_for_rounding_and_catch_real_errors():
    def hr(variable, h, lo, hi, p=None, printed_p=None):
        text = f"{h} ({lo} – {hi})"
        rows = [dict(analysis="cox", variable=variable, stat="hr", value=float(h), printed=text),
                dict(analysis="cox", variable=variable, stat="lower", value=float(lo), printed=text),
                dict(analysis="cox", variable=variable, stat="upper", value=float(hi), printed=text)]
        if p is not None:
            rows.append(dict(analysis="cox", variable=variable, stat="p_value", value=p, printed=printed_p or str(p)))
        return rows

    rows = (hr("fine", "0.45", "0.19", "1.07", 0.072)        # seed 000 Table 2: consistent
            + hr("at_one", "1.00", "0.14", "7.26", 0.999)     # HR rounds to 1: p can be ~1
            + hr("skewed", "0.50", "0.10", "0.90")            # not symmetric on the log scale
            + hr("wrong_p", "0.36", "0.22", "0.60", 0.40))    # the CI excludes 1, so p cannot be 0.40
    out = hazard_ratio_checks(pub(rows)).set_index("variable")["verdict"].to_dict()
    assert out["fine"] == "consistent" and out["at_one"] == "consistent"
    assert out["skewed"].startswith("CI not symmetric")
    assert out["wrong_p"] == "p-value not implied by the CI"


def test_seed_papers_known_discrepancies_are_found_without_false_alarms():
    spec = load_spec("erhcc_hait_mp")
    report = consistency_report(load_published(spec), spec.arm.codes, study_policies(spec))
    findings = report[report["verdict"] != "consistent"]
    assert list(zip(findings["variable"], findings["level"])) == [("aspartate_aminotransferase_increased",
                                                                   "any_grade")]
    assert (report["check"] == "categorical p-value").sum() >= 60 and (report["check"] == "percentage").sum() >= 200
    spec4 = load_spec("haic_after_ab")
    report4 = consistency_report(load_published(spec4), spec4.arm.codes, study_policies(spec4))
    found4 = set(zip(report4.loc[report4["verdict"] != "consistent", "variable"],
                     report4.loc[report4["verdict"] != "consistent", "level"]))
    assert {("mrecist", "ORR"), ("mrecist", "DCR")} <= found4


def test_grim_flags_impossible_means_of_whole_numbers():
    """Hand-made: 7 patients' ages sum to an integer, so a mean of 35.50 is impossible (35.43 or 35.57 are)."""
    from helpers.analyses.consistency import grim_checks

    def row(**kw):
        base = dict(cohort="primary", section="cohorts", analysis="table1", variable="age", level="", group="A",
                    stat="mean", relation=None, printed="", source="Table 1", note=None)
        return {**base, **kw}

    pub = pd.DataFrame([
        row(analysis="flow", variable="patients", level="included", group="A", stat="n", value=7, printed="7"),
        row(analysis="flow", variable="patients", level="included", group="B", stat="n", value=120, printed="120"),
        row(value=35.50, printed="35.50 ± 3.1"),             # impossible with n = 7
        row(value=35.57, printed="35.57 ± 3.1", level="x"),  # 249/7 = 35.571 -> possible
        row(value=35.5, printed="35.5", group="B"),          # n = 120 >= 10: not informative
        row(value=35.5, printed="35.5", variable="bmi"),     # not declared integer: not checked
    ])
    out = grim_checks(pub, ["age"]).set_index(["level", "group"])
    assert out.loc[("", "A"), "verdict"] == "inconsistent (GRIM)"
    assert "35.4286" in out.loc[("", "A"), "evidence"] and "35.5714" in out.loc[("", "A"), "evidence"]
    assert out.loc[("x", "A"), "verdict"] == "consistent" and "249/7" in out.loc[("x", "A"), "evidence"]
    assert out.loc[("", "B"), "verdict"] == "consistent" and "every mean" in out.loc[("", "B"), "evidence"]
    assert len(out) == 3
