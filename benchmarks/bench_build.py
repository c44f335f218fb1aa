"""Build-speed benchmark: cold build (serial and parallel), no-op rebuild, and Jupyter Book's own serial
execution of the same notebooks, with where the time goes. Not a test; ``make bench-build``.

Writes ``benchmarks/results/build.json`` and prints a table. Each cold build runs with ``--no-cache``.
The Jupyter Book comparison builds a scratch copy of the book whose notebooks are this build's own
parameter-injected notebooks with their outputs cleared, and lets Jupyter Book execute them
(``execute_notebooks: force``), one after another as it does.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def timed(cmd: list[str], cwd: Path = ROOT, env: dict | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def breakdown() -> dict:
    t = json.loads((ROOT / "_build" / "timings.json").read_text())
    executed = [v for v in t["notebooks"].values() if not v.get("reused")]
    return {
        "notebooks executed": len(executed),
        "kernel start and papermill overhead (s, summed)": round(sum(v["kernel_and_overhead"] for v in executed), 1),
        "imports and data loading (s, summed)": round(sum(v["setup_cells"] for v in executed), 1),
        "analysis and display (s, summed)": round(sum(v["analysis_cells"] for v in executed), 1),
        "notebook stage (s, wall)": round(t["execute_wall"], 1),
        "Sphinx (s, wall)": round(t["render_wall"], 1),
    }


def jupyter_book_serial() -> float:
    """Jupyter Book executing the same (parameter-injected) notebooks itself, serially, in one build."""
    import nbformat

    scratch = ROOT / "_build" / "bench-jb"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(ROOT / "book", scratch / "book", ignore=shutil.ignore_patterns("*.ipynb"))
    shutil.copy2(ROOT / "_toc.yml", scratch / "_toc.yml")
    config = (ROOT / "_config.yml").read_text(encoding="utf-8").replace(
        "execute_notebooks: 'off'", "execute_notebooks: 'force'\n  timeout: 1200")
    (scratch / "_config.yml").write_text(config, encoding="utf-8")
    for executed in sorted((ROOT / "book").glob("*/*.ipynb")):
        nb = nbformat.read(executed, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
                if "injected-parameters" in cell.metadata.get("tags", []):
                    # the same results folder relative to the notebook's own folder (JB runs it there)
                    cell.source = cell.source.replace('results_dir = "', 'results_dir = "../../')
        target = scratch / executed.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    jb = Path(PY).parent / "jupyter-book"
    return timed([str(jb), "build", str(scratch)], cwd=scratch)


def main() -> None:
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    results["cold build, serial (--jobs 1)"] = round(timed([PY, "-m", "helpers.build", "--no-cache", "--jobs", "1"]), 1)
    results["cold build, serial: where the time goes"] = breakdown()
    results["cold build, parallel (--jobs %d)" % os.cpu_count()] = round(
        timed([PY, "-m", "helpers.build", "--no-cache"]), 1)
    results["cold build, parallel: where the time goes"] = breakdown()
    results["no-op rebuild"] = round(timed([PY, "-m", "helpers.build"]), 1)
    results["no-op rebuild: where the time goes"] = breakdown()
    results["Jupyter Book executing the same notebooks serially (one jupyter-book build)"] = round(
        jupyter_book_serial(), 1)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "build.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
