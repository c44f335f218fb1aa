"""Published-versus-reproduced comparison on hand-made inputs with known outcomes."""
from __future__ import annotations

import pandas as pd

from helpers.analyses.audit import compare_with_published, printed_decimals, verdict_sentence

KEY = dict(cohort="primary", section="cohorts", analysis="table1", variable="sex", level="male", group="A")


def frame(rows):
    return pd.DataFrame([{**KEY, **r} for r in rows])


def test_printed_decimals():
    assert printed_decimals("47 (92.2%)", 92.2) == 1
    assert printed_decimals("47 (92.2%)", 47) == 0
    assert printed_decimals("54.0% (95% CI: 34.9-83.4)", 0.540) == 3
    assert printed_decimals("0.121", 0.121) == 3


def test_statuses():
    published = frame([
        dict(stat="n", value=47, printed="47 (92.2%)", relation=None, source="T1"),
        dict(stat="pct", value=92.2, printed="47 (92.2%)", relation=None, source="T1"),
        dict(stat="p_value", value=0.001, printed="<0.001", relation="<", source="T1"),
        dict(stat="median", value=None, printed="NR", relation=None, source="text"),
        dict(stat="mean", value=12, printed="exceeded 12", relation=">", source="fig"),
    ])
    results = frame([
        dict(stat="n", value=46.0),            # counts must be exact -> differs
        dict(stat="pct", value=92.156862745),  # rounds to 92.2 -> reproduced
        dict(stat="p_value", value=0.0004),    # below 0.001 -> reproduced
        dict(stat="median", value=30.0),       # published NR but reached here -> differs
        dict(stat="mean", value=12.4),         # > 12 -> reproduced
    ])
    out = compare_with_published(results, published).set_index("stat")["status"]
    assert out.to_dict() == {"n": "differs", "pct": "reproduced", "p_value": "reproduced",
                             "median": "differs", "mean": "reproduced"}
    sentence = verdict_sentence(compare_with_published(results, published), spec=None)
    assert sentence.startswith("**3 of 5** published numbers compared here are reproduced; 2 differ")
    # not reached on both sides is agreement
    both_nr = compare_with_published(frame([dict(stat="median", value=float("nan"))]), published)
    assert both_nr.set_index("stat")["status"].to_dict() == {"median": "reproduced"}


def test_conflicting_values_finds_numbers_printed_twice_with_different_values(tmp_path):
    from helpers.study.published import conflicting_values, load_published

    path = tmp_path / "published.yaml"
    path.write_text(
        "study: x\nvalues:\n"
        "  - {cohort: primary, section: survival, analysis: followup.os, level: median, group: A, stat: estimate,"
        " value: 30.1, printed: '30.1', source: Results}\n"
        "  - {cohort: primary, section: survival, analysis: followup.os, level: median, group: A, stat: estimate,"
        " value: 27.6, printed: '27.6', source: Discussion}\n"
        "  - {cohort: primary, section: survival, analysis: km.os, level: median, group: A, stat: estimate,"
        " value: 12.4, printed: '12.4', source: Results}\n"
        "  - {cohort: primary, section: survival, analysis: km.os, level: median, group: A, stat: estimate,"
        " value: 12, relation: '>', printed: 'exceeded 12', source: Figure}\n",
        encoding="utf-8")
    found = conflicting_values(load_published(path))
    assert list(found["analysis"]) == ["followup.os"]  # the '>' bound is not a conflicting value
    assert found["values"].iloc[0] == "30.1 vs 27.6"
    assert "Discussion" in found["where"].iloc[0]


def test_seed_papers_known_self_disagreements_are_found():
    from helpers.study.published import conflicting_values, load_published
    from helpers.study.spec import load_spec

    found = conflicting_values(load_published(load_spec("erhcc_hait_mp")))
    assert set(found["values"]) == {"30.1 vs 27.6", "19.6 vs 19.2"}


