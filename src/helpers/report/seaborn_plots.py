"""The statistical plots that seaborn draws well: the love plot, the propensity-score distributions and the
response bars.

Each takes the frame its chapter already has, reshapes it to long form (one row per point, bar or
observation) and hands it to one seaborn call; matplotlib only adds the reference line, tick labels and
numbers printed on the bars. The look is the book's: the arm palette of :mod:`helpers.report.figures`
(Okabe-Ito), axis labels with units, and n in the legends.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from helpers.report.figures import RESPONSE_COLOURS, _row_value, arm_colours
from helpers.study.spec import StudySpec

__all__ = ["love_plot", "propensity_overlap", "response_bars"]


def love_plot(balance: pd.DataFrame, threshold: float = 0.1):
    """Absolute standardized mean differences before and after matching, one row per covariate (level).

    ``balance``: columns ``label``, ``before`` and ``after`` (signed SMDs), in Table 1 order (drawn top to
    bottom). ``sns.scatterplot`` draws the points of the long frame (covariate, cohort, |SMD|).
    """
    df = balance.iloc[::-1].reset_index(drop=True)
    y = np.arange(len(df))
    long = pd.concat([pd.DataFrame({"y": y, "asmd": df[col].abs().to_numpy(), "cohort": name})
                      for col, name in (("before", "Primary cohort"), ("after", "Matched cohort"))],
                     ignore_index=True)
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(df) + 1.4))
    before, after = df["before"].abs().to_numpy(), df["after"].abs().to_numpy()
    ax.hlines(y, np.fmin(before, after), np.fmax(before, after), color="#bbbbbb", lw=0.8, zorder=1)
    looks = {"Primary cohort": dict(color="white", edgecolor="#555555"),
             "Matched cohort": dict(color="#CC3311", edgecolor="#CC3311")}
    for name, look in looks.items():
        sns.scatterplot(data=long[long["cohort"] == name], x="asmd", y="y", s=36, linewidth=1, label=name, zorder=3,
                        ax=ax, **look)
    ax.axvline(threshold, color="#333333", ls="--", lw=0.9)
    ax.set_yticks(y, df["label"])
    finite = long["asmd"].to_numpy()
    finite = finite[np.isfinite(finite)]
    ax.set_xlim(0, max(0.5, float(finite.max()) * 1.08) if len(finite) else 1)
    ax.set_xlabel("Absolute standardized mean difference (pooled SD)")
    ax.set_ylabel("")
    ax.legend(loc="lower right")
    ax.grid(axis="x", color="#eeeeee")
    fig.tight_layout()
    return fig


def propensity_overlap(scores: pd.Series, arm: pd.Series, matched_ids: pd.Index, spec: StudySpec, bins: int = 20):
    """Mirrored histograms of the propensity score by arm: all patients (light) and matched patients (dark).

    The reference arm is drawn below the axis: ``sns.histplot`` of the bins' counts (numpy bins the scores
    once) as weights, negative for the reference arm; the tick labels are absolute counts of patients.
    """
    colours = arm_colours(spec)
    edges = np.linspace(0, 1, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    # one look-up of the matched ids for all patients (a registry: 10^6 ids), not two per arm
    matched = pd.Series(scores.index.isin(matched_ids), index=scores.index)
    for sign, code in zip((-1, 1), spec.arm.codes):
        in_arm = (arm == code).to_numpy()
        s = scores.to_numpy()[in_arm]
        is_matched = matched.to_numpy()[in_arm]
        for sel, alpha, what in ((slice(None), 0.3, f"all (n = {len(s)})"),
                                 (is_matched, 0.95, f"matched (n = {int(is_matched.sum())})")):
            # binned once by numpy (a registry arm has 10^6 scores); seaborn draws the bins' counts as weights
            counts, _ = np.histogram(s[sel], edges)
            sns.histplot(x=centres, weights=sign * counts, bins=bins, binrange=(0, 1), stat="count",
                         color=colours[code], alpha=alpha, edgecolor="white", linewidth=0.8,
                         label=f"{spec.arm.labels[code]}: {what}", ax=ax)
    ax.axhline(0, color="#333333", lw=0.8)
    ax.set_xlim(0, 1)
    ticks = ax.get_yticks()
    ax.set_yticks(ticks, [f"{abs(int(t))}" for t in ticks])
    ax.set_xlabel(f"Propensity score, P({spec.arm.labels[spec.arm.experimental]} | covariates)")
    ax.set_ylabel(f"Patients ({spec.arm.labels[spec.arm.codes[0]]} below, {spec.arm.labels[spec.arm.experimental]} above)")
    ax.legend(loc="upper center", fontsize=8, ncol=2, bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    return fig


def response_bars(rows: pd.DataFrame, spec: StudySpec, criteria: list[str] | None = None):
    """Stacked horizontal bars of the best overall response (% of patients) per criterion and arm.

    ``rows``: :func:`helpers.analyses.response.best_response_table` output for the criteria (concatenated).
    One bar per (criterion, arm), criteria top to bottom in the given order, segments CR -> PD left to
    right: ``sns.histplot(..., weights="pct", multiple="stack", discrete=True)`` over the long frame (bar,
    category, %).
    """
    criteria = list(criteria or spec.response.criteria)
    cats = list(spec.response.categories)
    colours = {c: RESPONSE_COLOURS[i % len(RESPONSE_COLOURS)] for i, c in enumerate(cats)}
    bars = [(c, a) for c in criteria for a in spec.arm.codes]
    ys = np.arange(len(bars))[::-1].astype(float)
    long = pd.DataFrame([{"y": y, "category": cat, "pct": _row_value(rows, crit, cat, arm, "pct")}
                         for (crit, arm), y in zip(bars, ys) for cat in cats])
    fig, ax = plt.subplots(figsize=(7.2, 0.55 * len(bars) + 1.4))
    # seaborn stacks the hue levels in reverse order from the axis: reversed, the first category starts at 0
    sns.histplot(data=long.fillna({"pct": 0.0}), y="y", weights="pct", hue="category", hue_order=cats[::-1],
                 palette=colours, multiple="stack", discrete=True, shrink=0.7, edgecolor="white", linewidth=0.6,
                 alpha=1.0, ax=ax)
    for y, grp in long.groupby("y", sort=False):
        left = 0.0
        for cat, pct in zip(grp["category"], grp["pct"]):
            if pct >= 6:
                ax.text(left + pct / 2, y, f"{pct:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if cat in (cats[0], cats[-1]) else "#222222")
            left += pct
    labels = [f"{spec.response.criteria[c].label}: {spec.arm.labels[a]}" for c, a in bars]
    ax.set_yticks(ys)
    ax.set_yticklabels(labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Patients (%)")
    ax.set_ylabel("Response criterion and arm")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[c]) for c in cats]
    ax.get_legend().remove()
    ax.legend(handles, cats, title="Best overall response", ncols=len(cats), loc="lower center",
              bbox_to_anchor=(0.5, 1.0), fontsize=8.5, title_fontsize=9)
    fig.tight_layout()
    return fig
