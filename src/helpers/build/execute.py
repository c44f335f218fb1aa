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


#: how many times a notebook's kernel is started before its failure to start fails the build
KERNEL_START_ATTEMPTS = 3


def kernel_failed_to_start(exc: BaseException) -> bool:
    """Whether ``exc`` says the kernel died before it answered, as when another process took one of the ports
    the kernel manager had picked for it ("Address already in use", seen once in CI with two notebooks starting
    at once). No cell has run then, so starting the notebook again is safe; an error in a cell is not retried."""
    text = f"{type(exc).__name__}: {exc}"
    return "Kernel died before replying to kernel_info" in text or "Address already in use" in text


def _execute_notebook(source_nb: str, out_nb: str, params: dict, zygote_socket: str | None = None) -> dict:
    """Execute one notebook with papermill (in a worker process); return its timings in seconds. With
    ``zygote_socket``, on a warm kernel (:mod:`helpers.build.warm`), else on a freshly started one."""
    import nbformat
    import papermill

    from helpers.build.warm import kernel_manager_class

    start = time.perf_counter()
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            papermill.execute_notebook(source_nb, out_nb, parameters=params, cwd=str(ROOT), kernel_name="python3",
                                       progress_bar=False, log_output=False,
                                       # written once at the end (and on an error), not before and after every
                                       # cell: a chapter's notebook holds its figures (up to 4 MB), ~40 ms a write
                                       request_save_on_cell_execute=False,
                                       kernel_manager_class=kernel_manager_class(zygote_socket))
            break
        except papermill.PapermillExecutionError as exc:
            raise BuildError(f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}") from None
        except Exception as exc:  # noqa: BLE001 - only a kernel that never started is retried
            if attempt == KERNEL_START_ATTEMPTS or not kernel_failed_to_start(exc):
                raise
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

    Chapters run in parallel (``jobs`` processes), each as soon as the pages of its study whose results it reads
    are done: a study's pages after its cohorts page (the matched cohort), its audit page after all the others.
    With ``cache_dir``, a chapter whose :func:`content_key` equals that of its last
    successful execution is not executed again: its notebook and results are reused (with ``reuse=False``
    everything is executed and the cache refreshed). Each notebook runs in its own kernel process, forked
    from a pre-imported zygote (:mod:`helpers.build.warm`) unless ``warm`` is False (default: on where
    supported and ``BOOK_WARM_KERNELS`` is not 0; a running :class:`~helpers.build.warm.Zygote` may be
    passed in as ``zygote``); one pool of worker processes serves them all. Raises
    :class:`BuildError` naming the first chapter that fails. Returns the timings of every chapter.
    """
    import contextlib

    from helpers.build.warm import warm_kernels_enabled

    jobs = jobs or default_jobs()
    warm = warm_kernels_enabled() if warm is None else warm
    with contextlib.ExitStack() as stack:  # the worker pool and the zygote, when started, end with it
        return _execute_all(runs, staging, parameters, log, cache_dir, jobs, reuse, warm, stack, zygote)


def _kind(run: ChapterRun) -> str:
    notebook = run.notebook or run.chapter
    return "makers" if notebook in MAKES_COHORTS else "aggregates" if notebook in READS_OTHER_RESULTS else "regular"


#: What each kind of page reads from the others of its study: the cohorts pages make the matched cohort, which
#: the other pages read; the audit pages read the results of all the others.
_READS_FROM = {"makers": (), "regular": ("makers",), "aggregates": ("makers", "regular")}


#: A chapter's expected seconds when the last build left no timings (``_build/timings.json``), by notebook: what
#: orders the pages ready to run, longest first, so that a long one does not start last and run alone.
_EXPECTED_SECONDS = {"survival": 6.0, "weighting": 7.0, "subgroups": 4.0, "cohorts": 3.0, "audit": 3.0,
                     "sensitivity": 3.0, "competing": 2.0, "response": 2.0, "safety": 2.0, "checklist": 0.5}


def _name(run: ChapterRun) -> str:
    """"study/chapter", as the build's log and timings name a chapter."""
    return f"{run.study_id}/{run.chapter}"


def _waits_for(runs: list[ChapterRun]) -> dict[str, set[str]]:
    """For each chapter (:func:`_name`), the chapters of the same study whose results it reads."""
    return {_name(r): {_name(o) for o in runs if o.study_id == r.study_id and _kind(o) in _READS_FROM[_kind(r)]}
            for r in runs}


def _priorities(runs: list[ChapterRun], waits_for: dict[str, set[str]], last: dict) -> dict[str, float]:
    """Each chapter's expected seconds plus the longest chain of chapters waiting for it (its critical path)."""
    cost = {_name(r): float(last.get(_name(r), {}).get("wall") or _EXPECTED_SECONDS.get(r.notebook or r.chapter, 2.0))
            for r in runs}
    out: dict[str, float] = {}

    def path(n: str) -> float:
        if n not in out:
            out[n] = cost[n] + max((path(m) for m, deps in waits_for.items() if n in deps), default=0.0)
        return out[n]

    for n in cost:
        path(n)
    return out


