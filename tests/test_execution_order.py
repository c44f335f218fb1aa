"""Which chapters wait for which (helpers.build.execute): a study's pages wait for its cohorts page only, its
audit page for all its other pages, and no page waits for another study's."""
from __future__ import annotations

from helpers.build import execute
from helpers.build.toc import ChapterRun, chapter_runs


def runs():
    return [ChapterRun("a", "cohorts"), ChapterRun("a", "survival"), ChapterRun("a", "survival_matched", "survival",
            (("cohort", "matched"),)), ChapterRun("a", "audit"), ChapterRun("b", "cohorts"), ChapterRun("b", "safety"),
            ChapterRun("b", "audit"), ChapterRun("c", "survival")]


def test_pages_wait_for_their_own_studys_cohorts_and_audits_for_all_its_pages():
    waits = execute._waits_for(runs())
    assert waits["a/cohorts"] == set() and waits["b/cohorts"] == set()
    assert waits["a/survival"] == waits["a/survival_matched"] == {"a/cohorts"}
    assert waits["a/audit"] == {"a/cohorts", "a/survival", "a/survival_matched"}
    assert waits["b/safety"] == {"b/cohorts"} and waits["b/audit"] == {"b/cohorts", "b/safety"}
    assert waits["c/survival"] == set()  # a study without a cohorts page in this run waits for nothing


def test_longest_chain_of_work_goes_first():
    """Priority = a chapter's expected seconds (last build's, else the notebook's default) plus the longest
    chain of chapters waiting for it: a cohorts page ranks above the pages that read it."""
    rs = runs()
    last = {"a/cohorts": {"wall": 2.0}, "a/survival": {"wall": 5.0}, "a/survival_matched": {"wall": 3.0},
            "a/audit": {"wall": 4.0}, "b/cohorts": {"wall": 1.0}, "b/safety": {"wall": 1.5}, "b/audit": {"wall": 1.0},
            "c/survival": {"reused": True}}
    p = execute._priorities(rs, execute._waits_for(rs), last)
    assert p["a/audit"] == 4.0 and p["a/survival"] == 5.0 + 4.0 and p["a/survival_matched"] == 3.0 + 4.0
    assert p["a/cohorts"] == 2.0 + 9.0  # its longest chain: survival, then the audit
    assert p["b/cohorts"] == 1.0 + 1.5 + 1.0
    assert p["c/survival"] == execute._EXPECTED_SECONDS["survival"]  # reused last time: the default
    assert p["a/cohorts"] > p["a/survival"] > p["a/audit"]


def test_every_notebook_of_the_book_has_an_expected_duration():
    notebooks = {r.notebook or r.chapter for r in chapter_runs()}
    assert notebooks <= set(execute._EXPECTED_SECONDS)
