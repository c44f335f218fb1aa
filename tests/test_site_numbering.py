"""The built site numbers its displays as the papers do and its audit pages count by role (helpers.analyses.audit).

These read ``_build/html``: the file is named to run after ``test_book_build.py``, whose strict build of the
whole book makes it on a clean clone, so that they run in CI instead of being skipped (as they were when they
sat in ``test_audit_reviewer.py``, which runs before the book is built)."""
from __future__ import annotations

import re
from collections import Counter

import pandas as pd
import pytest

from helpers.analyses import audit
from helpers.paths import ROOT
from helpers.study.spec import load_spec
from helpers.study.toc import study_pages

SITE = ROOT / "_build" / "html"


def captions(page: str) -> list[str]:
    text = (SITE / page).read_text(encoding="utf-8")
    # a table's caption is "<strong>Table 2. Title</strong>", a figure's "<strong>Figure 1.</strong> Title"
    found = re.findall(r"<strong>((?:Table|Figure) S?\d+[A-Z]?)\.(?:</strong>)? ", text)
    return found


@pytest.mark.book
@pytest.mark.parametrize("study", ["erhcc_hait_mp", "haic_after_ab", "veteran"])
def test_built_site_numbers_each_display_once_as_the_paper_does(study):
    if not (SITE / "book" / "index.html").exists():
        pytest.skip("the book is not built")
    seen = []
    for page in study_pages(study):
        seen += captions(f"book/{study}/{page}.html")
    counts = Counter(seen)
    assert seen and [label for label, n in counts.items() if n > 1] == []
    spec = load_spec(study)
    for label in spec.paper_numbers.values():
        assert label in seen, label


@pytest.mark.book
def test_built_audit_pages_count_by_role_and_landing_page_leads_with_claims():
    if not (SITE / "book" / "index.html").exists():
        pytest.skip("the book is not built")
    index = (SITE / "book" / "index.html").read_text(encoding="utf-8")
    assert index.index("Key claims of the papers") < index.index("The studies") < index.index("Reproduction verdicts")
    for study in ("erhcc_hait_mp", "haic_after_ab"):
        page = (SITE / "book" / study / "audit.html").read_text(encoding="utf-8")
        assert page.index("Key claims") < page.index("Every published estimate")
        assert "untargeted, the genuine tests of the synthetic cohort:" in page
        results = pd.read_csv(ROOT / "_build" / "results" / study / "audit.csv", keep_default_na=False)
        by_role = results[results["group"] == "role"]
        assert set(by_role["variable"]) <= set(audit.ROLES) and len(by_role)
        total = results[(results["variable"] == "all") & (results["group"] == "all")]["value"].astype(int).sum()
        assert by_role["value"].astype(int).sum() == total  # every number has a role
        assert "p = 0.000" not in page and "p &lt; 0.000" not in page  # p-values as the paper prints them


@pytest.mark.book
def test_no_page_weighs_over_300_kb_and_every_download_is_a_file():
    """Figures, Word tables and CSV downloads are files of the site, not data URIs in the pages; table HTML is
    compact and the audit's long lists are downloads; so no page is over 300 KB of HTML (the audit of seed 000
    was 1.08 MB, 388 KB of it CSV data URIs)."""
    if not (SITE / "book" / "index.html").exists():
        pytest.skip("the book is not built")
    sizes = {str(p.relative_to(SITE)): p.stat().st_size for p in SITE.rglob("*.html")}
    assert len(sizes) >= 35 and {page: size for page, size in sizes.items() if size > 300_000} == {}
    downloads = 0
    for page in SITE.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "data:text/csv" not in text and "data:image/png" not in text, page
        for link in re.findall(r"download='[^']+\.(?:csv|docx)' href='([^']+)'", text):
            assert (page.parent / link).resolve().is_file(), (page, link)
            downloads += 1
    assert downloads >= 200
