"""Each study page says what it is in its HTML <title> (book/_ext/book_site.py), so that browser tabs and
search results of the four survival pages can be told apart."""
from __future__ import annotations

import importlib.util

from helpers.paths import ROOT

spec = importlib.util.spec_from_file_location("book_site", ROOT / "book" / "_ext" / "book_site.py")
book_site = importlib.util.module_from_spec(spec)
spec.loader.exec_module(book_site)


def test_study_pages_are_titled_by_page_and_study():
    titles = book_site.toc_titles(ROOT / "_toc.yml")
    cases = {
        "book/erhcc_hait_mp/survival": ("Survival", " — Seed 000 (HAIT vs HAIT-M-P)"),
        "book/erhcc_hait_mp/survival_matched": ("Survival, matched cohort", " — Seed 000 (HAIT vs HAIT-M-P)"),
        "book/haic_after_ab/survival": ("Survival", " — Seed 004 (First-line HAIC vs Post-ate-beva HAIC)"),
        # the TOC's "Colon trial: survival" without the study's name, which the suffix gives
        "book/colon/survival": ("Survival", " — Colon cancer trial: levamisole + 5-FU vs observation"),
    }
    for page, expected in cases.items():
        assert book_site.page_title(page, "Survival", ROOT, titles) == expected, page
    shown = {book_site.page_title(p, "Survival", ROOT, titles) for p in cases}
    assert len(shown) == len(cases)  # four survival pages, four titles


def test_pages_outside_a_study_keep_the_book_title():
    titles = book_site.toc_titles(ROOT / "_toc.yml")
    assert book_site.page_title("book/methods", "Methods", ROOT, titles) is None
    assert book_site.page_title("book/nostudy/page", "X", ROOT, titles) is None


def test_a_title_is_escaped(tmp_path):
    (tmp_path / "data" / "studies" / "s").mkdir(parents=True)
    (tmp_path / "data" / "studies" / "s" / "study.yaml").write_text('short_title: "A <b> & B"\n')
    assert book_site.page_title("book/s/cohorts", "Cohorts", tmp_path, {}) == ("Cohorts", " — A &lt;b&gt; &amp; B")


def test_a_study_label_is_parsed_once_per_text_and_an_edit_is_read_afresh(tmp_path):
    spec_file = tmp_path / "study.yaml"
    spec_file.write_text('short_title: "First"\n')
    assert book_site.study_label(spec_file) == "First"
    assert book_site._STUDY_LABELS['short_title: "First"\n'] == "First"  # every page of the study reuses it
    spec_file.write_text('short_title: "Second"\n')
    assert book_site.study_label(spec_file) == "Second"


def test_search_keeps_decimal_numbers_whole():
    """The site's search language (book/_ext/book_site.py) splits "HR 0.36 (0.20–0.64)" into HR, 0.36, 0.20
    and 0.64, and its browser splitter is the same rule."""
    language = book_site.number_search_language()({})
    assert language.lang == "en"
    assert language.split("HR 0.36 (0.20–0.64), P < 0.001; 12.8 months") == [
        "HR", "0.36", "0.20", "0.64", "P", "0.001", "12.8", "months"]
    assert language.stem("0.36") == "0.36" and language.word_filter("0.36")
    assert r"\d+(?:\.\d+)+" in book_site.SPLIT_QUERY_JS and book_site.SPLIT_QUERY_JS.startswith("var splitQuery")
