"""A designed matched cohort: arrange seed 000's matching covariates so that the study's own propensity model
and matching select a cohort with the paper's matched Table 1 column.

The baseline generator (:mod:`helpers.synth.reconstruct`) builds, per arm, a *designated* subset whose counts
and quartiles are the published matched column, and the other patients, so that the whole arm has the primary
cohort's. Which patients the matching then picks depends on how the levels are combined in each patient.
:class:`MatchedCohortDesign` searches those combinations:

* A move swaps one matching covariate's values between two patients of one arm, or between two designated
  pairs in both arms at once (the pairs start alike, so that partners have equal scores). No move changes a
  count or a quartile of the primary cohort.
* The cost is ten per missing or extra pair, plus the distance of the matched patients' counts of the matching
  covariates from the published matched column (plus :data:`QUARTILE_WEIGHT` per unit of the matched age
  quartiles' distance), evaluated
  with the chapters' propensity fit (:func:`helpers.stats.matching.propensity_kernel`) and matching
  (:func:`helpers.stats.matching.nearest_neighbor_kernel`, the kernel of ``nearest_neighbor_match``) under the
  spec's settings.
* Simulated annealing over ``matching_search_steps`` moves, then steepest descent over the moves that touch a
  patient counted wrongly (``matching_polish_sweeps``).
* The other Table 1 variables do not enter the propensity model, so once the matched patients are known, they
  receive the designated subset's values of those variables (:meth:`MatchedCohortDesign.assign_other_variables`):
  the matched column of those variables is then exact by construction.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from helpers.stats.descriptive import type7_quartiles
from helpers.stats.matching import nearest_neighbor_kernel, propensity_design, propensity_kernel, resolve_convention
from helpers.study.patients import analysis_column
from helpers.study.spec import StudySpec

#: Cost of a matched quartile of a numeric matching covariate (age) one unit away from its target; a count one
#: patient away costs 1.
QUARTILE_WEIGHT = 0.3


class MatchedCohortDesign:
    """The search state: the propensity design ``x`` (rows = patients of ``frame``), the level codes of the
    matching covariates and the permutation applied to each covariate so far."""

    def __init__(self, spec: StudySpec, frame: pd.DataFrame, typed: pd.DataFrame,
                 matched_counts: dict[tuple[str, str], dict[str, int]], matched_quartiles: dict, pairs_target: int):
        self.spec, self.frame = spec, frame
        ms = spec.matching
        self.settings = ms
        self.covariates = list(ms.covariates)
        cols = [analysis_column(spec, v) for v in self.covariates]
        self.x, _ = propensity_design(typed, cols)
        widths = [propensity_design(typed, [c])[0].shape[1] - 1 for c in cols]   # each covariate's columns in x
        first = np.cumsum([1] + widths[:-1])
        self.blocks = [np.arange(f, f + w) for f, w in zip(first, widths)]
        self.arms = list(spec.arm.codes)
        arm = frame[spec.arm.column].to_numpy()
        self.arm = arm
        self.treated = arm == spec.arm.experimental
        self.designated = frame["designated_matched"].to_numpy()
        self.rows = {(a, d): np.flatnonzero((arm == a) & (self.designated == d)) for a in self.arms for d in (True, False)}
        m = min(len(self.rows[a, True]) for a in self.arms)
        self.pairs = np.column_stack([self.rows[a, True][:m] for a in self.arms])   # pair p: row p of each arm
        self.pairs_target = pairs_target
        # categorical matching covariates: integer codes per patient and the target counts per arm
        self.categorical = [k for k, c in enumerate(cols) if isinstance(typed[c].dtype, pd.CategoricalDtype)]
        self.codes = {k: typed[cols[k]].cat.codes.to_numpy().copy() for k in self.categorical}
        self.n_levels = {k: len(typed[cols[k]].cat.categories) for k in self.categorical}
        self.target_counts = {}
        for k in self.categorical:
            cats = list(typed[cols[k]].cat.categories)
            for a in self.arms:
                got = matched_counts.get((self.covariates[k], a))
                if got is not None:
                    self.target_counts[k, a] = np.array([got.get(str(c), 0) for c in cats])
        self.numeric = {k: typed[cols[k]].to_numpy(dtype=float).copy() for k in range(len(cols))
                        if k not in self.categorical and (self.covariates[k], self.arms[0]) in matched_quartiles}
        self.target_quartiles = matched_quartiles
        self.perm = [np.arange(len(frame)) for _ in self.covariates]
        logit = None if ms.distance is None else ms.distance == "logit"
        #: (logit, caliper_sd, discard) as nearest_neighbor_match resolves them from the spec's settings
        self.resolved = resolve_convention(ms.convention, logit, ms.caliper_sd, ms.discard)
        self.matched = np.zeros(len(frame), dtype=bool)

    # evaluation --------------------------------------------------------------------------------------------
    def cost(self) -> float:
        ms = self.settings
        ps, _, _ = propensity_kernel(self.x, self.treated.astype(float))
        # the kernel of nearest_neighbor_match (the chapter's matching), without its checks and result tables
        res = nearest_neighbor_kernel(ps, self.treated, ms.ratio, ms.caliper, True, ms.replace, ms.order,
                                      *self.resolved)
        matched = res.matched_rows()
        self.matched = matched
        n_pairs = res.n_matched_treated
        cost = 10.0 * abs(n_pairs - self.pairs_target)
        for (k, a), target in self.target_counts.items():
            sel = matched & (self.arm == a)
            cost += float(np.abs(np.bincount(self.codes[k][sel], minlength=self.n_levels[k]) - target).sum())
        for k, values in self.numeric.items():
            for a in self.arms:
                sel = matched & (self.arm == a)
                if sel.sum() >= 2:
                    q = type7_quartiles(values[sel])
                    cost += QUARTILE_WEIGHT * float(np.abs(q - self.target_quartiles[self.covariates[k], a]).sum())
        return cost

    def wrong(self) -> np.ndarray:
        """Patients whose matched status differs from their designation (where a move should start)."""
        return np.flatnonzero(self.matched != self.designated)

    # moves -------------------------------------------------------------------------------------------------
    def swap(self, k: int, first: np.ndarray, second: np.ndarray) -> bool:
        """Swap covariate ``k`` between the rows ``first`` and ``second``; False when their values are equal."""
        b = self.blocks[k]
        if np.array_equal(self.x[np.ix_(first, b)], self.x[np.ix_(second, b)]):
            return False
        a, c = np.r_[first, second], np.r_[second, first]
        self.x[np.ix_(a, b)] = self.x[np.ix_(c, b)]
        self.perm[k][a] = self.perm[k][c]
        if k in self.codes:
            self.codes[k][a] = self.codes[k][c]
        if k in self.numeric:
            self.numeric[k][a] = self.numeric[k][c]
        return True

    def random_move(self, rng: np.random.Generator) -> tuple[int, np.ndarray, np.ndarray]:
        # the cost reads the matched patients, not the designation, so any two patients of one arm may swap
        groups = [np.flatnonzero(self.arm == a) for a in self.arms]
        kind = int(rng.integers(len(groups) + 1))
        k = int(rng.integers(len(self.covariates)))
        if kind == len(groups):   # the same swap in both arms keeps designated partners alike
            p, q = rng.choice(len(self.pairs), 2, replace=False)
            return k, self.pairs[p], self.pairs[q]
        i, j = rng.choice(groups[kind], 2, replace=False)
        return k, np.array([i]), np.array([j])

    def moves_touching(self, i: int):
        """Every move that changes patient ``i``: a swap with any patient of its arm, and for a designated patient
        a swap of its pair with another pair."""
        where = np.flatnonzero(self.pairs == i)
        if len(where):
            p = int(where[0] // self.pairs.shape[1])
            partners = [(self.pairs[p], self.pairs[q]) for q in range(len(self.pairs)) if q != p]
        else:
            partners = []
        partners += [(np.array([i]), np.array([j])) for j in np.flatnonzero(self.arm == self.arm[i]) if j != i]
        for k in range(len(self.covariates)):
            for first, second in partners:
                yield k, first, second

    # search ------------------------------------------------------------------------------------------------
    def spread_other_patients(self) -> None:
        """Start: give the patients outside the designated pairs the levels that lean towards their own arm,
        spread over all of them (the most leaning covariate first, each level to the patients leaning least so
        far), so that every one of them has a score away from the other arm's."""
        for a in self.arms:
            sign = 1.0 if a == self.spec.arm.experimental else -1.0
            g = self.rows[a, False]
            lean = np.zeros(len(g))
            order = []
            for k in self.categorical:
                col = self.codes[k]
                lo = {c: sign * math.log(((col[self.treated] == c).sum() + 0.5) / ((col[~self.treated] == c).sum() + 0.5))
                      for c in np.unique(col)}
                order.append((max(lo.values()) - min(lo.values()), k, lo))
            for _, k, lo in sorted(order, key=lambda z: -z[0]):
                vals = self.codes[k][g].copy()
                by_lean = np.array(sorted(range(len(g)), key=lambda i: -lo[vals[i]]))   # most leaning first
                takers = np.argsort(lean, kind="stable")                                 # leaning least first
                src = np.empty(len(g), dtype=int)
                src[takers] = g[by_lean]
                b = self.blocks[k]
                self.x[np.ix_(g, b)] = self.x[np.ix_(src, b)]
                self.perm[k][g] = self.perm[k][src]
                self.codes[k][g] = self.codes[k][src]
                lean += np.array([lo[vals[i]] for i in by_lean])[np.argsort(takers)]

    def search(self, rng: np.random.Generator, steps: int, polish_sweeps: int, temperature: float) -> float:
        cur = self.cost()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # separation warnings of intermediate arrangements
            for step in range(steps):
                if cur == 0:
                    break
                k, first, second = self.random_move(rng)
                if not self.swap(k, first, second):
                    continue
                new = self.cost()
                temp = temperature * (1 - step / steps) + 0.05
                if new <= cur or rng.random() < math.exp((cur - new) / temp):
                    cur = new
                else:
                    self.swap(k, first, second)
            for _ in range(polish_sweeps):
                if cur == 0:
                    break
                self.cost()
                best = None
                tried = set()   # a swap of two wrong patients touches both: evaluate it once (the same cost)
                for i in self.wrong():
                    for k, first, second in self.moves_touching(int(i)):
                        key = (k, *sorted((tuple(first.tolist()), tuple(second.tolist()))))
                        if key in tried:
                            continue
                        tried.add(key)
                        if not self.swap(k, first, second):
                            continue
                        new = self.cost()
                        self.swap(k, first, second)
                        if new < cur and (best is None or new < best[0]):
                            best = (new, k, first, second)
                if best is None:
                    break
                cur, k, first, second = best
                self.swap(k, first, second)
        self.final_cost = self.cost()
        return self.final_cost

    # result ------------------------------------------------------------------------------------------------
    def arranged(self) -> pd.DataFrame:
        """The frame with the matching covariates rearranged as searched."""
        out = self.frame.copy()
        for v, pm in zip(self.covariates, self.perm):
            out[v] = self.frame[v].to_numpy()[pm]
        return out

    def assign_other_variables(self, frame: pd.DataFrame, other: list[str]) -> pd.DataFrame:
        """Give the matched patients of each arm the designated subset's values of the variables ``other``
        (outside the propensity model), and the unmatched ones the rest, so that the matched column of those
        variables is the published one; the designation follows the matched patients."""
        out = frame.copy()
        matched = self.matched
        for a in self.arms:
            m_rows = np.flatnonzero(matched & (self.arm == a))
            d_rows = self.rows[a, True]
            if len(m_rows) != len(d_rows):
                return frame          # the wrong number of pairs: keep the designation as built
        for a in self.arms:
            m_rows = np.flatnonzero(matched & (self.arm == a))
            u_rows = np.flatnonzero(~matched & (self.arm == a))
            src = np.empty(len(out), dtype=int)
            src[m_rows] = self.rows[a, True]
            src[u_rows] = self.rows[a, False]
            sel = np.r_[m_rows, u_rows]
            for v in other:
                out.iloc[sel, out.columns.get_loc(v)] = frame[v].to_numpy()[src[sel]]
            out.iloc[sel, out.columns.get_loc("designated_matched")] = matched[sel]
        return out