def test_published_numbers_not_computed_are_listed_when_asked():
    published = pd.DataFrame([{**KEY, "stat": "hr", "value": 13.43, "printed": "13.43", "relation": None,
                               "source": "Table 2", "note": None, "variable": "child_pugh"}])
    results = frame([dict(stat="n", value=1.0)])
    assert compare_with_published(results, published).empty
    out = compare_with_published(results, published, include_missing=True)
    assert out["status"].tolist() == ["not reproducible"]
    assert "not in the analysis-results table" in out["reason"].iloc[0]


def test_tolerance_classes_decide_close_versus_differs():
    """Each class's 'close' rule on hand-made values just inside and just outside it."""
    hr_key = dict(section="survival", analysis="cox_univariate.os", variable="arm", level="B", group="")
    published = pd.DataFrame([
        {**KEY, **hr_key, "stat": "hr", "value": 0.50, "printed": "0.50 (0.30-0.80)", "source": "Table 2"},
        {**KEY, **hr_key, "stat": "lower", "value": 0.30, "printed": "0.50 (0.30-0.80)", "source": "Table 2"},
        {**KEY, **hr_key, "stat": "upper", "value": 0.80, "printed": "0.50 (0.30-0.80)", "source": "Table 2"},
        {**KEY, "stat": "pct", "value": 40.0, "printed": "20 (40.0%)", "source": "Table 1"},
        {**KEY, "group": "B", "stat": "pct", "value": 40.0, "printed": "20 (40.0%)", "source": "Table 1"},
        {**KEY, "stat": "p_value", "value": 0.30, "printed": "0.30", "source": "Table 1"},
        {**KEY, "group": "B", "stat": "p_value", "value": 0.06, "printed": "0.06", "source": "Table 1"},
        {**KEY, "group": "C", "stat": "p_value", "value": 0.001, "relation": "<", "printed": "<0.001",
         "source": "Table 1"},
        {**KEY, "analysis": "km.os", "level": "median", "stat": "estimate", "value": 10.0, "printed": "10.0",
         "source": "Results"},
        {**KEY, "analysis": "km.os", "level": "t=12", "stat": "estimate", "value": 0.540, "printed": "54.0%",
         "source": "Results"},
        {**KEY, "analysis": "psm", "variable": "caliper_width", "stat": "estimate", "value": 0.1,
         "printed": "caliper = 0.1", "source": "Methods"},
    ])
    results = pd.DataFrame([
        {**KEY, **hr_key, "stat": "hr", "value": 0.53},       # |log(0.53/0.50)| = 0.058 <= 0.1, same side -> close
        {**KEY, **hr_key, "stat": "lower", "value": 0.34},    # 13% off -> differs
        {**KEY, **hr_key, "stat": "upper", "value": 0.85},    # 6% off -> close
        {**KEY, "stat": "pct", "value": 41.9},                # 1.9 points -> close
        {**KEY, "group": "B", "stat": "pct", "value": 42.1},  # 2.1 points -> differs
        {**KEY, "stat": "p_value", "value": 0.35},            # same side, within 20% -> close
        {**KEY, "group": "B", "stat": "p_value", "value": 0.04},  # other side of 0.05 -> differs
        {**KEY, "group": "C", "stat": "p_value", "value": 0.004},  # not < 0.001, same side, within 0.01 -> close
        {**KEY, "analysis": "km.os", "level": "median", "stat": "estimate", "value": 10.9},  # 9% -> close
        {**KEY, "analysis": "km.os", "level": "t=12", "stat": "estimate", "value": 0.60},  # 6 points -> differs
        {**KEY, "analysis": "psm", "variable": "caliper_width", "stat": "estimate", "value": 0.2},  # setting
    ])
    out = compare_with_published(results, published)
    got = list(zip(out["stat"], out["group"], out["status"]))
    assert got == [("hr", "", "close"), ("lower", "", "differs"), ("upper", "", "close"),
                   ("pct", "A", "close"), ("pct", "B", "differs"), ("p_value", "A", "close"),
                   ("p_value", "B", "differs"), ("p_value", "C", "close"), ("estimate", "A", "close"),
                   ("estimate", "A", "differs"), ("estimate", "A", "differs")]
    assert out["tolerance"].tolist()[-3:] == ["estimate", "survival rate", "setting"]


