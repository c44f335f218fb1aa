"""Rendering the book with Jupyter Book (strict), refusing data files, and swapping the site into place."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.build.toc import BuildError
from helpers.paths import BUILD_DIR, ROOT


#: File types that hold patient-level tables: the built site must contain none (it publishes aggregates only).
DATA_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xls", ".sav", ".dta", ".sas7bdat", ".parquet", ".feather", ".rds",
                 ".rdata", ".json.gz")


def jupyter_book_html(project: Path, path_output: Path | None = None, strict: bool = True) -> Path:
    """Run ``jupyter-book build`` on ``project`` (strict: warnings are errors) and return the HTML folder,
    refusing a site that contains a data file; raise :class:`BuildError` with the log's tail on failure."""
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb if jb.exists() else "jupyter-book"), "build", str(project)]
    if path_output is not None:
        cmd += ["--path-output", str(path_output)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    # the API page's autodoc imports helpers.stats: the same source as this build, also from a staging project
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise BuildError(f"jupyter-book build failed (exit {proc.returncode}); the previous book is kept.\n{tail}")
    built = (path_output or project) / "_build" / "html"
    refuse_data_files(built)
    write_root_redirect(built)
    return built


#: The site's root page. Jupyter Book writes a bare meta-refresh line; without an icon link, a browser asks the
#: server for /favicon.ico, which does not exist (a 404 in the console, on GitHub Pages too). The page loads
#: nothing at all (an empty inline icon): a request it started would be cut off by the redirect.
ROOT_REDIRECT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Refresh" content="0; url=book/index.html">
<link rel="icon" href="data:,">
<title>HCC cohort studies, reproduced</title>
</head>
<body><p><a href="book/index.html">Open the book</a></p></body>
</html>
"""


def write_root_redirect(site: Path) -> None:
    """Replace Jupyter Book's one-line root redirect with :data:`ROOT_REDIRECT` (same target, no requests)."""
    (site / "index.html").write_text(ROOT_REDIRECT, encoding="utf-8")


def render(staging: Path, strict: bool = True) -> Path:
    """Build the HTML with Jupyter Book into ``staging`` and swap it into ``_build/html`` on success."""
    built = jupyter_book_html(ROOT, staging / "site", strict)
    final = BUILD_DIR / "html"
    old = BUILD_DIR / "html.previous"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    shutil.move(str(built), str(final))
    shutil.rmtree(old, ignore_errors=True)
    return final


def data_files_in_site(site: Path) -> list[Path]:
    """Files under ``site`` whose type holds tables (:data:`DATA_SUFFIXES`); the site must have none."""
    return sorted(p for p in Path(site).rglob("*") if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES))


def refuse_data_files(site: Path) -> None:
    """Raise :class:`BuildError` if the built site would publish a data file (the previous book is kept)."""
    found = data_files_in_site(site)
    if found:
        names = ", ".join(str(p.relative_to(site)) for p in found[:10])
        raise BuildError(f"refusing to publish data files in the site ({names}): the book publishes aggregates "
                         "only; remove the file from the pages (or from html_static_path) and build again. "
                         "The previous book is kept.")
