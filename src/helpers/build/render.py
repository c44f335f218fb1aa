"""Rendering the book with Jupyter Book (strict), refusing data files, and swapping the site into place."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

from helpers.build.toc import BuildError
from helpers.paths import BOOK_DIR, BUILD_DIR, ROOT


#: File types that hold patient-level tables: the built site must contain none (it publishes aggregates only).
DATA_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xls", ".sav", ".dta", ".sas7bdat", ".parquet", ".feather", ".rds",
                 ".rdata", ".json.gz")


def sphinx_jobs() -> int:
    """Sphinx's processes: ``HCC_SPHINX_JOBS`` (a whole number >= 1) if set, else the number of cores."""
    value = os.environ.get("HCC_SPHINX_JOBS", "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise BuildError(f"environment variable HCC_SPHINX_JOBS={value!r}: expected a whole number of processes, "
                         "1 or more (unset it for one per core); nothing was rendered and the previous book is kept")
    return int(value)


def jupyter_book_html(project: Path, path_output: Path | None = None, strict: bool = True) -> Path:
    """Run ``jupyter-book build`` on ``project`` (strict: warnings are errors) and return the HTML folder,
    refusing a site that contains a data file; raise :class:`BuildError` with the log's tail on failure."""
    jobs = sphinx_jobs()
    cmd = [sys.executable, "-m", "helpers.build._jupyter_book", str(jobs), "build", str(project)]
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
    prune_unreferenced_images(built)
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


#: Sphinx's working folder, kept between builds: its environment (``_build/.doctrees``) and its HTML output
#: (``_build/html``), so that a rebuild re-reads and re-writes only the pages whose source changed.
SPHINX_DIR = BUILD_DIR / "sphinx"


def environment_key(strict: bool) -> str:
    """What an incremental Sphinx build cannot follow by itself: the configuration, the table of contents, the
    list of the book's files (a page removed leaves its HTML behind), the static files and extensions, the
    pinned requirements and the strictness (a warning is only reported when its page is read). When the key
    changes, Sphinx starts from an empty folder."""
    import hashlib
    import json

    from helpers.build.stamp import _files

    h = hashlib.sha256(json.dumps({"strict": strict, "python": sys.version}).encode())
    names = sorted(str(p.relative_to(BOOK_DIR)) for p in _files(BOOK_DIR))
    h.update("\n".join(names).encode())
    for f in [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "requirements.txt",
              *_files(BOOK_DIR / "_static"), *_files(BOOK_DIR / "_ext")]:
        h.update(str(f.relative_to(ROOT)).encode() + b"\0" + (f.read_bytes() if f.exists() else b"<missing>"))
    return h.hexdigest()


#: A cross-document glue reference in a page (``{glue:text}`erhcc_hait_mp/audit.ipynb::verdict:s```).
_CROSS_GLUE = re.compile(r"([\w./-]+\.ipynb)::")


def refresh_cross_document_glue(changed: list[Path], book_dir: Path | None = None) -> list[Path]:
    """Pages that paste values from another page's notebook (the landing page's verdicts from the audit
    pages): Sphinx does not know they depend on it, so when such a notebook changed, the page's modification
    time is set to now and an incremental build reads it again. Returns those pages."""
    book_dir = Path(book_dir or BOOK_DIR)
    changed = {Path(p).resolve() for p in changed}
    touched = []
    if not changed:
        return touched
    for page in sorted(book_dir.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        if any((page.parent / ref).resolve() in changed for ref in _CROSS_GLUE.findall(text)):
            os.utime(page)
            touched.append(page)
    return touched


def render(staging: Path | None = None, strict: bool = True, log=print) -> Path:
    """Build the HTML with Jupyter Book, incrementally in :data:`SPHINX_DIR`, and on success copy it into
    ``_build/html`` (a new folder swapped in for the old one). A failure leaves ``_build/html`` untouched and
    empties :data:`SPHINX_DIR`, so the next build reads every page again (and reports every warning)."""
    key = environment_key(strict)
    key_file = SPHINX_DIR / "environment.key"
    if not key_file.exists() or key_file.read_text(encoding="utf-8") != key:
        if SPHINX_DIR.exists():
            log("  Sphinx starts afresh (configuration, table of contents, static files or the list of pages changed)")
        shutil.rmtree(SPHINX_DIR, ignore_errors=True)
    SPHINX_DIR.mkdir(parents=True, exist_ok=True)
    key_file.unlink(missing_ok=True)  # written again only after a successful build
    try:
        built = jupyter_book_html(ROOT, SPHINX_DIR, strict)
    except BuildError:
        shutil.rmtree(SPHINX_DIR, ignore_errors=True)
        raise
    final = BUILD_DIR / "html"
    new = BUILD_DIR / "html.new"
    old = BUILD_DIR / "html.previous"
    for folder in (new, old):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(built, new)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    key_file.write_text(key, encoding="utf-8")
    return final


#: The site's folders of files named by their content, which the pages link to (``book/_ext/book_site.py``):
#: figures and Word tables, and the tables' CSV downloads.
CONTENT_FOLDERS = ("_images", "_tables")


def prune_unreferenced_images(site: Path) -> list[Path]:
    """Delete the files of ``site/_images`` and ``site/_tables`` that no page links to, and return them.
    Sphinx's output folder is kept between builds, and these files are named by their content
    (``book/_ext/book_site.py``), so a figure or table that changed would otherwise leave its old file in the
    published site."""
    folders = [Path(site) / name for name in CONTENT_FOLDERS if (Path(site) / name).is_dir()]
    if not folders:
        return []
    linked: set[str] = set()
    for page in Path(site).rglob("*.html"):
        text = page.read_text(encoding="utf-8", errors="replace")
        linked.update(unquote(name) for name in re.findall(r"_(?:images|tables)/([^\"'?#)\s]+)", text))
    stale = [f for folder in folders for f in sorted(folder.iterdir()) if f.is_file() and f.name not in linked]
    for f in stale:
        f.unlink()
    return stale


#: ``_tables/<the first 20 hex digits of the SHA-256 of the file>.csv``: a table's CSV download as a page
#: shows it (aggregates), written by the site's build; the one kind of CSV file the pages may hold.
_TABLE_DOWNLOAD = re.compile(r"[0-9a-f]{20}\.csv")


def is_table_download(site: Path, path: Path) -> bool:
    """Whether ``path`` is a table's CSV download of the pages: in ``site/_tables/`` and named by the hash of
    its own content (a file copied there under any other name, e.g. a patient table, is not)."""
    path = Path(path)
    return (path.parent == Path(site) / "_tables" and bool(_TABLE_DOWNLOAD.fullmatch(path.name))
            and hashlib.sha256(path.read_bytes()).hexdigest()[:20] == path.stem)


def data_files_in_site(site: Path) -> list[Path]:
    """Files under ``site`` whose type holds tables (:data:`DATA_SUFFIXES`), other than the pages' table
    downloads (:func:`is_table_download`); the site must have none."""
    return sorted(p for p in Path(site).rglob("*") if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES)
                  and not is_table_download(site, p))


def refuse_data_files(site: Path) -> None:
    """Raise :class:`BuildError` if the built site would publish a data file (the previous book is kept)."""
    found = data_files_in_site(site)
    if found:
        names = ", ".join(str(p.relative_to(site)) for p in found[:10])
        raise BuildError(f"refusing to publish data files in the site ({names}): the book publishes aggregates "
                         "only; remove the file from the pages (or from html_static_path) and build again. "
                         "The previous book is kept.")
