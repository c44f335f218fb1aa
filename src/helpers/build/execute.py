"""Executing the notebooks: papermill in parallel worker processes, with a content-keyed cache."""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.build.toc import MAKES_COHORTS, READS_OTHER_RESULTS, BuildError, ChapterRun

#: What the cohorts pages leave for the others: the run's matched cohort (helpers.analyses.chapter).
COHORT_FILES = "matched_cohort.json"
from helpers.paths import BUILD_DIR, ROOT, STUDIES_DIR


def notebook_from_source(source: Path):
    """Read a jupytext notebook and give it the kernel papermill needs (papermill cannot read .md itself).

    Cell ids are derived from the source's name and the cell's position, not drawn at random, so that
    executing the same notebook twice gives the same file (apart from papermill's timestamps)."""
    import jupytext

    nb = jupytext.read(source)
    for i, cell in enumerate(nb.cells):
        cell.id = hashlib.sha256(f"{Path(source).name}:{i}".encode()).hexdigest()[:8]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def hide_injected_parameters(nb) -> None:
    """papermill's injected-parameters cell must not show in the book (and gets a fixed id: papermill draws one
    at random)."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags:
            cell.id = "injected-parameters"
            if "remove-cell" not in tags:
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


def declared_parameters(source: Path) -> set[str]:
    """The parameters a notebook declares (its cell tagged ``parameters``): only these are passed to it."""
    from helpers.analyses.validation import notebook_parameters

    return notebook_parameters(source)


def _execute_notebook(source_nb: str, out_nb: str, params: dict, zygote_socket: str | None = None) -> dict:
    """Execute one notebook with papermill (in a worker process); return its timings in seconds. With
    ``zygote_socket``, on a warm kernel (:mod:`helpers.build.warm`), else on a freshly started one."""
    import nbformat
    import papermill

    from helpers.build.warm import kernel_manager_class

    start = time.perf_counter()
    try:
        papermill.execute_notebook(source_nb, out_nb, parameters=params, cwd=str(ROOT), kernel_name="python3",
                                   progress_bar=False, log_output=False,
                                   # written once at the end (and on an error), not before and after every
                                   # cell: a chapter's notebook holds its figures (up to 4 MB), ~40 ms a write
                                   request_save_on_cell_execute=False,
                                   kernel_manager_class=kernel_manager_class(zygote_socket))
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
            cache_dir: Path | None = None, jobs: int | None = None, reuse: bool = True,
            warm: bool | None = None, zygote=None) -> dict:
    """Execute every chapter into ``staging`` (notebooks in ``staging/book``, results in ``staging/results``).

    Independent chapters run in parallel (``jobs`` processes); the audit pages run after the chapters whose
    results they read. With ``cache_dir``, a chapter whose :func:`content_key` equals that of its last
    successful execution is not executed again: its notebook and results are reused (with ``reuse=False``
    everything is executed and the cache refreshed). Each notebook runs in its own kernel process, forked
    from a pre-imported zygote (:mod:`helpers.build.warm`) unless ``warm`` is False (default: on where
    supported and ``BOOK_WARM_KERNELS`` is not 0; a running :class:`~helpers.build.warm.Zygote` may be
    passed in as ``zygote``); one pool of worker processes serves every stage. Raises
    :class:`BuildError` naming the first chapter that fails. Returns the timings of every chapter.
    """
    import contextlib

    from helpers.build.warm import warm_kernels_enabled

    jobs = jobs or default_jobs()
    warm = warm_kernels_enabled() if warm is None else warm
    with contextlib.ExitStack() as stack:  # the worker pool and the zygote, when started, end with it
        return _execute_stages(runs, staging, parameters, log, cache_dir, jobs, reuse, warm, stack, zygote)


def _execute_stages(runs, staging, parameters, log, cache_dir, jobs, reuse, warm, stack, zygote) -> dict:
    import nbformat

    from helpers.build.warm import Zygote

    pool = None
    timings: dict[str, dict] = {}
    # the cohorts pages make each study's matched cohort, which the other pages read; the audit pages read the
    # results of all the others
    makers = [r for r in runs if (r.notebook or r.chapter) in MAKES_COHORTS]
    regular = [r for r in runs if (r.notebook or r.chapter) not in READS_OTHER_RESULTS + MAKES_COHORTS]
    aggregates = [r for r in runs if (r.notebook or r.chapter) in READS_OTHER_RESULTS]
    for stage in (makers, regular, aggregates):
        tasks = []
        for run in stage:
            own = staging / "run_results" / f"{run.study_id}__{run.chapter}"
            shutil.rmtree(own, ignore_errors=True)
            (own / run.study_id).mkdir(parents=True)
            extra: list[Path] = [ROOT / "_toc.yml"]  # the study's pages number its tables and figures
            if stage is not makers:  # it reads what earlier stages made: give it a copy, and hash it
                pattern = "*.csv" if stage is aggregates else COHORT_FILES
                for f in sorted((staging / "results" / run.study_id).glob(pattern)):
                    shutil.copy2(f, own / run.study_id / f.name)
                extra += sorted((own / run.study_id).glob(pattern))
            rel = own.relative_to(ROOT) if own.is_relative_to(ROOT) else own
            declared = declared_parameters(run.source)
            params = {"study_id": run.study_id, "results_dir": str(rel), **dict(run.parameters),
                      **{k: v for k, v in (parameters or {}).items() if k in declared}}
            tasks.append(_Task(run, params, own, content_key(run, params, extra)))
        todo = []
        for task in tasks:
            name = f"{task.run.study_id}/{task.run.chapter}"
            if cache_dir is not None and reuse and _restore_from_cache(task, staging, cache_dir):
                timings[name] = {"reused": True}
                log(f"  {name}: unchanged since its last execution, reused")
            else:
                todo.append(task)
        if todo and pool is None:  # started once, for every stage, when something is to be executed
            if warm and zygote is None:
                zygote = stack.enter_context(Zygote())
            # spawn, not fork: the caller may have threads (a test server), and a forked lock would hang
            pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(
                max_workers=jobs, mp_context=multiprocessing.get_context("spawn")))
        if todo:
            futures = {}
            for task in todo:
                source_nb = staging / "sources" / task.run.study_id / f"{task.run.chapter}.ipynb"
                out_nb = staging / "book" / task.run.study_id / f"{task.run.chapter}.ipynb"
                source_nb.parent.mkdir(parents=True, exist_ok=True)
                out_nb.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook_from_source(task.run.source), source_nb)
                futures[pool.submit(_execute_notebook, str(source_nb), str(out_nb), task.params,
                                    zygote.socket if warm and zygote else None)] = task
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
            for f in sorted((task.results_dir / task.run.study_id).glob("*")):
                if f.suffix in (".csv", ".json") and (stage is not aggregates or not (dest / f.name).exists()):
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
    for f in (folder / "results").glob("*"):
        shutil.copy2(f, task.results_dir / task.run.study_id / f.name)
    return True


def _store_in_cache(task: _Task, staging: Path, cache_dir: Path) -> None:
    """Keep the executed notebook and the results it wrote, under the content key (written last)."""
    folder = _cache_folder(task, cache_dir)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "results").mkdir(parents=True)
    shutil.copy2(staging / "book" / task.run.study_id / f"{task.run.chapter}.ipynb", folder / "notebook.ipynb")
    written = task.results_dir / task.run.study_id
    notebook = task.run.notebook or task.run.chapter
    inputs = {f.name for f in (staging / "results" / task.run.study_id).glob("*.csv")} \
        if notebook in READS_OTHER_RESULTS else set()
    if notebook not in MAKES_COHORTS:
        inputs.add(COHORT_FILES)
    for f in written.glob("*"):
        if f.suffix in (".csv", ".json") and f.name not in inputs:
            shutil.copy2(f, folder / "results" / f.name)
    (folder / "key").write_text(task.key)


def _update(source: Path, target: Path) -> bool:
    """Copy ``source`` to ``target`` unless it already has that content: an unchanged file keeps its
    modification time, so that Sphinx does not read it again; a changed one gets the time of the copy."""
    data = source.read_bytes()
    try:
        if target.read_bytes() == data:
            return False
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return True


def publish_executed(runs: list[ChapterRun], staging: Path) -> list[Path]:
    """Move executed notebooks into book/ and results into _build/results (only after all succeeded); files
    that did not change are left as they are. Returns the notebooks that changed."""
    changed = [run.target for run in runs
               if _update(staging / "book" / run.study_id / f"{run.chapter}.ipynb", run.target)]
    results = BUILD_DIR / "results"
    for study_dir in sorted((staging / "results").glob("*")):
        dest = results / study_dir.name
        for f in study_dir.glob("*"):
            if f.suffix in (".csv", ".json"):  # the results tables, and the run's matched cohort
                _update(f, dest / f.name)
    return changed
