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
