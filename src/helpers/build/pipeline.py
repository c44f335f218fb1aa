"""Build the book: validate every study, execute the notebooks with papermill, build the HTML strictly.

``python -m helpers.build`` (``make book``) does, in order, and stops at the first failing stage:

1. **validate** every study named in ``_toc.yml`` (spec and patient table); all problems are printed with
   file, row and column, and the exit code is 2 (``--validate-only --patients STUDY=FILE`` checks a study's
   spec against another patient table, e.g. your own CSV or Excel file);
2. **execute** ``notebooks/<chapter>.md`` (jupytext) once per ``book/<study>/<chapter>`` entry of ``_toc.yml``
   with papermill into a staging folder, independent notebooks in parallel (``--jobs``; the audit pages
   after the chapters they read), each on a warm kernel (:mod:`helpers.build.warm`), skipping a notebook whose source, parameters, helper code, requirements
   and study data are unchanged since its last successful execution (content hashes in ``_build/cache``;
   ``--no-cache`` executes all); only when every notebook succeeded are they moved into ``book/`` and the
   analysis-results CSVs into ``_build/results/`` (files whose content did not change are not rewritten);
   timings go to ``_build/timings.json``;
3. **render** the book with ``jupyter-book build -W -n --keep-going``, incrementally in ``_build/sphinx``
   (Sphinx's environment is kept between builds, so it re-reads only changed pages), refuse it if it
   contains a data file (``.csv``, ``.xlsx``, ...: the site publishes aggregates only), then copy it into
   a new folder swapped in for ``_build/html``.

Before all that, the build compares its inputs with the last successful build's (:mod:`helpers.build.stamp`):
if nothing changed it returns at once, and if only the book's pages or configuration changed it goes straight
to rendering. A failure at any stage leaves the previously built book (``_build/html``) untouched.  Which notebooks run
is read from ``_toc.yml``: adding a study is a folder under ``data/studies`` plus its lines in the TOC.
``--draft-spec FILE --study ID`` writes a first ``data/studies/ID/study.yaml`` from a patient table instead
(:mod:`helpers.study.draft`; never over an existing spec).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from pathlib import Path

import yaml

from helpers.build.downloads import publish_results
from helpers.build.execute import default_jobs, execute, publish_executed
from helpers.build.render import jupyter_book_html, refresh_cross_document_glue, render
from helpers.build.toc import BuildError, chapter_runs
from helpers.paths import BOOK_DIR, BUILD_DIR, ROOT, STUDIES_DIR


def validate(study_ids: list[str], patients_files: dict[str, str] | None = None,
             parameters: dict | None = None) -> list[str]:
    """Validate each study as its chapters will use it (:func:`helpers.analyses.validation.validate_study`: spec,
    patient table, what the analyses need, and this run's parameters); return the error messages."""
    from helpers.analyses.validation import validate_study

    errors: dict[str, list[str]] = {}
    table = (parameters or {}).get("patients_file")  # --set patients_file=...: the table the chapters will read
    for study_id in study_ids:
        for e in validate_study(study_id, (patients_files or {}).get(study_id) or table, parameters):
            errors.setdefault(e.removeprefix(f"study '{study_id}': "), []).append(study_id)
    # a parameter refused by every study is said once
    return [e if len(ids) == 1 and not e.startswith("parameter ") else
            (f"{e} (studies: {', '.join(ids)})" if e.startswith("parameter ") else e) for e, ids in errors.items()]


def check_parameter_names(parameters: dict, runs) -> list[str]:
    """Every ``--set`` name must be a parameter that a chapter of the book declares (nearest name otherwise)."""
    from helpers.analyses.parameters import ParameterError, check_name
    from helpers.analyses.validation import notebook_parameters

    declared = set().union(*(notebook_parameters(r.source) for r in runs)) if runs else set()
    errors = []
    for name in parameters:
        try:
            check_name(name, declared - {"study_id", "results_dir"})
        except ParameterError as exc:
            errors.append(str(exc))
    if {"study_id", "results_dir"} & set(parameters):
        errors.append("study_id and results_dir are set by the build for each page; use --only STUDY/PAGE and "
                      "--output DIR instead")
    return errors


def parse_assignments(items: list[str]) -> dict:
    """``["match_caliper=0.2", "landmarks=[6, 12]"]`` -> parameters; values are read as YAML (0.2, [6, 12], null)."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise BuildError(f"--set expects NAME=VALUE (a notebook parameter), got {item!r}")
        out[name.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def _refused(errors: list[str]) -> int:
    """Print every error of a refused run and return its exit status (2: nothing was executed)."""
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    print("error: nothing was executed", file=sys.stderr)
    return 2


def _empty_folder(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _take_outputs(runs, staging: Path, book: Path, results: Path) -> None:
    """Copy the executed notebooks of ``runs`` from ``staging`` into ``book``, and replace ``results`` with the
    staging results (only after every notebook has run: a failed run leaves the previous outputs)."""
    for run in runs:
        target = book / run.study_id / f"{run.chapter}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(staging / "book" / run.study_id / f"{run.chapter}.ipynb", target)
    shutil.rmtree(results, ignore_errors=True)
    shutil.copytree(staging / "results", results)


def build_run(output: Path, parameters: dict, strict: bool = True, log=print) -> int:
    """Re-run the whole book with changed parameters into ``output`` (``output/html``, ``output/results``).

    The default book (``book/``, ``_build/html``) is not touched: the book's pages and configuration are
    copied into ``output/project`` and the notebooks executed there. Every parameter name must be declared by
    a chapter, and every value must pass its check, before anything runs; each notebook receives the
    parameters it declares.
    """
    runs = chapter_runs()
    studies = sorted({r.study_id for r in runs})
    errors = check_parameter_names(parameters, runs) or validate(studies, parameters=parameters)
    if errors:
        return _refused(errors)
    output = Path(output).resolve()
    project = _empty_folder(output / "project")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(BOOK_DIR, project / "book", ignore=shutil.ignore_patterns("*.ipynb"))
    # pages may include study files (book/own_data.md shows data/studies/veteran/study.yaml); data/private is
    # deliberately not copied
    shutil.copytree(STUDIES_DIR, project / "data" / "studies")
    # book/performance.md includes the benchmark tables
    (project / "benchmarks").mkdir()
    shutil.copy2(ROOT / "benchmarks" / "README.md", project / "benchmarks" / "README.md")
    staging = _empty_folder(output / ".staging")
    try:
        log(f"executing {len(runs)} notebooks with {parameters}")
        execute(runs, staging, parameters=parameters, log=log)
        _take_outputs(runs, staging, project / "book", output / "results")
        built = jupyter_book_html(project, strict=strict)
        publish_results(built, output / "results")  # the unrounded results tables (aggregates), downloadable
        shutil.rmtree(output / "html", ignore_errors=True)
        shutil.move(str(built), str(output / "html"))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shutil.rmtree(staging, ignore_errors=True)
    log(f"book built with changed parameters: {output / 'html' / 'index.html'} (the default book is untouched)")
    return 0


def run_pages(output: Path, pages: list[str], parameters: dict, log=print) -> int:
    """Execute some pages of the book with changed parameters into ``output`` (``output/book/<study>/<page>.ipynb``
    and ``output/results``), with the same checks as a whole build; the default book is not touched.

    A page that analyses the matched cohort runs after its study's cohorts page when both are asked for (the
    cohorts page makes the run's matched cohort); on its own it matches with the same settings itself.
    """
    from helpers.study.schema import did_you_mean

    every = chapter_runs()
    known = {f"{r.study_id}/{r.chapter}": r for r in every}
    errors = [f"--only {page}: not a page of the book{did_you_mean(page, sorted(known))}"
              for page in pages if page not in known]
    runs = [known[p] for p in pages if p in known]
    if not errors:
        errors = check_parameter_names(parameters, runs) or validate(sorted({r.study_id for r in runs}),
                                                                     parameters=parameters)
    if errors:
        return _refused(errors)
    output = Path(output).resolve()
    staging = _empty_folder(output / ".staging")
    try:
        execute(sorted(runs, key=every.index), staging, parameters=parameters, log=log)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _take_outputs(runs, staging, output / "book", output / "results")
    shutil.rmtree(staging, ignore_errors=True)
    log(f"executed {len(runs)} page(s) with {parameters}: notebooks in {output / 'book'}, results in "
        f"{output / 'results'} (the default book is untouched)")
    return 0


def build(validate_only: bool = False, strict: bool = True, log=print,
          patients_files: dict[str, str] | None = None, jobs: int | None = None, use_cache: bool = True) -> int:
    """Validate, execute and render.  ``patients_files`` (study id -> file; validation only) checks those
    studies' specs against other patient tables, e.g. your own CSV or Excel file, instead of the spec's.

    Compared with the last successful build (:mod:`helpers.build.stamp`; ``--no-cache`` ignores it): when no
    input has changed and its outputs are as it left them, return at once (nothing validated, executed or
    rendered); when only the pages changed (prose, configuration), render without validating or executing."""
    from helpers.build import stamp

    runs = chapter_runs()
    targets = [r.target for r in runs]
    inputs = None if validate_only or patients_files else stamp.inputs_digest({"strict": strict})  # as read now
    if inputs and use_cache and stamp.up_to_date(inputs, targets):
        log(f"book up to date: no input changed since the last build ({BUILD_DIR / 'html' / 'index.html'}); "
            "nothing validated, executed or rendered")
        return 0
    if inputs and use_cache and stamp.analyses_up_to_date(inputs, targets):  # prose, configuration
        log("only the book's pages or configuration changed since the last build: the executed notebooks stand")
        return _render_and_stamp(runs, inputs, strict, log, {f"{r.study_id}/{r.chapter}": {"reused": True}
                                                            for r in runs}, 0.0, jobs or default_jobs())
    if not inputs:
        return _validate_and_execute(runs, validate_only, strict, log, patients_files, jobs, use_cache, inputs, None)
    from helpers.build.warm import Zygote, warm_kernels_enabled

    # the warm kernels' zygote imports its modules while the studies are validated
    with Zygote() if warm_kernels_enabled() else contextlib.nullcontext() as zygote:
        return _validate_and_execute(runs, validate_only, strict, log, patients_files, jobs, use_cache, inputs,
                                     zygote)


def _validate_and_execute(runs, validate_only, strict, log, patients_files, jobs, use_cache, inputs, zygote) -> int:
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
        timings = execute(runs, staging, log=log, cache_dir=BUILD_DIR / "cache", jobs=jobs, reuse=use_cache,
                          zygote=zygote)
        executed = time.perf_counter() - start
        changed = publish_executed(runs, staging)
        log(f"{len(changed)} executed notebook(s) changed")
        refresh_cross_document_glue(changed)  # pages that paste values from a changed notebook
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shutil.rmtree(staging, ignore_errors=True)
    if zygote is not None:
        zygote.close()  # not needed while Sphinx runs
    return _render_and_stamp(runs, inputs, strict, log, timings, executed, jobs)


def _render_and_stamp(runs, inputs: dict, strict: bool, log, timings: dict, executed: float, jobs: int) -> int:
    log(f"rendering the book{' (strict)' if strict else ''}")
    start = time.perf_counter()
    try:
        final = render(strict=strict, log=log)
        publish_results(final, BUILD_DIR / "results")  # the unrounded results tables (aggregates), downloadable
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rendered = time.perf_counter() - start
    from helpers.build import stamp

    stamp.write_stamp(inputs, [r.target for r in runs])
    (BUILD_DIR / "timings.json").write_text(json.dumps(
        {"jobs": jobs, "execute_wall": executed, "render_wall": rendered, "notebooks": timings}, indent=1))
    reused = sum(1 for t in timings.values() if t.get("reused"))
    log(f"book built: {final / 'index.html'} (notebooks {executed:.1f} s, {reused} of {len(timings)} reused; "
        f"Sphinx {rendered:.1f} s)")
    return 0


def draft(table: Path | None, study_id: str | None, dictionary: Path | None, log=print) -> int:
    """``--draft-spec FILE --study ID``: write the draft spec (:mod:`helpers.study.draft`) and say what to do next."""
    from helpers.study.draft import DraftError, write_draft

    if table is None or not study_id:
        print("error: --draft-spec FILE and --study ID go together (--data-dictionary is optional)", file=sys.stderr)
        return 2
    command = f"python -m helpers.build --draft-spec {table} --study {study_id}" + (
        f" --data-dictionary {dictionary}" if dictionary else "")
    try:
        target, result = write_draft(table, study_id, dictionary=dictionary, command=command)
    except DraftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
    log(f"wrote {shown}: {result.columns} columns of {result.rows} rows; {result.checks} guesses marked "
        f"'# check:', {result.todos} TODO(s) to replace")
    log(f"next: edit the '# check:' and TODO lines, then .venv/bin/python -m helpers.build --validate-only "
        f"--patients {study_id}={table}")
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
    parser.add_argument("--only", action="append", default=[], metavar="STUDY/PAGE",
                        help="with --output: execute only this page of the book (repeatable), e.g. "
                             "erhcc_hait_mp/survival_matched; writes the executed notebook and its results, no HTML")
    parser.add_argument("--draft-spec", type=Path, default=None, metavar="FILE",
                        help="write a draft data/studies/STUDY/study.yaml from the patient table FILE (CSV or Excel), "
                             "every guess marked '# check:'; needs --study; never overwrites a spec")
    parser.add_argument("--study", default=None, metavar="ID", help="with --draft-spec: the new study's id")
    parser.add_argument("--data-dictionary", type=Path, default=None, metavar="CSV",
                        help="with --draft-spec: a REDCap data dictionary (CSV) for labels, choices and date formats")
    args = parser.parse_args(argv)
    if args.draft_spec is not None or args.study is not None or args.data_dictionary is not None:
        return draft(args.draft_spec, args.study, args.data_dictionary)
    if args.set or args.output or args.only:
        if args.output is None:
            print("error: --set and --only need --output DIR, so the default book is not overwritten",
                  file=sys.stderr)
            return 2
        try:
            parameters = parse_assignments(args.set)
        except BuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.only:
            return run_pages(args.output, args.only, parameters)
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