def test_hazard_ratio_without_published_ci_uses_ten_percent():
    published = frame([dict(analysis="cox", stat="hr", value=2.0, printed="2.0", source="Results")])
    assert compare_with_published(frame([dict(analysis="cox", stat="hr", value=2.19)]), published)[
        "status"].item() == "close"
    assert compare_with_published(frame([dict(analysis="cox", stat="hr", value=2.25)]), published)[
        "status"].item() == "differs"


def test_paper_part_groups_sources():
    from helpers.analyses.audit import paper_part

    assert paper_part("Table 1 row Sex, column HAIT") == "Table 1"
    assert paper_part("Figure 2B caption") == "Figure 2"
    assert paper_part("Supplementary Table S3") == "Supplementary Table S3"
    assert paper_part("Results: Patient characteristics, para 1") == "Results"
    assert paper_part("Abstract, Results") == "Abstract"
    assert paper_part(None) == "Other"


def test_audit_counts_every_occurrence_groups_by_part_and_links_pages():
    from helpers.analyses.audit import audit_display, audit_published, audit_summary, audit_verdict

    published = frame([
        dict(stat="n", value=47, printed="47", source="Table 1", note=None),
        dict(stat="n", value=47, printed="47 patients", source="Abstract", note=None),   # printed twice
        dict(stat="n", value=48, printed="48 patients", source="Discussion", note=None),  # disagrees
        dict(stat="mean", value=3.0, printed="3.0", source="Table 1", note=None),         # not computed
        dict(analysis="eligibility", variable="age", stat="threshold", value=18, relation=">",
             printed="older than 18", source="Methods", note=None),
    ])
    results = frame([dict(stat="n", value=47.0)]).assign(page="cohorts")
    audit = audit_published(results, published)
    assert audit["part"].tolist() == ["Abstract", "Methods", "Table 1", "Table 1", "Discussion"]
    assert audit["status"].tolist() == ["reproduced", "not reproducible", "reproduced", "not reproducible",
                                        "differs"]
    assert audit["page"].tolist() == ["cohorts"] * 5  # the not-computed mean: its section's page
    assert "design setting" in audit["reason"].iloc[1]
    summary = audit_summary(audit)
    assert summary.loc["All published numbers"].tolist() == [2, 0, 1, 2, 5]
    assert summary.loc["Table 1", "total"] == 2
    assert audit_verdict(audit, "Demo") == ("Demo: 2 of 5 published numbers reproduced, 0 close, 1 differ, "
                                            "2 not reproducible from the available data")
    shown = audit_display(audit, {"cohorts": "Cohorts"})
    assert shown["Computed in"].iloc[0] == "<a href='cohorts.html'>Cohorts</a>"
    assert shown["Published"].iloc[1] == ">18"


def test_verdict_sentence_agrees_in_number():
    """"1 is close", "1 differs", "1 is not computed" (not "1 are close")."""
    comparison = pd.DataFrame({"cohort": ["primary"] * 4,
                               "status": ["reproduced", "close", "differs", "not reproducible"]})
    assert verdict_sentence(comparison) == (
        "**1 of 4** published numbers compared here are reproduced; 1 is close (within the tolerance of the "
        "audit); 1 differs; 1 is not computed by this run (see the table) (primary: 1/4).")
    two = pd.DataFrame({"cohort": ["primary"] * 4, "status": ["close", "close", "differs", "differs"]})
    assert "; 2 are close" in verdict_sentence(two) and "; 2 differ " in verdict_sentence(two)
