"""What the methodologist's additions cost the default book's build (``make bench-additions``; not a test).

The weighting issue and the competing-risks/missing-data issue each promise that the default book's cold build
grows by less than 20%. This times the cold parallel build (``python -m helpers.build --no-cache --no-strict
--jobs <cores>`` with no ``_build``, what ``make book`` does on a fresh clone, with Sphinx warnings allowed in all
three because the landing page links to the pages a copy drops) of three scratch copies of the repository, interleaved
so that a change in the machine's load affects them alike (the order turns each run, so that none is always first),
and reports the median of ``--runs`` (3) runs:

* **book**: the repository as it is;
* **without confounding additions**: without the weighting pages (``book/<study>/weighting`` dropped from
  ``_toc.yml``) and without the survival chapter's section "Confounding: variance after matching and E-values";
* **without competing risks, PH plots and imputation**: without the competing-risks page and the checklist
  pages (dropped from ``_toc.yml``), without the survival chapter's Schoenfeld residual figures
  (``sv.ph_figures()``), and with the colon example's ``missing.method`` set to ``complete_case`` (no mice).

The growth of each addition is (book - without) / without. What stays in both (the SMD column of the matched
Table 1, the cluster-robust rows of the matched Cox tables, the pair bootstrap, which is off by default) is
cheap: tables, not figures. Writes ``benchmarks/results/additions.json`` and rewrites the table in
``benchmarks/README.md`` between ``<!-- additions:start -->`` and ``<!-- additions:end -->``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SCRATCH = ROOT / "_build" / "bench-additions"
IGNORE = shutil.ignore_patterns(".venv", "_build", ".git", "*.ipynb", "__pycache__", ".pytest_cache")


def drop_toc_entries(repo: Path, pattern: str) -> list[str]:
    """Remove every ``- file: book/<study>/<page>`` entry (and its ``title:`` line) whose page matches."""
    lines = (repo / "_toc.yml").read_text(encoding="utf-8").splitlines(keepends=True)
    out, dropped, skip_title = [], [], False
    for line in lines:
        match = re.match(r"\s*- file: (book/[^/\s]+/(\S+))\s*$", line)
        if match and re.fullmatch(pattern, match.group(2)):
            dropped.append(match.group(1))
            skip_title = True
            continue
        if skip_title and re.match(r"\s+title:", line):
            skip_title = False
            continue
        skip_title = False
        out.append(line)
    (repo / "_toc.yml").write_text("".join(out), encoding="utf-8")
    return dropped


def drop_notebook_text(repo: Path, notebook: str, old: str, new: str = "") -> None:
    path = repo / "notebooks" / f"{notebook}.md"
    text = path.read_text(encoding="utf-8")
    if old not in text:
        sys.exit(f"{path}: the text to remove is gone; update benchmarks/bench_additions.py:\n{old}")
    path.write_text(text.replace(old, new), encoding="utf-8")


def confounding_section(repo: Path) -> str:
    text = (repo / "notebooks" / "survival.md").read_text(encoding="utf-8")
    match = re.search(r"## Confounding: variance after matching and E-values\n.*?(?=\n## )", text, re.S)
    if not match:
        sys.exit("notebooks/survival.md: no section 'Confounding: variance after matching and E-values'")
    return match.group(0)


def prepare() -> dict[str, Path]:
    shutil.rmtree(SCRATCH, ignore_errors=True)
    copies = {name: SCRATCH / name for name in ("book", "without confounding additions",
                                                "without competing risks, PH plots and imputation")}
    for path in copies.values():
        shutil.copytree(ROOT, path, ignore=IGNORE)
    conf = copies["without confounding additions"]
    print("dropped:", drop_toc_entries(conf, "weighting"))
    drop_notebook_text(conf, "survival", confounding_section(conf))
    comp = copies["without competing risks, PH plots and imputation"]
    print("dropped:", drop_toc_entries(comp, "competing|checklist"))
    drop_notebook_text(comp, "survival", "ch.show(sv.ph_figures())\n")
    spec = comp / "data" / "studies" / "colon" / "study.yaml"
    text = spec.read_text(encoding="utf-8")
    if "  method: mice\n" not in text:
        sys.exit(f"{spec}: no 'method: mice'; update benchmarks/bench_additions.py")
    spec.write_text(text.replace("  method: mice\n", "  method: complete_case\n"), encoding="utf-8")
    return copies


def cold_build(repo: Path, jobs: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system of the build and every process it waited for)."""
    shutil.rmtree(repo / "_build", ignore_errors=True)
    env = {**os.environ, "HCC_BOOK_ROOT": str(repo), "PYTHONPATH": str(repo / "src")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # --no-strict for all three: the landing page links to the pages a copy drops (a warning, not an error)
    proc = subprocess.run([PY, "-m", "helpers.build", "--no-cache", "--no-strict", "--jobs", str(jobs)], cwd=repo,
                          env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"build of {repo} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def table(r: dict) -> str:
    book, cpu = r["book"], r["CPU (s)"]["book"]
    out = [f"Measured {r['date']} on {r['machine']}; cold parallel build ({r['jobs']} workers, `--no-cache`, no "
           f"`_build`), median of {r['runs']} runs, the three copies interleaved (their order turning each run), in one `make bench-additions` "
           "run. Wall time is what a user waits for; CPU time (user + system of every process of the build) is "
           "the work, less sensitive to other load on a shared machine.", "",
           "| build | wall (s) | the additions cost (wall) | CPU (s) | the additions cost (CPU) |",
           "|---|---:|---:|---:|---:|", f"| the book as it is | {book:.1f} | | {cpu:.1f} | |"]
    for name in ("without confounding additions", "without competing risks, PH plots and imputation"):
        c = r["CPU (s)"][name]
        out.append(f"| {name} | {r[name]:.1f} | +{100 * (book - r[name]) / r[name]:.1f}% | {c:.1f} | "
                   f"+{100 * (cpu - c) / c:.1f}% |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the table in benchmarks/README.md")
    args = parser.parse_args()
    jobs = os.cpu_count() or 1
    copies = prepare()
    times: dict[str, list[float]] = {name: [] for name in copies}
    cpu: dict[str, list[float]] = {name: [] for name in copies}
    names = list(copies)
    for run in range(args.runs):
        # the order turns each run (a Latin square over three runs): the machine's speed drifts during a run of
        # several minutes, and a copy always built first would always meet the same part of the drift
        for name in names[run % len(names):] + names[:run % len(names)]:
            wall, work = cold_build(copies[name], jobs)
            times[name].append(wall)
            cpu[name].append(work)
            print(f"{name}: {wall:.1f} s wall, {work:.1f} s CPU", flush=True)
    results = {"date": datetime.date.today().isoformat(),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "runs": args.runs, "jobs": jobs}
    results.update({name: round(statistics.median(v), 2) for name, v in times.items()})
    results["growth over the build without them"] = {
        name: round((results["book"] - results[name]) / results[name], 3) for name in copies if name != "book"}
    results["CPU (s)"] = {name: round(statistics.median(v), 2) for name, v in cpu.items()}
    results["CPU growth over the build without them"] = {
        name: round((results["CPU (s)"]["book"] - results["CPU (s)"][name]) / results["CPU (s)"][name], 3)
        for name in copies if name != "book"}
    results["all runs (s)"] = {name: [round(x, 2) for x in v] for name, v in times.items()}
    results["all runs, CPU (s)"] = {name: [round(x, 2) for x in v] for name, v in cpu.items()}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "additions.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    text = table(results)
    print(text)
    if not args.no_readme:
        readme = ROOT / "benchmarks" / "README.md"
        body = readme.read_text(encoding="utf-8")
        block = f"<!-- additions:start -->\n{text}\n<!-- additions:end -->"
        if "<!-- additions:start -->" in body:
            body = re.sub(r"<!-- additions:start -->.*?<!-- additions:end -->", lambda _: block, body, flags=re.S)
        else:
            body = body.rstrip("\n") + "\n\n## What the methodologist's additions cost the build " \
                   "(`make bench-additions`; results in `results/additions.json`)\n\n" \
                   "`bench_additions.py` times the cold build of the book next to copies without the weighting " \
                   "issue's additions\nand without the competing-risks issue's (its docstring lists what each " \
                   "copy drops). Both issues ask that the\ndefault book's build grow by less than 20%.\n\n" \
                   + block + "\n"
        readme.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
