"""The book's chapters as the table of contents lists them: which notebook runs for which study and page."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from helpers.paths import BOOK_DIR, NOTEBOOKS_DIR, ROOT, STUDIES_DIR


#: Notebooks that read the other chapters' analysis results (the audit): executed after all other chapters.
READS_OTHER_RESULTS = ("audit",)


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


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every ``file:`` entry of the table of contents, in order."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(str(node["file"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    found.append(str(toc.get("root")))
    walk({k: v for k, v in toc.items() if k != "root"})
    return found


def chapter_runs(toc_path: Path = ROOT / "_toc.yml") -> list[ChapterRun]:
    """The (study, chapter) notebooks to execute: TOC entries ``book/<study>/<chapter>`` with a notebook source."""
    runs = []
    for entry in toc_files(toc_path):
        parts = Path(entry).with_suffix("").parts
        if len(parts) == 3 and parts[0] == "book" and (STUDIES_DIR / parts[1] / "study.yaml").exists():
            run = ChapterRun(parts[1], parts[2])
            if not run.source.exists() and "_" in parts[2]:
                notebook, variant = parts[2].rsplit("_", 1)
                run = ChapterRun(parts[1], parts[2], notebook, (("cohort", variant),))
            if not run.source.exists():
                raise BuildError(f"_toc.yml lists {entry}, but there is no notebook source {run.source}")
            runs.append(run)
    # stable sort: the audit pages run last, after every chapter whose results they read
    return sorted(runs, key=lambda r: (r.notebook or r.chapter) in READS_OTHER_RESULTS)


def study_pages(study_id: str, toc_path: Path = ROOT / "_toc.yml") -> dict[str, str]:
    """The executed pages of one study in TOC order with their titles (``{"survival": "Survival", ...}``)."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    titles: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            parts = Path(str(node["file"])).with_suffix("").parts if "file" in node else ()
            if len(parts) == 3 and parts[0] == "book" and parts[1] == study_id:
                titles[parts[2]] = str(node.get("title") or parts[2].replace("_", " ").capitalize())
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    return titles
