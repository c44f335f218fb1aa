"""Publication-grade figures for the cohorts chapter: patient flow, love plot, propensity-score overlap.

All figures use one palette per arm (Okabe-Ito, colour-blind safe: reference arm blue, experimental arm
orange), labelled axes with units, and return the matplotlib ``Figure`` so notebooks only display it.
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyBboxPatch

from .spec import StudySpec

ARM_COLOURS = ("#0072B2", "#E69F00")


def use_book_style() -> None:
    """Matplotlib settings for the book: readable fonts, no chart junk, reproducible SVG output."""
    mpl.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 200, "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
        "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
        "svg.hashsalt": "hcc-cohort-book", "svg.fonttype": "none",
    })


def arm_colours(spec: StudySpec) -> dict[str, str]:
    return dict(zip(spec.arm.codes, ARM_COLOURS))


def _box(ax, x, y, text, w=0.36, h=0.1, colour="#333333", face="white"):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01", linewidth=1.2,
                                edgecolor=colour, facecolor=face))
    ax.text(x, y, text, ha="center", va="center", fontsize=9, wrap=True)


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="-|>", color="#333333", lw=1.1))


def flow_diagram(spec: StudySpec, arm_counts: dict[str, int], matched_counts: dict[str, int] | None = None):
    """CONSORT-style flow: published screening/exclusion steps, then the arms counted from the data."""
    steps = {s.step: s for s in spec.flow}
    fig, ax = plt.subplots(figsize=(7.2, 4.6 if matched_counts else 3.8))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    y = 0.92
    if "screened" in steps:
        _box(ax, 0.5, y, f"Screened\nn = {steps['screened'].n}", w=0.32)
        if "excluded" in steps:
            _box(ax, 0.84, y - 0.15, f"Excluded\nn = {steps['excluded'].n}", w=0.28, h=0.1)
            _arrow(ax, 0.5, y - 0.15, 0.70, y - 0.15)
        _arrow(ax, 0.5, y - 0.05, 0.5, y - 0.25)
        y -= 0.3
    total = sum(arm_counts.values())
    _box(ax, 0.5, y, f"Included (analysed)\nn = {total}", w=0.32)
    colours = arm_colours(spec)
    xs = dict(zip(spec.arm.codes, (0.25, 0.75)))
    for code, x in xs.items():
        _arrow(ax, 0.5, y - 0.05, x, y - 0.22)
        _box(ax, x, y - 0.27, f"{spec.arm.labels[code]}\nn = {arm_counts[code]}", w=0.34, colour=colours[code])
        if matched_counts:
            _arrow(ax, x, y - 0.32, x, y - 0.47)
            _box(ax, x, y - 0.52, f"Propensity-matched\nn = {matched_counts[code]}", w=0.34, colour=colours[code],
                 face="#f4f4f4")
    fig.tight_layout()
    return fig


def love_plot(balance: pd.DataFrame, threshold: float = 0.1):
    """Absolute standardized mean differences before and after matching, one row per covariate (level)."""
    df = balance.iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(df) + 1.4))
    y = np.arange(len(df))
    ax.scatter(df["before"].abs(), y, marker="o", facecolors="white", edgecolors="#555555", label="Primary cohort",
               zorder=3)
    ax.scatter(df["after"].abs(), y, marker="o", color="#CC3311", label="Matched cohort", zorder=3)
    for yi, b, a in zip(y, df["before"].abs(), df["after"].abs()):
        ax.plot([b, a], [yi, yi], color="#bbbbbb", lw=0.8, zorder=1)
    ax.axvline(threshold, color="#333333", ls="--", lw=0.9)
    ax.set_yticks(y, df["label"])
    finite = np.concatenate([df["before"].abs(), df["after"].abs()])
    finite = finite[np.isfinite(finite)]
    ax.set_xlim(0, max(0.5, float(finite.max()) * 1.08) if len(finite) else 1)
    ax.set_xlabel("Absolute standardized mean difference (pooled SD)")
    ax.legend(loc="lower right")
    ax.grid(axis="x", color="#eeeeee")
    fig.tight_layout()
    return fig


def propensity_overlap(scores: pd.Series, arm: pd.Series, matched_ids: pd.Index, spec: StudySpec, bins: int = 20):
    """Mirrored histograms of the propensity score by arm: all patients (light) and matched patients (dark)."""
    colours = arm_colours(spec)
    edges = np.linspace(0, 1, bins + 1)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for sign, code in zip((-1, 1), spec.arm.codes):
        s = scores[arm == code]
        all_counts, _ = np.histogram(s, edges)
        m_counts, _ = np.histogram(s[s.index.isin(matched_ids)], edges)
        ax.bar(edges[:-1], sign * all_counts, width=np.diff(edges), align="edge", color=colours[code], alpha=0.3,
               edgecolor="white", label=f"{spec.arm.labels[code]}: all (n = {len(s)})")
        ax.bar(edges[:-1], sign * m_counts, width=np.diff(edges), align="edge", color=colours[code], alpha=0.95,
               edgecolor="white", label=f"{spec.arm.labels[code]}: matched (n = {int(s.index.isin(matched_ids).sum())})")
    ax.axhline(0, color="#333333", lw=0.8)
    ax.set_xlim(0, 1)
    ticks = ax.get_yticks()
    ax.set_yticks(ticks, [f"{abs(int(t))}" for t in ticks])
    ax.set_xlabel(f"Propensity score, P({spec.arm.labels[spec.arm.experimental]} | covariates)")
    ax.set_ylabel(f"Patients ({spec.arm.labels[spec.arm.codes[0]]} below, {spec.arm.labels[spec.arm.experimental]} above)")
    ax.legend(loc="upper center", fontsize=8, ncol=2, bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    return fig
