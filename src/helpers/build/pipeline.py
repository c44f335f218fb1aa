"""Build the book: validate every study, execute the notebooks with papermill, build the HTML strictly.

``python -m helpers.build`` (``make book``) does, in order, and stops at the first failing stage:

1. **validate** every study named in ``_toc.yml`` (spec and patient table); all problems are printed with
   file, row and column, and the exit code is 2 (``--validate-only --patients STUDY=FILE`` checks a study's
   spec against another patient table, e.g. your own CSV or Excel file);
2. **execute** ``notebooks/<chapter>.md`` (jupytext) once per ``book/<study>/<chapter>`` entry of ``_toc.yml``
   with papermill into a staging folder, independent notebooks in parallel (``--jobs``; the audit pages
   after the chapters they read), skipping a notebook whose source, parameters, helper code, requirements
   and study data are unchanged since its last successful execution (content hashes in ``_build/cache``;
   ``--no-cache`` executes all); only when every notebook succeeded are they moved into ``book/`` and the
   analysis-results CSVs into ``_build/results/``; timings go to ``_build/timings.json``;
3. **render** the book with ``jupyter-book build -W -n --keep-going`` into a staging folder, refuse it if it
   contains a data file (``.csv``, ``.xlsx``, ...: the site publishes aggregates only), then swap it into
   ``_build/html``.

A failure at any stage leaves the previously built book (``_build/html``) untouched.  Which notebooks run
is read from ``_toc.yml``: adding a study is a folder under ``data/studies`` plus its lines in the TOC.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from helpers.paths import BOOK_DIR, BUILD_DIR, NOTEBOOKS_DIR, ROOT, STUDIES_DIR
from helpers.study.patients import DataValidationError, load_patients
from helpers.study.spec import SpecError, load_spec


#: Notebooks that read the other chapters' analysis results (the audit): executed after all other chapters.
READS_OTHER_RESULTS = ("audit",)


#: File types that hold patient-level tables: the built site must contain none (it publishes aggregates only).
DATA_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xls", ".sav", ".dta", ".sas7bdat", ".parquet", ".feather", ".rds",
                 ".rdata", ".json.gz")


class BuildError(RuntimeError):
    """A build stage failed; the message says which and why."""


@dataclass(frozen=True)
class ChapterRun:
    """One executed page: ``book/<study_id>/<chapter>.ipynb`` from ``notebooks/<notebook>.md``.

    A page named ``<notebook>_<cohort>`` (e.g. ``survival_matched``) runs ``notebooks/<notebook>.md`` with the
    parameter ``cohort = "<cohort>"``; a page named after its notebook runs it with the notebook's defaults.
    """

    study_id: str
    chapter: str
    notebook: str = ""
    parameters: tuple = ()

    @property
    def source(self) -> Path:
        return NOTEBOOKS_DIR / f"{self.notebook or self.chapter}.md"

    @property
    def target(self) -> Path:
        return BOOK_DIR / self.study_id / f"{self.chapter}.ipynb"


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every ``file:`` entry of the table of contents, in order."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(str(node["file"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    found.append(str(toc.get("root")))
    walk({k: v for k, v in toc.items() if k != "root"})
    return found


def chapter_runs(toc_path: Path = ROOT / "_toc.yml") -> list[ChapterRun]:
    """The (study, chapter) notebooks to execute: TOC entries ``book/<study>/<chapter>`` with a notebook source."""
    runs = []
    for entry in toc_files(toc_path):
        parts = Path(entry).with_suffix("").parts
        if len(parts) == 3 and parts[0] == "book" and (STUDIES_DIR / parts[1] / "study.yaml").exists():
            run = ChapterRun(parts[1], parts[2])
            if not run.source.exists() and "_" in parts[2]:
                notebook, variant = parts[2].rsplit("_", 1)
                run = ChapterRun(parts[1], parts[2], notebook, (("cohort", variant),))
            if not run.source.exists():
                raise BuildError(f"_toc.yml lists {entry}, but there is no notebook source {run.source}")
            runs.append(run)
    # stable sort: the audit pages run last, after every chapter whose results they read
    return sorted(runs, key=lambda r: (r.notebook or r.chapter) in READS_OTHER_RESULTS)


def study_pages(study_id: str, toc_path: Path = ROOT / "_toc.yml") -> dict[str, str]:
    """The executed pages of one study in TOC order with their titles (``{"survival": "Survival", ...}``)."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    titles: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            parts = Path(str(node["file"])).with_suffix("").parts if "file" in node else ()
            if len(parts) == 3 and parts[0] == "book" and parts[1] == study_id:
                titles[parts[2]] = str(node.get("title") or parts[2].replace("_", " ").capitalize())
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    return titles