def _last_timings() -> dict:
    try:
        return json.loads((BUILD_DIR / "timings.json").read_text(encoding="utf-8")).get("notebooks", {})
    except (OSError, ValueError, AttributeError):
        return {}


def _execute_all(runs, staging, parameters, log, cache_dir, jobs, reuse, warm, stack, zygote) -> dict:
    """Run every chapter as soon as the pages of its study whose results it reads are done (a page of one study
    does not wait for another study's cohorts page). At most ``jobs`` run at once; of the chapters ready, the
    one with the longest expected chain of work ahead of it (:func:`_priorities`) starts first."""
    import nbformat

    from helpers.build.warm import Zygote

    name = _name
    waits_for = _waits_for(runs)
    priority = _priorities(runs, waits_for, _last_timings())
    pool = None
    timings: dict[str, dict] = {}
    done: set[str] = set()
    started: set[str] = set()
    futures: dict = {}
    failure = None

    def prepare(run: ChapterRun) -> _Task:
        own = staging / "run_results" / f"{run.study_id}__{run.chapter}"
        shutil.rmtree(own, ignore_errors=True)
        (own / run.study_id).mkdir(parents=True)
        extra: list[Path] = [ROOT / "_toc.yml"]  # the study's pages number its tables and figures
        if _kind(run) != "makers":  # it reads what the pages it waited for made: give it a copy, and hash it
            pattern = "*.csv" if _kind(run) == "aggregates" else COHORT_FILES
            for f in sorted((staging / "results" / run.study_id).glob(pattern)):
                shutil.copy2(f, own / run.study_id / f.name)
            extra += sorted((own / run.study_id).glob(pattern))
        rel = own.relative_to(ROOT) if own.is_relative_to(ROOT) else own
        declared = declared_parameters(run.source)
        params = {"study_id": run.study_id, "results_dir": str(rel), **dict(run.parameters),
                  **{k: v for k, v in (parameters or {}).items() if k in declared}}
        return _Task(run, params, own, content_key(run, params, extra))

    def publish_results(task: _Task) -> None:  # in one place, for the pages that read them and for publishing
        dest = staging / "results" / task.run.study_id
        dest.mkdir(parents=True, exist_ok=True)
        for f in sorted((task.results_dir / task.run.study_id).glob("*")):
            if f.suffix in (".csv", ".json") and (_kind(task.run) != "aggregates" or not (dest / f.name).exists()):
                shutil.copy2(f, dest / f.name)

    prepared: dict[str, _Task] = {}  # a ready chapter's inputs are final: its task is made once
    while True:
        ready = [r for r in runs if name(r) not in started and waits_for[name(r)] <= done] if failure is None else []
        ready.sort(key=lambda r: -priority[name(r)])  # stable: table-of-contents order among equals
        restored = False
        for run in ready:
            if name(run) not in prepared:
                prepared[name(run)] = prepare(run)
                task = prepared[name(run)]
                if cache_dir is not None and reuse and _restore_from_cache(task, staging, cache_dir):
                    started.add(name(run))
                    timings[name(run)] = {"reused": True}
                    log(f"  {name(run)}: unchanged since its last execution, reused")
                    publish_results(task)
                    done.add(name(run))
                    restored = True
                    continue
            if len(futures) >= jobs:
                continue  # no free worker: a chapter that becomes ready meanwhile may be longer and go first
            task = prepared[name(run)]
            started.add(name(run))
            if pool is None:  # started once, when something is to be executed
                if warm and zygote is None:
                    zygote = stack.enter_context(Zygote())
                # spawn, not fork: the caller may have threads (a test server), and a forked lock would hang
                pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(
                    max_workers=jobs, mp_context=multiprocessing.get_context("spawn")))
            source_nb = staging / "sources" / run.study_id / f"{run.chapter}.ipynb"
            out_nb = staging / "book" / run.study_id / f"{run.chapter}.ipynb"
            source_nb.parent.mkdir(parents=True, exist_ok=True)
            out_nb.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook_from_source(run.source), source_nb)
            futures[pool.submit(_execute_notebook, str(source_nb), str(out_nb), task.params,
                                zygote.socket if warm and zygote else None)] = task
        if restored:
            continue  # a reused page may let others start
        if not futures:
            break
        finished, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in sorted(finished, key=lambda f: runs.index(futures[f].run)):
            task = futures.pop(future)
            try:
                timings[name(task.run)] = future.result()
            except BuildError as exc:
                out_nb = staging / "book" / task.run.study_id / f"{task.run.chapter}.ipynb"
                failure = failure or BuildError(
                    f"notebook {task.run.source.name} failed for study '{task.run.study_id}' ({exc})\n"
                    f"  the executed notebook with the traceback is at {out_nb}")
                continue
            log(f"  executed {name(task.run)} in {timings[name(task.run)]['wall']:.1f} s")
            if cache_dir is not None:
                _store_in_cache(task, staging, cache_dir)
            publish_results(task)
            done.add(name(task.run))
    if failure is not None:  # the pages that were running finished first; those waiting for it never started
        raise failure
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
