"""Sphinx reads and writes the book's pages in parallel (helpers.build._jupyter_book, helpers.build.render)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from helpers.paths import ROOT


def test_the_runner_passes_the_number_of_processes_to_sphinx(tmp_path):
    """``python -m helpers.build._jupyter_book 3 build ...`` is the jupyter-book command with jobs=3 reaching
    jupyter_book.sphinx.build_sphinx (checked in a child process whose build_sphinx only records its call)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sys, json\n"
        "import jupyter_book.sphinx as s\n"
        "def record(src, out, **kw):\n"
        "    print(json.dumps({'jobs': kw.get('jobs'), 'src': str(src)}))\n"
        "    return 0\n"
        "s.build_sphinx = record\n"
        "from helpers.build._jupyter_book import main\n"
        "main(sys.argv[1:])\n", encoding="utf-8")
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text("title: t\n", encoding="utf-8")
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\n", encoding="utf-8")
    (book / "index.md").write_text("# Index\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(probe), "3", "build", str(book)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"jobs": 3' in proc.stdout and str(book) in proc.stdout


def test_no_extension_of_the_book_forces_a_serial_sphinx_build():
    """Jupyter Book's LaTeX extension is not loaded (it does not declare itself parallel-safe), the book numbers
    no toctree, and book_site declares sphinx-multitoc-numbering (which sphinx-external-toc always loads)
    parallel-safe: the strict build would fail on Sphinx's "doing serial read" warning otherwise."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["latex"]["use_jupyterbook_latex"] is False
    assert config["html"]["use_multitoc_numbering"] is False
    assert "numbered" not in (ROOT / "_toc.yml").read_text(encoding="utf-8")
    site = (ROOT / "book" / "_ext" / "book_site.py").read_text(encoding="utf-8")
    assert "_declare_multitoc_numbering_parallel_safe" in site


def test_book_site_marks_multitoc_numbering_parallel_safe():
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("book_site", ROOT / "book" / "_ext" / "book_site.py")
    site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(site)
    extension = SimpleNamespace(parallel_read_safe=None, parallel_write_safe=None)
    site._declare_multitoc_numbering_parallel_safe(SimpleNamespace(extensions={"sphinx_multitoc_numbering": extension}))
    assert extension.parallel_read_safe is True and extension.parallel_write_safe is True
    site._declare_multitoc_numbering_parallel_safe(SimpleNamespace(extensions={}))  # absent: nothing to do
    assert Path(spec.origin).exists()



def test_sphinx_jobs_refuses_a_bad_number(monkeypatch):
    import pytest

    from helpers.build.render import sphinx_jobs
    from helpers.build.toc import BuildError

    monkeypatch.setenv("HCC_SPHINX_JOBS", "3")
    assert sphinx_jobs() == 3
    monkeypatch.delenv("HCC_SPHINX_JOBS")
    assert sphinx_jobs() >= 1
    for bad in ("two", "0", "-1", "1.5"):
        monkeypatch.setenv("HCC_SPHINX_JOBS", bad)
        with pytest.raises(BuildError, match=r"HCC_SPHINX_JOBS=.*expected a whole number"):
            sphinx_jobs()
