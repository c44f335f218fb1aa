"""Displays for the notebooks: tables and figures as objects (:class:`Table`, :class:`Figure`) that chapters
return and :func:`show` renders with their number and caption; the data notices; the parameters table.

A display has a ``key`` (``"table1"``, ``"km.primary"``, ``"cox.pfs"``): the study's numbering
(:mod:`helpers.analyses.catalogue`) gives it the paper's number ("Table 2", "Figure 4A") or the book's own
("Table S5"), and the anchor a reader, or the audit page, links to (``#table-2``).
"""
from __future__ import annotations

import base64
import html
import re
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

import pandas as pd
from IPython.display import HTML, display

from helpers.study.spec import StudySpec


def synthetic_notice(spec: StudySpec, patients_file=None) -> str:
    """A MyST admonition saying plainly where the data shown come from.

    A table passed as ``patients_file`` is named as user-supplied; a ``synthetic: true`` study gets a warning
    that its data are a synthetic reconstruction; any other study is labelled real patient data, described by
    the spec's ``data.source`` when given (e.g. the public trial it comes from and its licence).
    """
    if patients_file:
        return (":::{note}\nThis run uses a patient table supplied by the user "
                f"(`{html.escape(str(patients_file))}`), not the default data.\n:::")
    if spec.synthetic:
        return (":::{warning}\n**Synthetic data.** The individual patient data of this study are not public. "
                "The patient table analysed here is a *synthetic reconstruction* generated from the paper's "
                "published aggregates (`make data`; assumptions in `data/studies/"
                f"{spec.study_id}/reconstruction.yaml`). Aggregates that were used as reconstruction targets "
                "agree with the paper by construction and so do not validate the analysis code; the analysis "
                "code is validated against R on real datasets in the test suite.\n:::")
    source = spec.data_source or (
        f"The patient table analysed here (`{html.escape(_relative(spec.patients_file))}`) is this study's own "
        "patient-level data, not a synthetic reconstruction.")
    return f":::{{note}}\n**Real patient data.** {source}\n:::"


def _relative(path) -> str:
    """``path`` relative to the repository root when it lies inside it (for display)."""
    from pathlib import Path

    from helpers.paths import ROOT

    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT.resolve()))
    except ValueError:
        return str(path)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "table"


def anchor_of(label: str) -> str:
    """The anchor of a numbered display: "Table 2" -> "table-2", "Figure 4A" -> "figure-4a"."""
    return _slug(label)


@dataclass
class Table:
    """A table as a chapter returns it: the display frame (formatted text) and how to show it.

    ``numbers`` is the same table with numbers instead of text (estimate, lower, upper, p as separate
    columns), for the download; without it the download holds the display text.
    """

    key: str
    frame: Any
    caption: str
    notes: str = ""
    numbers: Any = None
    index: bool = True
    escape: bool = True
    wrap: bool = False
    collapsed: str | None = None
    max_rows: int = 200

    def show(self, label: str | None = None) -> None:
        show_table(self.frame, caption=f"{label}. {self.caption}" if label else self.caption, notes=self.notes,
                   max_rows=self.max_rows, collapsed=self.collapsed, index=self.index, escape=self.escape,
                   wrap=self.wrap, anchor=anchor_of(label) if label else None)


@dataclass
class Figure:
    """A figure as a chapter returns it: the matplotlib figure, its caption and its alt text (which carries the
    figure's key numbers for a reader who cannot see it)."""

    key: str
    figure: Any
    caption: str
    alt: str
    extra: dict = field(default_factory=dict)

    def show(self, label: str | None = None) -> None:
        show_figure(self.figure, self.caption, alt=self.alt, label=label or "",
                    anchor=anchor_of(label) if label else f"figure-{_slug(self.key)}")


def show(item, label: str | None = None) -> None:
    """Display a :class:`Table` or :class:`Figure` (or a list of them) with its number ``label``."""
    for one in item if isinstance(item, (list, tuple)) else [item]:
        one.show(label)


def table_csv(df: pd.DataFrame, index: bool = True, html_cells: bool = False) -> str:
    """The table as CSV text for the download link (HTML tags and entities removed from ``html_cells``)."""
    out = df.copy()
    if html_cells:
        out = out.map(lambda v: html.unescape(re.sub(r"<[^>]+>", "", v)) if isinstance(v, str) else v)
    return out.to_csv(index=index)


def show_table(df: pd.DataFrame, caption: str = "", notes: str = "", max_rows: int = 200,
               collapsed: str | None = None, index: bool = True, escape: bool = True, wrap: bool = False,
               download: bool = True, anchor: str | None = None) -> None:
    """Display a table with a caption above it, notes below it and a link to download it as CSV.

    ``collapsed`` folds the table into a ``<details>`` element with that summary line (for long audit tables);
    ``index=False`` hides the row labels; ``escape=False`` keeps HTML in cells (links), which the caller
    must then have escaped itself; ``wrap=True`` lets long cells wrap instead of widening the table. The CSV
    (all rows, also those beyond ``max_rows``) is embedded in the page, so the download works offline.
    """
    body = df.head(max_rows).to_html(escape=escape, na_rep="", border=0, classes=["book-table"], index=index)
    anchor = (f" id='{html.escape(anchor)}'" if anchor else f" id='table-{html.escape(_slug(caption))}'"
              if caption else "")
    cap = f"<p class='table-caption'{anchor}><strong>{html.escape(caption)}</strong></p>" if caption else ""
    foot = f"<p class='table-notes'><small>{html.escape(notes)}</small></p>" if notes else ""
    more = (f"<p><small>Showing {max_rows} of {len(df)} rows; all are in the analysis-results table.</small></p>"
            if len(df) > max_rows else "")
    link = ""
    if download and len(df):
        data = base64.b64encode(table_csv(df, index, html_cells=not escape).encode("utf-8")).decode("ascii")
        link = (f"<p class='table-download'><small><a download='{_slug(caption or 'table')}.csv' "
                f"href='data:text/csv;charset=utf-8;base64,{data}'>Download this table (CSV)</a></small></p>")
    inner = f"{cap}{body}{foot}{more}{link}"
    if collapsed:
        inner = f"<details><summary>{html.escape(collapsed)}</summary>{inner}</details>"
    classes = "book-table-wrap wrap-cells" if wrap else "book-table-wrap"
    display(HTML(f"<div class='{classes}'>{inner}</div>"))