def validate(study_ids: list[str], patients_files: dict[str, str] | None = None) -> list[str]:
    """Validate each study's spec and patient table; return the error messages (empty when all is well)."""
    errors = []
    for study_id in study_ids:
        try:
            spec = load_spec(study_id)
            load_patients(spec, (patients_files or {}).get(study_id))
        except (SpecError, DataValidationError, FileNotFoundError) as exc:
            errors.append(str(exc))
    return errors


def notebook_from_source(source: Path):
    """Read a jupytext notebook and give it the kernel papermill needs (papermill cannot read .md itself)."""
    import jupytext

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def hide_injected_parameters(nb) -> None:
    """papermill's injected-parameters cell must not show in the book."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]


HELPERS_DIR = Path(__file__).resolve().parents[1]  # the whole helpers package


def default_jobs() -> int:
    """Notebooks executed at once: ``BOOK_JOBS`` if set, else the number of CPU cores."""
    return max(1, int(os.environ.get("BOOK_JOBS") or os.cpu_count() or 1))


def content_key(run: ChapterRun, params: dict, extra_files: list[Path] = ()) -> str:
    """SHA-256 of everything an executed chapter depends on: its notebook source, its parameters (not where
    it writes), the helper package, the study's data folder, the pinned requirements, and ``extra_files``
    (for the audit: the other chapters' results and the TOC). Content, not timestamps."""
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in params.items() if k != "results_dir"}, sort_keys=True,
                        default=str).encode())
    files = [run.source, ROOT / "requirements.txt", *sorted(HELPERS_DIR.rglob("*.py")),
             *sorted(p for p in (STUDIES_DIR / run.study_id).rglob("*") if p.is_file()), *extra_files]
    if params.get("patients_file"):
        files.append(Path(params["patients_file"]))
    for f in files:
        f = Path(f)
        h.update(str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f).encode() + b"\0")
        h.update(f.read_bytes() if f.exists() else b"<missing>")
    return h.hexdigest()


