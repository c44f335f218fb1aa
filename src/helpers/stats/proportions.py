"""Confidence intervals of proportions and of their difference, with R's numbers (statsmodels computes).

=============================================  ==================================================
Python                                         R
=============================================  ==================================================
``clopper_pearson(k, n)``                      ``binom.test(k, n)$conf.int`` (exact)
``wilson_interval(k, n)``                      ``prop.test(k, n, correct = FALSE)$conf.int``
``proportion_difference_ci(k1, n1, k2, n2)``   Newcombe's hybrid score interval (method 10 of
                                               Newcombe 1998), as ``DescTools::BinomDiffCI(...,
                                               method = "score")``
=============================================  ==================================================

The arithmetic is ``statsmodels.stats.proportion.proportion_confint`` (``method="beta"``, ``"wilson"``)
and ``confint_proportions_2indep(..., compare="diff", method="newcomb")``; these wrappers check the
counts and give R's limits at the edges (0 for k = 0 and 1 for k = n, as ``binom.test`` and ``prop.test``). Proportions are on the 0-1 scale.
"""
from __future__ import annotations

from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

__all__ = ["clopper_pearson", "wilson_interval", "proportion_difference_ci"]


def _check_count(k, n) -> tuple[int, int]:
    if int(k) != k or int(n) != n or n < 1 or not 0 <= k <= n:
        raise ValueError(f"need whole numbers 0 <= k <= n and n >= 1, got k={k!r}, n={n!r}")
    return int(k), int(n)


def _clip(lower: float, upper: float) -> tuple[float, float]:
    return max(0.0, float(lower)), min(1.0, float(upper))


def clopper_pearson(k: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided CI of a binomial proportion ``k / n``, as R's ``binom.test(k, n)``.

    Parameters
    ----------
    k, n : int
        Events and trials, ``0 <= k <= n``, ``n >= 1``.
    conf : float, default 0.95
        Confidence level.

    Returns
    -------
    (float, float)
        ``lower = Beta quantile(alpha/2; k, n - k + 1)`` (0 when k = 0), ``upper = Beta quantile(1 -
        alpha/2; k + 1, n - k)`` (1 when k = n), on the 0-1 scale.

    Examples
    --------
    With no events in 10 trials the upper limit solves ``(1 - p)^10 = 0.025``:

    >>> lower, upper = clopper_pearson(0, 10)
    >>> lower, round(upper, 6), round(1 - 0.025 ** (1 / 10), 6)
    (0.0, 0.308497, 0.308497)
    """
    k, n = _check_count(k, n)
    return _clip(*proportion_confint(k, n, alpha=1.0 - conf, method="beta"))


def wilson_interval(k: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``k / n`` without continuity correction, as R's ``prop.test(k, n,
    correct = FALSE)``.

    Examples
    --------
    ``(k + z^2/2 +/- z sqrt(k (n - k) / n + z^2 / 4)) / (n + z^2)``; for 81 of 263 (R: 0.2553 to 0.3662):

    >>> [round(v, 4) for v in wilson_interval(81, 263)]
    [0.2553, 0.3662]
    """
    k, n = _check_count(k, n)
    lower, upper = _clip(*proportion_confint(k, n, alpha=1.0 - conf, method="wilson"))
    # R's prop.test sets the limit to 0 for k = 0 and to 1 for k = n (statsmodels leaves ~1e-17)
    return (0.0 if k == 0 else lower), (1.0 if k == n else upper)


def proportion_difference_ci(k1: int, n1: int, k2: int, n2: int, conf: float = 0.95) -> tuple[float, float, float]:
    """Difference ``k1/n1 - k2/n2`` and its CI by Newcombe's hybrid score method (Newcombe 1998, method 10).

    With Wilson limits ``(l1, u1)`` and ``(l2, u2)`` of the two proportions and ``D = p1 - p2``:
    ``lower = D - sqrt((p1 - l1)^2 + (u2 - p2)^2)``, ``upper = D + sqrt((u1 - p1)^2 + (p2 - l2)^2)``.

    Returns
    -------
    (float, float, float)
        ``(difference, lower, upper)`` on the 0-1 scale.

    Examples
    --------
    Newcombe's (1998) example 56/70 vs 48/80 has the interval 0.0524 to 0.3339 (his Table II, method 10):

    >>> [round(v, 4) for v in proportion_difference_ci(56, 70, 48, 80)]
    [0.2, 0.0524, 0.3339]
    """
    k1, n1 = _check_count(k1, n1)
    k2, n2 = _check_count(k2, n2)
    # statsmodels' Newcombe interval from its own (unclipped) Wilson limits; these are within rounding of
    # 0-1, so clipping them first (as wilson_interval does) changes nothing beyond the last digit
    lower, upper = confint_proportions_2indep(k1, n1, k2, n2, compare="diff", method="newcomb", alpha=1.0 - conf)
    return k1 / n1 - k2 / n2, float(lower), float(upper)