_FIGURES_SHOWN = [0]  # per page: every notebook runs in its own kernel


def show_figure(fig, caption: str, alt: str, anchor: str | None = None, label: str | None = None) -> int:
    """Display a matplotlib figure with alt text and its numbered caption ("Figure 2. ...") below it.

    The figure is one HTML ``<figure>``: an ``<img>`` (the PNG inlined, with ``alt`` for screen readers) and a
    ``<figcaption>`` whose id (``anchor``, default ``figure-<n>``) lets ``page.html#figure-2`` link to it.
    The PNG is written without matplotlib's software metadata, so identical figures give identical bytes.
    ``label`` is the figure's number in the study ("Figure 4A"); without it figures are numbered per page.
    Returns the figure's number on the page.
    """
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)  # not displayed a second time by the inline backend
    _FIGURES_SHOWN[0] += 1
    number = _FIGURES_SHOWN[0]
    if label is None:  # numbered per page
        label = f"Figure {number}"
    anchor = anchor or (anchor_of(label) if label else f"figure-{number}")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    lead = f"<strong>{html.escape(label)}.</strong> " if label else ""  # label "": an unnumbered figure
    display(HTML(f"<figure class='book-figure' id='{html.escape(anchor)}'>"
                 f"<img src='data:image/png;base64,{data}' alt='{html.escape(alt, quote=True)}'/>"
                 f"<figcaption>{lead}{html.escape(caption)}</figcaption></figure>"))
    return number


def parameters_table(**params) -> pd.DataFrame:
    """The parameters a chapter ran with, flattened (dataclasses expanded) for display."""
    rows = []
    for name, value in params.items():
        if is_dataclass(value):
            for k, v in asdict(value).items():
                rows.append((f"{name}.{k}", v))
        else:
            rows.append((name, "(study default)" if value is None else value))
    out = pd.DataFrame(rows, columns=["Parameter", "Value"])
    out["Value"] = out["Value"].map(lambda v: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v))
    return out.set_index("Parameter")


def reconstruction_summary(spec: StudySpec, part: str = "baseline") -> str:
    """How close the synthetic reconstruction came to its targets, from ``reconstruction_report.csv``.

    ``part`` is ``"baseline"`` (Table 1 and matching rows) or ``"survival"`` (the time-to-event targets).
    """
    path = spec.folder / "reconstruction_report.csv"
    if not path.exists():
        return ""
    keys = ["study", "cohort", "analysis", "variable", "level", "group", "stat", "relation"]
    report = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={k: str for k in keys})
    report["hit"] = report["hit"].astype(str).str.lower() == "true"
    if "analysis" in report.columns:
        baseline = report["analysis"].isin(["table1", "psm"])
        report = report[baseline] if part == "baseline" else report[~baseline]
    elif part != "baseline":
        return ""
    if report.empty:
        return ""
    what = "baseline" if part == "baseline" else "survival"
    by_cohort = report.groupby("cohort", sort=False)["hit"].agg(["sum", "count"])
    parts = ", ".join(f"{int(r['sum'])} of {int(r['count'])} in the {c} cohort" for c, r in by_cohort.iterrows())
    text = (f"**How the synthetic cohort was made.** The generator (`python -m helpers.synth.reconstruct "
            f"{spec.study_id}`) aimed at {len(report)} published {what} numbers and hit {parts} "
            + ("(`reconstruction_report.csv`; the matched cohort is checked after matching the written table "
               "exactly as this chapter does)." if "matched" in by_cohort.index else "(`reconstruction_report.csv`)."))
    missed = report[~report["hit"]]

    def shown(value, relation=""):
        if pd.isna(value):
            return "NA (not reached)"
        rel = f"{relation} " if isinstance(relation, str) and relation else ""
        return f"{rel}{value:g}" if isinstance(value, float) and value == value else f"{rel}{value}"

    if 0 < len(missed) <= 12:
        items = []
        for r in missed.itertuples():
            label = " ".join(str(x) for x in (getattr(r, "analysis", ""), r.variable, r.level, r.group, r.stat)
                             if isinstance(x, str) and x and x not in ("table1",))
            reached = "NA" if pd.isna(r.achieved) else f"{r.achieved:.4g}"
            items.append(f"- {label}: published {shown(r.target, getattr(r, 'relation', ''))}, reconstructed {reached}")
        text += " It could not reach:\n\n" + "\n".join(items)
    elif len(missed):
        text += (" The numbers it could not reach are the ones listed as differing above." if part == "baseline"
                 else f" The {len(missed)} numbers it could not reach are listed in `reconstruction_report.csv`.")
    return text
