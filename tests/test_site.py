"""The published website, tested as a reader sees it: headless Chromium (Playwright) on a local server.

Every page opens without console errors, failed requests or broken images; each chapter shows its key
figure (with alt text) and table; the search finds a term; every internal link resolves; on a phone (390 px)
no page scrolls sideways as a whole and every table's last column can be reached. Screenshots at 1280 and
390 px are saved to ``_build/test-artifacts/screenshots/``. Needs Debian's ``chromium`` (``.ci/run`` installs it and
sets ``REQUIRE_BROWSER=1``, so CI cannot skip these tests silently).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from helpers.paths import ROOT
from helpers.build.sitecheck import broken_links

pytestmark = [pytest.mark.book, pytest.mark.browser]
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "test-artifacts" / "screenshots"
# Each chapter's key figure (its caption text) and key table (its caption text).
KEY_CONTENT = {
    "cohorts": ("Patient flow", "Table 1."),
    "survival": ("Kaplan-Meier estimates by arm", "Cox"),
    "survival_matched": ("Kaplan-Meier estimates by arm", "Cox"),
    "response": ("Best overall response by arm", "Best overall response."),
    "safety": ("Incidence of each adverse event", "Treatment-related adverse events."),
    "subgroups": ("by subgroup, with 95% CI", "Subgroup"),
    "sensitivity": ("matching settings", "Treatment hazard ratio for"),
    "audit": ("Status of every published number", "Tolerance classes."),
}


def chromium_path() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "book" / "index.html").exists():
        from helpers.build.pipeline import build

        assert build() == 0, "the book must build before its website can be tested"
    return SITE


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but no chromium was found (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                                           "--disable-background-networking", "--disable-sync",
                                                           "--disable-component-update"])
        yield b
        b.close()


def site_pages(site: Path) -> list[str]:
    pages = [str(p.relative_to(site)) for p in sorted(site.rglob("*.html"))
             if "_static" not in p.relative_to(site).parts]
    assert "book/index.html" in pages
    return pages


def open_page(browser, url: str):
    """Open ``url``; return the page and every problem the browser reported while loading it."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="networkidle")
    return page, problems


