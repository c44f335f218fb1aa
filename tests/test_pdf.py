"""``make pdf``: one PDF per study, printed from the built site by Chromium (helpers.build.pdf). The printed
document holds every figure and table of the study's pages, opened, with no on-screen buttons or code."""
from __future__ import annotations

import re
import shutil

import pytest

from helpers.build import pdf
from helpers.paths import ROOT

pytestmark = [pytest.mark.book, pytest.mark.browser]
SITE = ROOT / "_build" / "html"


def test_pdf_page_count_reads_page_objects():
    fake = b"%PDF-1.4 1 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] >> 2 0 obj << /Type /Page >> 3 0 obj <</Type/Page>>"
    assert pdf.pdf_page_count(fake) == 2


def test_make_pdf_prints_a_study_with_all_its_figures_and_tables(tmp_path):
    if not (SITE / "book" / "index.html").exists():
        pytest.skip("the book is not built (make book)")
    if pdf.shutil.which("chromium") is None and not pdf.os.environ.get("CHROMIUM"):
        pytest.skip("no chromium")
    site = tmp_path / "html"
    shutil.copytree(SITE, site)
    (made,) = pdf.make_pdfs(site, ["veteran"], log=lambda *_: None)
    pages = pdf.study_pages(site)["veteran"]
    html = [p.read_text(encoding="utf-8") for p in pages]
    figures = sum(len(re.findall(r"<figure class=['\"]book-figure", h)) for h in html)
    tables = sum(len(re.findall(r"<table class=['\"]dataframe book-table", h)) for h in html)
    assert made.path == site / "downloads" / "veteran.pdf" and made.path.read_bytes().startswith(b"%PDF")
    assert made.pages == len(pages) == 5
    assert made.contents == {"figures": figures, "tables": tables, "closed": 0, "buttons": 0, "pages": 5}
    assert made.page_count > len(pages)
    index = (site / "book" / "index.html").read_text(encoding="utf-8")
    assert f"<a href='../downloads/veteran.pdf' download>veteran</a> ({made.page_count} pages)" in index


def test_pdf_links_replace_the_placeholder_and_an_earlier_set(tmp_path):
    index = tmp_path / "book" / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text('<p>PDF: <span id="book-pdfs">not printed in this build\n(run make pdf)</span>.</p>')
    made = [pdf.StudyPdf("s1", tmp_path / "downloads" / "s1.pdf", 3, {}, 12)]
    pdf.link_pdfs(tmp_path, made)
    expected = "<p>PDF: <span id=\"book-pdfs\"><a href='../downloads/s1.pdf' download>s1</a> (12 pages)</span>.</p>"
    assert index.read_text() == expected
    pdf.link_pdfs(tmp_path, made)  # again: the same page
    assert index.read_text() == expected
    index.write_text("<p>no placeholder</p>")
    with pytest.raises(pdf.BuildError, match="no placeholder"):
        pdf.link_pdfs(tmp_path, made)
