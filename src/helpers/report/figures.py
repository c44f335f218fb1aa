"""Publication-grade figures: patient flow, Kaplan-Meier panels, adverse events, forest plots.

The love plot, the propensity-score distributions and the response bars are drawn with seaborn in
:mod:`helpers.report.seaborn_plots`.

All figures use one palette per arm (Okabe-Ito, colour-blind safe: reference arm blue, experimental arm
orange), labelled axes with units, and return the matplotlib ``Figure`` so notebooks only display it.
"""
from __future__ import annotations

import textwrap

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyBboxPatch

from helpers.study.results import first_row_values
from helpers.study.schema import KM_LAYOUTS
from helpers.study.spec import StudySpec

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
    # height follows the boxes drawn (about 4.6 inches per unit of the 0-1 axis), so a flow without a
    # screening step or a matched cohort is not followed by empty space
    bottom = 0.92 - (0.3 if "screened" in steps else 0.0) - (0.52 if matched_counts else 0.27) - 0.08
    bottom = max(bottom, 0.0)
    fig, ax = plt.subplots(figsize=(7.2, max(1.6, 4.6 * (1 - bottom))))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom, 1)
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


# ------------------------------------------------------------------------------------------ Kaplan-Meier
def km_step(table: pd.DataFrame, column: str = "surv") -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a right-continuous step curve from a Kaplan-Meier table, starting at (0, 1)."""
    times = np.concatenate([[0.0], table["time"].to_numpy(float)])
    values = np.concatenate([[1.0], table[column].to_numpy(float)])
    return times, values


def extend_ticks(times: list[float], last: float) -> list[float]:
    """The at-risk times, continued at the same step until they cover the last observed time."""
    if len(times) < 2:
        return times
    step = times[-1] - times[-2]
    out = list(times)
    while step > 0 and out[-1] < last:
        out.append(out[-1] + step)
    return out


#: at most this many censoring marks per curve: a panel is about 400 pixels wide, so one mark per column
MAX_CENSOR_MARKS = 400
#: curves with more than four points per column are drawn through a few points per column of this many columns
#: across the x-axis (about 2 to 3 columns per pixel of a panel at 200 dpi); study cohorts are drawn point for point
CURVE_COLUMNS = 2000


def censor_marks(table: pd.DataFrame, right: float, max_marks: int = MAX_CENSOR_MARKS) -> tuple[np.ndarray, np.ndarray]:
    """(time, survival) of the censoring marks of one Kaplan-Meier curve, thinned for large cohorts.

    Every time with a censored patient gets a mark while there are at most ``max_marks`` such times (all
    the study cohorts). Beyond that, the x-axis [0, ``right``] is cut into ``max_marks`` equal columns and each
    column keeps its first censoring time: a mark then means "patients were censored here", as it does on
    paper, and a registry of 10^6 patients draws a few hundred marks instead of hundreds of thousands.
    """
    return _censor_marks(table["time"].to_numpy(float), table["surv"].to_numpy(float),
                         table["n_censor"].to_numpy(), right, max_marks)


def _censor_marks(time: np.ndarray, surv: np.ndarray, n_censor: np.ndarray, right: float,
                  max_marks: int = MAX_CENSOR_MARKS) -> tuple[np.ndarray, np.ndarray]:
    censored = n_censor > 0
    t = time[censored]
    s = surv[censored]
    if len(t) <= max_marks or right <= 0:
        return t, s
    column = np.minimum((t / right * max_marks).astype(np.int64), max_marks)
    keep = np.r_[True, column[1:] != column[:-1]]  # times are sorted: first mark of each column
    return t[keep], s[keep]


def curve_points(x: np.ndarray, curves: list[np.ndarray], right: float,
                 columns: int = CURVE_COLUMNS) -> np.ndarray:
    """Indices of the points of step curves (sharing ``x``, ascending) that make the drawn picture.

    All points while there are at most ``4 * columns`` (every study cohort). Beyond that, [0, ``right``] (the
    axis) is cut into ``columns`` equal columns, and each keeps its first and last point and, for each curve,
    the first point at its lowest and at its highest value. A post-step curve through these points leaves and
    enters every column at the same heights as the full curve and covers the same vertical range inside it;
    only where it drops inside a column moves, by less than a column (under half a pixel). Points right of
    ``right`` (not shown) count as one more column. A curve of 10^6 patients is drawn through a few thousand
    vertices instead of a million, and the CI band is one polygon of that size, not of four million vertices.
    """
    n = len(x)
    if n <= 4 * columns or right <= 0:
        return np.arange(n)
    column = np.minimum((x / right * columns).astype(np.int64), columns)
    starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
    ends = np.r_[starts[1:] - 1, n - 1]
    segment = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    keep = [starts, ends]
    for y in curves:
        for extreme in (np.minimum, np.maximum):
            at = np.flatnonzero(y == extreme.reduceat(y, starts)[segment])
            keep.append(at[np.r_[True, segment[at][1:] != segment[at][:-1]]])  # the first in each column
    return np.unique(np.concatenate(keep))


def at_risk_label(n) -> str:
    """A number at risk as printed under a KM plot, at most four characters up to 10 million so that
    neighbouring ticks never run together: exact below 10,000; then rounded thousands ("50k", "512k") or
    millions ("1.0M")."""
    n = int(n)
    if n < 10_000:
        return str(n)
    if n < 999_500:
        return f"{n / 1e3:.0f}k"
    return f"{n / 1e6:.1f}M"


def band_limits(km) -> tuple[np.ndarray, np.ndarray]:
    """The drawn CI band of a curve from (0, 1): where a limit is not defined (after the curve reaches 0, the
    log-type limits are NaN, as in R) the band closes onto the curve instead of spiking to 0 or 100%."""
    y = np.r_[1.0, km.surv]
    lo, hi = np.r_[1.0, km.lower], np.r_[1.0, km.upper]
    return np.where(np.isnan(lo), y, lo), np.where(np.isnan(hi), y, hi)


def km_panel(ax, ax_risk, kms: dict, spec: StudySpec, at_risk_times, time_unit: str = "months",
             ylabel: str = "Survival probability", annotation: str = "", show_ci: bool = True,
             xmax: float | None = None, risk_kms: dict | None = None,
             risk_title: str = "Number at risk", median_lines: bool | None = None,
             layout: str = "standard") -> None:
    """Draw one Kaplan-Meier panel in the style of the papers' Figures 2 and 3.

    Step curves per arm with censoring marks (+; thinned to one per pixel column for large cohorts, see
    :func:`censor_marks`), pointwise CI bands as shaded steps, an annotation (HR with CI
    and log-rank p) in the panel, and under the x-axis the numbers at risk, counted as patients with
    time >= t (R's convention; lifelines' ``add_at_risk_counts`` counts time > t). Curves of large cohorts
    are drawn through the points that make the picture (:func:`curve_points`). ``risk_kms`` (e.g. the
    unweighted curves under weighted ones) give the numbers at risk instead of ``kms``, titled ``risk_title``.

    The legend gives each arm's N (of ``risk_kms`` when given: the patients, not the weights). The legend and
    the annotation are placed where they cover the fewest drawn curves and CI bands (:func:`place_boxes`;
    none in the primary-cohort figures of every study, measured in ``tests/test_km_figure.py``). ``median_lines`` (default: the spec's ``survival.km_median_lines``) draws
    dotted lines from the 50% level to each arm's median and down to the time axis.

    ``layout="kmunicate"`` draws the layout Morris et al. (BMJ Open 2019) found readers understand best: no
    censor marks, and under the curves, per arm, the numbers at risk (time >= t), censored and with an event
    (cumulative: time <= t, as R's KMunicate package counts them; :meth:`KaplanMeier.cumulative_counts`).
    ``ax_risk`` then needs :func:`risk_rows` rows.
    """
    if layout not in KM_LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {list(KM_LAYOUTS)}")
    kmunicate = layout == "kmunicate"
    colours = arm_colours(spec)
    # the KaplanMeier arrays, not km.table: a table of a registry's curve is a copy of 10^6 rows
    last = max(float(km.time.max()) for km in kms.values())
    at_risk_times = extend_ticks(list(at_risk_times), xmax if xmax is not None else last)
    right = xmax if xmax is not None else max(max(at_risk_times, default=0), last)
    for arm, km in kms.items():
        x = np.r_[0.0, km.time]  # as km_step: from (0, 1)
        y = np.r_[1.0, km.surv]
        lo, hi = band_limits(km)
        keep = curve_points(x, [y, lo, hi] if show_ci else [y], right * 1.02)  # the x-axis ends at right * 1.02
        colour = colours.get(arm, "#444444")
        n = float((risk_kms or kms).get(arm, km).n)
        n_text = f"{n:.0f}" if n.is_integer() else f"{n:.1f}"
        ax.step(x[keep], y[keep], where="post", color=colour, lw=1.6,
                label=f"{spec.arm.labels.get(arm, arm)} (n = {n_text})")
        if show_ci:
            ax.fill_between(x[keep], lo[keep], hi[keep], step="post", color=colour, alpha=0.15, lw=0)
    for arm, km in kms.items() if not kmunicate else ():  # KMunicate: the Censored row instead
        ct, cs = _censor_marks(km.time, km.surv, km.n_censor, right)
        ax.plot(ct, cs, ls="none", marker="|", ms=7, mew=1.2, color=colours.get(arm, "#444444"))
    ax.set_xlim(0, right * 1.02)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_ylabel(ylabel)
    if at_risk_times:
        ax.set_xticks(at_risk_times)
    ax.grid(axis="y", color="#e6e6e6", lw=0.6)
    if median_lines is None:
        median_lines = bool(spec.survival and spec.survival.km_median_lines)
    drawn = []
    if median_lines:
        for arm, km in kms.items():
            m = km.median().estimate
            if np.isfinite(m):
                ax.plot([0, m, m], [0.5, 0.5, 0], ls=":", lw=1.1, color=colours.get(arm, "#444444"),
                        gid=f"median-{arm}")
                drawn.append(([0, m, m], [0.5, 0.5, 0]))
    # the legend and the annotation where they cover no curve; if there is no such place, head room above 100%
    for top in HEAD_ROOM:
        ax.set_ylim(0, top)
        boxes = [ax.legend(loc="upper right", fontsize=9)]
        if annotation:
            boxes.append(ax.text(0.97, 0.04, annotation, transform=ax.transAxes, fontsize=9, va="bottom",
                                 ha="right", bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="#cccccc", lw=0.6)))
        if not any(place_boxes(ax, boxes, kms, right * 1.02, show_ci, lines=drawn)) or top == HEAD_ROOM[-1]:
            break
        for box in boxes:
            box.remove()
    ax.spines["left"].set_bounds(0, 1)  # the axis ends at 100%, also with head room
    # numbers at risk (KMunicate: and censored, and events), one row per arm and count, from the top
    ax_risk.set_xlim(ax.get_xlim())
    rows = []  # (label, arm, counts or None for an arm's heading, is a heading)
    for arm, km in (risk_kms or kms).items():
        if not kmunicate:
            rows.append((spec.arm.labels.get(arm, arm), arm, km.at_risk(at_risk_times), True))
            continue
        events, censored = km.cumulative_counts(at_risk_times)
        rows += [(spec.arm.labels.get(arm, arm), arm, None, True), ("At risk", arm, km.at_risk(at_risk_times), False),
                 ("Censored", arm, censored, False), ("Events", arm, events, False)]
    ax_risk.set_ylim(-0.5, len(rows) - 0.5)
    for row, (_, arm, counts, _) in enumerate(rows):
        for t, n in zip(at_risk_times, counts if counts is not None else ()):
            ax_risk.text(t, len(rows) - 1 - row, at_risk_label(n), ha="center", va="center", fontsize=8.5,
                         color=colours.get(arm, "#444"))
    ax_risk.set_yticks(range(len(rows)))
    ax_risk.set_yticklabels([label for label, *_ in reversed(rows)], fontsize=8.5)
    for tick, (_, arm, _, heading) in zip(ax_risk.get_yticklabels(), reversed(rows)):
        if heading:
            tick.set_color(colours.get(arm, "#444"))
            tick.set_fontweight("bold" if kmunicate else "normal")
        else:
            tick.set_fontstyle("italic")
    ax_risk.set_xticks(at_risk_times)
    ax_risk.tick_params(axis="both", length=0)
    ax_risk.tick_params(axis="y", pad=16)  # keep the arm labels clear of the counts at t = 0
    ax_risk.set_xticklabels([f"{t:g}" for t in at_risk_times], fontsize=8.5)
    ax_risk.set_xlabel(f"Time ({time_unit})")
    for side in ("top", "right", "left", "bottom"):
        ax_risk.spines[side].set_visible(False)
    if not kmunicate:  # the KMunicate rows say what they count
        ax_risk.text(0, 1.02, risk_title, transform=ax_risk.transAxes, fontsize=8.5, ha="left", va="bottom",
                     fontweight="bold")
    ax.tick_params(axis="x", labelbottom=False)


def risk_rows(n_arms: int, layout: str = "standard") -> int:
    """Rows of the table under a Kaplan-Meier panel: one per arm, or four (the arm, at risk, censored, events)
    in the KMunicate layout."""
    return n_arms * (4 if layout == "kmunicate" else 1)


#: Resolution of the occupancy grid over a panel's axes (cells per axis side) used to place its boxes.
PLACEMENT_GRID = 120


def occupancy(kms: dict, xmax: float, show_ci: bool = True, ymax: float = 1.02, cells: int = PLACEMENT_GRID):
    """A (rows, columns) boolean grid over the axes (row 0 at the bottom): True where a curve or its CI band
    is drawn. Each column is a slice of [0, ``xmax``]; in it a curve occupies the cells from its lowest to its
    highest value (its drops are drawn lines), its band from the band's lowest to its highest value, each
    widened by one cell for the line width. Right of a curve's last time nothing of it is drawn."""
    grid = np.zeros((cells, cells), dtype=bool)
    edges = np.linspace(0.0, xmax, cells + 1)
    for km in kms.values():
        x = np.r_[0.0, km.time]
        ys = [np.r_[1.0, km.surv]]
        if show_ci:
            ys += list(band_limits(km))
        values = np.vstack(ys)
        start = np.clip(np.searchsorted(x, edges[:-1], side="right") - 1, 0, len(x) - 1)  # value entering
        stop = np.clip(np.searchsorted(x, edges[1:], side="right") - 1, 0, len(x) - 1)     # last value inside
        for column in np.flatnonzero(edges[:-1] <= x[-1]):
            inside = values[:, start[column]:stop[column] + 1]
            low = int(np.floor(inside.min() / ymax * cells)) - 1
            high = int(np.ceil(inside.max() / ymax * cells)) + 1
            grid[max(low, 0):min(high, cells), column] = True
    return grid


def _box_extent(ax, artist, renderer):
    """The artist's box in axes fractions: a legend's frame, or a text with its rounded box (its pad)."""
    bbox = artist.get_window_extent(renderer)
    patch = artist.get_bbox_patch() if hasattr(artist, "get_bbox_patch") else None
    if patch is not None:  # the patch is sized at draw time: add its pad (in font sizes) to the text's extent
        pad = patch.get_boxstyle().pad * artist.get_fontsize() * ax.figure.dpi / 72.0
        bbox = bbox.expanded((bbox.width + 2 * pad) / bbox.width, (bbox.height + 2 * pad) / bbox.height)
    return bbox.transformed(ax.transAxes.inverted())


def _mark_lines(grid: np.ndarray, lines, xmax: float, ymax: float) -> None:
    """Mark the cells of straight polylines ``[(xs, ys), ...]`` (data coordinates) in the grid."""
    cells = grid.shape[0]
    for xs, ys in lines:
        for (x0, y0), (x1, y1) in zip(zip(xs[:-1], ys[:-1]), zip(xs[1:], ys[1:])):
            t = np.linspace(0.0, 1.0, 4 * cells)
            c = np.clip(((x0 + (x1 - x0) * t) / xmax * cells).astype(int), 0, cells - 1)
            r = np.clip(((y0 + (y1 - y0) * t) / ymax * cells).astype(int), 0, cells - 1)
            grid[r, c] = True


#: The tops of a Kaplan-Meier panel's y-axis tried in turn (the ticks stay 0-100%): room for the legend and
#: the annotation above the curves when they fit nowhere else.
HEAD_ROOM = (1.02, 1.12, 1.22, 1.32)

#: Font sizes a box may shrink to, in turn, when it fits nowhere on a panel at its own size.
SMALLER_FONTS = (8.0, 7.0)


def place_boxes(ax, boxes: list, kms: dict, xmax: float, show_ci: bool = True, lines=(),
                cells: int = PLACEMENT_GRID) -> list:
    """Move the legend and the annotation (``boxes``, in this order of priority) to where they cover the fewest
    cells of the panel's curves and CI bands (:func:`occupancy`) and of ``lines`` (e.g. the median lines), and
    none of each other.

    Every position of each box inside the axes is scored at once from a summed-area table of the grid: the
    covered cells first, then the distance from the box's preferred corner (the legend top right, the
    annotation bottom right), so a free corner is kept when there is one. A box that fits nowhere free is set
    in a smaller font (:data:`SMALLER_FONTS`) and placed again. Returns each box's number of covered cells.
    """
    renderer = ax.figure.canvas.get_renderer()
    ymax = ax.get_ylim()[1]
    occupied = occupancy(kms, xmax, show_ci, ymax, cells)
    _mark_lines(occupied, lines, xmax, ymax)
    grid = occupied.astype(np.int64)
    table = np.zeros((cells + 1, cells + 1), dtype=np.int64)
    covered_cells = []
    for i, artist in enumerate(boxes):
        texts = artist.get_texts() if hasattr(artist, "get_texts") else [artist]
        best = None
        own = texts[0].get_fontsize()
        # the box as it is, then smaller; a text of several lines also as one line ("HR ...; log-rank p ...")
        layouts = [(None, size) for size in (own,) + tuple(f for f in SMALLER_FONTS if f < own)]
        if artist is texts[0] and "\n" in artist.get_text():
            one_line = artist.get_text().replace("\n", "; ")
            layouts = layouts[:1] + [(one_line, own)] + [x for f in layouts[1:] for x in ((None, f[1]), (one_line, f[1]))]
        original = texts[0].get_text()
        for text_value, size in layouts:
            if artist is texts[0]:
                artist.set_text(original if text_value is None else text_value)
            for t in texts:
                t.set_fontsize(size)
            box = _box_extent(ax, artist, renderer)
            w = min(int(np.ceil(box.width * cells)) + 2, cells)  # one free cell on each side
            h = min(int(np.ceil(box.height * cells)) + 2, cells)
            table[1:, 1:] = grid.cumsum(0).cumsum(1)
            # covered cells of the box with its lower left corner at (column c, row r), for every c, r
            covered = table[h:, w:] - table[:-h, w:] - table[h:, :-w] + table[:-h, :-w]
            rows, columns = np.indices(covered.shape)
            corner = (covered.shape[1] - 1, covered.shape[0] - 1) if i == 0 else (covered.shape[1] - 1, 0)
            score = covered * 10.0 + np.hypot(columns - corner[0], rows - corner[1]) / cells
            r, c = np.unravel_index(int(np.argmin(score)), score.shape)
            if best is None or covered[r, c] < best[0]:
                best = (int(covered[r, c]), int(r), int(c), w, h, box, size, texts[0].get_text())
            if covered[r, c] == 0:
                break
        n_covered, r, c, w, h, box, size, shown = best
        if artist is texts[0]:
            artist.set_text(shown)
        for t in texts:
            t.set_fontsize(size)
        covered_cells.append(n_covered)
        grid[r:r + h, c:c + w] += 10_000  # the next box keeps off this one
        x0, y0 = (c + 1) / cells, (r + 1) / cells  # inside the one-cell margin
        if hasattr(artist, "set_bbox_to_anchor"):  # a legend: its lower left corner there
            artist.set_loc("lower left")
            artist.borderaxespad = 0.0
            artist.set_bbox_to_anchor((x0, y0), transform=ax.transAxes)
        else:  # a text: its box's lower left corner there (the text inside the pad)
            text = artist.get_window_extent(renderer).transformed(ax.transAxes.inverted())
            artist.set_ha("left")
            artist.set_va("bottom")
            artist.set_position((x0 + (text.x0 - box.x0), y0 + (text.y0 - box.y0)))
    return covered_cells


def km_figure(panels: list[dict], spec: StudySpec, at_risk_times, time_unit: str = "months", ncols: int = 2,
              layout: str = "standard"):
    """A grid of Kaplan-Meier panels (e.g. PFS, IH-PFS, EH-PFS, OS), each with its at-risk table
    (``layout``: see :func:`km_panel`).

    ``panels``: dicts with ``title``, ``kms`` (arm -> KaplanMeier), ``ylabel``, ``annotation``.
    """
    n = len(panels)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    n_arms = max(len(p["kms"]) for p in panels)
    rows = risk_rows(n_arms, layout)
    fig = plt.figure(figsize=(5.4 * ncols, (4.6 + 0.3 * (rows - n_arms)) * nrows))
    # the arm names label the at-risk rows left of each panel: long names need a wider gap between columns,
    # or they run into the numbers at risk of the panel to their left
    longest = max(len(spec.arm.labels.get(a, str(a))) for p in panels for a in p["kms"])
    outer = fig.add_gridspec(nrows, ncols, hspace=0.45, wspace=0.32 + 0.025 * max(0, longest - 8))
    for i, panel in enumerate(panels):
        # hspace is a share of the mean axes height: the same gap above a taller KMunicate table
        hspace = 0.22 * (4.65 + 0.3 * n_arms) / (4.65 + 0.3 * rows)
        inner = outer[i // ncols, i % ncols].subgridspec(2, 1, height_ratios=[4.2, 0.45 + 0.3 * rows], hspace=hspace)
        ax = fig.add_subplot(inner[0])
        ax_risk = fig.add_subplot(inner[1], sharex=ax)
        letter = chr(ord("A") + i) if n > 1 else ""
        ax.set_title(f"{letter}  {panel['title']}".strip(), loc="left", fontweight="bold")  # before the boxes
        km_panel(ax, ax_risk, panel["kms"], spec, at_risk_times, time_unit, panel.get("ylabel", "Survival probability"),
                 panel.get("annotation", ""), risk_kms=panel.get("risk_kms"),
                 risk_title=panel.get("risk_title", "Number at risk"), layout=layout)
    return fig


# ----------------------------------------------------------------------------------------------
# Response and safety figures
# ----------------------------------------------------------------------------------------------
#: Okabe-Ito colours for best overall response, best (CR) to worst (PD); more categories cycle the rest.
RESPONSE_COLOURS = ("#009E73", "#56B4E9", "#F0E442", "#D55E00", "#CC79A7", "#999999")


def _row_value(rows: pd.DataFrame, variable: str, level: str, group: str, stat: str) -> float:
    hit = rows[(rows.variable == variable) & (rows.level == level) & (rows.group == group) & (rows.stat == stat)]
    return float(hit["value"].iloc[0]) if len(hit) else float("nan")


def _row_lookup(rows: pd.DataFrame):
    """:func:`_row_value` for many look-ups in one table: the rows indexed once (first row of each key)."""
    values = first_row_values(rows)
    return lambda variable, level, group, stat: values.get((variable, level, group, stat), float("nan"))


def _lighten(colour: str, amount: float = 0.6) -> tuple:
    r, g, b = mpl.colors.to_rgb(colour)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def ae_butterfly(rows: pd.DataFrame, spec: StudySpec, include_overall: bool = False):
    """Two-sided bar chart of adverse events: reference arm to the left, experimental arm to the right.

    ``rows``: :func:`helpers.safety.adverse_event_table` output.  Any grade light, grade 3-4 dark (drawn
    over it), terms on the y axis in the table's order (top first), x axis "Patients (%)" with absolute
    tick labels on both sides.
    """
    body = rows[rows.level.isin(["any_grade", "grade_3_4"])]
    variables = [v for v in dict.fromkeys(body["variable"]) if include_overall or v != "overall"]
    terms = spec.adverse_events.terms
    lo, hi = spec.adverse_events.severe_range
    severe = f"grade {lo}" if lo == hi else f"grade {lo}–{hi}"
    ref, exp = spec.arm.codes
    colours = arm_colours(spec)
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(variables) + 1.6))
    ys = np.arange(len(variables))[::-1].astype(float)
    top = 0.0
    value = _row_lookup(rows)
    for arm, sign in ((ref, -1.0), (exp, 1.0)):
        anyg = np.array([value(v, "any_grade", arm, "pct") for v in variables])
        sev = np.array([value(v, "grade_3_4", arm, "pct") for v in variables])
        top = max(top, float(np.nanmax(anyg)) if len(anyg) else 0.0)
        name = spec.arm.labels[arm]
        ax.barh(ys, sign * anyg, height=0.7, color=_lighten(colours[arm]), label=f"{name}: any grade")
        ax.barh(ys, sign * sev, height=0.7, color=colours[arm], label=f"{name}: {severe}")
    limit = max(10.0, np.ceil(top / 10.0) * 10.0)
    ax.set_xlim(-limit, limit)
    ax.axvline(0, color="#333333", lw=0.8)
    ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{abs(v):g}"))
    ax.set_yticks(ys)
    ax.set_yticklabels(["Any adverse event" if v == "overall" else terms.get(v, v) for v in variables])
    ax.set_xlabel("Patients (%)")
    ax.text(0.25, 1.01, f"← {spec.arm.labels[ref]}", transform=ax.transAxes, ha="center", va="bottom", fontsize=9)
    ax.text(0.75, 1.01, f"{spec.arm.labels[exp]} →", transform=ax.transAxes, ha="center", va="bottom", fontsize=9)
    ax.grid(axis="x", color="#e6e6e6", lw=0.6)
    ax.set_axisbelow(True)
    ax.legend(ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.6 / max(len(variables), 1)), fontsize=8.5)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------- forest plot
