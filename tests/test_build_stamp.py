"""The no-op check (helpers.build.stamp) on a small tree: which changes make a build do work, and which part."""
from __future__ import annotations

import pytest

from helpers.build import stamp


@pytest.fixture
def tree(tmp_path, monkeypatch):
    root = tmp_path
    files = {
        "notebooks/survival.md": "# Survival\n",
        "src/helpers/stats/km.py": "x = 1\n",
        "data/studies/s1/study.yaml": "id: s1\n",
        "data/studies/s1/patients.csv": "id,arm\n1,A\n",
        "book/methods.md": "# Methods\n",
        "book/_static/book.css": "body {}\n",
        "_config.yml": "title: t\n",
        "_toc.yml": "root: book/index\n",
        "requirements.txt": "pandas==2\n",
        "benchmarks/README.md": "# Benchmarks\n",
        "book/s1/survival.ipynb": "{}",  # an output of the build
        "_build/results/s1/survival.csv": "a\n1\n",
        "_build/html/index.html": "<html></html>",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    for name, value in {"ROOT": root, "NOTEBOOKS_DIR": root / "notebooks", "HELPERS_DIR": root / "src" / "helpers",
                        "STUDIES_DIR": root / "data" / "studies", "BOOK_DIR": root / "book",
                        "BUILD_DIR": root / "_build", "STAMP": root / "_build" / "build-stamp.json"}.items():
        monkeypatch.setattr(stamp, name, value)
    return root


def test_a_stamped_build_is_up_to_date_until_an_input_or_output_changes(tree):
    notebooks = [tree / "book" / "s1" / "survival.ipynb"]
    inputs = stamp.inputs_digest({"strict": True})
    assert not stamp.up_to_date(inputs, notebooks)  # never built
    stamp.write_stamp(inputs, notebooks)
    assert stamp.up_to_date(stamp.inputs_digest({"strict": True}), notebooks)
    assert not stamp.up_to_date(stamp.inputs_digest({"strict": False}), notebooks)  # other options
    (tree / "book" / "s1" / "survival.ipynb").write_text('{"changed": 1}', encoding="utf-8")
    assert not stamp.up_to_date(inputs, notebooks)  # an output no longer as the build left it
    (tree / "book" / "s1" / "survival.ipynb").write_text("{}", encoding="utf-8")
    assert stamp.up_to_date(inputs, notebooks)
    (tree / "_build" / "html" / "index.html").unlink()
    assert not stamp.up_to_date(inputs, notebooks)  # no site


@pytest.mark.parametrize("name, part", [
    ("notebooks/survival.md", "analysis"), ("src/helpers/stats/km.py", "analysis"),
    ("data/studies/s1/patients.csv", "analysis"), ("data/studies/s1/study.yaml", "analysis"),
    ("_toc.yml", "analysis"), ("requirements.txt", "analysis"),
    ("book/methods.md", "pages"), ("book/_static/book.css", "pages"), ("_config.yml", "pages"),
    ("benchmarks/README.md", "pages"),
])
def test_each_input_changes_its_part_of_the_digest(tree, name, part):
    notebooks = [tree / "book" / "s1" / "survival.ipynb"]
    before = stamp.inputs_digest({"strict": True})
    stamp.write_stamp(before, notebooks)
    with open(tree / name, "a", encoding="utf-8") as f:
        f.write("# one more line\n")
    after = stamp.inputs_digest({"strict": True})
    other = "pages" if part == "analysis" else "analysis"
    assert after[part] != before[part] and after[other] == before[other]
    assert not stamp.up_to_date(after, notebooks)
    # a change to the pages only: the executed notebooks stand (render only); otherwise they do not
    assert stamp.analyses_up_to_date(after, notebooks) == (part == "pages")


def test_new_or_removed_files_count_and_caches_do_not(tree):
    before = stamp.inputs_digest({})
    (tree / "data" / "studies" / "s1" / "published.yaml").write_text("a: 1\n", encoding="utf-8")
    added = stamp.inputs_digest({})
    assert added["analysis"] != before["analysis"]
    (tree / "data" / "studies" / "s1" / "published.yaml").unlink()
    assert stamp.inputs_digest({}) == before
    (tree / "src" / "helpers" / "stats" / "__pycache__").mkdir()
    (tree / "src" / "helpers" / "stats" / "__pycache__" / "km.cpython-311.pyc").write_bytes(b"\0")
    (tree / "book" / "s1" / "other.ipynb").write_text("{}", encoding="utf-8")  # executed notebooks are outputs
    assert stamp.inputs_digest({}) == before


def test_a_page_pasting_from_a_changed_notebook_is_read_again(tmp_path):
    """The landing page glues the audit pages' verdicts ({glue:text}`study/audit.ipynb::key`): Sphinx does not
    see that dependency, so the build marks the page changed when such a notebook changed."""
    import os

    from helpers.build.render import refresh_cross_document_glue

    (tmp_path / "s1").mkdir()
    audit, other = tmp_path / "s1" / "audit.ipynb", tmp_path / "s1" / "survival.ipynb"
    for nb in (audit, other):
        nb.write_text("{}", encoding="utf-8")
    index, methods = tmp_path / "index.md", tmp_path / "methods.md"
    index.write_text("In all: {glue:text}`s1/audit.ipynb::verdict:s`.\n", encoding="utf-8")
    methods.write_text("No glue here; s1/audit.ipynb is named in prose only.\n", encoding="utf-8")
    for page in (index, methods):
        os.utime(page, (1_000_000, 1_000_000))
    assert refresh_cross_document_glue([other], tmp_path) == []
    assert index.stat().st_mtime == 1_000_000
    assert refresh_cross_document_glue([audit], tmp_path) == [index]
    assert index.stat().st_mtime > 1_000_000 and methods.stat().st_mtime == 1_000_000
