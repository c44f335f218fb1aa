"""The two-group tests of a Table 1, giving the same p-values as R.

Every function mirrors a named R function (R 4.x, package ``stats``), including its small-sample
rules and edge cases, and is checked against R's output in ``tests/test_hypothesis_tests.py``:

=====================================  ===========================================================
Python                                 R
=====================================  ===========================================================
``chisq_test(t, correct=True)``        ``chisq.test(t)`` (Yates only for 2 x 2 tables)
``chisq_test(t, correct=False)``       ``chisq.test(t, correct = FALSE)``
``fisher_test(t)``                     ``fisher.test(t)`` (two-sided, exact, never Monte Carlo)
``mann_whitney_p(x, y)``               ``kruskal.test(list(x, y))``, which is what R tableone's
                                       ``nonnormal`` option runs
``wilcoxon_rank_sum_p(x, y)``          ``wilcox.test(x, y)``
``t_test_p(x, y)``                     ``t.test(x, y, var.equal = TRUE)`` (= ``oneway.test(...,
                                       var.equal = TRUE)``, tableone's default for 2 groups)
``t_test_p(x, y, equal_var=False)``    ``t.test(x, y)`` (Welch)
=====================================  ===========================================================

Where scipy computes R's number, scipy does the arithmetic and this module adds R's input checks, edge
cases and choice of method: ``scipy.stats.chi2_contingency`` (chi-square, with ``correction`` = R's Yates
rule for 2 x 2 tables), ``scipy.stats.fisher_exact`` (2 x 2, plus R's tie tolerance, below),
``scipy.stats.kruskal``, ``scipy.stats.mannwhitneyu`` (with R's rule for exact versus normal
approximation) and ``scipy.stats.ttest_ind_from_stats`` (pooled and Welch). Hand-written code remains
only where no library gives R's result: the exact Fisher test of r x c tables (scipy's default for them
is Monte Carlo) and R's relative tolerance of 1e-7 for tables as probable as the observed one in the
2 x 2 test (scipy's is 1e-14).

Missing values (NaN) in ``x`` and ``y`` are dropped, as R does. Tables are 2-D arrays of counts (a
list of lists, NumPy array or DataFrame); orientation does not matter for any of the tests.
"""
from __future__ import annotations

import math
import warnings
import numpy as np
import pandas as pd
from scipy import special, stats

__all__ = [
    "CATEGORICAL_POLICIES",
    "CONTINUOUS_POLICIES",
    "chisq_test",
    "fisher_test",
    "categorical_p_value",
    "mann_whitney_p",
    "wilcoxon_rank_sum_p",
    "t_test_p",
    "t_test_from_summary",
    "continuous_p_value",
]

CATEGORICAL_POLICIES = ("chisq_yates", "chisq", "fisher", "fisher_if_expected_lt5")
CONTINUOUS_POLICIES = ("mann_whitney", "wilcox_cc", "t_test", "welch")

# R's fisher.test: 2 x 2 tables use a relative tolerance of 1e-7 on the probability scale; r x c
# tables go through FEXACT, whose tolerance TOL = 3.45254e-7 is added to the log-probability.
_FISHER_2X2_RELERR = 1.0 + 1e-7
_FEXACT_TOL = 3.45254e-7
_DEFAULT_MAX_TABLES = 20_000_000
_CHUNK = 1 << 20

_METHOD_CHISQ = "Pearson's Chi-squared test"
_METHOD_YATES = "Pearson's Chi-squared test with Yates' continuity correction"
_METHOD_GOF = "Chi-squared test for given probabilities"
_METHOD_FISHER = "Fisher's Exact Test for Count Data"