def _execute_notebook(source_nb: str, out_nb: str, params: dict) -> dict:
    """Execute one notebook with papermill (in a worker process); return its timings in seconds."""
    import nbformat
    import papermill

    start = time.perf_counter()
    try:
        papermill.execute_notebook(source_nb, out_nb, parameters=params, cwd=str(ROOT), kernel_name="python3",
                                   progress_bar=False, log_output=False)
    except papermill.PapermillExecutionError as exc:
        raise BuildError(f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}") from None
    wall = time.perf_counter() - start
    nb = nbformat.read(out_nb, as_version=4)
    hide_injected_parameters(nb)
    nbformat.write(nb, out_nb)
    setup = analysis = 0.0
    for cell in nb.cells:
        seconds = float(cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
        tags = cell.get("metadata", {}).get("tags", [])
        if "remove-cell" in tags or "parameters" in tags or "injected-parameters" in tags:
            setup += seconds  # imports, loading and validating the data
        else:
            analysis += seconds
    return {"wall": wall, "kernel_and_overhead": max(0.0, wall - setup - analysis), "setup_cells": setup,
            "analysis_cells": analysis}


@dataclass
class _Task:
    run: ChapterRun
    params: dict
    results_dir: Path
    key: str


def execute(runs: list[ChapterRun], staging: Path, parameters: dict | None = None, log=print,
            cache_dir: Path | None = None, jobs: int | None = None, reuse: bool = True) -> dict:
    """Execute every chapter into ``staging`` (notebooks in ``staging/book``, results in ``staging/results``).

    Independent chapters run in parallel (``jobs`` processes); the audit pages run after the chapters whose
    results they read. With ``cache_dir``, a chapter whose :func:`content_key` equals that of its last
    successful execution is not executed again: its notebook and results are reused (with ``reuse=False``
    everything is executed and the cache refreshed). Raises
    :class:`BuildError` naming the first chapter that fails. Returns the timings of every chapter.
    """
    import nbformat

    jobs = jobs or default_jobs()
    timings: dict[str, dict] = {}
    regular = [r for r in runs if (r.notebook or r.chapter) not in READS_OTHER_RESULTS]
    aggregates = [r for r in runs if (r.notebook or r.chapter) in READS_OTHER_RESULTS]
    for stage in (regular, aggregates):
        tasks = []
        for run in stage:
            own = staging / "run_results" / f"{run.study_id}__{run.chapter}"
            shutil.rmtree(own, ignore_errors=True)
            (own / run.study_id).mkdir(parents=True)
            extra: list[Path] = []
            if stage is aggregates:  # it reads the study's other results: give it a copy, and hash them
                for f in sorted((staging / "results" / run.study_id).glob("*.csv")):
                    shutil.copy2(f, own / run.study_id / f.name)
                extra = [*sorted((own / run.study_id).glob("*.csv")), ROOT / "_toc.yml"]
            rel = own.relative_to(ROOT) if own.is_relative_to(ROOT) else own
            params = {"study_id": run.study_id, "results_dir": str(rel), **dict(run.parameters),
                      **(parameters or {})}
            tasks.append(_Task(run, params, own, content_key(run, params, extra)))
        todo = []
        for task in tasks:
            name = f"{task.run.study_id}/{task.run.chapter}"
            if cache_dir is not None and reuse and _restore_from_cache(task, staging, cache_dir):
                timings[name] = {"reused": True}
                log(f"  {name}: unchanged since its last execution, reused")
            else:
                todo.append(task)
        # spawn, not fork: the caller may have threads (a test server), and a forked lock would hang
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, max(1, len(todo))),
                                                    mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {}
            for task in todo:
                source_nb = staging / "sources" / task.run.study_id / f"{task.run.chapter}.ipynb"
                out_nb = staging / "book" / task.run.study_id / f"{task.run.chapter}.ipynb"
                source_nb.parent.mkdir(parents=True, exist_ok=True)
                out_nb.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook_from_source(task.run.source), source_nb)
                futures[pool.submit(_execute_notebook, str(source_nb), str(out_nb), task.params)] = task
            failure = None
            for future in concurrent.futures.as_completed(futures):
                task = futures[future]
                name = f"{task.run.study_id}/{task.run.chapter}"
                try:
                    timings[name] = future.result()
                except BuildError as exc:
                    out_nb = staging / "book" / task.run.study_id / f"{task.run.chapter}.ipynb"
                    failure = failure or BuildError(
                        f"notebook {task.run.source.name} failed for study '{task.run.study_id}' ({exc})\n"
                        f"  the executed notebook with the traceback is at {out_nb}")
                    continue
                log(f"  executed {name} in {timings[name]['wall']:.1f} s")
                if cache_dir is not None:
                    _store_in_cache(task, staging, cache_dir)
            if failure is not None:
                raise failure
        for task in tasks:  # every chapter's results, in one place for the next stage and for publishing
            dest = staging / "results" / task.run.study_id
            dest.mkdir(parents=True, exist_ok=True)
            for f in (task.results_dir / task.run.study_id).glob("*.csv"):
                if stage is regular or not (dest / f.name).exists():
                    shutil.copy2(f, dest / f.name)
    return timings


def _cache_folder(task: _Task, cache_dir: Path) -> Path:
    return Path(cache_dir) / task.run.study_id / task.run.chapter


def _restore_from_cache(task: _Task, staging: Path, cache_dir: Path) -> bool:
    folder = _cache_folder(task, cache_dir)
    if not (folder / "key").exists() or (folder / "key").read_text() != task.key:
        return False
    out_nb = staging / "book" / task.run.study_id / f"{task.run.chapter}.ipynb"
    out_nb.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(folder / "notebook.ipynb", out_nb)
    for f in (folder / "results").glob("*.csv"):
        shutil.copy2(f, task.results_dir / task.run.study_id / f.name)
    return True


