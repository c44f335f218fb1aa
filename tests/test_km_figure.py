"""The Kaplan-Meier figures as a journal would print them, measured on the rendered figure: the legend and the
HR/p annotation cover no curve, CI band or censoring mark; the legend gives N per arm; dotted median lines
where the study's paper draws them; the synthetic-data mark inside every figure of a synthetic study."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.cbook import STEP_LOOKUP_MAP  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.path import Path  # noqa: E402

from helpers.report import figures  # noqa: E402
from helpers.stats.survival import kaplan_meier_by_group  # noqa: E402
from helpers.study.patients import load_patients  # noqa: E402
from helpers.study.spec import load_spec  # noqa: E402

ANNOTATION = "HR 0.36 (0.21–0.62)\nlog-rank p < 0.001"


def study_figure(study_id, layout="standard", **panel):
    spec = load_spec(study_id)
    data = load_patients(spec)
    panels = []
    for name, ep in spec.survival.endpoints.items():
        kms = kaplan_meier_by_group(data[ep.time], data[ep.event], data[spec.arm.column].astype(str),
                                    order=spec.arm.codes)
        panels.append(dict(title=ep.label, kms=kms, ylabel=f"{ep.short} probability", annotation=ANNOTATION, **panel))
    figures.use_book_style()
    fig = figures.km_figure(panels, spec, spec.survival.at_risk_times, spec.survival.time_unit, layout=layout)
    fig.canvas.draw()
    return spec, fig


def curve_axes(fig):
    return [ax for ax in fig.axes if ax.get_legend() is not None]


def box_overlaps(ax, renderer) -> list[str]:
    """What of the drawn curves, bands and marks each box (legend, annotation) of ``ax`` covers."""
    boxes = {"legend": ax.get_legend().get_window_extent(renderer)}
    for text in ax.texts:
        if text.get_bbox_patch() is not None:
            boxes["annotation"] = text.get_bbox_patch().get_window_extent(renderer)
    found = []
    for name, box in boxes.items():
        for line in ax.get_lines():
            xy = ax.transData.transform(np.column_stack(line.get_data()))
            if line.get_linestyle() in ("None", "none", " ", ""):  # censoring marks: points
                if any(box.contains(x, y) for x, y in xy):
                    found.append(f"{name} covers a censoring mark")
                continue
            if line.get_drawstyle() == "steps-post":
                xy = ax.transData.transform(np.column_stack(STEP_LOOKUP_MAP["steps-post"](*line.get_data())))
            if Path(xy).intersects_bbox(box, filled=False):
                found.append(f"{name} covers the line {line.get_label()}")
        for band in (c for c in ax.collections if isinstance(c, PolyCollection)):
            for path in band.get_paths():
                if path.transformed(ax.transData).intersects_bbox(box, filled=True):
                    found.append(f"{name} covers a CI band")
    if "annotation" in boxes and boxes["legend"].overlaps(boxes["annotation"]):
        found.append("legend and annotation overlap")
    return found


@pytest.mark.parametrize("study_id,layout", [(s, "standard") for s in ("erhcc_hait_mp", "haic_after_ab", "veteran",
                                                                           "colon")] + [("erhcc_hait_mp", "kmunicate")])
def test_legend_and_annotation_cover_no_curve_band_or_mark(study_id, layout):
    spec, fig = study_figure(study_id, layout)
    renderer = fig.canvas.get_renderer()
    axes = curve_axes(fig)
    assert len(axes) == len(spec.survival.endpoints)
    problems = {ax.get_title(loc="left"): box_overlaps(ax, renderer) for ax in axes}
    plt.close(fig)
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_measure_finds_a_box_on_a_curve():
    """The overlap measure itself: the legend forced onto the curves is reported."""
    spec, fig = study_figure("veteran")
    ax = curve_axes(fig)[0]
    ax.get_legend().set_bbox_to_anchor((0.0, 0.55), transform=ax.transAxes)
    fig.canvas.draw()
    found = box_overlaps(ax, fig.canvas.get_renderer())
    plt.close(fig)
    assert any(f.startswith("legend covers") for f in found)


def test_legend_gives_n_per_arm():
    """Seed 000: 51 patients had HAIT and 50 HAIT-M-P (the paper's Table 1)."""
    _, fig = study_figure("erhcc_hait_mp")
    labels = [t.get_text() for t in curve_axes(fig)[0].get_legend().get_texts()]
    plt.close(fig)
    assert labels == ["HAIT (n = 51)", "HAIT-M-P (n = 50)"]


def test_dotted_median_lines_where_the_paper_draws_them():
    """Seed 004's Figures 1-2 draw dotted lines at each group's median (OS: first-line 6.8, post-ate-beva
    12.4 months; Results 3.2); seed 000's figures do not."""
    spec, fig = study_figure("haic_after_ab")
    assert spec.survival.km_median_lines
    os_axes = next(ax for ax in curve_axes(fig) if "overall" in ax.get_title(loc="left").lower())
    lines = {line.get_gid(): line for line in os_axes.get_lines() if (line.get_gid() or "").startswith("median-")}
    assert set(lines) == {"median-first_line", "median-post_ab"}
    for gid, published in (("median-first_line", 6.8), ("median-post_ab", 12.4)):
        x, y = lines[gid].get_data()
        assert lines[gid].get_linestyle() == ":"
        assert list(y) == [0.5, 0.5, 0.0] and x[0] == 0
        assert x[1] == x[2] == pytest.approx(published, abs=0.05)
    plt.close(fig)
    _, fig = study_figure("erhcc_hait_mp")
    assert not any((line.get_gid() or "").startswith("median-") for ax in fig.axes for line in ax.get_lines())
    plt.close(fig)


def test_kmunicate_counts_are_those_of_the_patient_table():
    """The veteran trial (real data, survival's veteran): at each tick, per arm, the patients with time >= t,
    and those with time <= t censored and with an event, counted straight from the table; and a hand example
    with a tie at the tick (a patient whose time is t is at risk at t and already counted as an event)."""
    from helpers.stats.survival import kaplan_meier

    km = kaplan_meier([2, 4, 4, 4, 7, 9], [1, 1, 0, 1, 0, 1])
    events, censored = km.cumulative_counts([0, 4, 8, 10])
    assert events.tolist() == [0, 3, 3, 4] and censored.tolist() == [0, 1, 2, 2]
    assert km.at_risk([0, 4, 8, 10]).tolist() == [6, 5, 1, 0]
    spec = load_spec("veteran")
    data = load_patients(spec)
    ep = next(iter(spec.survival.endpoints.values()))
    ticks = list(spec.survival.at_risk_times)
    kms = kaplan_meier_by_group(data[ep.time], data[ep.event], data[spec.arm.column].astype(str), order=spec.arm.codes)
    for arm, km in kms.items():
        rows = data[data[spec.arm.column].astype(str) == arm]
        t, e = rows[ep.time].to_numpy(float), rows[ep.event].to_numpy(int)
        events, censored = km.cumulative_counts(ticks)
        assert events.tolist() == [int(((t <= x) & (e == 1)).sum()) for x in ticks]
        assert censored.tolist() == [int(((t <= x) & (e == 0)).sum()) for x in ticks]
        assert km.at_risk(ticks).tolist() == [int((t >= x).sum()) for x in ticks]


def test_kmunicate_layout_puts_at_risk_censored_and_events_under_each_arm():
    """Seed 000 in the KMunicate layout: per arm a heading and the rows At risk, Censored, Events, with the
    counts of the curves at each tick; no censor marks on the curves (the Censored row says it)."""
    spec, fig = study_figure("erhcc_hait_mp", "kmunicate")
    risk_axes = [ax for ax in fig.axes if ax.get_legend() is None]
    assert len(risk_axes) == len(spec.survival.endpoints)
    labels = [t.get_text() for t in risk_axes[0].get_yticklabels()][::-1]  # from the top
    ref, exp = (spec.arm.labels[c] for c in spec.arm.codes)
    assert labels == [ref, "At risk", "Censored", "Events", exp, "At risk", "Censored", "Events"]
    data = load_patients(spec)
    ep = next(iter(spec.survival.endpoints.values()))
    kms = kaplan_meier_by_group(data[ep.time], data[ep.event], data[spec.arm.column].astype(str), order=spec.arm.codes)
    ax = risk_axes[0]
    by_row = {}
    for text in ax.texts:
        if text.get_transform() == ax.transData:
            by_row.setdefault(round(text.get_position()[1]), []).append((text.get_position()[0], int(text.get_text())))
    ticks = [x for x, _ in sorted(by_row[max(by_row)])]  # the spec's, extended to the end of follow-up
    assert ticks[:len(spec.survival.at_risk_times)] == list(spec.survival.at_risk_times) and len(by_row) == 6
    expected = []
    for code in spec.arm.codes:
        events, censored = kms[code].cumulative_counts(ticks)
        expected += [kms[code].at_risk(ticks).tolist(), censored.tolist(), events.tolist()]
    shown = [[n for _, n in sorted(by_row[y])] for y in sorted(by_row, reverse=True)]
    assert shown == expected
    assert not any(line.get_marker() == "|" for a in curve_axes(fig) for line in a.get_lines())
    plt.close(fig)
    _, fig = study_figure("erhcc_hait_mp")
    assert any(line.get_marker() == "|" for a in curve_axes(fig) for line in a.get_lines())
    plt.close(fig)


def test_a_layout_that_does_not_exist_is_refused():
    spec = load_spec("veteran")
    with pytest.raises(ValueError, match="not one of"):
        fig, (ax, ax_risk) = plt.subplots(2)
        figures.km_panel(ax, ax_risk, {}, spec, [0], layout="kmunicte")
    plt.close("all")