def forest_plot(table: pd.DataFrame, spec: StudySpec, title: str = "", xlim: tuple[float, float] = (0.05, 20.0)):
    """Forest plot of subgroup hazard ratios, one row per level, with the numbers printed beside it.

    ``table``: :attr:`helpers.subgroups.SubgroupResult.table`. Log-scale x-axis with a reference line at 1;
    CIs running off the axis end in an arrow; non-estimable levels print "NE" and draw nothing, so they
    cannot distort the axis. Columns on the left: subgroup, events/n per arm; on the right: HR (95% CI), P.
    """
    ref, exp = spec.arm.codes
    colours = arm_colours(spec)
    rows = []  # (kind, payload): header rows for variables, data rows for levels
    for variable, block in table.groupby("variable", sort=False):
        rows.append(("header", block.iloc[0]))
        for _, r in block.iterrows():
            rows.append(("level", r))
    n = len(rows)
    height = 0.3 * n + 1.9
    fig = plt.figure(figsize=(10, height))
    gs = fig.add_gridspec(1, 3, width_ratios=[4.3, 3.2, 3.0], wspace=0.02, bottom=1.2 / height, top=1 - 0.8 / height)
    ax_left, ax, ax_right = (fig.add_subplot(gs[0, i]) for i in range(3))
    lo, hi = xlim
    y_positions = np.arange(n)[::-1]
    for axis in (ax_left, ax_right):
        axis.set_xlim(0, 1)
        axis.set_ylim(-0.8, n - 0.2)
        axis.axis("off")
    ax.set_ylim(-0.8, n - 0.2)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.axvline(1.0, color="#555555", lw=0.8)
    head_y = n - 0.2
    ax_left.text(0.0, head_y, "Subgroup", fontweight="bold", fontsize=9, va="bottom")
    # long arm labels ("Standard chemotherapy") are wrapped, and set smaller when a word is still long, so the
    # two column headers do not overlap
    heads = {code: textwrap.fill(spec.arm.labels[code], 13) for code in (ref, exp)}
    head_size = min(8.5, 78 / max(len(line) for h in heads.values() for line in h.splitlines()))
    ax_left.text(0.62, head_y, f"{heads[ref]}\nevents/n", fontweight="bold", fontsize=head_size, va="bottom",
                 ha="center", color=colours[ref])
    ax_left.text(0.88, head_y, f"{heads[exp]}\nevents/n", fontweight="bold", fontsize=head_size, va="bottom",
                 ha="center", color=colours[exp])
    ax_right.text(0.05, head_y, "HR (95% CI)", fontweight="bold", fontsize=9, va="bottom")
    ax_right.text(0.72, head_y, "P", fontweight="bold", fontsize=9, va="bottom")
    ax_right.text(0.88, head_y, "P int.", fontweight="bold", fontsize=9, va="bottom")
    for (kind, r), y in zip(rows, y_positions):
        if kind == "header":
            ax_left.text(0.0, y, r["variable_label"], fontsize=9, fontweight="bold", va="center")
            p_int = r["p_interaction"]
            ax_right.text(0.88, y, "NA" if not np.isfinite(p_int) else ("<0.001" if p_int < 0.001 else f"{p_int:.3f}"),
                          fontsize=8.5, va="center")
            continue
        ax_left.text(0.04, y, str(r["label"]), fontsize=8.5, va="center")
        ax_left.text(0.62, y, f"{r['events_ref']}/{r['n_ref']}", fontsize=8.5, va="center", ha="center")
        ax_left.text(0.88, y, f"{r['events_exp']}/{r['n_exp']}", fontsize=8.5, va="center", ha="center")
        if not r["estimable"]:
            ax_right.text(0.05, y, "NE", fontsize=8.5, va="center", color="#777777")
            ax_right.text(0.72, y, "NE", fontsize=8.5, va="center", color="#777777")
            ax.text(1.0, y, "  not estimable", fontsize=7.5, va="center", color="#777777", ha="left")
            continue
        hr, l, u, p = r["hr"], r["lower"], r["upper"], r["p_value"]
        l_draw, u_draw = max(l, lo), min(u, hi)
        ax.plot([l_draw, u_draw], [y, y], color="#222222", lw=1.1)
        if l < lo:
            ax.annotate("", xy=(lo, y), xytext=(lo * 1.6, y), arrowprops=dict(arrowstyle="->", lw=1.1, color="#222"))
        if u > hi:
            ax.annotate("", xy=(hi, y), xytext=(hi / 1.6, y), arrowprops=dict(arrowstyle="->", lw=1.1, color="#222"))
        if lo <= hr <= hi:
            ax.plot([hr], [y], marker="s", ms=5.5, color=colours[exp], mec="#222222", mew=0.6)
        ax_right.text(0.05, y, f"{hr:.2f} ({l:.2f}–{u:.2f})" if np.isfinite(u) else f"{hr:.2f} ({l:.2f}–NE)",
                      fontsize=8.5, va="center")
        ax_right.text(0.72, y, "<0.001" if p < 0.001 else f"{p:.3f}", fontsize=8.5, va="center",
                      fontweight="bold" if p < 0.05 else "normal")
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if lo <= t <= hi]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
    ax.set_xlabel(f"Hazard ratio (log scale)\n← favours {spec.arm.labels[exp]}    favours {spec.arm.labels[ref]} →",
                  fontsize=9)
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontweight="bold", fontsize=11)
    return fig


