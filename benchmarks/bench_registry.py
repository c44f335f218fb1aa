"""Benchmark: the complete analysis of seed study 000 on synthetic registries of 10^4, 10^5 and 10^6 patients.

    python benchmarks/bench_registry.py [--sizes 10000 100000 1000000] [--no-r] [--r-bound 120]
                                         (or: make bench-registry)

For each size, :func:`helpers.registry.synthetic_registry` draws a cohort with the columns of
``erhcc_hait_mp`` and writes it once to ``_build/bench/registry_<n>.csv``. A fresh Python subprocess then runs
every chapter's analysis through the helper functions the notebooks call (one step per row of the table) and
reports each step's wall time and peak resident memory above the memory held before the step (sampled every
5 ms with psutil), plus the process's peak RSS. ``benchmarks/bench_registry.R`` runs the same steps with R
(survival, MatchIt) on the same CSV; an R step whose predicted time exceeds ``--r-bound`` seconds
(extrapolated from the previous size: quadratic for MatchIt, n log n otherwise) is not run and is reported
as "not run (> bound)". Results: ``benchmarks/results/registry.json``, a Markdown table
``benchmarks/results/registry.md`` (included by the book's performance page) and a log-log plot
``book/_static/performance_registry.png``. Not a test: the numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "bench"
RESULTS = ROOT / "benchmarks" / "results"
PLOT = ROOT / "book" / "_static" / "performance_registry.png"
STUDY = "erhcc_hait_mp"

#: (step key, label) in the order they run; the R script uses the same keys
STEPS = [
    ("load", "load + validate CSV"),
    ("table1", "Table 1 with tests (primary)"),
    ("matching", "propensity scores + 1:1 caliper matching"),
    ("balance", "Table 1 (matched) + balance"),
    ("km_logrank", "KM + log-rank + arm HR, 4 endpoints"),
    ("followup", "reverse-KM follow-up"),
    ("cox", "Cox screen (univariate + multivariate + cox.zph), 2 endpoints"),
    ("rmst", "RMST + pseudo-value regression, 2 endpoints"),
    ("subgroups", "subgroup Cox models + interactions, 2 endpoints"),
    ("response", "response tables + rates + kappa"),
    ("safety", "adverse-event table, 24 terms"),
    ("survival_matched", "matched cohort: KM + log-rank + HR + RMST"),
    ("figures", "figures (KM grid, forest, love, PS histogram)"),
]
LABELS = dict(STEPS)


# ------------------------------------------------------------------------------------------ child process
class PeakSampler:
    """Peak RSS of this process while a step runs (psutil, sampled every few milliseconds)."""

    def __init__(self, interval: float = 0.005):
        import psutil
        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self):
        self.start_rss = self.proc.memory_info().rss
        self.peak = self.start_rss
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def run_python_steps(csv: Path) -> dict:
    """Run every step on ``csv`` in this process; return {step: {seconds, peak_delta_mb, rss_mb}} and totals."""
    import matplotlib
    matplotlib.use("Agg")
    import warnings

    import matplotlib.pyplot as plt
    import pandas as pd

    from helpers.analyses import balance
    from helpers.analyses import cohorts
    from helpers.report import figures, seaborn_plots
    from helpers.analyses import response
    from helpers.analyses import safety
    from helpers.analyses import subgroups
    from helpers.analyses import survival as sc
    from helpers.analyses import table1
    from helpers.study.patients import adverse_event_grades, load_patients
    from helpers.study.spec import load_spec

    warnings.simplefilter("ignore")
    figures.use_book_style()
    spec = load_spec(STUDY)
    surv = spec.survival
    state: dict = {}
    timings: dict = {}

    def step_load():
        state["data"] = load_patients(spec, csv)

    def step_table1():
        state["t1"] = table1.baseline_table(state["data"], spec, "primary")

    def step_matching():
        state["matched"] = cohorts.match_study(state["data"], spec, cohorts.matching_settings(spec))
        cohorts.matching_results(state["matched"])

    def step_balance():
        m = state["matched"]
        table1.baseline_table(m.data, spec, "matched")
        state["bal"] = balance.balance_before_after(state["data"], m.data, spec, list(spec.table1.variables))

    def step_km():
        comps = {}
        for name in surv.endpoints:
            comps[name] = sc.compare_arms(state["data"], spec, name)
            sc.arm_comparison_rows(comps[name], spec, list(surv.landmarks))
        sc.median_table(comps, spec)
        state["comparisons"] = comps

    def step_followup():
        rows, _ = sc.followup_rows(state["data"], spec)
        sc.followup_p(rows)

    def step_cox():
        screens = [sc.cox_screen(state["data"], spec, name) for name in surv.cox.endpoints]
        for s in screens:
            sc.cox_rows(s)
        sc.cox_display(screens, spec)
        state["screens"] = screens

    def step_rmst():
        selected = {s.endpoint.name: s.selected for s in state["screens"]}
        for name in surv.rmst_endpoints:
            res = sc.rmst_analysis(state["data"], spec, name)
            sc.rmst_rows(res, spec, name)
            table = sc.rmst_regression(state["data"], spec, name, res.tau, selected.get(name, []))
            sc.rmst_regression_rows(table, name)

    def step_subgroups():
        state["subgroups"] = {name: subgroups.subgroup_analysis(state["data"], spec, name, spec.subgroups.variables)
                              for name in spec.subgroups.endpoints}

    def step_response():
        data = state["data"]
        criteria = list(spec.response.criteria)
        rows = pd.concat([response.best_response_table(data, spec, c, spec.response.test) for c in criteria],
                         ignore_index=True)
        response.response_display(rows, spec, criteria)
        for c in criteria:
            for level in ("ORR", "DCR"):
                response.rate_summary(rows, spec, c, level)
        response.response_agreement(data, spec, criteria[0], criteria[1])

    def step_safety():
        data = state["data"]
        grades = adverse_event_grades(spec, data)
        rows = safety.adverse_event_table(grades, data[spec.arm.column], spec, spec.adverse_events.test)
        safety.treatment_related_deaths(grades, spec)
        safety.adverse_event_display(rows, spec)
        state["ae_rows"] = rows

    def step_survival_matched():
        mdata = state["matched"].data
        for name in surv.endpoints:
            cmp = sc.compare_arms(mdata, spec, name)
            sc.arm_comparison_rows(cmp, spec, list(surv.landmarks))
        sc.followup_rows(mdata, spec)
        for name in surv.rmst_endpoints:
            res = sc.rmst_analysis(mdata, spec, name)
            sc.rmst_regression(mdata, spec, name, res.tau, [])

    def step_figures():
        comps = state["comparisons"]
        panels = [dict(title=c.endpoint.label, kms=c.kms, ylabel=f"{c.endpoint.short} probability",
                       annotation=sc.panel_annotation(c, spec)) for c in comps.values()]
        figs = [figures.km_figure(panels, spec, list(surv.at_risk_times), surv.time_unit),
                seaborn_plots.love_plot(state["bal"]),
                seaborn_plots.propensity_overlap(state["matched"].scores, state["data"][spec.arm.column],
                                           state["matched"].result.matched_ids, spec),
                figures.ae_butterfly(state["ae_rows"], spec)]
        figs += [figures.forest_plot(res.table, spec, title=name) for name, res in state["subgroups"].items()]
        for fig in figs:
            fig.savefig(io.BytesIO(), format="png", dpi=100)
            plt.close(fig)

    functions = dict(load=step_load, table1=step_table1, matching=step_matching, balance=step_balance,
                     km_logrank=step_km, followup=step_followup, cox=step_cox, rmst=step_rmst,
                     subgroups=step_subgroups, response=step_response, safety=step_safety,
                     survival_matched=step_survival_matched, figures=step_figures)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for key, _ in STEPS:
        with PeakSampler() as mem:
            start = time.perf_counter()
            functions[key]()
            seconds = time.perf_counter() - start
        timings[key] = dict(seconds=round(seconds, 3),
                            peak_delta_mb=round((mem.peak - mem.start_rss) / 2**20, 1),
                            rss_mb=round(mem.peak / 2**20, 1))
        print(f"  python {key}: {seconds:.2f} s", file=sys.stderr, flush=True)
    m = state["matched"]
    info = dict(n=len(state["data"]), matched_pairs=m.n_pairs,
                selected={s.endpoint.name: s.selected for s in state["screens"]},
                arm_hr={k: float(c.arm_hr["hr"]) for k, c in state["comparisons"].items()},
                start_maxrss_mb=round(base_rss, 1),
                peak_maxrss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    return dict(steps=timings, info=info)


# ----------------------------------------------------------------------------------------------- parent
def r_predicted(step: str, n: int, previous: dict[int, dict]) -> float | None:
    """Predicted R seconds for ``step`` at ``n`` from the largest smaller size measured (None: no data)."""
    known = [(m, r["steps"][step]["seconds"]) for m, r in previous.items()
             if m < n and step in r.get("steps", {}) and r["steps"][step].get("seconds") is not None]
    power = 2.0 if step in ("matching", "balance", "survival_matched") else 1.15
    if not known:
        # prior: MatchIt takes about 60 s at 10^5 on this machine and grows quadratically
        return 60.0 * (n / 1e5) ** 2 if step in ("matching", "balance", "survival_matched") else None
    m, sec = max(known)
    return sec * (n / m) ** power


def run_r(csv: Path, skip: list[str]) -> dict:
    cmd = ["Rscript", str(ROOT / "benchmarks" / "bench_registry.R"), str(csv), ",".join(skip) or "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"R benchmark failed: {proc.stderr[-2000:]}", file=sys.stderr)
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    import psutil
    info = dict(cores=os.cpu_count(), ram_gib=round(psutil.virtual_memory().total / 2**30, 1),
                python=platform.python_version(), platform=platform.platform(), cpu=platform.processor() or "")
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    if shutil.which("Rscript"):
        proc = subprocess.run(["Rscript", "-e", "cat(R.version.string, ';', 'survival', "
                               "as.character(packageVersion('survival')), ';', 'MatchIt', "
                               "as.character(packageVersion('MatchIt')))"], capture_output=True, text=True)
        info["r"] = proc.stdout.strip()
    return info


def fmt_s(x) -> str:
    if x is None:
        return ""
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def markdown(results: dict) -> str:
    lines = ["| step | n | Python (s) | Python peak Δ RSS (MiB) | R (s) | R peak heap (MiB) | Python / R |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for size in results["sizes"]:
        n = size["n"]
        py, rr = size["python"]["steps"], size.get("r", {})
        for key, label in STEPS:
            p = py.get(key, {})
            r = rr.get(key)
            if isinstance(r, dict) and r.get("seconds") is not None:
                r_s, r_mem = fmt_s(r["seconds"]), f"{r.get('max_mb', float('nan')):.0f}"
                ratio = f"{p['seconds'] / r['seconds']:.2f}" if r["seconds"] > 0 else ""
            elif isinstance(r, dict) and r.get("note"):
                r_s, r_mem, ratio = r["note"], "", ""
            else:
                r_s, r_mem, ratio = "", "", ""
            lines.append(f"| {label} | {n:,} | {fmt_s(p.get('seconds'))} | {p.get('peak_delta_mb', 0):.0f} | "
                         f"{r_s} | {r_mem} | {ratio} |")
        total_py = sum(v["seconds"] for v in py.values())
        r_total = [v["seconds"] for k, v in rr.items() if isinstance(v, dict) and v.get("seconds") is not None]
        r_all = len(r_total) == len([k for k, _ in STEPS if k != "figures"])
        lines.append(f"| **total** | {n:,} | **{fmt_s(total_py)}** | peak RSS "
                     f"{size['python']['info']['peak_maxrss_mb']:.0f} | "
                     f"{fmt_s(sum(r_total)) if r_total else ''}{'' if r_all or not r_total else ' (steps run)'} | | "
                     f"{'' if not r_all else f'{total_py / sum(r_total):.2f}'} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = [s["n"] for s in results["sizes"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    cmap = plt.get_cmap("tab20")
    for ax, side in zip(axes, ("python", "r")):
        for i, (key, label) in enumerate(STEPS):
            xs, ys = [], []
            for s in results["sizes"]:
                v = s["python"]["steps"].get(key) if side == "python" else s.get("r", {}).get(key)
                if isinstance(v, dict) and v.get("seconds") is not None:
                    xs.append(s["n"])
                    ys.append(max(v["seconds"], 1e-3))
            if xs:
                ax.plot(xs, ys, marker="o", color=cmap(i), label=label, lw=1.3)
        ref = [sizes[0], sizes[-1]]
        ax.plot(ref, [1e-3 * 10, 1e-3 * 10 * ref[1] / ref[0]], ls=":", color="#888", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("patients (n)")
        ax.set_title("Python helpers" if side == "python" else "R (survival, MatchIt)")
        ax.axhline(60, color="#CC3311", ls="--", lw=0.8)
        ax.grid(True, which="major", color="#e6e6e6", lw=0.6)
    axes[0].set_ylabel("wall time (s)")
    axes[1].legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("Complete analysis of one study by step; dotted: slope 1 (linear in n); dashed: 60 s", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


README_START, README_END = "<!-- registry:start -->", "<!-- registry:end -->"


def write_outputs(results: dict) -> str:
    """registry.json, registry.md, the table in benchmarks/README.md (between markers) and the plot."""
    table = markdown(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "registry.json").write_text(json.dumps(results, indent=1) + "\n")
    m = results["machine"]
    header = (f"Measured {results['date']} on {m['cores']} cores ({m.get('cpu', '')}), {m['ram_gib']} GiB RAM; "
              f"Python {m['python']}; {m.get('r', 'R not run')}. Synthetic registries drawn from seed study "
              f"`{results['study']}` (`helpers.synth.registry`, seed {results['seed']}). R steps predicted to exceed "
              f"{results['r_bound_s']:g} s are not run.\n\n")
    (RESULTS / "registry.md").write_text(header + table)
    readme = ROOT / "benchmarks" / "README.md"
    text = readme.read_text()
    if README_START in text and README_END in text:
        before, rest = text.split(README_START, 1)
        after = rest.split(README_END, 1)[1]
        readme.write_text(before + README_START + "\n" + header + table + README_END + after)
    plot(results, PLOT)
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--no-r", action="store_true", help="skip the R side")
    parser.add_argument("--r-bound", type=float, default=120.0, help="skip R steps predicted to take longer (s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only; do not update results, table, plot")
    parser.add_argument("--render-only", action="store_true",
                        help="re-write the tables and the plot from benchmarks/results/registry.json")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_python_steps(args.child)))
        return 0
    if args.render_only:
        results = json.loads((RESULTS / "registry.json").read_text())
        print(write_outputs(results))
        return 0

    from helpers.synth.registry import synthetic_registry, write_registry
    from helpers.study.spec import load_spec

    spec = load_spec(STUDY)
    OUT.mkdir(parents=True, exist_ok=True)
    results = dict(date=time.strftime("%Y-%m-%d"), machine=machine(), study=STUDY, seed=args.seed,
                   r_bound_s=args.r_bound, sizes=[])
    r_done: dict[int, dict] = {}
    for n in sorted(args.sizes):
        start = time.perf_counter()
        df = synthetic_registry(spec, n, seed=args.seed)
        csv = write_registry(df, OUT / f"registry_{n}.csv")
        del df
        gen = time.perf_counter() - start
        print(f"n = {n:,}: registry written in {gen:.1f} s ({csv.stat().st_size / 2**20:.0f} MiB)", file=sys.stderr)
        proc = subprocess.run([sys.executable, __file__, "--child", str(csv)], stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print(f"Python steps failed at n = {n}", file=sys.stderr)
            return 1
        py = json.loads(proc.stdout.strip().splitlines()[-1])
        entry = dict(n=n, generate_and_write_s=round(gen, 2), python=py)
        if not args.no_r and shutil.which("Rscript"):
            skip, notes = [], {}
            for key, _ in STEPS:
                pred = r_predicted(key, n, r_done)
                needs_matching = key in ("balance", "survival_matched") and "matching" in skip
                if key == "figures" or needs_matching or (pred is not None and pred > args.r_bound):
                    skip.append(key)
                    if key != "figures":
                        notes[key] = dict(seconds=None, note="not run (> bound)" if not needs_matching else
                                          "not run (needs the matching)",
                                          predicted_s=round(pred, 1) if pred is not None else None)
            rr = run_r(csv, skip)
            rr.update(notes)
            entry["r"] = rr
            r_done[n] = dict(steps=rr)
        results["sizes"].append(entry)
        print(f"n = {n:,}: Python total {sum(v['seconds'] for v in py['steps'].values()):.1f} s, "
              f"peak RSS {py['info']['peak_maxrss_mb']:.0f} MiB", file=sys.stderr)
    if args.no_write:
        print(markdown(results))
    else:
        print(write_outputs(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
