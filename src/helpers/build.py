"""Build the book: validate every study, execute the notebooks with papermill, build the HTML strictly.

``python -m helpers.build`` (``make book``) does, in order, and stops at the first failing stage:

1. **validate** every study named in ``_toc.yml`` (spec and patient table); all problems are printed with
   file, row and column, and the exit code is 2 (``--validate-only --patients STUDY=FILE`` checks a study's
   spec against another patient table, e.g. your own CSV or Excel file);
2. **execute** ``notebooks/<chapter>.md`` (jupytext) once per ``book/<study>/<chapter>`` entry of ``_toc.yml``
   with papermill into a staging folder; only when every notebook succeeded are they moved into ``book/``
   and the analysis-results CSVs into ``_build/results/``;
3. **render** the book with ``jupyter-book build -W -n --keep-going`` into a staging folder, refuse it if it
   contains a data file (``.csv``, ``.xlsx``, ...: the site publishes aggregates only), then swap it into
   ``_build/html``.

A failure at any stage leaves the previously built book (``_build/html``) untouched.  Which notebooks run
is read from ``_toc.yml``: adding a study is a folder under ``data/studies`` plus its lines in the TOC.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .paths import BOOK_DIR, BUILD_DIR, NOTEBOOKS_DIR, ROOT, STUDIES_DIR
from .patients import DataValidationError, load_patients
from .spec import SpecError, load_spec


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


def execute(runs: list[ChapterRun], staging: Path, parameters: dict | None = None, log=print) -> None:
    """Execute every chapter into ``staging``; raise :class:`BuildError` naming the first that fails."""
    import nbformat
    import papermill

    for run in runs:
        source_nb = staging / "sources" / run.study_id / f"{run.chapter}.ipynb"
        out_nb = staging / "book" / run.study_id / f"{run.chapter}.ipynb"
        source_nb.parent.mkdir(parents=True, exist_ok=True)
        out_nb.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook_from_source(run.source), source_nb)
        results_dir = staging / "results"
        results_dir = results_dir.relative_to(ROOT) if results_dir.is_relative_to(ROOT) else results_dir
        params = {"study_id": run.study_id, "results_dir": str(results_dir),
                  **dict(run.parameters), **(parameters or {})}
        start = time.perf_counter()
        try:
            papermill.execute_notebook(str(source_nb), str(out_nb), parameters=params, cwd=str(ROOT),
                                       kernel_name="python3", progress_bar=False, log_output=False)
        except papermill.PapermillExecutionError as exc:
            raise BuildError(f"notebook {run.source.name} failed for study '{run.study_id}' "
                             f"(cell {exc.exec_count}): {exc.ename}: {exc.evalue}\n"
                             f"  the executed notebook with the traceback is at {out_nb}") from None
        nb = nbformat.read(out_nb, as_version=4)
        hide_injected_parameters(nb)
        nbformat.write(nb, out_nb)
        log(f"  executed {run.study_id}/{run.chapter} in {time.perf_counter() - start:.1f} s")


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


def render(staging: Path, strict: bool = True) -> Path:
    """Build the HTML with Jupyter Book into ``staging`` and swap it into ``_build/html`` on success."""
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb if jb.exists() else "jupyter-book"), "build", str(ROOT), "--path-output", str(staging / "site")]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise BuildError(f"jupyter-book build failed (exit {proc.returncode}); the previous book is kept.\n{tail}")
    built = staging / "site" / "_build" / "html"
    refuse_data_files(built)
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
        jb = Path(sys.executable).parent / "jupyter-book"
        cmd = [str(jb if jb.exists() else "jupyter-book"), "build", str(project)]
        if strict:
            cmd += ["-W", "-n", "--keep-going"]
        proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
            raise BuildError(f"jupyter-book build failed (exit {proc.returncode}).\n{tail}")
        refuse_data_files(project / "_build" / "html")
        shutil.rmtree(output / "html", ignore_errors=True)
        shutil.move(str(project / "_build" / "html"), str(output / "html"))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shutil.rmtree(staging, ignore_errors=True)
    log(f"book built with changed parameters: {output / 'html' / 'index.html'} (the default book is untouched)")
    return 0


def build(validate_only: bool = False, strict: bool = True, log=print,
          patients_files: dict[str, str] | None = None) -> int:
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
    try:
        log(f"executing {len(runs)} notebooks")
        execute(runs, staging, log=log)
        publish_executed(runs, staging)
        log("rendering the book (strict)")
        final = render(staging, strict=strict)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shutil.rmtree(staging, ignore_errors=True)
    log(f"book built: {final / 'index.html'}")
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
    return build(validate_only=args.validate_only, strict=not args.no_strict, patients_files=patients_files)


if __name__ == "__main__":
    sys.exit(main())
