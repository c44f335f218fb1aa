"""Displays for the notebooks: tables and figures as objects (:class:`Table`, :class:`Figure`) that chapters
return and :func:`show` renders with their number and caption; the data notices; the parameters table.

A display has a ``key`` (``"table1"``, ``"km.primary"``, ``"cox.pfs"``): the study's numbering
(:mod:`helpers.analyses.catalogue`) gives it the paper's number ("Table 2", "Figure 4A") or the book's own
("Table S5"), and the anchor a reader, or the audit page, links to (``#table-2``).
"""
from __future__ import annotations

import base64
import contextlib
import html
import re
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

import pandas as pd
from IPython.display import HTML, display

from helpers.report.format import html_cell_text
from helpers.study.published import PROVEN_STATUSES
from helpers.study.schema import did_you_mean
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


_NUMBER = r"[-−]?\d+(?:\.\d+)?"
_LIMIT = rf"(?:{_NUMBER}|NR|NE|NA)"
#: "0.36 (0.21–0.62)", "10.1 (9.2–NR)", "62 (55–70)": an estimate with its interval (or quartiles)
_INTERVAL = re.compile(rf"^\s*({_LIMIT})\s*\(\s*({_LIMIT})\s*[–,;]\s*({_LIMIT})\s*\)\s*$")
#: "47 (92.2%)": a count with its percentage
_COUNT = re.compile(rf"^\s*(\d+)\s*\(\s*({_NUMBER})\s*%\s*\)\s*$")
#: "<0.001", "0.121": a number, perhaps bounded
_BOUNDED = re.compile(rf"^\s*([<>≤≥]?)\s*({_NUMBER})\s*$")
_MISSING = {"", "NE", "NA", "NR", "nan", "—", "-"}


def _number(text: str) -> float:
    return float(text.replace("−", "-")) if text not in _MISSING else float("nan")


