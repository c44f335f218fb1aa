"""The no-op check: has any input of the book changed since the last successful build?

A build's inputs are the files it reads: the notebook sources (``notebooks/``), the helper package
(``src/helpers``), every study's folder (``data/studies``: specs, patient tables, published numbers), the book's
pages, static files and extensions (``book/``, executed notebooks excepted: they are outputs), ``_config.yml``,
``_toc.yml``, the pinned requirements, ``benchmarks/README.md`` (included by the performance page), the
interpreter, and the build's options. :func:`inputs_digest` hashes their content (not their timestamps) in a
few tens of milliseconds, with nothing heavier than :mod:`hashlib` imported.

After a successful build :func:`write_stamp` records that digest and one of the outputs (the executed
notebooks in ``book/``, the results tables, the site's front page); :func:`up_to_date` is true when both still
match, so a build with nothing to do returns at once: no validation, no kernel, no Sphinx run, no copy.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from helpers.paths import BOOK_DIR, BUILD_DIR, NOTEBOOKS_DIR, ROOT, STUDIES_DIR

STAMP = BUILD_DIR / "build-stamp.json"
HELPERS_DIR = Path(__file__).resolve().parents[1]


def _files(folder: Path, skip_suffixes: tuple[str, ...] = ()) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".ipynb_checkpoints", "_build"))
        out += [Path(dirpath) / f for f in sorted(filenames) if not f.endswith((".pyc", *skip_suffixes))]
    return out


def analysis_files() -> list[Path]:
    """The files the notebooks' execution reads: notebook sources, helper package, study folders, TOC, pins."""
    return [*_files(NOTEBOOKS_DIR), *_files(HELPERS_DIR), *_files(STUDIES_DIR),
            ROOT / "_toc.yml", ROOT / "requirements.txt"]


def page_files() -> list[Path]:
    """The other files Sphinx reads: the book's pages, static files and extensions, configuration, and
    ``benchmarks/README.md`` (included by the performance page)."""
    return [*_files(BOOK_DIR, (".ipynb",)), ROOT / "_config.yml", ROOT / "benchmarks" / "README.md"]


def _digest(files: list[Path], extra: object = None) -> str:
    h = hashlib.sha256(json.dumps(extra, sort_keys=True, default=str).encode())
    for f in files:
        h.update(str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f).encode() + b"\0")
        try:
            data = f.read_bytes()
        except FileNotFoundError:
            data = b"<missing>"
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def inputs_digest(options: dict) -> dict:
    """SHA-256 of every input file's path and content, in two parts: what the notebooks' execution reads
    (``analysis``, with the interpreter) and what only Sphinx reads (``pages``, with ``options``)."""
    return {"analysis": _digest(analysis_files(), {"python": [sys.executable, sys.version]}),
            "pages": _digest(page_files(), {"options": options})}


def outputs_digest(notebooks: list[Path]) -> str:
    """SHA-256 of what the notebooks' execution leaves: the executed notebooks and the results tables."""
    return _digest([*notebooks, *_files(BUILD_DIR / "results")])


def _read() -> dict:
    try:
        return json.loads(STAMP.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def analyses_up_to_date(inputs: dict, notebooks: list[Path]) -> bool:
    """True if the last successful build executed the notebooks from these inputs and its executed notebooks
    and results are still as it left them: only the pages (prose, configuration) may have changed."""
    stamp = _read()
    return stamp.get("analysis") == inputs["analysis"] and stamp.get("outputs") == outputs_digest(notebooks)


def up_to_date(inputs: dict, notebooks: list[Path]) -> bool:
    """True if the last successful build had these inputs and its outputs are still as it left them."""
    return (_read().get("pages") == inputs["pages"] and (BUILD_DIR / "html" / "index.html").exists()
            and analyses_up_to_date(inputs, notebooks))


def write_stamp(inputs: dict, notebooks: list[Path]) -> None:
    STAMP.write_text(json.dumps({**inputs, "outputs": outputs_digest(notebooks)}, indent=1), encoding="utf-8")