def _store_in_cache(task: _Task, staging: Path, cache_dir: Path) -> None:
    """Keep the executed notebook and the results it wrote, under the content key (written last)."""
    folder = _cache_folder(task, cache_dir)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "results").mkdir(parents=True)
    shutil.copy2(staging / "book" / task.run.study_id / f"{task.run.chapter}.ipynb", folder / "notebook.ipynb")
    written = task.results_dir / task.run.study_id
    inputs = {f.name for f in (staging / "results" / task.run.study_id).glob("*.csv")} \
        if (task.run.notebook or task.run.chapter) in READS_OTHER_RESULTS else set()
    for f in written.glob("*.csv"):
        if f.name not in inputs:
            shutil.copy2(f, folder / "results" / f.name)
    (folder / "key").write_text(task.key)


def publish_executed(runs: list[ChapterRun], staging: Path) -> None:
    """Move executed notebooks into book/ and results into _build/results (only after all succeeded)."""
    for run in runs:
        run.target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(staging / "book" / run.study_id / f"{run.chapter}.ipynb", run.target)
    results = BUILD_DIR / "results"
    for study_dir in sorted((staging / "results").glob("*")):
        dest = results / study_dir.name
        dest.mkdir(parents=True, exist_ok=True)
        for f in study_dir.glob("*.csv"):
            shutil.copy2(f, dest / f.name)


