"""No patient-level data in the published site: canary identifiers and dates never reach it, and the build
refuses to publish data files."""
from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

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


def test_a_table_download_is_allowed_only_under_the_hash_of_its_content(tmp_path):
    """The pages' CSV downloads are files of _tables/ named by the SHA-256 of their content (the site's build
    writes them so); a file placed there under any other name, or elsewhere, is still refused."""
    import hashlib

    tables = tmp_path / "_tables"
    tables.mkdir()
    text = b"Arm,n\nA,51\n"
    named = tables / f"{hashlib.sha256(text).hexdigest()[:20]}.csv"
    named.write_bytes(text)
    refuse_data_files(tmp_path)  # a table download: allowed
    (tables / f"{'0' * 20}.csv").write_bytes(text)  # right form of name, wrong hash
    (tables / "patients.csv").write_bytes(text)
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / named.name).write_bytes(text)  # right name, wrong folder
    assert [p.relative_to(tmp_path).as_posix() for p in data_files_in_site(tmp_path)] == [
        f"_images/{named.name}", f"_tables/{'0' * 20}.csv", "_tables/patients.csv"]
    named.write_bytes(text + b"B,50\n")  # edited after it was named
    assert named in data_files_in_site(tmp_path)


def test_private_data_folder_is_ignored_by_git():
    proc = subprocess.run(["git", "check-ignore", "-q", "data/private/patients.csv"], cwd=ROOT)
    if proc.returncode == 128:
        pytest.skip("not a git checkout")
    assert proc.returncode == 0


DATA_URI = re.compile(rb"data:[^,'\"\s]*;base64,([A-Za-z0-9+/=]+)")  # with parameters: ;charset=utf-8


def readable_contents(path: Path) -> list[tuple[str, bytes]]:
    """The file's bytes, and what they hide from a plain search: the decoded payload of every base64 data URI
    (a page's CSV downloads) and every member of a zip (a Word table)."""
    data = path.read_bytes()
    out = [("", data)]
    out += [(f" (data URI {k})", base64.b64decode(m.group(1))) for k, m in enumerate(DATA_URI.finditer(data))]
    for where, blob in list(out):
        if blob[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(blob)) as package:
                out += [(f"{where} [{name}]", package.read(name)) for name in package.namelist()]
    return out


def test_the_leak_search_reads_data_uris_and_word_tables(tmp_path):
    from helpers.report.docx import MIME, table_docx

    word = table_docx(pd.DataFrame({"id": [f"{CANARY_ID}7"]}), index=False)
    csv = base64.b64encode(f"id\n{CANARY_DATE}01\n".encode()).decode()
    page = tmp_path / "page.html"
    page.write_text(f"<a href='data:text/csv;charset=utf-8;base64,{csv}'>CSV</a>", encoding="utf-8")
    (tmp_path / "t.docx").write_bytes(word)
    assert CANARY_DATE.encode() not in page.read_bytes() and CANARY_ID.encode() not in word  # hidden from grep
    assert any(CANARY_DATE.encode() in data for _, data in readable_contents(page))
    assert any(CANARY_ID.encode() in data for _, data in readable_contents(tmp_path / "t.docx"))
    uri = page.with_name("word.html")
    uri.write_text(f"<a href='data:{MIME};base64,{base64.b64encode(word).decode()}'>Word</a>", encoding="utf-8")
    assert any(CANARY_ID.encode() in data for _, data in readable_contents(uri))


@pytest.mark.book
def test_canary_identifiers_and_dates_never_reach_the_site(tmp_path):
    """Build the whole book on patient tables whose ids and an extra date column are canaries, then search
    every file of the built site (HTML, downloadable notebooks, search index, images, Word tables, the pages'
    CSV downloads, and any data URI left in a page or notebook) for them."""
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
            for where, data in readable_contents(path):
                leaks += [f"{path.relative_to(site)}{where}: {token}" for token in (CANARY_ID, CANARY_DATE)
                          if token.encode() in data]
    assert (site / "searchindex.js").exists() and any(site.rglob("*.ipynb"))  # the places a leak would hide
    assert len(list((site / "_tables").glob("*.csv"))) >= 100  # every table's CSV download is searched
    assert leaks == []
