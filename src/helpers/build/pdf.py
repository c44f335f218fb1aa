"""``make pdf``: one PDF per study of the built book, printed by Chromium (Playwright's ``page.pdf``).

Jupyter Book's ``pdfhtml`` builder downloads its own browser, which cannot work offline; this prints the
built HTML with the Chromium the browser tests already use (Debian's ``chromium``; ``CHROMIUM`` names
another). For each study, in the order of ``_toc.yml``, the articles of its pages are put one after the other
into one document (figures and tables keep the study's numbers), every folded table is opened, and the print
stylesheet (``book/_static/book.css``, ``@media print``) leaves out the navigation, the buttons and the code;
captions stay with their tables. The synthetic-data notice opens each page, so also the PDF's first page.
The PDFs go to ``_build/html/downloads/<study_id>.pdf``, and the landing page's placeholder
(``<span id="book-pdfs">``) becomes links to them.
"""
from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.build.toc import BuildError, chapter_runs
from helpers.paths import BUILD_DIR

#: Chromium's flags for a machine without a display or network (as the browser tests use).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

#: The print's scale: A4 portrait at 0.75 lays the pages out about 920 px wide, where all but a few of the
#: widest audit tables fit.
PRINT_SCALE = 0.75

#: In the document being printed: put the other pages' articles after this one's, open every <details>.
COMBINE = """(articles) => {
  const main = document.querySelector('article.bd-article');
  for (const inner of articles) {
    const part = document.createElement('section');
    part.className = 'book-pdf-page';
    part.style.breakBefore = 'page';
    part.innerHTML = inner;
    main.appendChild(part);
  }
  document.querySelectorAll('details').forEach(d => { d.open = true; });
}"""

#: What the printed document holds, counted with the print stylesheet applied.
CONTENTS = """() => {
  const shown = e => e.offsetParent !== null || getComputedStyle(e).display !== 'none' && e.getClientRects().length;
  return {
    figures: document.querySelectorAll('article figure.book-figure').length,
    tables: document.querySelectorAll('article .book-table-wrap table.book-table').length,
    closed: document.querySelectorAll('details:not([open])').length,
    buttons: Array.from(document.querySelectorAll('button, .cell_input, .figure-download, .table-download'))
                  .filter(e => e.getClientRects().length > 0).length,
    pages: document.querySelectorAll('article.bd-article, section.book-pdf-page').length,
  };
}"""


@dataclass
class StudyPdf:
    study_id: str
    path: Path
    pages: int          # book pages put in
    contents: dict      # CONTENTS of the printed document
    page_count: int     # pages of the PDF


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise BuildError("make pdf prints the book with Chromium, and none was found (apt-get install chromium, or "
                     "set CHROMIUM to its path)")


def study_pages(site: Path) -> dict[str, list[Path]]:
    """Each study's built pages in TOC order."""
    pages: dict[str, list[Path]] = {}
    for run in chapter_runs():
        path = Path(site) / "book" / run.study_id / f"{run.chapter}.html"
        if path.exists():
            pages.setdefault(run.study_id, []).append(path)
    return pages


def pdf_page_count(data: bytes) -> int:
    """Pages of a PDF: its ``/Type /Page`` objects (Chromium writes no compressed object streams for them)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def print_study(browser, study_id: str, pages: list[Path], target: Path) -> StudyPdf:
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    articles = []
    for other in pages[1:]:
        page.goto(other.resolve().as_uri(), wait_until="load")
        articles.append(page.inner_html("article.bd-article"))
    page.goto(pages[0].resolve().as_uri(), wait_until="load")
    page.evaluate(COMBINE, articles)
    page.emulate_media(media="print")
    page.wait_for_load_state("load")
    page.evaluate("() => Promise.all(Array.from(document.images).map(i => i.complete ? 0 : "
                  "new Promise(r => { i.onload = i.onerror = r; })))")
    contents = page.evaluate(CONTENTS)
    target.parent.mkdir(parents=True, exist_ok=True)
    title = html.escape(page.title())
    page.pdf(path=str(target), format="A4", scale=PRINT_SCALE, print_background=True, display_header_footer=True,
             margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
             header_template=f"<div style='font-size:7pt;width:100%;text-align:center;color:#777'>{title}</div>",
             footer_template="<div style='font-size:7pt;width:100%;text-align:center;color:#777'>"
                             "<span class='pageNumber'></span> / <span class='totalPages'></span></div>")
    page.close()
    return StudyPdf(study_id, target, len(pages), contents, pdf_page_count(target.read_bytes()))


def link_pdfs(site: Path, made: list[StudyPdf]) -> None:
    """Replace the landing page's placeholder ``<span id="book-pdfs">...</span>`` by links to the PDFs."""
    index = Path(site) / "book" / "index.html"
    text = index.read_text(encoding="utf-8")
    links = ", ".join(f"<a href='../downloads/{p.path.name}' download>{html.escape(p.study_id)}</a> "
                      f"({p.page_count} pages)" for p in made)
    # the placeholder holds plain text (book/index.md), or the links of an earlier make pdf
    new, n = re.subn(r'<span id="book-pdfs">(?:[^<]|<a [^>]*>[^<]*</a>)*</span>',
                     f'<span id="book-pdfs">{links}</span>', text, count=1)
    if not n:
        raise BuildError(f"{index} has no placeholder <span id=\"book-pdfs\"> for the links to the PDFs")
    index.write_text(new, encoding="utf-8")


def make_pdfs(site: Path = BUILD_DIR / "html", studies: list[str] | None = None, log=print) -> list[StudyPdf]:
    """Print each study (or only ``studies``) of the built ``site`` to ``site/downloads/<study_id>.pdf``."""
    from playwright.sync_api import sync_playwright

    site = Path(site)
    if not (site / "book" / "index.html").exists():
        raise BuildError(f"there is no built book in {site}: run make book first")
    by_study = study_pages(site)
    unknown = [s for s in studies or [] if s not in by_study]
    if unknown:
        raise BuildError(f"no built pages for {', '.join(unknown)}; studies: {', '.join(by_study)}")
    made = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            for study_id, pages in by_study.items():
                if studies and study_id not in studies:
                    continue
                made.append(print_study(browser, study_id, pages, site / "downloads" / f"{study_id}.pdf"))
                log(f"wrote {made[-1].path} ({made[-1].page_count} pages from {len(pages)} book pages)")
        finally:
            browser.close()
    link_pdfs(site, made)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print each study of the built book to one PDF.")
    parser.add_argument("--site", type=Path, default=BUILD_DIR / "html", help="the built site (default _build/html)")
    parser.add_argument("--study", action="append", default=[], help="only this study (repeatable)")
    args = parser.parse_args(argv)
    try:
        make_pdfs(args.site, args.study or None)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
