"""The whole book: a strict build from the notebooks, and bad input that must leave the old book intact."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers.build.toc import chapter_runs
from helpers.paths import ROOT
from helpers.study.published import load_published


def run_build(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HCC_BOOK_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "helpers.build", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1800)


def test_toc_names_a_cohorts_chapter_per_study():
    runs = {(r.study_id, r.chapter) for r in chapter_runs()}
    assert {("erhcc_hait_mp", "cohorts"), ("haic_after_ab", "cohorts")} <= runs


def test_audit_pages_run_after_every_chapter_they_read():
    order = [r.chapter for r in chapter_runs()]
    audits = [i for i, c in enumerate(order) if c == "audit"]
    with_published = [s for s in ("erhcc_hait_mp", "haic_after_ab", "veteran")
                      if (ROOT / "data" / "studies" / s / "published.yaml").exists()]
    assert len(audits) == len(with_published) == 3
    assert audits == list(range(len(order) - len(audits), len(order)))  # the last stage


@pytest.mark.book
def test_strict_build_of_the_whole_book():
    proc = run_build(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = ROOT / "_build" / "html"
    for study in ("erhcc_hait_mp", "haic_after_ab"):
        page = (html / "book" / study / "cohorts.html").read_text(encoding="utf-8")
        assert "Synthetic data" in page
        assert "Table 1." in page
        assert "injected-parameters" not in page and "study_id = " not in page  # parameter cells are hidden
        results = ROOT / "_build" / "results" / study / "cohorts.csv"
        header = results.read_text(encoding="utf-8").splitlines()[0]
        assert header == "study,cohort,section,analysis,variable,level,group,stat,value"
    assert "Propensity scores by arm" in (html / "book" / "erhcc_hait_mp" / "cohorts.html").read_text(encoding="utf-8")
    # a figure cell shows its figure and caption only, not show_figure's return value (the figure number)
    import nbformat

    for executed in sorted((ROOT / "book").glob("*/*.ipynb")):
        for cell in nbformat.read(executed, as_version=4).cells:
            if cell.cell_type == "code" and "show_figure(" in cell.source:
                assert not [o for o in cell.outputs if o.output_type == "execute_result"], executed
    # the landing page's verdicts are pasted from the audit pages, whose counts are in the results table
    index = (html / "book" / "index.html").read_text(encoding="utf-8")
    for study in ("erhcc_hait_mp", "haic_after_ab"):
        audit = pd.read_csv(ROOT / "_build" / "results" / study / "audit.csv")
        totals = audit[audit["variable"] == "all"].set_index("level")["value"].astype(int)
        n_published = len(load_published(ROOT / "data" / "studies" / study / "published.yaml"))
        assert totals.sum() == n_published  # every published number is classified
        sentence = (f"{totals['reproduced']} of {n_published} published numbers reproduced, {totals['close']} close, "
                    f"{totals['differs']} differ, {totals['not reproducible']} not reproducible")
        assert sentence in index
        assert sentence in (html / "book" / study / "audit.html").read_text(encoding="utf-8")
    # the worked example: real public data, no matching; its published.yaml holds R's numbers, all reproduced
    for chapter in ("cohorts", "survival", "subgroups"):
        page = (html / "book" / "veteran" / f"{chapter}.html").read_text(encoding="utf-8")
        assert "Real patient data." in page and "Synthetic data" not in page
        if chapter != "subgroups":  # published.yaml has no subgroup numbers
            assert re.search(r"<strong>(\d+) of \1</strong> published numbers compared here are reproduced", page), chapter
    assert "4 problem(s) in the patient table" in (html / "book" / "own_data.html").read_text(encoding="utf-8")


@pytest.fixture
def repo_copy(tmp_path):
    dest = tmp_path / "repo"
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "*.ipynb", "__pycache__"))
    (dest / "_build" / "html").mkdir(parents=True)
    (dest / "_build" / "html" / "index.html").write_text("previous book", encoding="utf-8")
    return dest


def test_bad_patient_table_stops_the_build_and_keeps_the_old_book(repo_copy):
    csv = repo_copy / "data" / "studies" / "haic_after_ab" / "patients.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    fields = lines[3].split(",")
    fields[header.index("arm")] = "placebo"
    lines[3] = ",".join(fields)
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_build(repo_copy)
    assert proc.returncode == 2
    assert f"{csv}: row 4, column 'arm': unknown arm 'placebo'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (repo_copy / "_build" / "html" / "index.html").read_text(encoding="utf-8") == "previous book"


def test_bad_spec_stops_the_build(repo_copy):
    spec = repo_copy / "data" / "studies" / "erhcc_hait_mp" / "study.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("reference: HAIT", "reference: HAIT-X"), encoding="utf-8")
    proc = run_build(repo_copy, "--validate-only")
    assert proc.returncode == 2
    assert "arm.reference: 'HAIT-X' is not one of" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_set_without_output_is_refused_and_assignments_parse():
    from helpers.build.toc import BuildError
    from helpers.build.pipeline import main, parse_assignments

    assert main(["--set", "match_caliper=0.2"]) == 2  # would overwrite the default book
    assert parse_assignments(["match_caliper=0.2", "landmarks=[6, 12]", "test=fisher", "patients_file="]) == {
        "match_caliper": 0.2, "landmarks": [6, 12], "test": "fisher", "patients_file": None}
    with pytest.raises(BuildError, match="NAME=VALUE"):
        parse_assignments(["caliper 0.2"])


@pytest.mark.book
def test_rerun_with_new_parameters_writes_a_separate_book(tmp_path):
    """The documented re-run command: a wider caliper, without touching the default book."""
    from helpers.build.pipeline import main

    out = tmp_path / "caliper02"
    assert main(["--output", str(out), "--set", "match_caliper=0.2"]) == 0
    assert (out / "html" / "index.html").exists()
    psm = pd.read_csv(out / "results" / "erhcc_hait_mp" / "cohorts.csv")
    caliper = psm[(psm.analysis == "psm") & (psm.variable == "caliper_width")]["value"].iloc[0]
    assert caliper == 0.2


@pytest.mark.book
def test_plain_papermill_on_a_chapter_as_the_readme_shows(tmp_path):
    """The README's single-chapter re-run: jupytext to .ipynb, then the papermill CLI with -p parameters."""
    bin_dir = Path(sys.executable).parent
    source = tmp_path / "cohorts.ipynb"
    out = tmp_path / "cohorts-caliper02.ipynb"
    subprocess.run([str(bin_dir / "jupytext"), "--to", "ipynb", "--set-kernel", "python3",
                    str(ROOT / "notebooks" / "cohorts.md"), "-o", str(source)], check=True, capture_output=True)
    proc = subprocess.run([str(bin_dir / "papermill"), str(source), str(out), "-p", "study_id", "erhcc_hait_mp",
                           "-p", "match_caliper", "0.2", "-p", "results_dir", str(tmp_path / "results")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    psm = pd.read_csv(tmp_path / "results" / "erhcc_hait_mp" / "cohorts.csv")
    caliper = psm[(psm.analysis == "psm") & (psm.variable == "caliper_width")]["value"].iloc[0]
    assert caliper == 0.2
    assert "match_caliper = 0.2" in out.read_text(encoding="utf-8")  # papermill's injected-parameters cell


def test_content_key_follows_content_not_location(tmp_path):
    from helpers.build.toc import ChapterRun
    from helpers.build.execute import content_key

    run = ChapterRun("erhcc_hait_mp", "cohorts")
    base = {"study_id": "erhcc_hait_mp", "results_dir": "_build/a"}
    key = content_key(run, base)
    assert content_key(run, {**base, "results_dir": "/elsewhere"}) == key  # where results go is not content
    assert content_key(run, {**base, "match_caliper": 0.2}) != key
    assert content_key(ChapterRun("haic_after_ab", "cohorts"), {**base, "study_id": "haic_after_ab"}) != key
    extra = tmp_path / "results.csv"
    extra.write_text("a\n1\n", encoding="utf-8")
    with_extra = content_key(run, base, [extra])
    assert with_extra != key
    extra.write_text("a\n2\n", encoding="utf-8")  # same file, new content
    assert content_key(run, base, [extra]) != with_extra


@pytest.mark.book
def test_rebuild_reuses_unchanged_notebooks_and_reexecutes_changed_ones(repo_copy):
    """Cold build; no-op rebuild (nothing validated, executed or rendered); a prose edit (Sphinx re-reads that
    page only); a page that fails the strict build (the published book is kept); then a change to one study's
    data re-executes only that study's chapters (and the audit pages only if their inputs changed)."""
    cold = run_build(repo_copy)
    assert cold.returncode == 0, cold.stdout[-2000:] + cold.stderr[-2000:]
    n_runs = cold.stdout.count("  executed ")
    assert n_runs >= 14
    again = run_build(repo_copy)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "book up to date: no input changed since the last build" in again.stdout
    for work in ("validating ", "executing ", "  executed ", "rendering the book"):
        assert work not in again.stdout
    # a prose edit: no validation, no notebook, and Sphinx reads the edited page only
    doctrees = repo_copy / "_build" / "sphinx" / "_build" / ".doctrees"
    before = {p: p.stat().st_mtime_ns for p in doctrees.rglob("*.doctree")}
    assert len(before) > n_runs
    methods = repo_copy / "book" / "methods.md"
    text = methods.read_text(encoding="utf-8")
    methods.write_text(text.replace("\n\n", "\n\nA sentence added by the test.\n\n", 1), encoding="utf-8")
    prose = run_build(repo_copy)
    assert prose.returncode == 0, prose.stdout[-2000:] + prose.stderr[-2000:]
    assert "only the book's pages or configuration changed" in prose.stdout
    assert "validating " not in prose.stdout and "  executed " not in prose.stdout
    reread = sorted(p.relative_to(doctrees).as_posix() for p in before if p.stat().st_mtime_ns != before[p])
    assert reread == ["book/methods.doctree"]
    page = repo_copy / "_build" / "html" / "book" / "methods.html"
    assert "A sentence added by the test." in page.read_text(encoding="utf-8")
    # a page that breaks the strict build: the published book stays as it was, and so does the stamp
    published = page.read_bytes()
    methods.write_text(text + "\nSee {ref}`no-such-label-anywhere`.\n", encoding="utf-8")
    broken = run_build(repo_copy)
    assert broken.returncode == 1 and "jupyter-book build failed" in broken.stderr
    assert page.read_bytes() == published
    methods.write_text(text, encoding="utf-8")
    fixed = run_build(repo_copy)
    assert fixed.returncode == 0, fixed.stdout[-2000:] + fixed.stderr[-2000:]
    assert "  executed " not in fixed.stdout
    assert "A sentence added by the test." not in page.read_text(encoding="utf-8")
    spec = repo_copy / "data" / "studies" / "veteran" / "study.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "\n# a changed comment is changed content\n",
                    encoding="utf-8")
    changed = run_build(repo_copy)
    assert changed.returncode == 0
    executed = sorted(line.split()[1] for line in changed.stdout.splitlines() if line.startswith("  executed "))
    # The audit and the checklist read the spec themselves (published numbers and key claims; design, time zero),
    # so a changed spec re-runs them too; no other study's page runs.
    assert executed == ["veteran/audit", "veteran/checklist", "veteran/cohorts", "veteran/subgroups",
                        "veteran/survival"]
