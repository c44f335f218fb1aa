"""Tables as Word documents (``.docx``), for an author who sends the paper to a journal: the display table as
the page shows it (the paper's formatted cells, "10.1 (9.2–NR)"), with its caption above and its notes below, as
a three-line table (rules above and below the header and under the last row), Arial 9 pt, landscape when it has
more than :data:`LANDSCAPE_COLUMNS` columns.

Written with the standard library (Office Open XML, ECMA-376: the package parts a WordprocessingML document
needs and nothing else); the same table gives the same bytes (fixed timestamps in the zip).
"""
from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

import pandas as pd

from helpers.report.format import html_cell_text

MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

#: A table wider than this many columns (index included) is set on a landscape page.
LANDSCAPE_COLUMNS = 7

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Types xmlns="{_PACKAGE}/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
    '</Types>')

_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="word/document.xml"/>'
    '</Relationships>')

_DOCUMENT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{_R}/styles" Target="styles.xml"/>'
    '</Relationships>')

# Arial 9 pt everywhere, no space after paragraphs: a journal's table, not a letter
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<w:styles xmlns:w="{_W}"><w:docDefaults>'
    '<w:rPrDefault><w:rPr><w:rFonts w:ascii="Arial" w:hAnsi="Arial" w:cs="Arial" w:eastAsia="Arial"/>'
    '<w:sz w:val="18"/><w:szCs w:val="18"/><w:lang w:val="en-GB"/></w:rPr></w:rPrDefault>'
    '<w:pPrDefault><w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr></w:pPrDefault>'
    '</w:docDefaults></w:styles>')

_RULE = '<w:{side} w:val="single" w:sz="{size}" w:space="0" w:color="000000"/>'


def _plain(value, html_cells: bool) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = str(value)
    return html_cell_text(text) if html_cells else text  # cells that hold HTML: the words, as the CSV has them


