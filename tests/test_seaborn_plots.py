"""The seaborn figures (love plot, propensity-score distributions) show the numbers they are given."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from helpers.report import seaborn_plots  # noqa: E402

SPEC = SimpleNamespace(arm=SimpleNamespace(codes=("A", "B"), labels={"A": "Control", "B": "Treated"}, experimental="B"))


def test_love_plot_points_are_the_absolute_smds_top_to_bottom():
    bal = pd.DataFrame({"label": ["Age", "Sex: female", "Stage: III"], "before": [-0.40, 0.25, 0.05],
                        "after": [0.02, -0.08, np.nan]})
    fig = seaborn_plots.love_plot(bal)
    ax = fig.axes[0]
    primary, matched = [c for c in ax.collections if c.get_label() in ("Primary cohort", "Matched cohort")]
    assert primary.get_label() == "Primary cohort"
    # drawn bottom to top, so the first row of the table is at the top (y = 2)
    np.testing.assert_allclose(primary.get_offsets()[:, 0], [0.05, 0.25, 0.40])
    np.testing.assert_allclose(primary.get_offsets()[:, 1], [0, 1, 2])
    # a missing SMD draws no point (seaborn drops the row)
    np.testing.assert_allclose(matched.get_offsets(), [[0.08, 1], [0.02, 2]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Stage: III", "Sex: female", "Age"]
    assert ax.get_xlabel() == "Absolute standardized mean difference (pooled SD)"


def test_propensity_overlap_mirrors_the_counts_per_arm():
    ids = pd.Index([f"p{i}" for i in range(8)])
    scores = pd.Series([0.12, 0.14, 0.55, 0.91, 0.13, 0.56, 0.57, 0.95], index=ids)
    arm = pd.Series(["A", "A", "A", "A", "B", "B", "B", "B"], index=ids)
    fig = seaborn_plots.propensity_overlap(scores, arm, pd.Index(["p0", "p2", "p4", "p5"]), SPEC, bins=10)
    ax = fig.axes[0]
    by_bin = {}
    for p in ax.patches:
        if p.get_height() != 0:
            by_bin.setdefault(round(p.get_x(), 6), []).append(p.get_height())
    # bin [0.1, 0.2): control 2 (1 matched) below the axis, treated 1 (matched) above
    assert sorted(by_bin[0.1]) == [-2, -1, 1, 1]
    assert sorted(by_bin[0.5]) == [-1, -1, 1, 2]   # control 0.55 (matched); treated 0.56 (matched), 0.57
    assert sorted(by_bin[0.9]) == [-1, 1]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Control: all (n = 4)", "Control: matched (n = 2)", "Treated: all (n = 4)",
                      "Treated: matched (n = 2)"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(abs(int(t))) for t in ax.get_yticks()]