def numeric_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The table with the numbers of its formatted cells in columns of their own, after each text column:
    "0.36 (0.21–0.62)" gives ``<column>: estimate``, ``: lower``, ``: upper``; "47 (92.2%)" gives ``: n`` and
    ``: %``; "<0.001" gives ``: value`` and ``: relation``. A column is split only when every one of its
    non-empty cells has the same form; NR/NE/NA become empty cells. The numbers are as the page prints them
    (rounded); the unrounded values are in the study's analysis-results table. Column names of several
    header rows are joined with " / "."""
    out = {}
    for position, name in enumerate(df.columns):
        label = " / ".join(str(x) for x in name if str(x)) if isinstance(name, tuple) else str(name)
        column = df.iloc[:, position]
        out[label] = column
        cells = [str(v).strip() for v in column if isinstance(v, str) and str(v).strip() not in _MISSING]
        if not cells or not all(isinstance(v, str) or pd.isna(v) for v in column):
            continue
        text = column.map(lambda v: v.strip() if isinstance(v, str) else "")
        if all(_INTERVAL.match(c) for c in cells):
            parts = text.map(lambda v: _INTERVAL.match(v).groups() if _INTERVAL.match(v) else ("", "", ""))
            for k, part in enumerate(("estimate", "lower", "upper")):
                out[f"{label}: {part}"] = parts.map(lambda g: _number(g[k]))
        elif all(_COUNT.match(c) for c in cells):
            parts = text.map(lambda v: _COUNT.match(v).groups() if _COUNT.match(v) else ("", ""))
            out[f"{label}: n"] = parts.map(lambda g: _number(g[0])).astype("Int64")
            out[f"{label}: %"] = parts.map(lambda g: _number(g[1]))
        elif all(_BOUNDED.match(c) for c in cells) and any(_BOUNDED.match(c).group(1) for c in cells):
            parts = text.map(lambda v: _BOUNDED.match(v).groups() if _BOUNDED.match(v) else ("", ""))
            out[f"{label}: value"] = parts.map(lambda g: _number(g[1]))
            out[f"{label}: relation"] = parts.map(lambda g: g[0])
    return pd.DataFrame(out, index=df.index)


def table_csv(df: pd.DataFrame, index: bool = True, html_cells: bool = False, numbers: bool = True) -> str:
    """The table as CSV text for the download link (HTML tags and entities removed from ``html_cells``), with
    the numbers of its formatted cells in columns of their own (:func:`numeric_columns`) unless ``numbers``
    is False."""
    out = df.copy()
    if html_cells:
        out = out.map(lambda v: html_cell_text(v) if isinstance(v, str) else v)
    if numbers:
        split = numeric_columns(out)
        if split.shape[1] > out.shape[1]:
            out = split
    return out.to_csv(index=index)


_BETWEEN_TAGS = re.compile(r">\n\s*<")


def compact_table_html(text: str) -> str:
    """pandas' ``to_html`` without the indentation between its tags (a fifth of a long table's bytes); a cell's
    own text is untouched. One line break stays between tags: the search index (and a search result's
    excerpt) reads a table as text, and cells run together without it ("squamous0.180.08").

    >>> compact_table_html("<table>\\n  <tr>\\n    <td>a b</td>\\n  </tr>\\n</table>")
    '<table>\\n<tr>\\n<td>a b</td>\\n</tr>\\n</table>'
    """
    return _BETWEEN_TAGS.sub(">\n<", text)


def show_table(df: pd.DataFrame, caption: str = "", notes: str = "", max_rows: int = 200,
               collapsed: str | None = None, index: bool = True, escape: bool = True, wrap: bool = False,
               download: bool = True, anchor: str | None = None) -> None:
    """Display a table with a caption above it, notes below it and links to download it as CSV (its numbers in
    columns of their own, :func:`table_csv`) and as a Word table (the cells as printed, caption and notes;
    :func:`helpers.report.docx.table_docx`; the site's build writes it to a file, as it does figures).

    ``collapsed`` folds the table into a ``<details>`` element with that summary line (for long audit tables);
    ``index=False`` hides the row labels; ``escape=False`` keeps HTML in cells (links), which the caller
    must then have escaped itself; ``wrap=True`` lets long cells wrap instead of widening the table. The page
    prints the first ``max_rows`` rows (``max_rows=0``: none, for a long list that would make the page heavy);
    the downloads hold every row. They are embedded in the notebook, so its download works offline; the site's
    build writes them to files (``book/_ext/book_site.py``).
    """
    body = compact_table_html(df.head(max_rows).to_html(escape=escape, na_rep="", border=0,
                                                        classes=["book-table"], index=index)) if max_rows else ""
    anchor = (f" id='{html.escape(anchor)}'" if anchor else f" id='table-{html.escape(_slug(caption))}'"
              if caption else "")
    cap = f"<p class='table-caption'{anchor}><strong>{html.escape(caption)}</strong></p>" if caption else ""
    foot = f"<p class='table-notes'><small>{html.escape(notes)}</small></p>" if notes else ""
    more = ("" if len(df) <= max_rows else
            f"<p><small>Showing {max_rows} of {len(df)} rows; all {len(df)} are in the downloads below.</small></p>"
            if max_rows else
            f"<p><small>The {len(df)} rows of this table are not printed on the page, to keep it light; all "
            f"{len(df)} are in the downloads below.</small></p>")
    link = ""
    if download and len(df):
        from helpers.report.docx import MIME as DOCX_MIME, table_docx

        data = base64.b64encode(table_csv(df, index, html_cells=not escape).encode("utf-8")).decode("ascii")
        word = _data_uri(DOCX_MIME, table_docx(df, caption, notes, index=index, html_cells=not escape))
        stem = _slug(caption or "table")
        link = (f"<p class='table-download'><small>Download this table: <a download='{stem}.csv' "
                f"href='data:text/csv;charset=utf-8;base64,{data}'>CSV</a> (numbers) · "
                f"<a download='{stem}.docx' href='{word}'>Word</a> (as printed)</small></p>")
    inner = f"{cap}{body}{foot}{more}{link}"
    if collapsed:
        inner = f"<details><summary>{html.escape(collapsed)}</summary>{inner}</details>"
    classes = "book-table-wrap wrap-cells" if wrap else "book-table-wrap"
    display(HTML(f"<div class='{classes}'>{inner}</div>"))


_FIGURES_SHOWN = [0]  # per page: every notebook runs in its own kernel

#: The mark inside every figure of a study whose data are a synthetic reconstruction, so that a figure pasted
#: into slides or a paper still says so (set for the page by :func:`set_figure_mark` when a chapter opens).
SYNTHETIC_MARK = "Synthetic data"
_FIGURE_MARK = [""]


def set_figure_mark(text: str) -> None:
    """The small mark :func:`show_figure` writes into the top right corner of every figure ("" for none)."""
    _FIGURE_MARK[0] = str(text or "")


#: The files of every figure: the PNG shown on the page, and the downloads (vector PDF and SVG, 300 dpi PNG).
FIGURE_FORMATS = {"png": ("image/png", 150), "pdf": ("application/pdf", None), "svg": ("image/svg+xml", None),
                  "png300": ("image/png", 300)}


#: Figures wider than this (inches: two panels side by side) keep a readable size on a phone and scroll.
WIDE_FIGURE_INCHES = 8.0


def figure_files(fig) -> dict[str, bytes]:
    """The figure in every format of :data:`FIGURE_FORMATS`, byte for byte the same for the same figure: no
    software version or date in the metadata, SVG ids from a fixed salt (``svg.hashsalt``).

    Both PNGs come from one Agg drawing at 300 dpi (:func:`_pngs_and_tight_bbox`); the PDF and SVG are drawn
    once each, cropped to the box that drawing measured."""
    import io

    import matplotlib as mpl

    metadata = {"pdf": {"Creator": None, "Producer": None, "CreationDate": None},
                "svg": {"Creator": None, "Date": None}}
    out = {}
    with mpl.rc_context({"svg.hashsalt": "hcc-cohort-book", "svg.fonttype": "none", "pdf.fonttype": 42}), \
            _pdf_font_subsets():
        out["png"], out["png300"], bbox = _pngs_and_tight_bbox(fig)
        for name in ("pdf", "svg"):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=name, dpi=72, bbox_inches=bbox, metadata=metadata[name])
            out[name] = buffer.getvalue()
    return {name: out[name] for name in FIGURE_FORMATS}


#: OpenType layout tables (ligatures, kerning pairs, positioning, maths layout) that a PDF's embedded font never
#: uses: the PDF places every glyph itself, and copy and search go through the ToUnicode map, not these tables.
PDF_FONT_TABLES_DROPPED = ("GSUB", "GPOS", "GDEF", "MATH")

#: The characters of every PDF font's embedded subset: printable ASCII, the Latin ligatures matplotlib's text
#: shaping draws ("ﬀ" in "Effective") and the few others the book's figures draw (dashes, minus, multiplication
#: and comparison signs, quotes, Greek letters of the methods). A figure that draws a glyph outside it gets a
#: subset of exactly its own glyphs, as matplotlib makes it.
PDF_FONT_SUBSET_CHARACTERS = ("".join(chr(c) for c in range(0x20, 0x7F)) + "ﬀﬁﬂﬃﬄ"
                              + "–—−×±≤≥·…‘’“”²³½τχ≈→•°µαβλ")

_PDF_FONT_SUBSETS: dict = {}  # (font file, face index) -> (glyph ids, subset font file bytes, glyph index map)


class _SubsetFontBytes:
    """Stands for fontTools' subset font where matplotlib only saves it (``font_as_file``)."""

    def __init__(self, data: bytes):
        self.data = data

    def save(self, file, reorderTables=None):  # noqa: N803 (fontTools' keyword)
        file.write(self.data)


@contextlib.contextmanager
def _pdf_font_subsets():
    """Embed each PDF font (TrueType, ``pdf.fonttype`` 42: text stays text, as journals ask) as one fixed subset
    per font file, :data:`PDF_FONT_SUBSET_CHARACTERS`, made once per process, without
    :data:`PDF_FONT_TABLES_DROPPED`.

    Matplotlib subsets every font of every PDF with fontTools to exactly the glyphs drawn, which parses all of
    DejaVu Sans (6,000 glyphs, and its large layout tables to follow substitutions) each time: 0.05-0.1 s per
    font, three fonts a figure, about half of a figure's PDF time. The fixed subset holds every glyph a figure
    draws, so the PDF shows and searches the same; each embedded font is about 12 kB larger (compressed)."""
    from fontTools import subset
    from matplotlib.backends import _backend_pdf_ps

    exact = _backend_pdf_ps.get_glyphs_subset

    def fixed_subset(fontfile, glyphs):
        glyphs = set(glyphs)
        key = (str(fontfile), getattr(fontfile, "face_index", 0))
        if key not in _PDF_FONT_SUBSETS:
            _PDF_FONT_SUBSETS[key] = _fixed_font_subset(fontfile, exact)
        wanted, data, index_map = _PDF_FONT_SUBSETS[key]
        if not glyphs <= wanted:
            return exact(fontfile, glyphs)
        return contextlib.nullcontext(_backend_pdf_ps.SubsetResults(_SubsetFontBytes(data), dict(index_map)))

    default = subset.Options._drop_tables_default
    subset.Options._drop_tables_default = default + [t for t in PDF_FONT_TABLES_DROPPED if t not in default]
    _backend_pdf_ps.get_glyphs_subset = fixed_subset
    try:
        yield
    finally:
        subset.Options._drop_tables_default = default
        _backend_pdf_ps.get_glyphs_subset = exact


def _fixed_font_subset(fontfile, exact) -> tuple[set, bytes, dict]:
    from matplotlib.backends import _backend_pdf_ps
    from matplotlib.ft2font import FT2Font

    font = FT2Font(str(fontfile))
    glyphs = {font.get_char_index(ord(c)) for c in PDF_FONT_SUBSET_CHARACTERS} - {0}
    with exact(fontfile, glyphs) as result:
        return glyphs, _backend_pdf_ps.font_as_file(result.font).getvalue(), dict(result.glyph_index_map)


def warm_pdf_font_subsets() -> None:
    """Make the fixed subsets of the default font's regular, bold and italic faces now (the build's zygote does,
    before it forks). Uses no pyplot, so matplotlib's backend stays unresolved."""
    import io

    import matplotlib as mpl
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    for y, style in ((0.2, {}), (0.5, {"fontweight": "bold"}), (0.8, {"fontstyle": "italic"})):
        fig.text(0.1, y, "Aa", **style)
    with mpl.rc_context({"pdf.fonttype": 42}), _pdf_font_subsets():
        fig.savefig(io.BytesIO(), format="pdf")


#: The page PNG is the 300 dpi drawing reduced by this factor (each page pixel the mean of 2 x 2).
_PAGE_PNG_REDUCTION = FIGURE_FORMATS["png300"][1] // FIGURE_FORMATS["png"][1]


def _pngs_and_tight_bbox(fig):
    """The page PNG (150 dpi), the 300 dpi PNG and the box ``savefig(bbox_inches="tight")`` crops to (drawn
    content plus ``savefig.pad_inches``), from one Agg drawing at 300 dpi.

    The 300 dpi PNG is that drawing cropped to the box, as ``savefig(dpi=300, bbox_inches=box)`` would draw it
    (to within half a pixel of placement). The page PNG is the same crop with every 2 x 2 block of pixels
    averaged: the picture at 150 dpi, anti-aliased from four samples per pixel. Drawing is most of a figure's
    time, and "tight" draws a figure once more per format to measure it; the vector files get this box instead of
    one measured with their own font metrics (a difference below a pixel)."""
    import io

    import matplotlib as mpl
    import numpy as np
    from matplotlib import image
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    dpi = FIGURE_FORMATS["png300"][1]
    k = _PAGE_PNG_REDUCTION
    original = fig.dpi
    try:
        fig.dpi = dpi
        canvas = fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)
        renderer = canvas.get_renderer()
        fig.draw(renderer)
        content = fig.get_tightbbox(renderer)
        box = content.padded(mpl.rcParams["savefig.pad_inches"])
        pixels = np.asarray(renderer.buffer_rgba())
    finally:
        fig.dpi = original
    # savefig sizes the cropped canvas as int(size * dpi) and puts the box's top edge on its first row
    width, height = int(box.width * dpi), int(box.height * dpi)
    left = int(round(box.x0 * dpi))
    top = int(round(pixels.shape[0] - box.y0 * dpi - height))
    size = fig.get_size_inches()
    if content.x0 < 0 or content.y0 < 0 or content.x1 > size[0] or content.y1 > size[1]:
        # drawn content beyond the figure's edge (e.g. long row labels left of a panel): the drawing above
        # never painted it, so draw once more as savefig does, over the box
        buffer = io.BytesIO()
        fig.savefig(buffer, format="rgba", dpi=dpi, bbox_inches=box)  # a canvas of int(size * dpi) pixels
        crop = np.frombuffer(buffer.getvalue(), dtype=np.uint8).reshape(height, width, 4)
    else:
        face = np.round(np.asarray(mpl.colors.to_rgba(fig.get_facecolor())) * 255).astype(np.uint8)
        crop = np.empty((height, width, 4), dtype=np.uint8)
        crop[:] = face  # where the padding reaches beyond the figure, savefig paints the figure's face colour
        rows = slice(max(top, 0), min(top + height, pixels.shape[0]))
        cols = slice(max(left, 0), min(left + width, pixels.shape[1]))
        crop[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left] = pixels[rows, cols]
    # the page picture: int(size * 150) pixels a side, as savefig at 150 dpi makes it
    small_h, small_w = int(box.height * dpi / k), int(box.width * dpi / k)
    total = np.full((small_h, small_w, 4), k * k // 2, dtype=np.uint16)  # k * k // 2: rounds to nearest
    for i in range(k):  # k * k strided adds: numpy's sum over the block axes is ten times slower
        for j in range(k):
            total += crop[i:small_h * k:k, j:small_w * k:k]
    page = (total // (k * k)).astype(np.uint8)
    out = []
    for picture, resolution in ((page, dpi / k), (crop, dpi)):
        buffer = io.BytesIO()
        image.imsave(buffer, picture, format="png", origin="upper", dpi=resolution, metadata={"Software": None})
        out.append(buffer.getvalue())
    return out[0], out[1], box


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def show_figure(fig, caption: str, alt: str, anchor: str | None = None, label: str | None = None) -> int:
    """Display a matplotlib figure with alt text and its numbered caption ("Figure 2. ...") below it.

    The figure is one HTML ``<figure>``: an ``<img>`` (PNG, with ``alt`` for screen readers) that links to the
    300 dpi PNG (click to enlarge), a ``<figcaption>`` whose id (``anchor``, default ``figure-<n>``) lets
    ``page.html#figure-2`` link to it, and download links for the PDF, SVG and 300 dpi PNG
    (:func:`figure_files`). The notebook holds them as data URIs; the site's build writes each to a file of
    ``_images/`` named by its content (``book/_ext/book_site.py``), so pages do not inline images. A study with
    synthetic data gets :data:`SYNTHETIC_MARK` inside the image (:func:`set_figure_mark`).
    ``label`` is the figure's number in the study ("Figure 4A"); without it figures are numbered per page.
    Returns the figure's number on the page.
    """
    import matplotlib.pyplot as plt

    if _FIGURE_MARK[0]:  # just above the drawn content's top right corner: it covers nothing of the figure
        width, height = fig.get_size_inches()
        drawn = fig.get_tightbbox(fig.canvas.get_renderer())
        fig.text(drawn.x1 / width, drawn.y1 / height + 0.02 / height, _FIGURE_MARK[0], ha="right", va="bottom",
                 fontsize=7, color="#8a8a8a", fontstyle="italic", gid="synthetic-mark")
    files = figure_files(fig)
    width_inches = float(fig.get_size_inches()[0])
    plt.close(fig)  # not displayed a second time by the inline backend
    _FIGURES_SHOWN[0] += 1
    number = _FIGURES_SHOWN[0]
    if label is None:  # numbered per page
        label = f"Figure {number}"
    anchor = anchor or (anchor_of(label) if label else f"figure-{number}")
    lead = f"<strong>{html.escape(label)}.</strong> " if label else ""  # label "": an unnumbered figure
    stem = _slug(f"{label} {caption}" if label else caption)[:40].strip("-") or "figure"
    links = " · ".join(
        f"<a download='{stem}{'-300dpi' if name == 'png300' else ''}.{name.removesuffix('300')}' "
        f"href='{_data_uri(FIGURE_FORMATS[name][0], files[name])}'>{text}</a>"
        for name, text in (("pdf", "PDF"), ("svg", "SVG"), ("png300", "PNG, 300 dpi")))
    wide = " wide-figure" if width_inches > WIDE_FIGURE_INCHES else ""  # multi-panel: scrolls on a phone
    display(HTML(f"<figure class='book-figure{wide}' id='{html.escape(anchor)}'>"
                 f"<a class='figure-enlarge' href='{_data_uri('image/png', files['png300'])}' "
                 "title='Open the figure at full size'>"
                 f"<img src='{_data_uri('image/png', files['png'])}' alt='{html.escape(alt, quote=True)}'/></a>"
                 f"<figcaption>{lead}{html.escape(caption)}"
                 f"<span class='figure-download'>Download the figure: {links}</span></figcaption></figure>"))
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


#: Statistics of the reconstruction report in words.
STAT_WORDS = {"p_value": "p", "pct": "%", "n": "n", "hr": "HR", "lower": "lower 95% limit", "upper": "upper 95% limit",
              "estimate": "estimate", "median": "median", "mean": "mean", "sd": "SD", "q1": "first quartile",
              "q3": "third quartile"}


def target_label(spec: StudySpec, analysis, variable, level, group, stat) -> str:
    """A reconstruction target in words: ("table1", "child_pugh", "", "comparison", "p_value") -> "Child-Pugh
    class, p between the arms"; names the spec does not label are shown as they are."""
    def given(x):
        return isinstance(x, str) and bool(x) and x == x

    var = spec.variables.get(variable) if given(variable) else None
    labelled = ("table1", "psm", "best_response", "adverse_events")
    parts = [] if not given(analysis) or analysis in labelled else [str(analysis)]
    if analysis == "best_response" and spec.response is not None and variable in spec.response.criteria:
        # "ORR (mRECIST)": the rate's name, then its criteria
        parts.append(f"{level} ({spec.response.criteria[variable].label})" if given(level)
                     else spec.response.criteria[variable].label)
    elif analysis == "adverse_events" and spec.adverse_events is not None:
        term = "any adverse event" if variable == "overall" else spec.adverse_events.terms.get(variable, variable)
        # "grade_3_4" -> "grade 3-4", "any_grade" -> "any grade"
        grade = re.sub(r"^grade_(\d+)_(\d+)$", r"grade \1-\2", level).replace("_", " ") if given(level) else ""
        parts.append(f"{term}, {grade}" if grade else term)
    elif var is not None:
        parts.append(var.label + (f" {var.levels.get(level, level)}" if given(level) and var.levels else
                                  (f" {level}" if given(level) else "")))
    else:
        parts += [str(x) for x in (variable, level) if given(x)]
    words = STAT_WORDS.get(stat, stat) if given(stat) else ""
    if given(group):
        arm = spec.arm.labels.get(group)
        words += (" between the arms" if group == "comparison" else f" ({arm})" if arm else f" ({group})")
    return f"{' '.join(parts)}, {words.strip()}" if parts else words.strip()


#: The analyses of ``reconstruction_report.csv`` each chapter's summary counts (every other analysis is a
#: time-to-event target, counted by the survival chapter).
RECONSTRUCTION_PARTS = {"baseline": ("table1", "psm"), "survival": (), "response": ("best_response",),
                        "safety": ("adverse_events",)}


def reconstruction_summary(spec: StudySpec, part: str = "baseline") -> str:
    """How close the synthetic reconstruction came to its targets, from ``reconstruction_report.csv``.

    ``part`` is ``"baseline"`` (Table 1 and matching rows), ``"survival"`` (the time-to-event targets),
    ``"response"`` (best-response rows) or ``"safety"`` (adverse-event rows).
    """
    path = spec.folder / "reconstruction_report.csv"
    if not path.exists():
        return ""
    keys = ["study", "cohort", "analysis", "variable", "level", "group", "stat", "relation"]
    report = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={k: str for k in keys})
    report["hit"] = report["hit"].astype(str).str.lower() == "true"
    if "status" not in report.columns:   # a report written before statuses: a miss is a plain miss
        report["status"] = report["hit"].map({True: "hit", False: "missed"})
    if part not in RECONSTRUCTION_PARTS:
        raise ValueError(f"unknown part {part!r}{did_you_mean(part, list(RECONSTRUCTION_PARTS))}")
    if "analysis" in report.columns:
        of_part = report["analysis"].map(lambda a: next((k for k, v in RECONSTRUCTION_PARTS.items() if a in v),
                                                        "survival"))
        report = report[of_part == part]
    elif part != "baseline":
        return ""
    if report.empty:
        return ""
    what = {"safety": "adverse-event", "response": "response"}.get(part, part)
    by_cohort = report.groupby("cohort", sort=False)["hit"].agg(["sum", "count"])
    parts = ", ".join(f"{int(r['sum'])} of {int(r['count'])} in the {c} cohort" for c, r in by_cohort.iterrows())
    text = (f"**How the synthetic cohort was made.** The generator (`python -m helpers.synth.reconstruct "
            f"{spec.study_id}`) aimed at {len(report)} published {what} numbers and hit {parts} "
            + ("(`reconstruction_report.csv`; the matched cohort is checked after matching the written table "
               "exactly as this chapter does)." if "matched" in by_cohort.index else "(`reconstruction_report.csv`)."))
    missed = report[~report["hit"]]
    proven = missed[missed["status"].isin(PROVEN_STATUSES)]  # left out of the reachable denominator
    if len(proven):
        if len(proven) == len(missed):
            which = "The one number it missed is" if len(missed) == 1 else f"All {len(missed)} numbers it missed are"
        else:
            which = f"{len(proven)} of the {len(missed)} numbers it missed {'is' if len(proven) == 1 else 'are'}"
        statuses = set(proven["status"])
        how = ("proven out of reach" if statuses == {"out_of_reach"} else
               "proven out of reach beside other published numbers they contradict" if statuses == {"conflict"}
               else "proven out of reach, alone or beside other published numbers they contradict")
        text += (f" {which} {how}, each by the test named in the report's `proof` column, so it "
                 f"hit {int(report['hit'].sum())} of the {len(report) - len(proven)} that some table could print.")

    def shown(value, relation=""):
        if pd.isna(value):
            return "NA (not reached)"
        rel = f"{relation} " if isinstance(relation, str) and relation else ""
        return f"{rel}{value:g}" if isinstance(value, float) and value == value else f"{rel}{value}"

    if 0 < len(missed) <= 12:
        items = []
        for r in missed.itertuples():
            label = target_label(spec, getattr(r, "analysis", ""), r.variable, r.level, r.group, r.stat)
            reached = "NA" if pd.isna(r.achieved) else f"{r.achieved:.4g}"
            proof = {"out_of_reach": " (proven out of reach)",
                     "conflict": " (proven out of reach beside the published numbers it contradicts)"}.get(r.status, "")
            items.append(f"- {label}: published {shown(r.target, getattr(r, 'relation', ''))}, reconstructed "
                         f"{reached}{proof}")
        text += " It could not reach:\n\n" + "\n".join(items)
    elif len(missed):
        text += (" The numbers it could not reach are the ones listed as differing above." if part == "baseline"
                 else f" The {len(missed)} numbers it could not reach are the rows of that file whose `status` is not "
                      f"`hit`.")
    return text