def test_every_page_opens_without_errors_or_broken_images(site, server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures = {}
    for name in site_pages(site):
        page, problems = open_page(browser, f"{server}/{name}")
        broken = page.eval_on_selector_all(
            "img", "els => els.filter(e => !e.complete || e.naturalWidth === 0).map(e => e.src.slice(0, 80))")
        problems += [f"broken image: {src}" for src in broken]
        missing_alt = page.eval_on_selector_all("main img", "els => els.filter(e => !e.alt).length")
        if missing_alt:
            problems.append(f"{missing_alt} image(s) without alt text")
        if name.startswith("book/"):
            page.screenshot(path=str(SHOTS / (name.removeprefix("book/").replace("/", "__") + ".png")),
                            full_page=False)
        page.close()
        if problems:
            failures[name] = problems
    assert not failures, failures


def test_each_chapter_shows_its_key_figure_and_table(site, server, browser):
    chapters = [p for p in site_pages(site) if p.count("/") == 2 and Path(p).stem in KEY_CONTENT]
    assert len(chapters) >= 14
    for name in chapters:
        figure_text, table_text = KEY_CONTENT[Path(name).stem]
        page, _ = open_page(browser, f"{server}/{name}")
        figures = page.eval_on_selector_all(
            "figure.book-figure", "els => els.map(e => [e.querySelector('img').naturalWidth, "
                                  "e.querySelector('img').alt, e.querySelector('figcaption').textContent])")
        assert any(figure_text in caption and width > 300 and len(alt) > 20 for width, alt, caption in figures), \
            (name, [c[:60] for _, _, c in figures])
        tables = page.eval_on_selector_all(".book-table-wrap", "els => els.map(e => e.textContent)")
        assert any(table_text in t for t in tables) and page.locator("table.book-table").count() > 0, name
        assert page.locator("a[download$='.csv']").count() > 0, f"{name}: no CSV download link"
        page.close()


@pytest.mark.parametrize("query, page_name", [
    ("hazard", "survival"),
    # "0.36", seed 000's PFS hazard ratio (Table 2, Figure 2), is one word of the index and of the query
    # (book/_ext/book_site.py); Sphinx's own splitter made it "0" and "36" and dropped both
    ("0.36", "erhcc_hait_mp/survival.html"),
])
def test_search_finds_a_term_and_a_number(server, browser, query, page_name):
    page, problems = open_page(browser, f"{server}/search.html?q={query}")
    page.wait_for_selector("#search-results ul li", timeout=20_000)
    hits = page.eval_on_selector_all("#search-results ul li a", "els => els.map(e => e.getAttribute('href'))")
    assert any(page_name in h for h in hits), hits
    assert not problems, problems
    page.close()


def test_no_launch_buttons_or_cloud_execution(site):
    for name in site_pages(site):
        text = re.sub(r"data:[^'\"]+", "", (site / name).read_text(encoding="utf-8"))  # not inside inlined PNGs
        for marker in ("binder", "colab", "thebe", "jupyterhub"):
            assert marker not in text.lower(), f"{name} mentions {marker}"


def test_internal_links_resolve(site):
    assert broken_links(site) == []


def test_root_page_redirects_to_the_book_and_requests_nothing(site):
    """Without an icon link the root page made browsers ask for /favicon.ico (a 404 in the console); a real
    icon file would be a request cut off by the redirect. The root page loads no resource at all."""
    import re

    root = (site / "index.html").read_text()
    assert re.search(r'http-equiv="Refresh" content="0; url=book/index.html"', root)
    assert (site / "book" / "index.html").exists()
    assert '<link rel="icon" href="data:,">' in root
    assert not re.search(r'(src|href)="(?!data:|book/index.html)', root)


#: In the page at phone width: what scrolls sideways that should not, and tables whose last column cannot be
#: reached (scrolled to the end of its own frame, the last cell of its fullest row must end inside the screen).
PHONE_PROBLEMS = """() => {
  const problems = [];
  const width = window.innerWidth;
  const page = document.documentElement.scrollWidth;
  if (page > width + 1) problems.push(`the page is ${page} px wide`);
  document.querySelectorAll('article table').forEach((table, i) => {
    if (table.closest('details:not([open])') || !table.rows.length || !table.offsetParent) return;
    let frame = table.parentElement;
    while (frame && frame !== document.body && !['auto', 'scroll'].includes(getComputedStyle(frame).overflowX))
      frame = frame.parentElement;
    if (frame && frame !== document.body) frame.scrollLeft = frame.scrollWidth;
    const row = Array.from(table.rows).reduce((a, b) => (b.cells.length > a.cells.length ? b : a));
    const last = row.cells[row.cells.length - 1].getBoundingClientRect();
    if (last.right > width + 1 || last.right < 8)
      problems.push(`table ${i + 1} (${row.cells[0].textContent.trim().slice(0, 30)}): last column at ${Math.round(last.left)}-${Math.round(last.right)} px`);
  });
  return problems;
}"""


def test_a_phone_reads_every_page(site, server, browser):
    """At 390 px no page is wider than the screen, and each table's last column (the P column) is reached by
    scrolling the table's own frame; the landing page's chapter links are on screen."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures = {}
    for name in site_pages(site):
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(f"{server}/{name}", wait_until="networkidle")
        problems = page.evaluate(PHONE_PROBLEMS)
        if name == "book/index.html":
            links = page.eval_on_selector_all(
                "article a[href*='erhcc_hait_mp/survival']",
                "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; })")
            if not links or not all(0 <= left and right <= 391 for left, right in links):
                problems.append(f"chapter links off screen: {links}")
        if name.startswith("book/"):
            page.screenshot(path=str(SHOTS / (name.removeprefix("book/").replace("/", "__") + "_390.png")))
        page.close()
        if problems:
            failures[name] = problems
    assert not failures, failures
