"""Tables as Word documents (helpers.report.docx): the cells as printed, caption and notes, a valid Office Open
XML package (read back here with the standard library's zip and XML parsers), the same bytes for the same table,
and a download link beside the CSV on every table."""
from __future__ import annotations

import base64
import re
import zipfile
from io import BytesIO
from xml.etree import ElementTree

import pandas as pd

from helpers.report import display
from helpers.report.docx import LANDSCAPE_COLUMNS, MIME, table_docx

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(data: bytes):
    """(paragraph texts outside the table, table rows as lists of cell texts, the document's root)."""
    with zipfile.ZipFile(BytesIO(data)) as package:
        assert package.testzip() is None
        names = set(package.namelist())
        assert {"[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/styles.xml"} <= names
        types = package.read("[Content_Types].xml").decode()
        assert "wordprocessingml.document.main+xml" in types
        root = ElementTree.fromstring(package.read("word/document.xml"))
    body = root.find(f"{W}body")

    def text(node):
        return "".join(t.text or "" if t.tag == f"{W}t" else "\n" for t in node.iter() if t.tag in (f"{W}t", f"{W}br"))

    paragraphs = [text(p) for p in body.findall(f"{W}p")]
    rows = [[text(c) for c in tr.findall(f"{W}tc")] for tr in body.find(f"{W}tbl").findall(f"{W}tr")]
    return paragraphs, rows, root


def test_a_table_becomes_a_word_table_with_its_caption_cells_and_notes():
    df = pd.DataFrame({"HAIT (n = 40)": ["10.1 (9.2–NR)", "47 (92.2%)"], "P": ["0.033", "<0.001"]},
                      index=pd.Index(["Median PFS, months", "Sex: male & <female>"], name="Variable"))
    data = table_docx(df, caption="Table 2. Progression-free survival", notes="HR: hazard ratio.")
    paragraphs, rows, root = read_docx(data)
    assert paragraphs == ["Table 2. Progression-free survival", "HR: hazard ratio."]
    assert rows == [["Variable", "HAIT (n = 40)", "P"], ["Median PFS, months", "10.1 (9.2–NR)", "0.033"],
                    ["Sex: male & <female>", "47 (92.2%)", "<0.001"]]  # escaped in the XML, read back as written
    header = root.find(f"{W}body/{W}tbl/{W}tr")
    assert header.find(f"{W}trPr/{W}tblHeader") is not None  # repeated at the top of every page
    assert all(r.find(f"{W}rPr/{W}b") is not None for r in header.iter(f"{W}r"))  # bold header
    assert table_docx(df, caption="Table 2. Progression-free survival", notes="HR: hazard ratio.") == data


def test_column_levels_become_header_rows_and_html_cells_lose_their_tags():
    columns = pd.MultiIndex.from_tuples([("HAIT", "n"), ("HAIT", "%"), ("HAIT-M-P", "n"), ("HAIT-M-P", "%")])
    df = pd.DataFrame([[1, 2.5, 3, None]], columns=columns, index=["<a href='x.html'>Sex &amp; age</a>"])
    paragraphs, rows, root = read_docx(table_docx(df, index=True, html_cells=True))
    assert rows == [["", "HAIT", "HAIT-M-P"], ["", "n", "%", "n", "%"], ["Sex & age", "1", "2.5", "3", ""]]
    spans = [c.find(f"{W}tcPr/{W}gridSpan") for c in root.find(f"{W}body/{W}tbl/{W}tr").findall(f"{W}tc")]
    assert [1 if g is None else int(g.get(f"{W}val")) for g in spans] == [1, 2, 2]  # each arm over its n and %
    assert paragraphs == [""]  # no caption, no notes: only the paragraph a document must end with


def test_columns_are_as_wide_as_their_longest_cell_and_fill_the_text_width():
    df = pd.DataFrame({"Variable": ["Treatment (HAIT-M-P vs HAIT)"], "HR (95% CI)": ["0.36 (0.22–0.60)"], "P": ["<0.001"]})
    *_, root = read_docx(table_docx(df, index=False))
    widths = [int(g.get(f"{W}w")) for g in root.find(f"{W}body/{W}tbl/{W}tblGrid")]
    assert widths[0] > widths[1] > widths[2]
    assert sum(widths) <= 12240 - 2 * 1080 and sum(widths) > 12240 - 2 * 1080 - len(widths)  # the text width


def test_a_wide_table_is_set_on_a_landscape_page():
    narrow = pd.DataFrame([[0] * LANDSCAPE_COLUMNS], columns=[f"c{i}" for i in range(LANDSCAPE_COLUMNS)])
    wide = pd.DataFrame([[0] * (LANDSCAPE_COLUMNS + 1)], columns=[f"c{i}" for i in range(LANDSCAPE_COLUMNS + 1)])
    for df, landscape in ((narrow, False), (wide, True)):
        *_, root = read_docx(table_docx(df, index=False))
        size = root.find(f"{W}body/{W}sectPr/{W}pgSz")
        assert (size.get(f"{W}orient") == "landscape") is landscape
        assert (int(size.get(f"{W}w")) > int(size.get(f"{W}h"))) is landscape


def test_every_shown_table_links_a_word_download_beside_its_csv(monkeypatch):
    shown = []
    monkeypatch.setattr(display, "display", lambda obj: shown.append(obj))
    df = pd.DataFrame({"Arm": ["A", "B"], "n": [1, 2]})
    display.show_table(df, caption="Table 3. Best response", notes="Counts.", index=False)
    page = shown[0].data
    assert "download='table-3-best-response.csv'" in page and "download='table-3-best-response.docx'" in page
    data = re.search(rf"data:{re.escape(MIME)};base64,([A-Za-z0-9+/=]+)'", page).group(1)
    paragraphs, rows, _ = read_docx(base64.b64decode(data))
    assert paragraphs == ["Table 3. Best response", "Counts."] and rows == [["Arm", "n"], ["A", "1"], ["B", "2"]]


def test_the_site_writes_word_tables_to_files_as_it_does_figures(tmp_path):
    import importlib.util

    from helpers.paths import ROOT

    spec = importlib.util.spec_from_file_location("book_site", ROOT / "book" / "_ext" / "book_site.py")
    book_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book_site)
    data = table_docx(pd.DataFrame({"a": [1]}), index=False)
    body = f"<a download='t.docx' href='data:{MIME};base64,{base64.b64encode(data).decode()}'>Word</a>"
    out = book_site.externalize(body, tmp_path, "../")
    name = re.search(r"href='\.\./_images/([0-9a-f]+\.docx)'", out).group(1)
    assert (tmp_path / "_images" / name).read_bytes() == data and "base64" not in out