def _run(text: str, bold: bool = False, size: int | None = None) -> str:
    props = ("<w:b/>" if bold else "") + (
        f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/>' if size else "")
    runs = []
    for k, line in enumerate(text.split("\n")):  # a line break inside a cell stays one
        if k:
            runs.append("<w:br/>")
        runs.append(f'<w:t xml:space="preserve">{escape(line)}</w:t>')
    return f"<w:r>{f'<w:rPr>{props}</w:rPr>' if props else ''}{''.join(runs)}</w:r>"


def _cell(text: str, width: int, rules: dict[str, int], bold: bool = False, left: bool = True, span: int = 1) -> str:
    borders = "".join(_RULE.format(side=side, size=size) for side, size in rules.items())
    props = (f'<w:tcW w:w="{width}" w:type="dxa"/>' + (f'<w:gridSpan w:val="{span}"/>' if span > 1 else "")
             + (f"<w:tcBorders>{borders}</w:tcBorders>" if borders else ""))
    align = "" if left else '<w:pPr><w:jc w:val="center"/></w:pPr>'
    return f"<w:tc><w:tcPr>{props}</w:tcPr><w:p>{align}{_run(text, bold=bold)}</w:p></w:tc>"


def _header_rows(df: pd.DataFrame, index: bool) -> list[list[tuple[str, int]]]:
    """One row per level of the columns (a MultiIndex gives several), as (label, columns spanned): a label
    over several columns (Table 1's arm over n and %) is one cell across them; the index's names head its
    columns on the last row."""
    levels = df.columns.nlevels
    n_index = df.index.nlevels if index else 0
    index_names = [("" if n is None else str(n)) for n in df.index.names] if index else []
    rows = []
    for level in range(levels):
        labels = [str(x) for x in df.columns.get_level_values(level)]
        cells = [(name, 1) for name in (index_names if level == levels - 1 else [""] * n_index)]
        j = 0
        while j < len(labels):
            span = 1
            if level < levels - 1:  # the upper levels span their run of equal labels
                while j + span < len(labels) and labels[j + span] == labels[j]:
                    span += 1
            cells.append((labels[j], span))
            j += span
        rows.append(cells)
    return rows


#: Twips a character of Arial 9 pt takes (digits are 0.556 em of 9 pt: 100), with room for a wider fallback font
#: such as DejaVu Sans, and a cell's margins with some room.
_CHAR_TWIPS, _CELL_TWIPS = 115, 180


def _column_widths(texts: list[list[str]], total: int) -> list[int]:
    """Twips per column that fill the text width: each column as wide as its longest line, scaled up to fill the
    page; where that is too wide, the widest columns are narrowed to one cap (their text wraps) and the narrow
    ones ("P", "<0.001") keep their width, so a number never breaks over two lines."""
    if not texts:
        return []
    natural = [max((len(line) for row in texts for line in row[j].split("\n")), default=0) * _CHAR_TWIPS
               + _CELL_TWIPS for j in range(len(texts[0]))]
    if sum(natural) <= total:
        return [total * w // sum(natural) for w in natural]
    low, high = 0.0, float(max(natural))  # the cap c with sum(min(w, c)) = total, by bisection
    for _ in range(50):
        cap = (low + high) / 2
        low, high = (cap, high) if sum(min(w, cap) for w in natural) < total else (low, cap)
    return [int(min(w, low)) for w in natural]


def table_docx(df: pd.DataFrame, caption: str = "", notes: str = "", index: bool = True,
               html_cells: bool = False) -> bytes:
    """The table as a .docx file: ``caption`` (bold) above, the header row(s) in bold between two rules, the
    body, a rule under the last row, then ``notes`` (8 pt). ``index`` writes the row labels as the first
    column(s), as the page shows them; ``html_cells`` strips the HTML of cells that hold it."""
    header = _header_rows(df, index)
    body = []
    for labels, values in zip(df.index, df.itertuples(index=False, name=None)):
        lead = [_plain(x, html_cells) for x in (labels if isinstance(labels, tuple) else (labels,))] if index else []
        body.append(lead + [_plain(v, html_cells) for v in values])
    n_cols = sum(span for _, span in header[-1])
    landscape = n_cols > LANDSCAPE_COLUMNS
    page_w, page_h, margin = (15840, 12240, 1080) if landscape else (12240, 15840, 1080)  # twips: Letter
    # widths from the body and the longest word of each header label (a header may wrap between its words)
    words = [max(label.split(), key=len, default="") for label, _ in header[-1]]
    widths = _column_widths(body + [words], page_w - 2 * margin)
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    n_index = df.index.nlevels if index else 0
    rows = []
    for k, cells in enumerate(header):
        rules = {"top": 8} if k == 0 else {}
        if k == len(header) - 1:
            rules["bottom"] = 4
        out, j = [], 0
        for label, span in cells:
            out.append(_cell(label, sum(widths[j:j + span]), rules, bold=True, left=j < n_index, span=span))
            j += span
        rows.append('<w:tr><w:trPr><w:tblHeader/></w:trPr>' + "".join(out) + "</w:tr>")  # repeated on each page
    for k, cells in enumerate(body):
        rules = {"bottom": 8} if k == len(body) - 1 else {}
        rows.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>"
                    + "".join(_cell(c, w, rules) for c, w in zip(cells, widths)) + "</w:tr>")
    table = (f'<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/><w:tblLayout w:type="autofit"/>'
             '<w:tblCellMar><w:left w:w="60" w:type="dxa"/><w:right w:w="60" w:type="dxa"/></w:tblCellMar>'
             f"</w:tblPr><w:tblGrid>{grid}</w:tblGrid>{''.join(rows)}</w:tbl>")
    parts = []
    if caption:
        parts.append(f'<w:p><w:pPr><w:keepNext/><w:spacing w:after="120"/></w:pPr>{_run(caption, bold=True, size=20)}'
                     "</w:p>")
    parts.append(table)
    parts.append(f'<w:p><w:pPr><w:spacing w:before="80"/></w:pPr>{_run(notes, size=16)}</w:p>' if notes
                 else "<w:p/>")  # a document may not end with a table
    orient = ' w:orient="landscape"' if landscape else ""
    section = (f'<w:sectPr><w:pgSz w:w="{page_w}" w:h="{page_h}"{orient}/>'
               f'<w:pgMar w:top="{margin}" w:right="{margin}" w:bottom="{margin}" w:left="{margin}" '
               'w:header="720" w:footer="720" w:gutter="0"/></w:sectPr>')
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<w:document xmlns:w="{_W}" xmlns:r="{_R}"><w:body>{"".join(parts)}{section}</w:body></w:document>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _PACKAGE_RELS),
                           ("word/_rels/document.xml.rels", _DOCUMENT_RELS), ("word/styles.xml", _STYLES),
                           ("word/document.xml", document)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # the same bytes for the same table
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            package.writestr(info, text.encode("utf-8"))
    return out.getvalue()