# ------------------------------------------------------------------------------- matching sensitivity
def sensitivity_forest(table: pd.DataFrame, spec: StudySpec, xlim: tuple[float, float] | None = None):
    """Forest plot of the treatment HR over the matching settings, one panel per endpoint.

    ``table``: :func:`helpers.sensitivity.matching_sensitivity`. Each row is a setting (the primary cohort on
    top); the thick light bar is the model-based 95% CI, the thin black line with caps the robust one
    (clustered by matched set); the paper's setting is shaded and its label bold; the dashed vertical line is
    the primary cohort's HR, the solid one HR = 1. Matched patients per arm are printed beside each label.
    """
    ref, exp = spec.arm.codes
    colours = arm_colours(spec)
    keys = list(dict.fromkeys(table["key"]))
    endpoints = list(dict.fromkeys(table["endpoint"]))
    first = table.drop_duplicates("key").set_index("key")
    n = len(keys)
    if xlim is None:
        vals = table[["lower", "upper", "robust_lower", "robust_upper", "hr"]].to_numpy(float).ravel()
        vals = vals[np.isfinite(vals) & (vals > 0)]
        nice = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
        vmin, vmax = (vals.min(), vals.max()) if len(vals) else (0.5, 2.0)
        xlim = (max([v for v in nice if v <= min(vmin, 0.5)] or [nice[0]]),
                min([v for v in nice if v >= max(vmax, 2.0)] or [nice[-1]]))
    lo, hi = xlim
    height = 0.28 * n + 1.9
    fig = plt.figure(figsize=(10.5, height))
    gs = fig.add_gridspec(1, 1 + len(endpoints), width_ratios=[4.2] + [3.0] * len(endpoints), wspace=0.16,
                          bottom=1.15 / height, top=1 - 0.75 / height)
    ax_left = fig.add_subplot(gs[0, 0])
    axes = [fig.add_subplot(gs[0, i + 1]) for i in range(len(endpoints))]
    y = {k: n - 1 - i for i, k in enumerate(keys)}
    ax_left.set_xlim(0, 1)
    ax_left.set_ylim(-0.7, n - 0.3)
    ax_left.axis("off")
    head = n - 0.3
    ax_left.text(0.0, head, "Matching setting", fontweight="bold", fontsize=9, va="bottom")
    ax_left.text(0.80, head, f"n\n{spec.arm.labels[exp]}", fontweight="bold", fontsize=8, va="bottom", ha="center",
                 color=colours[exp])
    ax_left.text(0.95, head, f"n\n{spec.arm.labels[ref]}", fontweight="bold", fontsize=8, va="bottom", ha="center",
                 color=colours[ref])
    for k in keys:
        r = first.loc[k]
        paper = bool(r["paper_setting"])
        label = r["setting"]
        weight = "bold" if paper or r["cohort"] == "primary" else "normal"
        ax_left.text(0.0, y[k], label, fontsize=8, va="center", fontweight=weight)
        ax_left.text(0.80, y[k], f"{int(r['n_treated'])}", fontsize=8, va="center", ha="center")
        ax_left.text(0.95, y[k], f"{int(r['n_control'])}", fontsize=8, va="center", ha="center")
        if paper:
            ax_left.axhspan(y[k] - 0.45, y[k] + 0.45, xmin=0, xmax=1, color="#fff1c9", zorder=0)
    primary_key = next((k for k in keys if first.loc[k, "cohort"] == "primary"), None)
    if primary_key is not None:
        ax_left.axhline(y[primary_key] - 0.5, color="#999999", lw=0.6)
    for ax, name in zip(axes, endpoints):
        block = table[table["endpoint"] == name].set_index("key")
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.7, n - 0.3)
        ax.axvline(1.0, color="#555555", lw=0.8)
        if primary_key is not None and np.isfinite(block.loc[primary_key, "hr"]):
            ax.axvline(block.loc[primary_key, "hr"], color="#555555", lw=0.8, ls="--")
        for k in keys:
            r = block.loc[k]
            yy = y[k]
            if bool(r["paper_setting"]):
                ax.axhspan(yy - 0.45, yy + 0.45, color="#fff1c9", zorder=0)
            if not np.isfinite(r["hr"]):
                ax.text(np.sqrt(lo * hi), yy, r["note"] or "NE", fontsize=7, va="center", ha="center", color="#777777")
                continue
            ax.plot([max(r["lower"], lo), min(r["upper"], hi)], [yy, yy], color="#bdbdbd", lw=4.5,
                    solid_capstyle="butt", zorder=1)
            if np.isfinite(r["robust_lower"]):
                ax.errorbar([r["hr"]], [yy], xerr=[[r["hr"] - max(r["robust_lower"], lo)],
                                                   [min(r["robust_upper"], hi) - r["hr"]]],
                            fmt="none", ecolor="#222222", elinewidth=0.9, capsize=2.0, zorder=2)
            marker = "D" if r["cohort"] == "primary" else "s"
            colour = colours[exp] if bool(r["paper_setting"]) else ("#ffffff" if r["cohort"] == "primary" else "#444444")
            ax.plot([r["hr"]], [yy], marker=marker, ms=5.5 if bool(r["paper_setting"]) else 4.5, color=colour,
                    mec="#222222", mew=0.7, zorder=3, ls="none")
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if lo <= t <= hi]
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
        label = table.loc[table["endpoint"] == name, "endpoint_label"].iloc[0]
        ax.set_title(label, fontsize=10, fontweight="bold")
        ax.set_xlabel(f"Hazard ratio, {spec.arm.labels[exp]} vs {spec.arm.labels[ref]}\n(log scale; < 1 favours "
                      f"{spec.arm.labels[exp]})", fontsize=8.5)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color="#bdbdbd", lw=4.5, label="95% CI, model-based"),
               Line2D([], [], color="#222222", lw=0.9, marker="|", ms=6, label="95% CI, robust (clustered)"),
               Line2D([], [], color="#555555", lw=0.8, ls="--", label="HR in the primary cohort"),
               Line2D([], [], color=colours[exp], marker="s", mec="#222222", ls="none",
                      label="paper's setting (shaded)")]
    fig.legend(handles=handles, loc="lower center", ncols=4, fontsize=8, bbox_to_anchor=(0.55, 0.0))
    return fig