# ----------------------------------------------------------------------------------------------
# Input checking
# ----------------------------------------------------------------------------------------------
def _as_table(table, *, integer: bool = False) -> np.ndarray:
    if isinstance(table, pd.DataFrame):
        arr = table.to_numpy()
    else:
        arr = np.asarray(table)
    if arr.dtype == object:
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError) as exc:
            raise ValueError("the table must contain numbers only") from exc
    if arr.ndim != 2:
        raise ValueError(f"the table must be two-dimensional (rows x columns), got {arr.ndim} dimension(s)")
    if arr.size == 0:
        raise ValueError("the table is empty")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError("the table must contain real numbers (counts)")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("all entries of the table must be finite (no NaN or inf)")
    if np.any(arr < 0):
        raise ValueError("all entries of the table must be non-negative counts")
    if arr.sum() == 0:
        raise ValueError("at least one entry of the table must be positive")
    if integer and not np.all(arr == np.round(arr)):
        raise ValueError("Fisher's exact test needs integer counts")
    return arr


def _as_sample(x, name: str) -> np.ndarray:
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of numbers, not a string")
    arr = np.asarray(x, dtype=object if isinstance(x, (list, tuple)) else None)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got {arr.ndim} dimensions")
    try:
        arr = pd.to_numeric(pd.Series(arr), errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must contain numbers only") from exc
    if np.any(np.isinf(arr)):
        raise ValueError(f"{name} contains infinite values")
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        raise ValueError(f"{name} is empty (no non-missing observations): a group is empty")
    return arr


# ----------------------------------------------------------------------------------------------
# Chi-square
# ----------------------------------------------------------------------------------------------
def _chisq(table, correct: bool) -> tuple[float, str]:
    x = _as_table(table)
    if min(x.shape) == 1:
        # R: a one-row (or one-column) matrix becomes a vector -> goodness of fit, equal probabilities.
        v = x.ravel()
        warnings.warn(
            "the table has a single row or column: like R's chisq.test, this runs a goodness-of-fit "
            "test of equal cell probabilities, not a test of association",
            stacklevel=3,
        )
        e = v.sum() / v.size
        stat = float(np.sum((v - e) ** 2 / e))
        return float(special.chdtrc(v.size - 1, stat)), _METHOD_GOF
    e = np.outer(x.sum(axis=1), x.sum(axis=0)) / x.sum()
    method = _METHOD_CHISQ
    if correct and x.shape == (2, 2) and float(np.min(np.abs(x - e))) > 0:
        method = _METHOD_YATES  # R names the correction only when it changes the statistic
    if np.any(e == 0):
        warnings.warn(
            "a row or column of the table sums to zero, so expected counts are zero and the "
            "chi-square statistic is undefined; returning NaN as R's chisq.test does",
            stacklevel=3,
        )
        return math.nan, method
    # scipy applies Yates' correction only when df = 1, i.e. to 2 x 2 tables as R does, and with R's
    # amount: each |O - E| is moved by min(0.5, |O - E|), which is the same for the four cells.
    res = stats.chi2_contingency(x, correction=correct)
    return float(res.pvalue), method


def chisq_test(table, correct: bool = True) -> float:
    """Pearson's chi-square test of independence, as R's ``chisq.test(table, correct = correct)``.

    Parameters
    ----------
    table : array-like, 2-D
        Contingency table of non-negative counts.
    correct : bool, default True
        Apply Yates' continuity correction. As in R it is applied only to 2 x 2 tables, with the
        correction ``min(0.5, min |O - E|)`` over all cells (so no correction when some cell equals
        its expectation).

    Returns
    -------
    float
        ``P(chi2_df >= X^2)`` with ``X^2 = sum((|O - E| - c)^2 / E)``, ``E = row total x column total
        / n`` and ``df = (r - 1)(c - 1)``.

    Notes
    -----
    * A row or column with zero total makes some ``E = 0`` and the statistic ``0/0``: R returns NaN
      (with a warning); so does this function, with :func:`warnings.warn`.
    * A table with a single row or column is turned by R into a vector and tested for equal cell
      probabilities (goodness of fit, no correction). This is mirrored, with a warning, because it is
      what R tableone reports when a variable has only one observed level.
    * R's "Chi-squared approximation may be incorrect" warning for small expected counts is not
      repeated here: choosing the test is the job of :func:`categorical_p_value`.

    Raises
    ------
    ValueError
        If the table is not 2-D, is empty, or has negative, non-finite or all-zero entries.
    """
    return _chisq(table, correct)[0]


# ----------------------------------------------------------------------------------------------
# Fisher
# ----------------------------------------------------------------------------------------------
def _log_factorials(n: int) -> np.ndarray:
    return special.gammaln(np.arange(n + 1, dtype=float) + 1.0)


def _fisher_2x2(x: np.ndarray) -> float:
    """R's two-sided p of a 2 x 2 table: ``scipy.stats.fisher_exact``, plus the tables that R's tolerance
    counts as being as probable as the observed one and scipy's does not.

    Both sum the probabilities of the tables no more probable than the observed one, ``P(t) <= P(obs) *
    (1 + eps)``; R's ``eps`` is 1e-7, scipy's 1e-14. The tables in between lie next to the observed one
    and next to the crossing on the other side of the mode (the hypergeometric distribution is
    unimodal), so they are found by walking from those two places."""
    p = float(stats.fisher_exact(x.astype(np.int64), alternative="two-sided").pvalue)
    if p >= 1.0:
        return 1.0
    # hypergeometric of x[0, 0] given the margins (scipy's parametrisation: M, n, N), with scipy's own pmf
    # so that "counted by scipy" is decided on the numbers scipy compared; vectorised calls (a scalar call
    # costs as much as a hundred values)
    total, row1, col1, x11 = int(x.sum()), int(x[0].sum()), int(x[:, 0].sum()), int(x[0, 0])
    lo, hi = max(0, col1 + row1 - total), min(row1, col1)
    pmf = lambda ts: stats.hypergeom.pmf(np.asarray(ts), total, row1, col1)  # noqa: E731
    mode = int((col1 + 1) * (row1 + 1) / (total + 2))  # scipy's
    ref, p_mode = (float(v) for v in pmf([x11, mode]))
    if ref == 0.0:  # underflow: nothing is as probable as the observed table in either rule
        return p
    r_lim, scipy_lim = ref * _FISHER_2X2_RELERR, ref * (1.0 + 1e-14)
    step = 1 if x11 < mode else -1  # from the observed table towards the mode, and outwards beyond it

    def run(start: int, keep) -> dict[int, float]:
        """Tables from ``start`` in direction ``step`` while ``keep(P)``, in doubling windows."""
        out, size, t = {}, 4, start
        while lo <= t <= hi:
            ts = np.arange(t, t + step * size, step)
            ts = ts[(ts >= lo) & (ts <= hi)]
            for ti, pi in zip(ts.tolist(), pmf(ts).tolist()):
                if not keep(pi):
                    return out
                out[ti] = pi
            t, size = ts[-1] + step, size * 2
        return out

    def crossing(near: int, far: int) -> int:
        """The first table from ``near`` (the mode) towards ``far`` with P <= R's limit (P(far) is)."""
        while abs(far - near) > 1:
            offsets = np.unique(np.linspace(0, abs(far - near), min(65, abs(far - near) + 1)).round().astype(int))
            ts = near + step * offsets
            below = np.flatnonzero(pmf(ts) <= r_lim)
            if below[0] == 0:
                return near
            near, far = int(ts[below[0] - 1]), int(ts[below[0]])
        return far

    # scipy counts the tables beyond the observed one (away from the mode) and those on the far side of
    # the mode with P <= P(obs) (1 + 1e-14); R also counts any with P <= P(obs) (1 + 1e-7) between them:
    # next to the observed table, and next to the far side's crossing of R's limit
    extra = run(x11 + step, lambda pt: pt <= r_lim)
    far = hi if step == 1 else lo
    if far != mode and float(pmf([far])[0]) <= r_lim:
        start = mode if p_mode <= r_lim else crossing(mode, far)
        extra.update(run(start, lambda pt: pt > scipy_lim))
    add = sum(pt for t, pt in extra.items() if not ((t - mode) * step > 0 and pt <= scipy_lim))
    return max(0.0, min(1.0, p + add))


def _expand_column(rem: np.ndarray, total: int, limit: float = math.inf):
    """All ways to fill one column with ``total`` counts under remaining row totals ``rem`` (B, r).

    Returns ``(parent, cells)``: for each new partial table the index of its parent row in ``rem``
    and the column's cell values (B', r); or None when more than ``limit`` rows would be needed."""
    b, r = rem.shape
    parent = np.arange(b)
    cells = np.zeros((b, 0), dtype=np.int64)
    left = np.full(b, total, dtype=np.int64)
    for i in range(r):
        cur = rem[parent, i]
        if i == r - 1:
            val = left
            parent_i = np.arange(len(parent))
        else:
            rest = rem[parent, i + 1:].sum(axis=1)
            lo = np.maximum(0, left - rest)
            hi = np.minimum(cur, left)
            cnt = hi - lo + 1
            if cnt.sum() > limit:
                return None
            parent_i = np.repeat(np.arange(len(parent)), cnt)
            offs = np.arange(len(parent_i)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            val = lo[parent_i] + offs
        cells = np.column_stack([cells[parent_i], val])
        parent = parent[parent_i]
        left = left[parent_i] - val
    return parent, cells


def _count_tables(rows: np.ndarray, cols: np.ndarray, limit: int) -> float:
    """Number of tables with the given margins, by dynamic programming over the columns with the
    (sorted) remaining row totals as state. Returns inf as soon as it is clear that it exceeds
    ``limit``."""
    states = np.sort(rows)[None, :]
    counts = np.ones(1)
    for cj in cols[:-1]:
        expanded = _expand_column(states, int(cj), limit)
        if expanded is None:
            return math.inf
        parent, cells = expanded
        new = np.sort(states[parent] - cells, axis=1)
        states, inverse = np.unique(new, axis=0, return_inverse=True)
        counts = np.bincount(inverse.ravel(), weights=counts[parent], minlength=len(states))
        if counts.sum() > limit:
            return math.inf
    return float(counts.sum())


def _fisher_rxc(x: np.ndarray, max_tables: int) -> float:
    x = x[x.sum(axis=1) > 0][:, x.sum(axis=0) > 0]
    if x.shape[0] < 2 or x.shape[1] < 2:
        return 1.0  # a single table has these margins
    if x.shape[0] > x.shape[1]:
        x = x.T  # fewer rows: shorter column vectors to enumerate
    x = x.astype(np.int64)
    rows = x.sum(axis=1)
    cols = x.sum(axis=0)
    n = int(x.sum())
    r, c = x.shape
    n_tables = _count_tables(rows, cols, max_tables)
    if n_tables > max_tables:
        raise ValueError(
            f"the {r} x {c} table (n = {n}) has more than {max_tables:,} tables with its margins: "
            "too many to enumerate for an exact Fisher test. Collapse sparse categories, or raise "
            "max_tables if you can wait (R's fisher.test uses the network algorithm instead)."
        )
    lf = _log_factorials(n)
    const = float(lf[rows].sum() + lf[cols].sum() - lf[n])
    threshold = float(-lf[x].sum()) + _FEXACT_TOL

    def leaf(rem: np.ndarray, score: np.ndarray) -> float:
        s = score - lf[rem].sum(axis=1)
        keep = s <= threshold
        return float(np.exp(s[keep] + const).sum())

    def descend(rem: np.ndarray, score: np.ndarray, left: np.ndarray, j: int, i: int) -> float:
        # rem: (B, r) remaining row totals; left: (B,) remaining total of column j; filling row i.
        if j == c - 1:
            return leaf(rem, score)
        if i == r - 1:
            val = left
            rem = rem.copy()
            rem[:, i] -= val
            score = score - lf[val]
            nxt_left = np.full(len(rem), cols[j + 1], dtype=np.int64)
            return descend(rem, score, nxt_left, j + 1, 0)
        rest = rem[:, i + 1:].sum(axis=1)
        lo = np.maximum(0, left - rest)
        hi = np.minimum(rem[:, i], left)
        counts = hi - lo + 1
        out = 0.0
        start = 0
        b = len(rem)
        while start < b:
            # take as many parents as keep the expansion below the chunk size
            csum = np.cumsum(counts[start:])
            stop = start + max(1, int(np.searchsorted(csum, _CHUNK, side="right")))
            cnt = counts[start:stop]
            idx = np.repeat(np.arange(start, stop), cnt)
            offs = np.arange(len(idx)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            val = lo[idx] + offs
            new_rem = rem[idx].copy()
            new_rem[:, i] -= val
            out += descend(new_rem, score[idx] - lf[val], left[idx] - val, j, i + 1)
            start = stop
        return out

    total = descend(rows[None, :].copy(), np.zeros(1), np.array([cols[0]], dtype=np.int64), 0, 0)
    return max(0.0, min(1.0, total))


def fisher_test(table, max_tables: int = _DEFAULT_MAX_TABLES) -> float:
    """Two-sided Fisher exact test, as R's ``fisher.test(table)``; exact for any r x c table.

    Parameters
    ----------
    table : array-like, 2-D
        Contingency table of non-negative integer counts, at least 2 x 2.
    max_tables : int, default 20,000,000
        Largest number of tables with the observed margins that will be enumerated.

    Returns
    -------
    float
        The sum of the probabilities (multivariate hypergeometric, margins fixed) of all tables that
        are no more probable than the observed one.

    Notes
    -----
    R's two tie tolerances are reproduced so that tables whose probability equals the observed one
    up to rounding are counted: for 2 x 2 tables ``P(table) <= P(observed) * (1 + 1e-7)`` (R's
    ``relErr``); for larger tables ``log P(table) <= log P(observed) + 3.45254e-7`` (FEXACT's
    ``TOL``). Rows or columns with a zero total do not change the probabilities and are dropped; if
    fewer than two rows or columns remain, only one table is possible and p = 1 (as R returns).
    R's Monte Carlo option is never used; scipy's default for r x c tables is Monte Carlo, so scipy
    is not used for r x c either. 2 x 2 tables: ``scipy.stats.fisher_exact`` plus the tables within R's
    tolerance. Only the p-value is returned: scipy's statistic is the sample odds ratio ``ad / bc``,
    while R's ``fisher.test`` estimate is the conditional maximum-likelihood odds ratio, so the two
    would differ.

    Raises
    ------
    ValueError
        If the table is not 2-D, smaller than 2 x 2, has negative, non-integer, non-finite or
        all-zero entries, or has more than ``max_tables`` tables to enumerate.
    """
    x = _as_table(table, integer=True)
    if min(x.shape) < 2:
        raise ValueError("Fisher's exact test needs a table with at least 2 rows and 2 columns")
    if x.shape == (2, 2):
        return _fisher_2x2(x)
    return _fisher_rxc(x, max_tables)


# ----------------------------------------------------------------------------------------------
# Policy for categorical variables
# ----------------------------------------------------------------------------------------------
def categorical_p_value(table, policy: str, drop_empty_levels: bool = False) -> tuple[float, str]:
    """P-value of a categorical Table 1 row under a named policy.

    Parameters
    ----------
    table : array-like, 2-D
        Counts, levels x groups (either orientation gives the same p-value).
    policy : {"chisq_yates", "chisq", "fisher", "fisher_if_expected_lt5"}
        * ``"chisq_yates"``: ``chisq.test(table)``, Yates' correction for 2 x 2 tables (R's default
          and R tableone's default).
        * ``"chisq"``: ``chisq.test(table, correct = FALSE)``.
        * ``"fisher"``: ``fisher.test(table)``.
        * ``"fisher_if_expected_lt5"``: Fisher's exact test when any expected count
          (row total x column total / n) is below 5, otherwise chi-square with Yates' correction.
    drop_empty_levels : bool, default False
        Drop rows (levels) with zero total first, as happens in R when the variable has no unused
        factor levels (e.g. a character column, or after ``droplevels``). R tableone then sees a
        one-level table, for which ``chisq.test`` runs a goodness-of-fit test (see
        :func:`chisq_test`).

    Returns
    -------
    (float, str)
        The p-value and the name of the test that produced it (R's ``method`` string).

    Raises
    ------
    ValueError
        For an unknown policy (the message lists the valid ones) or an invalid table.
    """
    if policy not in CATEGORICAL_POLICIES:
        raise ValueError(f"unknown categorical policy {policy!r}; valid policies are {list(CATEGORICAL_POLICIES)}")
    x = _as_table(table)
    if drop_empty_levels:
        x = x[x.sum(axis=1) > 0]
    if policy == "chisq_yates":
        return _chisq(x, True)
    if policy == "chisq":
        return _chisq(x, False)
    if policy == "fisher":
        return fisher_test(x), _METHOD_FISHER
    # fisher_if_expected_lt5
    if min(x.shape) >= 2:
        e = np.outer(x.sum(axis=1), x.sum(axis=0)) / x.sum()
        if np.any(e < 5):
            return fisher_test(x), _METHOD_FISHER
    return _chisq(x, True)


# ----------------------------------------------------------------------------------------------
# Rank tests
# ----------------------------------------------------------------------------------------------
def mann_whitney_p(x, y) -> float:
    """Two-sided Mann-Whitney U (Wilcoxon rank-sum) test, normal approximation with the tie
    correction and *without* continuity correction.

    This equals R's ``kruskal.test(list(x, y))`` (which R tableone runs for ``nonnormal``
    variables) and ``wilcox.test(x, y, exact = FALSE, correct = FALSE)``.

    Notes
    -----
    ``scipy.stats.kruskal``: with average ranks ``R_g`` summed per group, ``H = [12 / (n (n + 1))
    sum_g R_g^2 / n_g - 3 (n + 1)] / [1 - sum_t (t^3 - t) / (n^3 - n)]`` over tie groups ``t``, and
    ``p = P(chi2_1 >= H)``. When all observations are equal H is 0/0 and, as in R, the result is NaN
    (with a warning; scipy would raise).

    Examples
    --------
    The ranks of ``x`` are 1, 2, 4, 5 (sum 12) and of ``y`` sum 33, so ``H = 12 / 90 (12^2 / 4 +
    33^2 / 5) - 30 = 3.84`` (no ties), and ``P(chi2_1 >= 3.84) = 0.0500``:

    >>> round(mann_whitney_p([1.1, 2.3, 3.0, 4.8], [2.9, 5.1, 6.2, 7.7, 8.0]), 4)
    0.05

    Raises
    ------
    ValueError
        If a group is empty (after dropping NaN) or the input is not numeric.
    """
    a = _as_sample(x, "x")
    b = _as_sample(y, "y")
    # min == max, not np.unique: the check must not cost a second sort of every value
    if min(a.min(), b.min()) == max(a.max(), b.max()):
        warnings.warn("all observations are tied: the rank test is undefined (NaN, as in R)", stacklevel=2)
        return math.nan
    return rank_sum_p_kernel(a, b)


def rank_sum_p_kernel(a: np.ndarray, b: np.ndarray) -> float:
    """The kernel of :func:`mann_whitney_p` on clean float arrays (scipy's Kruskal-Wallis H for two groups);
    NaN when every value is tied. :func:`mann_whitney_p` checks its input and calls this; so does the
    synthetic-data generator."""
    both = np.concatenate([a, b])
    if not len(a) or not len(b) or both.min() == both.max():
        return math.nan
    return float(stats.kruskal(a, b).pvalue)


def wilcoxon_rank_sum_p(x, y, correct: bool = True, exact: bool | None = None) -> float:
    """Two-sided Wilcoxon rank-sum test with R's ``wilcox.test(x, y)`` defaults.

    Parameters
    ----------
    x, y : array-like
        The two samples (NaN dropped).
    correct : bool, default True
        Continuity correction of 0.5 towards zero in the normal approximation.
    exact : bool or None, default None
        None: exact when both samples have fewer than 50 observations and there are no ties (R's
        rule; scipy's ``method="auto"`` would switch at 8). An exact test is impossible with ties; R
        then warns and uses the normal approximation, and so does this function.

    Returns
    -------
    float
        Exact: ``min(1, 2 P(W <= w))`` if ``w <= m n / 2`` else ``min(1, 2 P(W >= w))``, with
        ``W = sum of the ranks of x - m (m + 1) / 2``. Normal: ``z = (W - m n / 2 - c) / sigma``,
        ``sigma^2 = m n / 12 [(m + n + 1) - sum(t^3 - t) / ((m + n)(m + n - 1))]``,
        ``c = 0.5 sign(W - m n / 2)`` if ``correct``, ``p = 2 min(Phi(z), 1 - Phi(z))``. Computed by
        ``scipy.stats.mannwhitneyu`` with the method chosen by R's rule.

    Examples
    --------
    ``W = 12 - 10 = 2``; of the C(9, 4) = 126 equally likely rank sets of ``x``, 4 have ``W <= 2``,
    so the exact two-sided p is 2 x 4 / 126:

    >>> p = wilcoxon_rank_sum_p([1.1, 2.3, 3.0, 4.8], [2.9, 5.1, 6.2, 7.7, 8.0])
    >>> abs(p - 8 / 126) < 1e-12
    True
    """
    a = _as_sample(x, "x")
    b = _as_sample(y, "y")
    m, n = a.size, b.size
    ties = np.unique(np.concatenate([a, b])).size != m + n
    if exact is None:
        exact = m < 50 and n < 50  # R's rule; scipy's "auto" uses 8 instead of 50
    if exact and ties:
        warnings.warn("cannot compute exact p-value with ties (as R warns); using the normal approximation", stacklevel=2)
    if not (exact and not ties) and np.unique(np.concatenate([a, b])).size < 2:
        warnings.warn("all observations are tied: the rank test is undefined (NaN, as in R)", stacklevel=2)
        return math.nan
    # scipy's two-sided p is 2 P(U >= max(U1, U2)) and its continuity correction subtracts 0.5 from
    # max(U1, U2) - m n / 2: the same as R's 0.5 sign(W - m n / 2) towards zero.
    res = stats.mannwhitneyu(a, b, use_continuity=correct, alternative="two-sided",
                             method="exact" if exact and not ties else "asymptotic")
    return float(res.pvalue)


# ----------------------------------------------------------------------------------------------
# t tests
# ----------------------------------------------------------------------------------------------
def _t_from_moments(mx, vx, nx, my, vy, ny, equal_var: bool) -> float:
    """R's checks of ``t.test``, then scipy's ``ttest_ind_from_stats``."""
    if equal_var:
        if nx < 1 or ny < 1 or nx + ny < 3:
            raise ValueError("not enough observations for a two-sample t-test (need n1 + n2 >= 3)")
        pooled = ((nx - 1) * vx if nx > 1 else 0.0) + ((ny - 1) * vy if ny > 1 else 0.0)
        stderr = math.sqrt(pooled / (nx + ny - 2.0) * (1.0 / nx + 1.0 / ny))
    else:
        if nx < 2 or ny < 2:
            raise ValueError("Welch's t-test needs at least 2 observations in each group")
        stderr = math.sqrt(vx / nx + vy / ny)
    if stderr < 10 * np.finfo(float).eps * max(abs(mx), abs(my)) or stderr == 0.0:
        raise ValueError("data are essentially constant (zero standard error), as R's t.test stops")
    # R pools only the groups with n > 1 (a single value adds nothing to the variance): an SD of 0 for
    # such a group gives scipy the same pooled variance.
    res = stats.ttest_ind_from_stats(mx, math.sqrt(vx) if nx > 1 else 0.0, nx, my,
                                     math.sqrt(vy) if ny > 1 else 0.0, ny, equal_var=equal_var)
    return float(res.pvalue)


def t_test_p(x, y, equal_var: bool = True) -> float:
    """Two-sided two-sample t-test, as R's ``t.test(x, y, var.equal = equal_var)``.

    ``equal_var=True`` is Student's test with the pooled variance (df = n1 + n2 - 2), which for two
    groups is also R's ``oneway.test(var.equal = TRUE)`` used by R tableone. ``equal_var=False`` is
    Welch's test with Satterthwaite's df.

    Raises
    ------
    ValueError
        If a group is empty, there are too few observations, or the data are constant.
    """
    a = _as_sample(x, "x")
    b = _as_sample(y, "y")
    va = float(np.var(a, ddof=1)) if a.size > 1 else math.nan
    vb = float(np.var(b, ddof=1)) if b.size > 1 else math.nan
    return _t_from_moments(float(np.mean(a)), va, a.size, float(np.mean(b)), vb, b.size, equal_var)


def t_test_from_summary(mean1, sd1, n1, mean2, sd2, n2, equal_var: bool = True) -> float:
    """The two-sided t-test of :func:`t_test_p` from group means, SDs (n - 1 denominator) and sizes."""
    vals = [mean1, sd1, n1, mean2, sd2, n2]
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v) for v in vals):
        raise ValueError("means, SDs and sizes must be finite numbers")
    if sd1 < 0 or sd2 < 0:
        raise ValueError("standard deviations must be non-negative")
    if int(n1) != n1 or int(n2) != n2 or n1 < 1 or n2 < 1:
        raise ValueError("group sizes must be positive integers (an empty group has no t-test)")
    return _t_from_moments(float(mean1), float(sd1) ** 2, int(n1), float(mean2), float(sd2) ** 2, int(n2), equal_var)


def continuous_p_value(x, y, policy: str) -> tuple[float, str]:
    """P-value of a continuous Table 1 row under a named policy.

    Parameters
    ----------
    x, y : array-like
        Values in the two groups (NaN dropped).
    policy : {"mann_whitney", "wilcox_cc", "t_test", "welch"}
        * ``"mann_whitney"``: :func:`mann_whitney_p` (= ``kruskal.test``, R tableone nonnormal).
        * ``"wilcox_cc"``: :func:`wilcoxon_rank_sum_p` with R's defaults (exact if n < 50 per group
          and no ties, else normal approximation with continuity correction).
        * ``"t_test"``: Student's t-test (equal variances; R tableone's default).
        * ``"welch"``: Welch's t-test (R's ``t.test`` default).

    Returns
    -------
    (float, str)
        The p-value and the name of the test.
    """
    if policy not in CONTINUOUS_POLICIES:
        raise ValueError(f"unknown continuous policy {policy!r}; valid policies are {list(CONTINUOUS_POLICIES)}")
    if policy == "mann_whitney":
        return mann_whitney_p(x, y), "Mann-Whitney U test (normal approximation, no continuity correction; = Kruskal-Wallis)"
    if policy == "wilcox_cc":
        return wilcoxon_rank_sum_p(x, y), "Wilcoxon rank sum test (R wilcox.test defaults)"
    if policy == "t_test":
        return t_test_p(x, y, equal_var=True), "Two Sample t-test"
    return t_test_p(x, y, equal_var=False), "Welch Two Sample t-test"
