"""The book's table of contents (``_toc.yml``) as the studies see it: which pages a study has, in order.

A TOC entry ``book/<study_id>/<page>`` is a page of that study, executed from ``notebooks/<page>.md``; a
page ``<notebook>_<cohort>`` (``survival_matched``) runs ``notebooks/<notebook>.md`` with ``cohort = <cohort>``.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from helpers.paths import NOTEBOOKS_DIR, ROOT


def _walk(node, found: list[dict]) -> None:
    if isinstance(node, dict):
        if "file" in node:
            found.append(node)
        for v in node.values():
            _walk(v, found)
    elif isinstance(node, list):
        for v in node:
            _walk(v, found)


def toc_entries(toc_path: Path = ROOT / "_toc.yml") -> list[dict]:
    """Every entry with a ``file:`` of the table of contents, in order, the root first."""
    toc = yaml.safe_load(Path(toc_path).read_text(encoding="utf-8"))
    found: list[dict] = [{"file": str(toc.get("root"))}]
    _walk({k: v for k, v in toc.items() if k != "root"}, found)
    return found


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every ``file:`` entry of the table of contents, in order."""
    return [str(e["file"]) for e in toc_entries(toc_path)]


def page_notebook(page: str) -> tuple[str, dict]:
    """The notebook a page runs and the page's own parameters: ``survival_matched`` -> ("survival",
    {"cohort": "matched"}); a page named after its notebook has none."""
    if not (NOTEBOOKS_DIR / f"{page}.md").exists() and "_" in page:
        notebook, variant = page.rsplit("_", 1)
        return notebook, {"cohort": variant}
    return page, {}


def study_pages(study_id: str, toc_path: Path = ROOT / "_toc.yml") -> dict[str, str]:
    """The executed pages of one study in TOC order with their titles (``{"survival": "Survival", ...}``)."""
    titles: dict[str, str] = {}
    for entry in toc_entries(toc_path):
        parts = Path(str(entry["file"])).with_suffix("").parts
        if len(parts) == 3 and parts[0] == "book" and parts[1] == study_id:
            titles[parts[2]] = str(entry.get("title") or parts[2].replace("_", " ").capitalize())
    return titles
