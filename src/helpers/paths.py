"""Where things live in the repository.  Everything is relative to the project root."""
from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder holding ``_config.yml``).  ``HCC_BOOK_ROOT`` overrides it.
ROOT = Path(os.environ.get("HCC_BOOK_ROOT") or Path(__file__).resolve().parents[2])
STUDIES_DIR = ROOT / "data" / "studies"
NOTEBOOKS_DIR = ROOT / "notebooks"
BOOK_DIR = ROOT / "book"
BUILD_DIR = ROOT / "_build"
RESULTS_DIR = BUILD_DIR / "results"
