"""Subgroup analysis: per-level treatment HRs and the interaction test against R coxph, and degenerate levels."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from helpers.report import figures
from helpers.study.patients import load_patients
from helpers.study.spec import load_spec
from helpers.analyses.subgroups import subgroup_analysis, subgroup_display

from test_survival_spec import survival_study  # noqa: F401  (fixture)

R_VALUES = Path(__file__).parent / "reference" / "r_values" / "subgroups.json"


@pytest.fixture(scope="module")
def seed000():
    spec = load_spec("erhcc_hait_mp")
    data = load_patients(spec)
    return spec, {ep: subgroup_analysis(data, spec, ep, spec.subgroups.variables).table for ep in ("pfs", "os")}


def test_subgroup_hazard_ratios_and_interaction_match_r_coxph(seed000):
    """tests/reference/subgroups_reference.R on the committed synthetic cohort (survival 3.5-3)."""
    _, tables = seed000
    reference = json.loads(R_VALUES.read_text())
    assert len(reference) >= 25   # R (and the book) skip a subgroup with no event in an arm: 29 on the current cohort
    for ref in reference:
        t = tables[ref["endpoint"]]
        row = t[(t.variable == ref["variable"]) & (t.level == ref["level"])].iloc[0]
        assert row.estimable, ref
        for key in ("hr", "lower", "upper"):
            assert row[key] == pytest.approx(ref[key], rel=1e-6), (ref, key)
        assert row["p_value"] == pytest.approx(ref["p_value"], rel=1e-4, abs=1e-10), ref
        assert row["p_interaction"] == pytest.approx(ref["p_interaction"], rel=1e-4), ref


def test_levels_without_events_or_patients_in_an_arm_are_NE(seed000):
    spec, tables = seed000
    t = tables["os"]
    empty_arm = t[(t.variable == "child_pugh") & (t.level == "B")].iloc[0]  # no HAIT patient has grade B
    assert empty_arm.n_ref == 0 and not empty_arm.estimable and math.isnan(empty_arm.hr)
    assert empty_arm.reason == "an arm has no patients"
    shown = subgroup_display(subgroup_analysis(load_patients(spec), spec, "os", ["child_pugh"]), spec)
    assert shown.loc[1, "HR (95% CI)"] == "NE"


def test_degenerate_subgroups_all_events_in_one_arm_and_single_patient(survival_study):
    spec = load_spec(survival_study / "study.yaml")
    data = load_patients(spec)
    # OS events: ctl p1 only (p2, p3 censored); trt p4, p5. Make every event fall in the control arm.
    data.loc[data["arm"] == "trt", "os_event"] = 0.0
    res = subgroup_analysis(data, spec, "os", ["sex"])
    assert not res.table["estimable"].any()
    assert set(res.table["reason"]) <= {"an arm has no events", "an arm has no patients"}
    # a level with a single patient: only p6 has age >= 60 in the treated arm ... and one control
    res = subgroup_analysis(load_patients(spec), spec, "os", ["age"])
    one = res.table[res.table.level == ">=60"].iloc[0]
    assert (one.n_ref, one.n_exp) == (2, 1)
    assert not one.estimable  # the single treated patient (p6) is censored: no events in that arm
    rows = pd.DataFrame(res.rows())
    assert rows[(rows.level == ">=60") & (rows.stat == "hr")]["value"].isna().all()
    fig = figures.forest_plot(res.table, spec, title="degenerate")  # must draw, not crash
    assert fig.axes


def test_forest_plot_keeps_the_axis_when_cis_are_extreme(seed000):
    spec, tables = seed000
    fig = figures.forest_plot(tables["os"], spec)
    ax = fig.axes[1]
    assert ax.get_xscale() == "log"
    assert ax.get_xlim() == pytest.approx((0.05, 20.0))
