"""Benchmark: survival helpers on 100 k and 1 M synthetic patients, side by side with R ``survival``.

    python benchmarks/bench_survival.py [--sizes 100000 1000000] [--no-r]     (or: make bench)

Writes one synthetic data set per size to ``_build/bench/surv_<n>.csv`` (two arms, 10 covariates, continuous
exponential times with uniform censoring), times each helper on it, then runs ``benchmarks/bench_survival.R``
on the same file (when ``Rscript`` is available) and prints one table: analysis, n, Python seconds,
R seconds (each the median of three calls) and their ratio. Not a test: the numbers depend on the machine;
the table is the result.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.stats import cox
from helpers.stats import rmst
from helpers.stats import survival

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "bench"


def synthetic(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10))
    arm = rng.integers(0, 2, n)
    lp = 0.3 * x[:, 0] - 0.2 * x[:, 1] + 0.1 * x[:, 2] - 0.5 * arm
    t_event = rng.exponential(np.exp(-lp) * 12)
    t_cens = rng.uniform(1, 36, n)
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(1, 11)])
    df.insert(0, "arm", arm)
    df.insert(0, "status", (t_event <= t_cens).astype(int))
    df.insert(0, "time", np.round(np.minimum(t_event, t_cens), 6))
    return df


REPEATS = 3


def timed(fn, repeats: int = REPEATS) -> float:
    """Median wall time of ``repeats`` calls (the R side takes the median of as many): the first call of a
    process also pays for fresh memory pages, which a median of three leaves out on both sides."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def python_times(df: pd.DataFrame) -> dict[str, float]:
    t, e, g = df["time"].to_numpy(), df["status"].to_numpy(), df["arm"].to_numpy()
    covs = ["arm"] + [f"x{i}" for i in range(1, 10)]  # 10 covariates
    tau = float(np.floor(min(t[g == 0].max(), t[g == 1].max())))
    return {
        "kaplan_meier": timed(lambda: survival.kaplan_meier(t, e).median()),
        "logrank": timed(lambda: survival.logrank_test(t, e, g)),
        "cox_10_covariates": timed(lambda: cox.cox_fit(df, "time", "status", covs)),
        "rmst_difference": timed(lambda: rmst.rmst_difference(t, e, g, tau=tau)),
        "rmst_pseudo_values": timed(lambda: rmst.rmst_pseudo_values(t, e, tau)),
    }


def r_times(path: Path) -> dict[str, float]:
    if shutil.which("Rscript") is None:
        return {}
    proc = subprocess.run(["Rscript", str(ROOT / "benchmarks" / "bench_survival.R"), str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"R benchmark failed: {proc.stderr[-500:]}", file=sys.stderr)
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-r", action="store_true", help="skip the R side")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        df = synthetic(n)
        path = OUT / f"surv_{n}.csv"
        df.to_csv(path, index=False)
        py = python_times(df)
        rr = {} if args.no_r else r_times(path)
        for name, sec in py.items():
            r_sec = rr.get(name)
            rows.append({"analysis": name, "n": n, "python_s": round(sec, 3),
                         "R_s": round(r_sec, 3) if r_sec is not None else None,
                         "python_over_R": round(sec / r_sec, 2) if r_sec else None})
        print(f"n = {n}: done", file=sys.stderr)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    table.to_csv(OUT / "bench_survival.csv", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
