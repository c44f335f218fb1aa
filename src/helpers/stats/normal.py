"""The normal-theory rules every engine shares, written once.

* :func:`critical_value`: ``qnorm(1 - (1 - conf.level) / 2)``, the multiplier of a two-sided Wald interval
  (1.959964 for 95%).
* :func:`two_sided_p`: ``2 * pnorm(-abs(z))``, the two-sided p-value of a Wald (z) statistic, as
  ``summary.coxph``, ``survRM2::rmst2`` and ``cmprsk::crr`` print it.

The Cox, Kaplan-Meier (landmark test and log-log bands), RMST, competing-risks and response engines call
these, and so does the synthetic-data generator, so that a p-value it aims at is the one a chapter prints.
"""
from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["critical_value", "two_sided_p"]


def critical_value(conf_level: float) -> float:
    """The standard-normal quantile ``z`` with ``P(|Z| <= z) = conf_level`` (R: ``qnorm(1 - (1 - conf.level) / 2)``).

    >>> round(critical_value(0.95), 6)
    1.959964
    """
    # special.ndtri is what stats.norm.ppf evaluates, without its argument checks (the generator calls this
    # hundreds of thousands of times); the same bits
    return float(special.ndtri(1 - (1 - conf_level) / 2))


def two_sided_p(z):
    """Two-sided normal p-value of ``z``: ``2 * pnorm(-abs(z))`` in R. Arrays give arrays; NaN stays NaN.

    >>> round(two_sided_p(1.959964), 6)
    0.05
    """
    # stats.norm.sf(|z|) is ndtr(-|z|): the same bits, without its argument checks (the generator calls this often)
    p = 2 * special.ndtr(-np.abs(np.asarray(z, dtype=float)))
    return float(p) if np.ndim(p) == 0 else p