def jupyter_book_html(project: Path, path_output: Path | None = None, strict: bool = True) -> Path:
    """Run ``jupyter-book build`` on ``project`` (strict: warnings are errors) and return the HTML folder,
    refusing a site that contains a data file; raise :class:`BuildError` with the log's tail on failure."""
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb if jb.exists() else "jupyter-book"), "build", str(project)]
    if path_output is not None:
        cmd += ["--path-output", str(path_output)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
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


def parse_assignments(items: list[str]) -> dict:
    """``["match_caliper=0.2", "landmarks=[6, 12]"]`` -> parameters; values are read as YAML (0.2, [6, 12], null)."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise BuildError(f"--set expects NAME=VALUE (a notebook parameter), got {item!r}")
        out[name.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def build_run(output: Path, parameters: dict, strict: bool = True, log=print) -> int:
    """Re-run the whole book with changed parameters into ``output`` (``output/html``, ``output/results``).

    The default book (``book/``, ``_build/html``) is not touched: the book's pages and configuration are
    copied into ``output/project`` and the notebooks executed there. Parameters a notebook does not declare
    are ignored by it (papermill only warns).
    """
    runs = chapter_runs()
    studies = sorted({r.study_id for r in runs})
    errors = validate(studies)
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        return 2
    output = Path(output).resolve()
    project = output / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(BOOK_DIR, project / "book", ignore=shutil.ignore_patterns("*.ipynb"))
    # pages may include study files (book/own_data.md shows data/studies/veteran/study.yaml); data/private is
    # deliberately not copied
    shutil.copytree(STUDIES_DIR, project / "data" / "studies")
    # book/performance.md includes the benchmark tables
    (project / "benchmarks").mkdir()
    shutil.copy2(ROOT / "benchmarks" / "README.md", project / "benchmarks" / "README.md")
    staging = output / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        log(f"executing {len(runs)} notebooks with {parameters}")
        execute(runs, staging, parameters=parameters, log=log)
        for run in runs:
            target = project / "book" / run.study_id / f"{run.chapter}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(staging / "book" / run.study_id / f"{run.chapter}.ipynb", target)
        shutil.rmtree(output / "results", ignore_errors=True)
        shutil.copytree(staging / "results", output / "results")
        built = jupyter_book_html(project, strict=strict)
        shutil.rmtree(output / "html", ignore_errors=True)
        shutil.move(str(built), str(output / "html"))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shutil.rmtree(staging, ignore_errors=True)
    log(f"book built with changed parameters: {output / 'html' / 'index.html'} (the default book is untouched)")
    return 0


def build(validate_only: bool = False, strict: bool = True, log=print,
          patients_files: dict[str, str] | None = None, jobs: int | None = None, use_cache: bool = True) -> int:
    """Validate, execute and render.  ``patients_files`` (study id -> file; validation only) checks those
    studies' specs against other patient tables, e.g. your own CSV or Excel file, instead of the spec's."""
    runs = chapter_runs()
    studies = sorted({r.study_id for r in runs})
    if patients_files:
        if not validate_only:
            print("error: --patients only works with --validate-only; to run a chapter on another table use "
                  "papermill's patients_file parameter (see book/own_data.md)", file=sys.stderr)
            return 2
        studies = sorted(patients_files)
        log(f"validating {len(studies)} {'study' if len(studies) == 1 else 'studies'} against other patient tables: "
            + ", ".join(f"{k} <- {v}" for k, v in sorted(patients_files.items())))
    else:
        log(f"validating {len(studies)} studies: {', '.join(studies)}")
    errors = validate(studies, patients_files)
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        print("error: validation failed; nothing was executed and the previous book is untouched", file=sys.stderr)
        return 2
    if validate_only:
        log("all studies valid")
        return 0
    staging = BUILD_DIR / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    jobs = jobs or default_jobs()
    try:
        start = time.perf_counter()
        log(f"executing {len(runs)} notebooks ({jobs} at a time"
            + (", reusing those unchanged since their last execution)" if use_cache else ")"))
        timings = execute(runs, staging, log=log, cache_dir=BUILD_DIR / "cache", jobs=jobs, reuse=use_cache)
        executed = time.perf_counter() - start
        publish_executed(runs, staging)
        log("rendering the book (strict)")
        start = time.perf_counter()
        final = render(staging, strict=strict)
        rendered = time.perf_counter() - start
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shutil.rmtree(staging, ignore_errors=True)
    (BUILD_DIR / "timings.json").write_text(json.dumps(
        {"jobs": jobs, "execute_wall": executed, "render_wall": rendered, "notebooks": timings}, indent=1))
    reused = sum(1 for t in timings.values() if t.get("reused"))
    log(f"book built: {final / 'index.html'} (notebooks {executed:.1f} s, {reused} of {len(timings)} reused; "
        f"Sphinx {rendered:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate, execute and render the book.")
    parser.add_argument("--validate-only", action="store_true", help="only check the specs and patient tables")
    parser.add_argument("--no-strict", action="store_true", help="do not turn Sphinx warnings into errors")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="change a notebook parameter for every chapter (repeatable), e.g. match_caliper=0.2; "
                             "needs --output")
    parser.add_argument("--patients", action="append", default=[], metavar="STUDY=FILE",
                        help="with --validate-only: check study STUDY's spec against the patient table FILE (CSV or "
                             "Excel) instead of the spec's own (repeatable)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="notebooks executed at once (default: BOOK_JOBS or the number of CPU cores)")
    parser.add_argument("--no-cache", action="store_true",
                        help="execute every notebook, even those unchanged since their last execution "
                             "(the cache is refreshed)")
    parser.add_argument("--output", type=Path, default=None,
                        help="build the re-run book here (html/ and results/) instead of the default book")
    args = parser.parse_args(argv)
    if args.set or args.output:
        if args.output is None:
            print("error: --set needs --output DIR, so the default book is not overwritten", file=sys.stderr)
            return 2
        try:
            parameters = parse_assignments(args.set)
        except BuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return build_run(args.output, parameters, strict=not args.no_strict)
    patients_files = {}
    for item in args.patients:
        study, sep, file = item.partition("=")
        if not sep or not study.strip() or not file.strip():
            print(f"error: --patients expects STUDY=FILE, got {item!r}", file=sys.stderr)
            return 2
        patients_files[study.strip()] = file.strip()
    return build(validate_only=args.validate_only, strict=not args.no_strict, patients_files=patients_files,
                 jobs=args.jobs, use_cache=not args.no_cache)


if __name__ == "__main__":
    sys.exit(main())
