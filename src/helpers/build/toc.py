"""The book's chapters as the table of contents lists them: which notebook runs for which study and page."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from helpers.paths import BOOK_DIR, NOTEBOOKS_DIR, ROOT, STUDIES_DIR
from helpers.study.toc import page_notebook, study_pages, toc_files  # noqa: F401 (study_pages: for callers)


#: Notebooks that read the other chapters' analysis results (the audit): executed after all other chapters.
READS_OTHER_RESULTS = ("audit",)

#: Notebooks that make what the study's other chapters read (the run's matched cohort): executed first.
MAKES_COHORTS = ("cohorts",)


class BuildError(RuntimeError):
    """A build stage failed; the message says which and why."""


@dataclass(frozen=True)
class ChapterRun:
    """One executed page: ``book/<study_id>/<chapter>.ipynb`` from ``notebooks/<notebook>.md``.

    A page named ``<notebook>_<cohort>`` (e.g. ``survival_matched``) runs ``notebooks/<notebook>.md`` with the
    parameter ``cohort = "<cohort>"``; a page named after its notebook runs it with the notebook's defaults.
    """

    study_id: str
    chapter: str
    notebook: str = ""
    parameters: tuple = ()

    @property
    def source(self) -> Path:
        return NOTEBOOKS_DIR / f"{self.notebook or self.chapter}.md"

    @property
    def target(self) -> Path:
        return BOOK_DIR / self.study_id / f"{self.chapter}.ipynb"


def chapter_runs(toc_path: Path = ROOT / "_toc.yml") -> list[ChapterRun]:
    """The (study, chapter) notebooks to execute: TOC entries ``book/<study>/<chapter>`` with a notebook source."""
    runs = []
    for entry in toc_files(toc_path):
        parts = Path(entry).with_suffix("").parts
        if len(parts) == 3 and parts[0] == "book" and (STUDIES_DIR / parts[1] / "study.yaml").exists():
            notebook, own = page_notebook(parts[2])
            run = ChapterRun(parts[1], parts[2], notebook if own else "", tuple(own.items()))
            if not run.source.exists():
                raise BuildError(f"_toc.yml lists {entry}, but there is no notebook source {run.source}")
            runs.append(run)
    # stable sort: the cohorts pages first (the matched cohort), the audit pages last (every chapter's results)
    return sorted(runs, key=lambda r: (-((r.notebook or r.chapter) in MAKES_COHORTS),
                                       (r.notebook or r.chapter) in READS_OTHER_RESULTS))
