"""The survival chapter's glue between a study spec and the statistics (keys, coding, variants)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from helpers.analyses import survival as sc
from helpers.report import format as fmt
from helpers.build.toc import chapter_runs
from helpers.study.patients import load_patients
from helpers.study.spec import load_spec

from test_survival_spec import survival_study  # noqa: F401  (fixture)


def test_cox_terms_use_treatment_contrasts_with_the_spec_reference_level(survival_study):
    spec = load_spec(survival_study / "study.yaml")
    data = load_patients(spec)
    design, terms, term_map = sc.cox_terms(data, spec, ["arm", "sex", "age"])
    # sex: reference 'f' from survival.cox.reference_levels, so the dummy is male = 1
    assert terms == {"arm": ["arm:trt"], "sex": ["sex:m"], "age": ["age:>=60"]}
    assert design["sex:m"].tolist() == [1, 0, 1, 1, 0, 0]
    # age enters through its cut [60, inf): 50, 61, 70, 45, 59, 60
    assert design["age:>=60"].tolist() == [0, 1, 1, 0, 0, 1]
    assert design["arm:trt"].tolist() == [0, 0, 0, 1, 1, 1]
    assert term_map["sex:m"] == ("sex", "m")


def test_arm_comparison_rows_carry_the_published_keys(survival_study):
    spec = load_spec(survival_study / "study.yaml")
    data = load_patients(spec)
    cmp = sc.compare_arms(data, spec, "os")
    rows = pd.DataFrame(sc.arm_comparison_rows(cmp, spec, landmarks=[12]))
    keys = set(zip(rows.analysis, rows.level, rows.group, rows.stat))
    assert ("km.os", "median", "trt", "estimate") in keys
    assert ("km.os", "t=12", "ctl", "lower") in keys
    assert ("logrank.os", "", "comparison", "p_value") in keys
    assert ("cox_univariate.os", "trt", "all", "hr") in keys
    assert not rows.duplicated(["analysis", "variable", "level", "group", "stat"]).any()
    # events by hand: OS events ctl = p1; trt = p4, p5
    ev = rows[(rows.analysis == "events.os") & (rows.variable == "events")].set_index("group")["value"]
    assert ev["ctl"] == 1 and ev["trt"] == 2 and ev["all"] == 3
    # median OS of trt by hand: times 20(1), 9(1), 12.5(0): S = 2/3 after 9, 0 after 20 -> median 20
    med = rows[(rows.analysis == "km.os") & (rows.level == "median") & (rows.group == "trt")
               & (rows.stat == "estimate")]["value"].iloc[0]
    assert med == 20.0


def test_an_arm_without_events_gives_a_warning_and_NE_not_a_crash(survival_study):
    spec = load_spec(survival_study / "study.yaml")
    data = load_patients(spec)
    data.loc[data["arm"] == "ctl", "os_event"] = 0.0
    cmp = sc.compare_arms(data, spec, "os")
    assert any("no events" in w for w in cmp.warnings)
    assert sc.hr_text(cmp.arm_hr) == "NE"  # R: coef ~ 20.9 with a huge SE (infinite HR)
    rows = pd.DataFrame(sc.arm_comparison_rows(cmp, spec))
    assert rows[(rows.analysis == "cox_univariate.os") & (rows.stat == "hr")]["value"].isna().all()
    assert sc.median_text(cmp.kms["ctl"].median()).startswith("NR")


def test_format_hr_and_p():
    assert fmt.format_hr(0.3612, 0.2101, 0.6234) == "0.36 (0.21–0.62)"
    assert fmt.format_hr(1e-9, 0.0, np.inf, estimable=False) == "NE"
    assert fmt.format_p(0.00049) == "<0.001" and fmt.format_p(0.0651) == "0.065"
    assert sc.p_text(0.0004) == "p < 0.001"


def test_survival_matched_page_runs_the_survival_notebook_with_cohort_matched():
    runs = {(r.study_id, r.chapter): r for r in chapter_runs()}
    run = runs[("erhcc_hait_mp", "survival_matched")]
    assert run.source.name == "survival.md"
    assert dict(run.parameters) == {"cohort": "matched"}
    assert runs[("haic_after_ab", "survival")].parameters == ()


def test_seed004_landmark_p_is_not_a_z_test_of_its_own_printed_rates():
    """Hand calculation from the paper's 12-month OS rates and log-type CIs (Results 3.2): the z-test the book
    uses gives p = 0.33, not the printed 0.043, which is why the chapter notes the disagreement; for PFS it gives
    0.018, not 0.012."""
    from math import erf, log, sqrt

    def se(s, lo, hi):  # SE of S from a log-type CI: S * (log(hi) - log(lo)) / (2 * 1.96)
        return s * (log(hi) - log(lo)) / (2 * 1.959964)

    def p_of(a, b):
        z = (a[0] - b[0]) / sqrt(se(*a) ** 2 + se(*b) ** 2)
        return 2 * (1 - 0.5 * (1 + erf(abs(z) / sqrt(2))))

    assert round(p_of((0.540, 0.349, 0.834), (0.403, 0.280, 0.581)), 2) == 0.33
    # PFS (Results 3.2, para 2): 41.0% (25.0-67.1) vs 12.9% (5.3-31.4) give 0.018, not the printed 0.012, which is
    # the "about 0.02" of published.yaml's inconsistency
    assert round(p_of((0.410, 0.250, 0.671), (0.129, 0.053, 0.314)), 3) == 0.018
