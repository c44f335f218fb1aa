"""Deterministic reconstruction of synthetic patient tables from a paper's published aggregates.

The individual patient data of the seed studies are not public.  This module writes, for each study, a
*synthetic* one-row-per-patient table whose baseline aggregates reproduce the published ones:

* seed 000 (``erhcc_hait_mp``): every Table 1 count of the primary cohort exactly, and the medians and IQRs
  (R's default type-7 quantiles) and Mann-Whitney p-values of the continuous variables; the published
  propensity-matched cohort (24 pairs and its Table 1 column), designed by :mod:`helpers.synth.matched_design`
  so that the book's own matching selects it.
* seed 004 (``haic_after_ab``): arm sizes, age mean and SD per arm (and so the t-test p), and per-arm category
  counts chosen to reproduce each published p-value under the paper's test policy, as close as possible to
  assumed proportions (the paper's Table 1 body is not in the text).

Once the baseline table is final, :mod:`helpers.synth.survival` appends the time-to-event columns of the
spec's ``survival`` endpoints (it never changes a baseline column).

Targets are read from ``published.yaml``; the assumptions (value ranges, grids, seeds) from
``reconstruction.yaml``.  Output: ``patients.csv`` and ``reconstruction_report.csv`` (every target with its
analysis, the value achieved, whether it was hit, and its ``status``: ``hit``, ``missed``, ``out_of_reach`` or
``conflict``, the last two with the test that proves them in ``proof``, from the ``out_of_reach`` and ``conflicts``
entries of ``reconstruction.yaml``; ``relation`` marks targets printed as "< x" or "> x").  Run
``python -m helpers.synth.reconstruct [study ...]`` (``make data``).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import heapq
import itertools
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.stats import hypothesis_tests as ht
from helpers.stats.descriptive import QUARTILE_PROBS, type7_quartiles
from helpers.stats.hypothesis_tests import rank_sum_p_kernel
from helpers.stats.matching import match_cohort
from helpers.study.patients import analysis_column
from helpers.study.published import PROVEN_STATUSES, RECONSTRUCTION_STATUSES, load_published
from helpers.synth import floating_point
from helpers.study.schema import did_you_mean
from helpers.synth.assumptions import (ASSUMPTIONS_FILE, REPORT_KEY, AssumptionsError, Conflict, OutOfReach,
                                      assumption_lines, at_line, conflicts, key_label, load_assumptions,
                                      out_of_reach)
from helpers.synth.matched_design import MatchedCohortDesign
from helpers.synth.response import add_response_and_safety
from helpers.synth.survival import add_survival_endpoints
from helpers.study.spec import SpecError, StudySpec, load_spec



# ----------------------------------------------------------------------------------------------- utilities
def on_grid(x, grid: float):
    """Round to a multiple of ``grid`` (and to the grid's decimals, so CSV output is clean)."""
    decimals = max(0, -int(math.floor(math.log10(grid)))) if grid < 1 else 0
    return np.round(np.round(np.asarray(x, dtype=float) / grid) * grid, decimals)


def grid_decimals(grid: float) -> int:
    return max(0, -int(math.floor(math.log10(grid)))) if grid < 1 else 0




@dataclass
class Target:
    """One published number the reconstruction aims at, and what it achieved."""

    cohort: str
    variable: str
    level: str
    group: str
    stat: str
    target: float
    achieved: float = math.nan
    decimals: int = 3

    @property
    def hit(self) -> bool:
        return bool(np.isfinite(self.achieved) and round(self.achieved, self.decimals) == round(self.target, self.decimals))


def _report_frame(targets: list[Target]) -> pd.DataFrame:
    return pd.DataFrame([dict(cohort=t.cohort, variable=t.variable, level=t.level, group=t.group, stat=t.stat,
                              target=t.target, achieved=round(t.achieved, 6), hit=t.hit) for t in targets])


def _continuous_p(x, y, policy: str) -> float:
    return float(ht.continuous_p_value(np.asarray(x), np.asarray(y), policy)[0])


def _categorical_p(counts: np.ndarray, policy: str) -> float:
    return float(ht.categorical_p_value(np.asarray(counts), policy)[0])


# --------------------------------------------------------------------- continuous values with given targets
def calibrate_continuous(blocks: dict[str, np.ndarray], objective, grid: float, lo: float, hi: float,
                         rng: np.random.Generator, max_iter: int = 40000) -> tuple[dict[str, np.ndarray], float]:
    """Stochastic local search: nudge single values by a few grid steps while ``objective`` does not worsen.

    ``blocks`` maps a name to a value array (modified copy returned).  Equal-objective moves are accepted, so
    the search drifts across plateaus (rounded statistics make the objective piecewise constant); one move in
    ten jumps to a random value in ``[lo, hi]`` to leave local minima.
    """
    blocks = {k: v.astype(float).copy() for k, v in blocks.items()}
    names = list(blocks)
    best = objective(blocks)
    steps = np.array([1, 1, 1, 2, 3, 5, 10])
    for _ in range(max_iter):
        if best == 0:
            break
        arr = blocks[names[rng.integers(len(names))]]
        i = rng.integers(len(arr))
        old = arr[i]
        move = rng.random()
        if move < 0.3:
            # paired move: +k on one value, -k on another keeps the sum (so the mean) and moves only the spread
            j = rng.integers(len(arr))
            k = rng.choice(steps[:3]) * grid
            pair_old = arr[j]
            if i == j or not (lo <= old + k <= hi and lo <= pair_old - k <= hi):
                continue
            arr[i], arr[j] = on_grid(old + k, grid), on_grid(pair_old - k, grid)
            value = objective(blocks)
            if value <= best:
                best = value
            else:
                arr[i], arr[j] = old, pair_old
            continue
        if move < 0.4:
            new = float(on_grid(rng.uniform(lo, hi), grid))
        else:
            new = float(np.clip(on_grid(old + rng.choice([-1, 1]) * rng.choice(steps) * grid, grid), lo, hi))
        if new == old:
            continue
        arr[i] = new
        value = objective(blocks)
        if value <= best:
            best = value
        else:
            arr[i] = old
    return blocks, best


def search_mann_whitney_p(x: np.ndarray, y: np.ndarray) -> float:
    """The Mann-Whitney p of the search (:func:`helpers.stats.hypothesis_tests.rank_sum_p_kernel`, the kernel of
    the Table 1 test), with 1 (no evidence of a difference) instead of NaN when every value is tied, so that
    the search's error stays a number."""
    p = rank_sum_p_kernel(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return 1.0 if math.isnan(p) else p


def quartile_anchors(n: int, quartiles: tuple[float, float, float], grid: float) -> dict[int, float]:
    """Order statistics (0-based position -> value, on ``grid``) that make type-7 quartiles equal ``quartiles``.

    For a fractional position h = k + f: x(k) + f·(x(k+1) − x(k)) = target with both values on the grid and
    the smallest gap; for an integral position x(k) = target.
    """
    fixed: dict[int, float] = {}
    for p, target in zip(QUARTILE_PROBS, quartiles):
        h = (n - 1) * p
        k = int(h)
        f = h - k
        if f == 0:
            fixed[k] = float(target)
            continue
        for j in range(0, 50):
            xk = target - f * j * grid
            if abs(xk / grid - round(xk / grid)) < 1e-6:
                fixed[k], fixed[k + 1] = float(on_grid(xk, grid)), float(on_grid(xk + j * grid, grid))
                break
        else:
            raise ValueError(f"cannot place quartile {target} on a grid of {grid}")
    return fixed


def _slot_ranges(n: int, anchors: dict[int, float], lo: float, hi: float) -> list[tuple[float, float]]:
    """Allowed value range of each sorted position given the anchors."""
    ranges = []
    for pos in range(n):
        if pos in anchors:
            ranges.append((anchors[pos], anchors[pos]))
            continue
        below = [anchors[k] for k in anchors if k < pos]
        above = [anchors[k] for k in anchors if k > pos]
        ranges.append((max(below) if below else lo, min(above) if above else hi))
    return ranges


def anchored_sample(n: int, quartiles: tuple[float, float, float], lo: float, hi: float, grid: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Values on ``grid`` within ``[lo, hi]`` whose type-7 quartiles equal ``quartiles`` exactly."""
    ranges = _slot_ranges(n, quartile_anchors(n, quartiles, grid), lo, hi)
    return np.sort(np.array([float(on_grid(rng.uniform(a, b), grid)) if a != b else a for a, b in ranges]))


def complete_to_quartiles(subset: np.ndarray, n: int, quartiles: tuple[float, float, float], lo: float, hi: float,
                          grid: float, rng: np.random.Generator) -> np.ndarray | None:
    """Values to add to ``subset`` so that all ``n`` together have exactly ``quartiles``; None if impossible.

    Sorted subset values are placed greedily at the earliest sorted position whose range admits them (which
    is optimal because the ranges increase with the position); the free positions are then drawn in range.
    """
    ranges = _slot_ranges(n, quartile_anchors(n, quartiles, grid), lo, hi)
    taken = np.zeros(n, dtype=bool)
    pos = 0
    for value in np.sort(subset):
        while pos < n and not (ranges[pos][0] <= value <= ranges[pos][1]):
            pos += 1
        if pos == n:
            return None
        taken[pos] = True
        pos += 1
    rest = [float(on_grid(rng.uniform(a, b), grid)) if a != b else a for (a, b), t in zip(ranges, taken) if not t]
    return np.array(rest)


def _quantile_error(x: np.ndarray, targets: tuple[float, float, float], printed_decimals: int, grid: float) -> float:
    q = type7_quartiles(x)
    # exact equality, not equality after rounding: a value like 2.335 prints as 2.33 or 2.34 depending on
    # the software's rounding of binary floating point, so targets are hit exactly
    return float(sum(0.0 if abs(qi - ti) < 1e-9 else abs(qi - ti) / grid + 1 for qi, ti in zip(q, targets)))


def _p_error(p: float, target: float, relation: str | None = None, decimals: int = 3) -> float:
    if relation == "<":
        return 0.0 if p < target else (p - target) * 100 + 1
    return 0.0 if round(p, decimals) == round(target, decimals) else abs(p - target) * 100 + 1


# ------------------------------------------------------------------------------------------------ seed 000
class Seed000Reconstruction:
    """Seed 000: exact primary-cohort Table 1; a designated matched subset per arm, which the matching is made to select."""

    def __init__(self, spec: StudySpec, assumptions: dict, published: pd.DataFrame):
        self.spec = spec
        self.assume = assumptions
        self.pub = published[(published["analysis"] == "table1")]
        self.rng = np.random.default_rng(int(assumptions["seed"]))
        self.arms = spec.arm.codes
        self.n = {a: self._value("primary", "patients", "included", a, "n", analysis="flow",
                                 fallback=self._count_total("primary", a)) for a in self.arms}
        self.m = {a: self._value("matched", "patients", "included", a, "n", analysis="flow",
                                 fallback=self._count_total("matched", a)) for a in self.arms}
        self.targets: list[Target] = []

    # published look-ups ------------------------------------------------------------------------------
    def _rows(self, cohort, variable, group, stat, analysis="table1"):
        src = self.pub if analysis == "table1" else None
        if src is None:
            return pd.DataFrame()
        return src[(src.cohort == cohort) & (src.variable == variable) & (src.group == group) & (src.stat == stat)]

    def _value(self, cohort, variable, level, group, stat, analysis="table1", fallback=None):
        return int(fallback) if fallback is not None else None

    def _count_total(self, cohort, arm):
        first_cat = next(v for v in self.spec.table1.variables if self.spec.variables[v].is_categorical)
        rows = self._rows(cohort, first_cat, arm, "n")
        return int(rows["value"].sum())

    def counts(self, cohort: str, variable: str, arm: str) -> dict[str, int]:
        rows = self._rows(cohort, variable, arm, "n").drop_duplicates("level")
        return {str(r.level): int(r.value) for r in rows.itertuples()}

    def quartiles(self, cohort: str, variable: str, arm: str) -> tuple[float, float, float]:
        get = lambda stat: float(self._rows(cohort, variable, arm, stat)["value"].iloc[0])  # noqa: E731
        return get("q1"), get("median"), get("q3")

    def p_target(self, cohort: str, variable: str) -> tuple[float, str | None]:
        rows = self._rows(cohort, variable, "comparison", "p_value")
        rel = rows["relation"].iloc[0] if "relation" in rows and pd.notna(rows["relation"].iloc[0]) else None
        return float(rows["value"].iloc[0]), rel

    # building blocks -----------------------------------------------------------------------------------
    def continuous_values(self, variable: str) -> dict[str, np.ndarray]:
        """Values per arm, the first ``m[arm]`` of each forming the designated matched subset.

        Phase 1 builds each designated subset with the matched cohort's exact quartiles, then moves its free
        values towards the matched p-value; phase 2 adds the other patients so that the whole arm has the
        primary cohort's quartiles and the primary p-value.
        """
        conf = self.assume["continuous"][variable]
        lo, hi = conf["range"]
        grid = float(conf["grid"])
        tq = {(c, a): self.quartiles(c, variable, a) for c in ("primary", "matched") for a in self.arms}
        p_primary = self.p_target("primary", variable)
        p_matched = self.p_target("matched", variable)
        ref, exp = self.arms

        def subset_objective(b):
            err = sum(100 * _quantile_error(b[a], tq["matched", a], 2, grid) for a in self.arms)
            return err + _p_error(search_mann_whitney_p(b[ref], b[exp]), *p_matched)

        subsets = {a: anchored_sample(self.m[a], tq["matched", a], lo, hi, grid, self.rng) for a in self.arms}
        subsets, _ = calibrate_continuous(subsets, subset_objective, grid, lo, hi, self.rng, max_iter=20000)

        def whole_objective(b):
            whole = {a: np.concatenate([subsets[a], b[a]]) for a in self.arms}
            err = sum(100 * _quantile_error(whole[a], tq["primary", a], 2, grid) for a in self.arms)
            return err + _p_error(search_mann_whitney_p(whole[ref], whole[exp]), *p_primary)

        rest = {}
        for a in self.arms:
            completion = complete_to_quartiles(subsets[a], self.n[a], tq["primary", a], lo, hi, grid, self.rng)
            rest[a] = completion if completion is not None else on_grid(
                self.rng.uniform(lo, hi, self.n[a] - self.m[a]), grid)
        rest, _ = calibrate_continuous(rest, whole_objective, grid, lo, hi, self.rng)
        blocks = {a: np.concatenate([subsets[a], rest[a]]) for a in self.arms}
        policy = self.spec.table1.continuous_test
        for a in self.arms:
            for cohort, x in (("primary", blocks[a]), ("matched", blocks[a][: self.m[a]])):
                for stat, q, t in zip(("q1", "median", "q3"), type7_quartiles(x), tq[cohort, a]):
                    self.targets.append(Target(cohort, variable, "", a, stat, t, float(q), decimals=2))
        self.targets.append(Target("primary", variable, "", "comparison", "p_value", p_primary[0],
                                   _continuous_p(blocks[ref], blocks[exp], policy)))
        self.targets.append(Target("matched", variable, "", "comparison", "p_value", p_matched[0],
                                   _continuous_p(blocks[ref][: self.m[ref]], blocks[exp][: self.m[exp]], policy)))
        return blocks

    def category_lists(self, variable: str) -> dict[str, tuple[list[str], list[str]]]:
        """Per arm: (levels of the designated matched subset sorted by level, levels of the rest)."""
        var = self.spec.variables[variable]
        order = list(var.category_labels)
        out = {}
        for a in self.arms:
            prim, mat = self.counts("primary", variable, a), self.counts("matched", variable, a)
            sub = [lvl for lvl in order for _ in range(mat.get(lvl, 0))]
            rest = [lvl for lvl in order for _ in range(prim.get(lvl, 0) - mat.get(lvl, 0))]
            if len(sub) != self.m[a] or len(rest) != self.n[a] - self.m[a] or min(
                    prim.get(lvl, 0) - mat.get(lvl, 0) for lvl in order) < 0:
                raise ValueError(f"{variable}/{a}: published primary and matched counts are inconsistent")
            out[a] = (sub, rest)
        return out

    def candidate(self, cont: dict, cats: dict, rng: np.random.Generator) -> pd.DataFrame:
        """One joint arrangement: designated pairs share a random order per variable, the rest is shuffled."""
        cols: dict[str, dict[str, np.ndarray]] = {a: {} for a in self.arms}
        for variable, per_arm in {**cats, **{v: None for v in cont}}.items():
            shared = rng.permutation(max(self.m.values()))
            for a in self.arms:
                if per_arm is None:  # continuous: pair designated values by rank, shuffle the rest
                    vals = cont[variable][a]
                    sub = np.sort(vals[: self.m[a]])[np.argsort(shared[: self.m[a]]) % self.m[a]]
                    rest = rng.permutation(vals[self.m[a]:])
                else:
                    sub_l, rest_l = per_arm[a]
                    sub = np.array(sub_l, dtype=object)[np.argsort(shared[: self.m[a]]) % self.m[a]]
                    rest = rng.permutation(np.array(rest_l, dtype=object))
                cols[a][variable] = np.concatenate([sub, rest])
        frames = []
        for a in self.arms:
            df = pd.DataFrame(cols[a])
            df.insert(0, self.spec.arm.column, a)
            df["designated_matched"] = np.arange(self.n[a]) < self.m[a]
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def typed(self, df: pd.DataFrame) -> pd.DataFrame:
        """Candidate frame with the column types and names the analyses use."""
        out = df.copy()
        for name, var in self.spec.variables.items():
            if name not in out:
                continue
            if var.type == "categorical":
                out[name] = pd.Categorical(out[name], categories=list(var.levels), ordered=True)
            elif var.cut is not None and var.summarise_as == "categorical":
                out[name + "_cat"] = pd.Categorical(out[name], categories=list(var.cut.levels), ordered=True)
            else:
                out[name] = out[name].astype(float)
        return out

    def score(self, df: pd.DataFrame) -> tuple[float, pd.Index]:
        ms = self.spec.matching
        typed = self.typed(df)
        covs = [analysis_column(self.spec, v) for v in ms.covariates]
        treated = self.spec.arm.experimental
        result, _ = match_cohort(typed, self.spec.arm.column, treated, covs, ratio=ms.ratio, caliper=ms.caliper,
                                 replace=ms.replace)
        matched = result.matched_ids
        n_pairs = len(result.pairs)
        err = 10.0 * abs(n_pairs - self.m[treated])
        # distance of the matched cohort's counts from the published matched column
        for variable in self.spec.table1.variables:
            if not self.spec.variables[variable].is_categorical:
                continue
            col = analysis_column(self.spec, variable)
            for a in self.arms:
                got = typed.loc[matched][typed.loc[matched, self.spec.arm.column] == a][col].value_counts()
                for lvl, n in self.counts("matched", variable, a).items():
                    err += abs(int(got.get(lvl, 0)) - n)
        err += 5.0 * (~df.loc[matched, "designated_matched"]).sum()
        return err, matched

    def build(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        cont_vars = [v for v in self.spec.table1.variables if not self.spec.variables[v].is_categorical]
        cat_vars = [v for v in self.spec.table1.variables if self.spec.variables[v].is_categorical]
        cont = {v: self.continuous_values(v) for v in cont_vars}
        cats = {v: self.category_lists(v) for v in cat_vars}
        for v in cat_vars:
            for a in self.arms:
                for cohort in ("primary",):
                    for lvl, n in self.counts(cohort, v, a).items():
                        self.targets.append(Target(cohort, v, lvl, a, "n", n, n, decimals=0))
        best = None
        for k in range(int(self.assume.get("matching_candidates", 100))):
            rng = np.random.default_rng([int(self.assume["seed"]), k])
            cand = self.candidate(cont, cats, rng)
            err, matched = self.score(cand)
            if best is None or err < best[0]:
                best = (err, k, cand, matched)
        err, k, df, matched = best
        df = self.design_matched_cohort(df, np.random.default_rng([int(self.assume["seed"]), 20_000]))
        _, matched = self.score(df)
        for name, var in self.spec.variables.items():
            if var.type == "continuous" and var.cut is not None and var.summarise_as == "categorical":
                df[name] = self._values_in_categories(name, df[name], np.random.default_rng([int(self.assume["seed"]), 10_000]))
        n_pairs = int((df.loc[matched, self.spec.arm.column] == self.spec.arm.experimental).sum())
        self.targets.append(Target("matched", "pairs", "", "all", "n", self.m[self.spec.arm.experimental], n_pairs, 0))
        df = df.drop(columns="designated_matched")
        return df, _report_frame(self.targets)

    def matched_design_targets(self) -> tuple[dict, dict]:
        """The paper's matched column as the design aims at it: per (matching covariate, arm) the published level
        counts of a categorical (or categorised) covariate, and the published quartiles of a continuous one."""
        ms = self.spec.matching
        counted = {v: self.spec.variables[v].is_categorical or analysis_column(self.spec, v) != v
                   for v in ms.covariates}
        counts = {(v, a): self.counts("matched", v, a) for v in ms.covariates for a in self.arms if counted[v]}
        quartiles = {(v, a): np.array(self.quartiles("matched", v, a)) for v in ms.covariates for a in self.arms
                     if not counted[v]}
        return counts, quartiles

    def design_matched_cohort(self, df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Rearrange the matching covariates so that the spec's own propensity model and matching select the
        paper's matched column, then give the matched patients the designated values of the other variables
        (:class:`helpers.synth.matched_design.MatchedCohortDesign`)."""
        ms = self.spec.matching
        counts, quartiles = self.matched_design_targets()
        design = MatchedCohortDesign(self.spec, df, self.typed(df), counts, quartiles, self.m[self.spec.arm.experimental])
        design.spread_other_patients()
        design.search(rng, int(self.assume.get("matching_search_steps", 0)),
                      int(self.assume.get("matching_polish_sweeps", 0)),
                      float(self.assume.get("matching_search_temperature", 0.0)))
        other = [v for v in self.spec.table1.variables if v not in ms.covariates]
        return design.assign_other_variables(design.arranged(), other)

    def _values_in_categories(self, name: str, levels: pd.Series, rng: np.random.Generator) -> pd.Series:
        return values_in_categories(levels, self.assume["categorised"][name], rng)


def values_in_categories(levels: pd.Series, conf: dict, rng: np.random.Generator) -> pd.Series:
    """Draw a continuous value inside each patient's category range (uniform, or log-uniform)."""
    grid = float(conf["grid"])
    out = np.empty(len(levels))
    for i, lvl in enumerate(levels):
        lo, hi = conf["ranges"][lvl]
        if conf.get("log"):
            x = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        else:
            x = rng.uniform(lo, hi)
        out[i] = min(max(float(on_grid(x, grid)), lo), hi)
    return pd.Series(out, index=levels.index)


# ------------------------------------------------------------------------------------------------ seed 004
class Seed004Reconstruction:
    """Seed 004: arm sizes, age mean/SD, and category counts that reproduce the published p-values."""

    def __init__(self, spec: StudySpec, assumptions: dict, published: pd.DataFrame):
        self.spec = spec
        self.assume = assumptions
        self.pub = published[published["analysis"] == "table1"]
        self.rng = np.random.default_rng(int(assumptions["seed"]))
        self.arms = spec.arm.codes
        self.n = {a: int(assumptions["arm_sizes"][a]) for a in self.arms}
        self.targets: list[Target] = []

    def p_target(self, variable: str) -> float | None:
        rows = self.pub[(self.pub.variable == variable) & (self.pub.stat == "p_value") & (self.pub.cohort == "primary")]
        return float(rows["value"].iloc[0]) if len(rows) else None

    def mean_sd(self, variable: str, arm: str) -> tuple[float, float]:
        rows = self.pub[(self.pub.variable == variable) & (self.pub.group == arm) & (self.pub.cohort == "primary")]
        return (float(rows[rows.stat == "mean"]["value"].iloc[0]), float(rows[rows.stat == "sd"]["value"].iloc[0]))

    def continuous_values(self, variable: str) -> dict[str, np.ndarray]:
        conf = self.assume["continuous"][variable]
        lo, hi = conf["range"]
        grid = float(conf["grid"])
        targets = {a: self.mean_sd(variable, a) for a in self.arms}
        blocks = {a: on_grid(np.clip(self.rng.normal(*targets[a], self.n[a]), lo, hi), grid) for a in self.arms}

        def objective(b):
            err = 0.0
            for a in self.arms:
                m, s = targets[a]
                xm, xs = b[a].mean(), b[a].std(ddof=1)
                err += 0 if round(xm, 2) == m else abs(xm - m) * 100 + 1
                err += 0 if round(xs, 2) == s else abs(xs - s) * 100 + 1
            return err

        blocks, _ = calibrate_continuous(blocks, objective, grid, lo, hi, self.rng)
        for a in self.arms:
            self.targets.append(Target("primary", variable, "", a, "mean", targets[a][0], blocks[a].mean(), 2))
            self.targets.append(Target("primary", variable, "", a, "sd", targets[a][1], blocks[a].std(ddof=1), 2))
        p = self.p_target(variable)
        if p is not None:
            ref, exp = self.arms
            self.targets.append(Target("primary", variable, "", "comparison", "p_value", p,
                                       _continuous_p(blocks[ref], blocks[exp], self.spec.table1.continuous_test)))
        return blocks

    def category_counts(self, variable: str) -> np.ndarray:
        """Per-arm counts (levels x arms) reproducing the published p, closest to the assumed proportions."""
        conf = self.assume["categorical"][variable]
        levels = list(self.spec.variables[variable].category_labels)
        prop = np.array([conf["proportions"][lvl] for lvl in levels], dtype=float)
        target = self.p_target(variable)
        policy = self.spec.table1.categorical_test
        n1, n2 = (self.n[a] for a in self.arms)
        direction = conf.get("direction")
        j = levels.index(direction["level"]) if direction else None
        higher = (0 if direction["higher"] == self.arms[0] else 1) if direction else None
        best = None
        # Walk count tables from the closest to the assumed proportions outwards; the first whose p-value prints
        # as published wins.  If none within the budget does, keep the table whose p is nearest the target.
        for evaluated, (distance, c1, c2) in enumerate(self._count_candidates(n1, n2, prop)):
            if direction:
                share = (c1[j] / n1, c2[j] / n2)
                if share[higher] <= share[1 - higher]:
                    continue
            table = np.array([c1, c2]).T
            if target is None:
                best = (table, math.nan)
                break
            p = _categorical_p(table, policy)
            miss = abs(p - target)
            if best is None or miss < best[2]:
                best = (table, p, miss)
            if round(p, 3) == round(target, 3) or evaluated >= self.max_tables:
                break
        table, p = best[0], best[1]
        if target is not None:
            self.targets.append(Target("primary", variable, "", "comparison", "p_value", target, p))
        return table

    max_tables = 30000  # exact r x c tests are the cost; this bounds the search per variable

    @staticmethod
    def _count_candidates(n1: int, n2: int, prop: np.ndarray):
        """Yield ``(distance, counts_arm1, counts_arm2)`` in increasing L1 distance from the assumed shares.

        Every count vector of each arm is considered (all splits of n into k levels), and pairs are produced
        lazily in order of the summed distance with a heap, so the search is exhaustive in that order.
        """
        def vectors(n):
            out = []
            for head in itertools.product(range(n + 1), repeat=len(prop) - 1):
                last = n - sum(head)
                if last >= 0:
                    c = (*head, last)
                    out.append((float(np.abs(np.array(c) / n - prop).sum()), c))
            out.sort()
            return out
        v1, v2 = vectors(n1), vectors(n2)
        heap = [(v1[0][0] + v2[0][0], 0, 0)]
        seen = {(0, 0)}
        while heap:
            d, i, k = heapq.heappop(heap)
            yield d, list(v1[i][1]), list(v2[k][1])
            for ni, nk in ((i + 1, k), (i, k + 1)):
                if ni < len(v1) and nk < len(v2) and (ni, nk) not in seen:
                    seen.add((ni, nk))
                    heapq.heappush(heap, (v1[ni][0] + v2[nk][0], ni, nk))

    def build(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        frames = {a: pd.DataFrame(index=range(self.n[a])) for a in self.arms}
        for variable in self.spec.table1.variables:
            var = self.spec.variables[variable]
            if not var.is_categorical:
                values = self.continuous_values(variable)
                for a in self.arms:
                    frames[a][variable] = values[a]
                continue
            table = self.category_counts(variable)
            levels = list(var.category_labels)
            for j, a in enumerate(self.arms):
                labels = np.array([lvl for lvl, c in zip(levels, table[:, j]) for _ in range(int(c))], dtype=object)
                labels = self.rng.permutation(labels)
                if var.type == "continuous":
                    frames[a][variable] = values_in_categories(pd.Series(labels), self.assume["categorised"][variable],
                                                               self.rng).to_numpy()
                else:
                    frames[a][variable] = labels
        out = []
        for a in self.arms:
            frames[a].insert(0, self.spec.arm.column, a)
            out.append(frames[a])
        return pd.concat(out, ignore_index=True), _report_frame(self.targets)


# ----------------------------------------------------------------------------------------------- writing
#: Written next to the patient table: the SHA-256 of everything the generator reads (see :func:`input_digest`).
DIGEST_FILE = "reconstruction_inputs.sha256"


def input_files(study_id: str) -> list[Path]:
    """What a study's synthetic table is generated from: its spec, published values and assumptions, the
    generator's own modules (``helpers.synth``) and the engines it calls (``helpers.stats``: the search
    computes every target with the chapters' own statistics)."""
    spec = load_spec(study_id)
    synth = Path(__file__).resolve().parent
    engines = synth.parent / "stats"
    return [spec.folder / "study.yaml", spec.published_file, spec.folder / ASSUMPTIONS_FILE,
            *sorted(synth.glob("*.py")), *sorted(engines.glob("*.py"))]


def input_digest(study_id: str) -> str:
    """SHA-256 over the generator's inputs (:func:`input_files`: names and bytes, line endings as stored). The
    test suite compares it with the committed digest instead of regenerating (which takes minutes)."""
    h = hashlib.sha256()
    for f in input_files(study_id):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


RECONSTRUCTORS = {"erhcc_hait_mp": Seed000Reconstruction, "haic_after_ab": Seed004Reconstruction}


def matched_cohort_report(spec: StudySpec, path: Path, published: pd.DataFrame) -> pd.DataFrame:
    """Report rows for the matched cohort as the book computes it: load the written table, match it with the
    study's settings and compare its Table 1 with the published matched column (not with the generator's
    internal designated subset, which the matching need not pick)."""
    from helpers.analyses.audit import compare_with_published
    from helpers.analyses.cohorts import match_study, matching_results, matching_settings
    from helpers.study.patients import load_patients
    from helpers.analyses.table1 import baseline_table

    data = load_patients(spec, path)
    matched = match_study(data, spec, matching_settings(spec))
    computed = baseline_table(matched.data, spec, "matched").long
    computed = pd.concat([computed, matching_results(matched).assign(cohort="matched")], ignore_index=True)
    computed["section"] = "cohorts"
    pub = published[(published["cohort"] == "matched") & published["analysis"].isin(["table1", "psm"])
                    & (published["variable"] != "caliper_width") & (published["variable"] != "ratio")]
    cmp = compare_with_published(computed, pub)
    return pd.DataFrame({"cohort": "matched", "variable": cmp["variable"], "level": cmp["level"],
                         "group": cmp["group"], "stat": cmp["stat"], "target": cmp["value"],
                         "achieved": cmp["reproduced"], "hit": cmp["status"] == "reproduced"})


#: ``status`` of a row of ``reconstruction_report.csv`` (:data:`helpers.study.published.RECONSTRUCTION_STATUSES`):
#: ``out_of_reach`` from an ``out_of_reach`` entry of ``reconstruction.yaml``, ``conflict`` from a ``conflicts`` one.
REPORT_STATUSES = RECONSTRUCTION_STATUSES


def _keys(frame: pd.DataFrame, columns=REPORT_KEY) -> list[tuple]:
    """Each row's key (:data:`helpers.synth.assumptions.REPORT_KEY`, empty text for a missing part)."""
    parts = frame.reindex(columns=list(columns)).fillna("").astype(str)
    return list(parts.itertuples(index=False, name=None))


def check_out_of_reach(entries: list[OutOfReach], published: pd.DataFrame, path,
                       conflict_entries: list[Conflict] = ()) -> None:
    """Refuse, before any generation, an ``out_of_reach`` entry or a ``conflicts`` member whose key is no
    published number (with the nearest one)."""
    rows = _keys(published)
    keys = set(rows)
    labels = sorted({key_label(k) for k in keys})
    problems = [f"{at_line(e.line)}out_of_reach.{e.id}: `{key_label(e.key)}` is not a published number"
                f"{did_you_mean(key_label(e.key), labels)}" for e in entries if e.key not in keys]
    problems += [f"{at_line(c.member_line(name))}conflicts.{c.id}.members.{name}: `{key_label(key)}` is not a "
                 f"published number{did_you_mean(key_label(key), labels)}"
                 for c in conflict_entries for name, key in c.members if key not in keys]
    for e in entries:
        if e.key in keys and e.value is not None:
            values = sorted({float(v) for k, v in zip(rows, published["value"]) if k == e.key and pd.notna(v)})
            if not any(math.isclose(e.value, v) for v in values):
                printed = " and ".join(f"{v:g}" for v in values) or "NA"
                problems.append(f"{at_line(e.line)}out_of_reach.{e.id}.value: `{key_label(e.key)}` is published "
                                f"as {printed}, not {e.value:g}")
    if problems:
        raise AssumptionsError(path, problems)


def mark_out_of_reach(report: pd.DataFrame, entries: list[OutOfReach], path,
                      conflict_entries: list[Conflict] = ()) -> pd.DataFrame:
    """``report`` with ``status`` (:data:`REPORT_STATUSES`) and ``proof`` after ``hit``.  An entry that matches no
    row, or a row the table hits (its proof would be wrong), is refused: nothing is reported out of reach that
    was not aimed at and missed.  Of a conflict's members, the missed ones in the order listed, up to the number
    no table can print beside the others, get ``conflict``; a member naming no row, or more members hit than
    the proof allows, is refused."""
    keys = _keys(report)
    status = np.where(report["hit"].astype(bool), "hit", "missed").astype(object)
    proof = np.full(len(report), "", dtype=object)
    problems = []
    targets = report["target"].to_numpy(dtype=float)
    for e in entries:
        rows = np.array([i for i, k in enumerate(keys) if k == e.key
                         and (e.value is None or math.isclose(targets[i], e.value))], dtype=int)
        if not len(rows):
            problems.append(f"{at_line(e.line)}out_of_reach.{e.id}: `{e.label}` is no target of the reconstruction"
                            f"{did_you_mean(e.label, sorted({key_label(k) for k in keys}))}")
        elif (status[rows] == "hit").any():
            problems.append(f"{at_line(e.line)}out_of_reach.{e.id}: `{e.label}` is hit by the generated table, so "
                            f"its proof ({e.proof}) does not hold for it")
        else:
            status[rows], proof[rows] = "out_of_reach", e.proof
    for c in conflict_entries:
        rows = []
        for name, key in c.members:
            here = [i for i, k in enumerate(keys) if k == key]
            if not here:
                near = did_you_mean(key_label(key), sorted({key_label(k) for k in keys}))
                problems.append(f"{at_line(c.member_line(name))}conflicts.{c.id}.members.{name}: `{key_label(key)}` "
                                f"is no target of the reconstruction{near}")
            rows += here[:1]  # a key printed with two values: its first (an out_of_reach entry can name the other)
        if len(rows) < len(c.members):
            continue
        hits = [i for i in rows if status[i] == "hit"]
        if len(hits) > c.at_most:
            problems.append(f"{at_line(c.line)}conflicts.{c.id}: {len(hits)} of its {len(c.members)} members are "
                            f"hit by the generated table, so its proof ({c.proof}: at most {c.at_most}) does not hold")
            continue
        for i in [i for i in rows if status[i] == "missed"][:c.beyond_reach]:
            status[i], proof[i] = "conflict", c.proof
    if problems:
        raise AssumptionsError(path, problems)
    out = report.copy()
    at = out.columns.get_loc("hit") + 1
    out.insert(at, "status", status)
    out.insert(at + 1, "proof", proof)
    return out


def reconstruct(study_id: str, out_dir: Path | None = None) -> tuple[Path, pd.DataFrame]:
    """Write the synthetic ``patients.csv`` and ``reconstruction_report.csv`` of a study; return the CSV path."""
    spec = load_spec(study_id)
    assumptions = load_assumptions(spec)
    published = load_published(spec)
    df, report = RECONSTRUCTORS[study_id](spec, assumptions, published).build()
    rng = np.random.default_rng([int(assumptions["seed"]), 99])
    df = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    df.insert(0, spec.id_column, [f"SYN-{study_id[:4].upper()}-{i + 1:04d}" for i in range(len(df))])
    df = df[[spec.id_column, spec.arm.column, *spec.variables]]
    out_dir = Path(out_dir or spec.folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, var in spec.variables.items():
        if var.type == "continuous":
            grid = (assumptions.get("continuous", {}).get(name) or assumptions.get("categorised", {}).get(name))["grid"]
            d = grid_decimals(float(grid))
            df[name] = df[name].map(lambda x, d=d: f"{x:.{d}f}")
    survival_report = None
    if spec.survival is not None and "survival" in assumptions:
        # time-to-event columns, appended to the final baseline table (which they never change)
        # (typed through a spec without the response/AE sections: those columns do not exist yet)
        base_spec = dataclasses.replace(spec, response=None, adverse_events=None)
        df, survival_report = add_survival_endpoints(base_spec, assumptions, published, df)
    # best-response and adverse-event columns, appended after the survival columns (PFS orders the responses)
    df, response_report = add_response_and_safety(spec, assumptions, published, df)
    # every file is written into a scratch folder beside the outputs and moved into place only once the report
    # is complete: a refusal (an out_of_reach entry the table hits) leaves the previous files as they were
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".reconstruct-") as scratch:
        written = Path(scratch) / spec.patients_file.name
        df.to_csv(written, index=False, lineterminator="\n")
        if spec.matching is not None:
            report = pd.concat([report[report["cohort"] != "matched"],
                                matched_cohort_report(spec, written, published)], ignore_index=True)
        report.insert(1, "analysis", np.where(report["variable"] == "pairs", "psm", "table1"))
        report.insert(report.columns.get_loc("stat") + 1, "relation", "")
        if survival_report is not None:
            report = pd.concat([report, survival_report], ignore_index=True)
        if response_report is not None:
            report = pd.concat([report, response_report], ignore_index=True)
        where, lines = spec.folder / ASSUMPTIONS_FILE, assumption_lines(spec)
        report = mark_out_of_reach(report, out_of_reach(assumptions, where, lines), where,
                                   conflicts(assumptions, where, lines))
        report.insert(0, "study", study_id)
        report.to_csv(Path(scratch) / "reconstruction_report.csv", index=False, lineterminator="\n")
        (Path(scratch) / DIGEST_FILE).write_text(input_digest(study_id) + "\n", encoding="utf-8")
        for name in (spec.patients_file.name, "reconstruction_report.csv", DIGEST_FILE):
            os.replace(Path(scratch) / name, out_dir / name)
    path = out_dir / spec.patients_file.name
    return path, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("studies", nargs="*", default=list(RECONSTRUCTORS), help="study ids (default: all)")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="write here instead of data/studies/<id>/ (a sub-folder per study)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="studies generated in parallel processes (default: one per study, at most the CPUs)")
    args = parser.parse_args(argv)
    for study in args.studies:
        if study not in RECONSTRUCTORS:
            print(f"error: no reconstruction for study '{study}'{did_you_mean(study, list(RECONSTRUCTORS))} "
                  f"(known: {', '.join(RECONSTRUCTORS)})", file=sys.stderr)
            return 2
        # every study's assumptions checked before any is generated: a misspelled key fails at once, not
        # minutes later, and nothing is written
        try:
            study_spec = load_spec(study)
            assumptions = load_assumptions(study_spec)
            where, lines = study_spec.folder / ASSUMPTIONS_FILE, assumption_lines(study_spec)
            check_out_of_reach(out_of_reach(assumptions, where, lines), load_published(study_spec), where,
                               conflicts(assumptions, where, lines))
        except SpecError as exc:   # an AssumptionsError too
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if not floating_point.pinned():
        # checked: the same command in a child whose NumPy, OpenBLAS and libm use their baseline kernels (see
        # helpers.synth.floating_point): byte-identical files whatever the CPU
        import subprocess

        env = floating_point.pinned_environment()
        argv = sys.argv[1:] if argv is None else list(argv)
        return subprocess.run([sys.executable, "-m", "helpers.synth.reconstruct", *argv], env=env).returncode
    outs = [args.out_dir / study if args.out_dir else None for study in args.studies]
    jobs = args.jobs or min(len(args.studies), os.cpu_count() or 1)
    if jobs > 1 and len(args.studies) > 1:
        # each study is generated from its own seeds alone, so parallel runs write the same bytes as serial ones
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(reconstruct, args.studies, outs))
    else:
        results = [reconstruct(study, out) for study, out in zip(args.studies, outs)]
    for study, (path, report) in zip(args.studies, results):
        hit = int(report["hit"].sum())
        proven = int(report["status"].isin(PROVEN_STATUSES).sum())
        print(f"{study}: wrote {path} ({hit} of {len(report)} targets hit exactly; {proven} of the missed proven "
              f"out of reach alone or in conflict with others, so {hit} of {len(report) - proven} reachable)")
        missed = report[~report["hit"]]
        if len(missed):
            print(missed.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
