"""Build-speed benchmark (``make bench-build``; not a test). Every figure is the median of ``--runs`` (3) runs.

In a scratch copy of the repository (``_build/bench-build/repo``: the sources, without ``.git``, ``_build`` or
executed notebooks, like a fresh clone), with ``HCC_BOOK_ROOT`` pointing at it:

* **cold, parallel**: ``python -m helpers.build --no-cache`` with no ``_build`` at all (no notebook cache, no
  Sphinx environment, no stamp), ``--jobs`` = the number of cores;
* **cold, serial**: the same with ``--jobs 1``;
* **Jupyter Book, serial**: a copy of the book whose notebooks are this build's own parameter-injected
  notebooks with their outputs cleared, built by ``jupyter-book build`` with ``execute_notebooks: force``
  (Jupyter Book executes them one after another, each on a fresh kernel, then renders);
* **no-op**: ``python -m helpers.build`` again, nothing changed;
* **prose edit**: one line added to ``book/methods.md``, then a build;
* **spec edit**: one comment line added to ``data/studies/veteran/study.yaml``, then a build (that study's
  chapters are executed again; the audit page too if its inputs changed).

The three cold kinds are interleaved (parallel, serial, Jupyter Book; three times) so that a change in the
load of a shared machine affects them alike. Writes ``benchmarks/results/build.json``, prints a table and
rewrites the table in ``benchmarks/README.md`` (between ``<!-- build:start -->`` and ``<!-- build:end -->``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SCRATCH = ROOT / "_build" / "bench-build"
REPO = SCRATCH / "repo"
ENV = {**os.environ, "HCC_BOOK_ROOT": str(REPO), "PYTHONPATH": str(REPO / "src")}


def run(cmd: list[str], cwd: Path = REPO) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def fresh_copy() -> None:
    shutil.rmtree(REPO, ignore_errors=True)
    shutil.copytree(ROOT, REPO, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "*.ipynb", "__pycache__",
                                                              ".pytest_cache"))


def build(*args: str) -> tuple[float, str]:
    return run([PY, "-m", "helpers.build", *args])


def cold(*args: str) -> tuple[float, dict]:
    shutil.rmtree(REPO / "_build", ignore_errors=True)
    elapsed, _ = build("--no-cache", *args)
    return elapsed, breakdown()


def breakdown() -> dict:
    t = json.loads((REPO / "_build" / "timings.json").read_text())
    executed = [v for v in t["notebooks"].values() if not v.get("reused")]
    return {
        "notebooks executed": len(executed),
        "kernel start and papermill overhead (s, summed)": sum(v["kernel_and_overhead"] for v in executed),
        "set-up cells: imports, loading and checking the data (s, summed)": sum(v["setup_cells"] for v in executed),
        "analysis and display cells (s, summed)": sum(v["analysis_cells"] for v in executed),
        "notebook stage (s, wall)": t["execute_wall"],
        "Sphinx (s, wall)": t["render_wall"],
    }


def jupyter_book_serial() -> float:
    """Jupyter Book executing the same (parameter-injected) notebooks itself, serially, in one build."""
    import nbformat

    scratch = SCRATCH / "jupyter-book"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(REPO / "book", scratch / "book", ignore=shutil.ignore_patterns("*.ipynb"))
    shutil.copy2(REPO / "_toc.yml", scratch / "_toc.yml")
    (scratch / "benchmarks").mkdir()
    shutil.copy2(REPO / "benchmarks" / "README.md", scratch / "benchmarks" / "README.md")
    shutil.copytree(REPO / "data" / "studies", scratch / "data" / "studies")  # pages include study files
    config = (REPO / "_config.yml").read_text(encoding="utf-8").replace(
        "execute_notebooks: 'off'", "execute_notebooks: 'force'\n  timeout: 1200")
    (scratch / "_config.yml").write_text(config, encoding="utf-8")
    for executed in sorted((REPO / "book").glob("*/*.ipynb")):
        nb = nbformat.read(executed, as_version=4)
        study, chapter = executed.parent.name, executed.stem
        # each notebook's results folder holds what our build gave it (the study's matched cohort; for the
        # audit, the other chapters' results), so that it does the same work
        own = scratch / "results" / f"{study}__{chapter}"
        shutil.copytree(REPO / "_build" / "results" / study, own / study)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
                if "injected-parameters" in cell.metadata.get("tags", []):
                    cell.source = re.sub(r'results_dir = "[^"]*"', f'results_dir = "{own}"', cell.source)
        target = scratch / executed.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    jb = Path(PY).parent / "jupyter-book"
    elapsed, _ = run([str(jb if jb.exists() else "jupyter-book"), "build", str(scratch)], cwd=scratch)
    return elapsed


def append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def table(r: dict) -> str:
    rows = [
        ("cold, parallel (`--no-cache`, %d workers, no `_build`)" % r["jobs"], r["cold parallel"], ""),
        ("cold, serial (`--no-cache --jobs 1`, no `_build`)", r["cold serial"],
         f"{r['cold serial'] / r['cold parallel']:.2f}x the parallel build"),
        ("Jupyter Book executing the same notebooks itself, serially (one `jupyter-book build`)",
         r["Jupyter Book serial"], f"**{r['Jupyter Book serial'] / r['cold parallel']:.2f}x** the parallel build"),
        ("no-op rebuild (nothing changed)", r["no-op"], ""),
        ("one prose line added to `book/methods.md`", r["prose edit"], ""),
        ("one comment line added to `data/studies/veteran/study.yaml`", r["spec edit"],
         "that study's chapters executed again"),
    ]
    out = [f"Measured {r['date']} on {r['machine']}; median of {r['runs']} runs each, the cold kinds interleaved, "
           "in one `make bench-build` run (the machine was shared with other work: compare figures of the same "
           "run).", "", "| build | wall (s) | |", "|---|---:|---|"]
    out += [f"| {name} | {value:.2f} | {note} |" for name, value, note in rows]
    b = r["cold parallel: where the time goes (median run)"]
    s = r["cold serial: where the time goes (median run)"]
    out += ["", "Where a cold build's time goes (the median run; summed over the notebooks executed):", "",
            "| | parallel | serial |", "|---|---:|---:|"]
    out += [f"| {k} | {b[k]:.1f} | {s[k]:.1f} |" if isinstance(b[k], float) else f"| {k} | {b[k]} | {s[k]} |"
            for k in b]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each cold kind (0: none, reuse the copy)")
    parser.add_argument("--edit-runs", type=int, default=3, help="runs of the no-op and edit rebuilds")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the table in benchmarks/README.md")
    args = parser.parse_args()
    jobs = os.cpu_count() or 1
    if args.runs or not (REPO / "_build" / "html").exists():
        fresh_copy()
        if not args.runs:
            build()  # the built copy the rebuilds start from (not timed)
    times: dict[str, list[float]] = {k: [] for k in ("cold parallel", "cold serial", "Jupyter Book serial",
                                                     "no-op", "prose edit", "spec edit")}
    details: dict[str, list[dict]] = {"cold parallel": [], "cold serial": []}
    for i in range(args.runs):
        for kind, extra in (("cold serial", ("--jobs", "1")), ("cold parallel", ())):
            elapsed, info = cold(*extra)
            times[kind].append(elapsed)
            details[kind].append({"wall": elapsed, **info})
            print(f"{kind}: {elapsed:.1f} s", flush=True)
        # the last build was the parallel one: its executed notebooks are those Jupyter Book executes
        times["Jupyter Book serial"].append(jupyter_book_serial())
        print(f"Jupyter Book serial: {times['Jupyter Book serial'][-1]:.1f} s", flush=True)
    for i in range(args.edit_runs):
        times["no-op"].append(build()[0])
        append(REPO / "book" / "methods.md", f"\nA line added by the build benchmark ({i}).\n")
        times["prose edit"].append(build()[0])
        build()  # the no-op after it is not timed here
        append(REPO / "data" / "studies" / "veteran" / "study.yaml", f"\n# a comment added by the build benchmark ({i})\n")
        times["spec edit"].append(build()[0])
        print({k: round(v[-1], 2) for k, v in times.items() if v}, flush=True)
    results = {"date": datetime.date.today().isoformat(),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "runs": args.runs, "jobs": jobs}
    results.update({k: median(v) for k, v in times.items() if v})
    results["all runs (s)"] = {k: [round(x, 2) for x in v] for k, v in times.items()}
    for kind in [k for k in details if details[k]]:
        middle = sorted(details[kind], key=lambda d: d["wall"])[len(details[kind]) // 2]
        results[f"{kind}: where the time goes (median run)"] = {k: (round(v, 1) if isinstance(v, float) else v)
                                                               for k, v in middle.items() if k != "wall"}
    if args.runs:
        results["Jupyter Book serial / cold parallel"] = round(results["Jupyter Book serial"] / results["cold parallel"], 2)
        results["cold serial / cold parallel"] = round(results["cold serial"] / results["cold parallel"], 2)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / ("build.json" if args.runs else "build-rebuilds.json")).write_text(json.dumps(results, indent=1),
                                                                            encoding="utf-8")
    print(json.dumps(results, indent=1))
    if not args.runs:
        print("no cold runs: benchmarks/README.md not rewritten")
        return
    text = table(results)
    print(text)
    readme = ROOT / "benchmarks" / "README.md"
    body = readme.read_text(encoding="utf-8")
    start, end = "<!-- build:start -->", "<!-- build:end -->"
    if not args.no_readme and start in body and end in body:
        head, rest = body.split(start, 1)
        readme.write_text(head + start + "\n" + text + "\n" + end + rest.split(end, 1)[1], encoding="utf-8")
        print(f"wrote the table into {readme}")


if __name__ == "__main__":
    main()
