"""No patient-level data in the published site: canary identifiers and dates never reach it, and the build
refuses to publish data files."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from helpers.build.toc import BuildError
from helpers.build.render import data_files_in_site, refuse_data_files
from helpers.paths import ROOT
from helpers.study.spec import load_spec

CANARY_ID = "CANARY-ID-"
CANARY_DATE = "1899-12-"


def test_refuses_a_site_with_a_data_file(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "index.html").write_text("<p>ok</p>", encoding="utf-8")
    refuse_data_files(tmp_path)  # nothing to refuse
    (tmp_path / "_static" / "patients.CSV").write_text("id\n1\n", encoding="utf-8")
    (tmp_path / "extract.xlsx").write_bytes(b"PK")
    assert [p.name for p in data_files_in_site(tmp_path)] == ["patients.CSV", "extract.xlsx"]
    with pytest.raises(BuildError, match="refusing to publish data files"):
        refuse_data_files(tmp_path)


def test_private_data_folder_is_ignored_by_git():
    proc = subprocess.run(["git", "check-ignore", "-q", "data/private/patients.csv"], cwd=ROOT)
    if proc.returncode == 128:
        pytest.skip("not a git checkout")
    assert proc.returncode == 0


@pytest.mark.book
def test_canary_identifiers_and_dates_never_reach_the_site(tmp_path):
    """Build the whole book on patient tables whose ids and an extra date column are canaries, then search
    every file of the built site (HTML, downloadable notebooks, search index, images) for them."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "*.ipynb",
                                                               "__pycache__", ".pytest_cache"))
    for folder in sorted((repo / "data" / "studies").iterdir()):
        path = folder / "patients.csv"
        if not path.exists():
            continue
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        id_column = load_spec(folder / "study.yaml").id_column
        table[id_column] = [f"{CANARY_ID}{folder.name}-{i:04d}" for i in range(len(table))]
        table["date_of_birth"] = [f"{CANARY_DATE}{10 + i % 20}" for i in range(len(table))]
        table.to_csv(path, index=False)
    env = {**os.environ, "HCC_BOOK_ROOT": str(repo)}
    proc = subprocess.run([sys.executable, "-m", "helpers.build"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    site = repo / "_build" / "html"
    leaks = []
    for path in site.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaks += [f"{path.relative_to(site)}: {token}" for token in (CANARY_ID, CANARY_DATE)
                      if token.encode() in data]
    assert (site / "searchindex.js").exists() and any(site.rglob("*.ipynb"))  # the places a leak would hide
    assert leaks == []
