"""Published-versus-reproduced comparison on hand-made inputs with known outcomes."""
from __future__ import annotations

import pandas as pd

from helpers.audit import compare_with_published, printed_decimals, verdict_sentence

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
    from helpers.published import conflicting_values, load_published

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
    from helpers.published import conflicting_values, load_published
    from helpers.spec import load_spec

    found = conflicting_values(load_published(load_spec("erhcc_hait_mp")))
    assert set(found["values"]) == {"30.1 vs 27.6", "19.6 vs 19.2"}


def test_published_numbers_not_computed_are_listed_when_asked():
    published = pd.DataFrame([{**KEY, "stat": "hr", "value": 13.43, "printed": "13.43", "relation": None,
                               "source": "Table 2", "note": None, "variable": "child_pugh"}])
    results = frame([dict(stat="n", value=1.0)])
    assert compare_with_published(results, published).empty
    out = compare_with_published(results, published, include_missing=True)
    assert out["status"].tolist() == ["not computed"]
