"""Two builds from the same commit give identical analysis-results tables, figures, Word tables and table CSVs."""
from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pytest

from helpers.paths import ROOT

pytestmark = pytest.mark.book
IMAGE = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def figure_hashes(site: Path) -> dict[str, list[str]]:
    """Per page, the SHA-256 of every inlined figure (and of every image file)."""
    out = {}
    for page in sorted(site.rglob("*.html")):
        found = IMAGE.findall(page.read_text(encoding="utf-8"))
        if found:
            out[str(page.relative_to(site))] = [hashlib.sha256(f.encode()).hexdigest() for f in found]
    for image in sorted((site / "_images").glob("*")) if (site / "_images").exists() else []:
        if image.suffix != ".docx":  # tables: word_tables
            out[f"_images/{image.name}"] = [hashlib.sha256(image.read_bytes()).hexdigest()]
    return out


def word_tables(site: Path) -> list[str]:
    """The SHA-256 of every Word table of the site, except the tables of the run's own parameters: they name
    the folder the run wrote its results to, which differs between two builds in two places, as on the page."""
    out = []
    for table in sorted((site / "_images").glob("*.docx")):
        with zipfile.ZipFile(table) as package:
            document = package.read("word/document.xml").decode("utf-8")
        if ">Parameters of this run.<" not in document:
            out.append(hashlib.sha256(table.read_bytes()).hexdigest())
    return sorted(out)


def table_downloads(site: Path) -> list[str]:
    """The SHA-256 of every table's CSV download (``_tables/``), except those of the run's own parameters,
    which name the run's results folder (as their Word tables do)."""
    return sorted(hashlib.sha256(table.read_bytes()).hexdigest() for table in sorted((site / "_tables").glob("*.csv"))
                  if not table.read_text(encoding="utf-8").startswith("Parameter,"))


def test_second_build_is_identical(tmp_path):
    from helpers.build.pipeline import build, build_run

    first_site, first_results = ROOT / "_build" / "html", ROOT / "_build" / "results"
    if not (first_site / "book" / "index.html").exists():
        assert build() == 0
    assert build_run(tmp_path / "again", parameters={}) == 0
    second_results = tmp_path / "again" / "results"
    first = {p.relative_to(first_results): p.read_bytes() for p in sorted(first_results.glob("*/*.csv"))}
    second = {p.relative_to(second_results): p.read_bytes() for p in sorted(second_results.glob("*/*.csv"))}
    assert sorted(second) == sorted(first)
    different = [str(name) for name in first if first[name] != second[name]]
    assert different == []
    first_figures, second_figures = figure_hashes(first_site), figure_hashes(tmp_path / "again" / "html")
    assert sum(len(v) for v in first_figures.values()) >= 15  # every chapter figure of every study
    assert second_figures == first_figures
    first_tables = word_tables(first_site)
    assert len(first_tables) >= 100 and word_tables(tmp_path / "again" / "html") == first_tables
    first_csv = table_downloads(first_site)
    assert len(first_csv) >= 100 and table_downloads(tmp_path / "again" / "html") == first_csv
