"""Descriptive statistics of Table 1, with R's defaults.

* :func:`type7_quartiles`: the first quartile, median and third quartile as R's ``quantile(x)`` computes them
  (type 7: linear interpolation between order statistics, ``h = (n - 1) p``), which is numpy's default
  ``"linear"`` method.
"""
from __future__ import annotations

import numpy as np

#: The probabilities of the quartiles (Q1, median, Q3).
QUARTILE_PROBS = (0.25, 0.5, 0.75)


def type7_quartiles(x) -> np.ndarray:
    """Q1, median and Q3 of ``x`` as R's ``quantile(x, c(0.25, 0.5, 0.75))`` (type 7).

    Table 1 prints them as "median [Q1, Q3]"; the synthetic-data generator evaluates this same function when
    it aims at a published median and IQR.

    Examples
    --------
    R: ``quantile(c(1, 2, 4, 7, 11), c(0.25, 0.5, 0.75))`` gives 2, 4 and 7; ``quantile(1:4, ...)`` gives
    1.75, 2.5 and 3.25 (h = 3 p: between the 1st and 2nd, the 2nd and 3rd, the 3rd and 4th values).

    >>> type7_quartiles([1, 2, 4, 7, 11]).tolist()
    [2.0, 4.0, 7.0]
    >>> type7_quartiles([1, 2, 3, 4]).tolist()
    [1.75, 2.5, 3.25]
    """
    return np.quantile(np.asarray(x, dtype=float), QUARTILE_PROBS)
