"""Propensity-score weights (ATE, ATT, ATC, overlap) with optional trimming, and Kish's effective sample size.

Formulas are the textbook ones that R's ``WeightIt::weightit(..., method = "glm")`` applies to a fitted score
(WeightIt is not installed on the build machine; ``tests/reference/causal_reference.R`` writes them out in R and
``tests/test_causal_stats.py`` checks this module against it on ``survival::rotterdam``, to 1e-12).

With ``e`` the propensity score (probability of treatment) and ``t`` the treatment indicator:

==========  ==========================================  =====================================================
estimand    treated                                     control
==========  ==========================================  =====================================================
``ATE``     ``1 / e``                                   ``1 / (1 - e)``
``ATE``,    ``P(T = 1) / e``                            ``P(T = 0) / (1 - e)``   (``stabilize=True``; the
stabilized                                              proportions are those of the patients kept)
``ATT``     ``1``                                       ``e / (1 - e)``
``ATC``     ``(1 - e) / e``                             ``1``
``ATO``     ``1 - e``                                   ``e``   (overlap weights, Li, Morgan & Zaslavsky 2018)
==========  ==========================================  =====================================================

Trimming (``trim=a``) follows the rule of thumb of Crump, Hotz, Imbens & Mitnik (2009): patients whose score is
outside ``[a, 1 - a]`` (``e < a`` or ``e > 1 - a``; a score equal to a bound is kept) get weight 0, and the
remaining weights are computed as above (the score is not re-estimated). ``a = 0.1`` is Crump's usual choice;
Crump's data-driven optimal ``a`` is not computed here. This is *not* WeightIt's ``trim()``, which truncates
large weights at a quantile.

Effective sample size (Kish): ``(sum w)^2 / sum(w^2)`` per arm, as MatchIt's and cobalt's "ESS".
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ESTIMANDS", "ipw_weights", "trim_mask", "effective_sample_size"]

ESTIMANDS = ("ATE", "ATT", "ATC", "ATO")


def _score_and_treatment(ps: Any, treated: Any) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(ps, dtype=float)
    t = np.asarray(treated)
    if e.ndim != 1 or t.ndim != 1 or len(e) != len(t):
        raise ValueError(f"ps and treated must be one-dimensional and of the same length, got {e.shape} and {t.shape}")
    if np.any(np.isnan(e)) or np.any((e <= 0) | (e >= 1)):
        raise ValueError("propensity scores must be strictly between 0 and 1 (no missing values)")
    if t.dtype != bool:
        tf = t.astype(float)
        if np.any(np.isnan(tf)) or not np.all(np.isin(tf, (0.0, 1.0))):
            raise ValueError("treated must be boolean or 0/1")
        t = tf == 1.0
    if t.all() or not t.any():
        raise ValueError("both a treated and a control group are needed")
    return e, t


def trim_mask(ps: Any, threshold: float = 0.1) -> np.ndarray:
    """Patients kept by Crump-style trimming: ``threshold <= ps <= 1 - threshold``.

    Parameters
    ----------
    ps : array-like
        Propensity scores.
    threshold : float, default 0.1
        ``a`` in ``[a, 1 - a]``; must be in [0, 0.5).

    Returns
    -------
    numpy.ndarray of bool
        True for the patients kept.

    Examples
    --------
    >>> trim_mask([0.05, 0.1, 0.5, 0.95], 0.1).tolist()
    [False, True, True, False]
    """
    if not 0 <= threshold < 0.5:
        raise ValueError(f"the trimming threshold must be in [0, 0.5), got {threshold}")
    e = np.asarray(ps, dtype=float)
    return (e >= threshold) & (e <= 1 - threshold)


def ipw_weights(ps: Any, treated: Any, estimand: str = "ATE", stabilize: bool = False,
                trim: float | None = None) -> np.ndarray:
    """Propensity-score weights for an estimand (see the module table).

    Parameters
    ----------
    ps : array-like
        Propensity scores, strictly between 0 and 1 (e.g. :func:`helpers.stats.matching.propensity_scores`).
    treated : array-like
        Treatment indicator (boolean or 0/1), aligned with ``ps``.
    estimand : {"ATE", "ATT", "ATC", "ATO"}
        Average treatment effect (inverse probability weights), on the treated, on the controls, or in the
        overlap population (overlap weights).
    stabilize : bool, default False
        ATE only: multiply by the proportion of the patient's own arm (stabilized weights; their mean is 1 in
        each arm in expectation). Refused for the other estimands.
    trim : float, optional
        Crump-style trimming threshold ``a``: weight 0 for scores outside ``[a, 1 - a]`` (:func:`trim_mask`).

    Returns
    -------
    numpy.ndarray
        One weight per patient; 0 for trimmed patients (drop them before a weighted Cox model, which needs
        weights > 0).

    Examples
    --------
    >>> ipw_weights([0.2, 0.5, 0.8], [1, 0, 0], "ATE").round(3).tolist()
    [5.0, 2.0, 5.0]
    >>> ipw_weights([0.2, 0.5, 0.8], [1, 0, 0], "ATO").round(3).tolist()
    [0.8, 0.5, 0.8]
    """
    e, t = _score_and_treatment(ps, treated)
    estimand = str(estimand).upper()
    if estimand not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {ESTIMANDS}, got {estimand!r}")
    if stabilize and estimand != "ATE":
        raise ValueError("stabilize=True applies to ATE weights only")
    keep = np.ones(len(e), dtype=bool) if trim is None else trim_mask(e, trim)
    if not (keep & t).any() or not (keep & ~t).any():
        raise ValueError(f"trimming at {trim} leaves an arm empty")
    if estimand == "ATE":
        w = np.where(t, 1 / e, 1 / (1 - e))
        if stabilize:
            p1 = np.count_nonzero(t & keep) / np.count_nonzero(keep)
            w = w * np.where(t, p1, 1 - p1)
    elif estimand == "ATT":
        w = np.where(t, 1.0, e / (1 - e))
    elif estimand == "ATC":
        w = np.where(t, (1 - e) / e, 1.0)
    else:
        w = np.where(t, 1 - e, e)
    return np.where(keep, w, 0.0)


def effective_sample_size(weights: Any, treated: Any = None) -> float | dict[str, float]:
    """Kish's effective sample size ``(sum w)^2 / sum(w^2)``, overall or per arm.

    Parameters
    ----------
    weights : array-like
        Non-negative weights (0 = not in the weighted sample).
    treated : array-like, optional
        Treatment indicator; when given, the ESS of each arm.

    Returns
    -------
    float or dict
        The ESS, or ``{"treated": ..., "control": ...}`` (MatchIt's ``summary(m)$nn`` row "(ESS)").

    Examples
    --------
    >>> effective_sample_size([1, 1, 1, 1])
    4.0
    >>> effective_sample_size([1, 1, 2, 0], [1, 1, 0, 0])
    {'treated': 2.0, 'control': 1.0}
    """
    w = np.asarray(weights, dtype=float)
    if np.any(np.isnan(w)) or np.any(w < 0):
        raise ValueError("weights must be non-negative (no missing values)")

    def kish(v: np.ndarray) -> float:
        s2 = float(np.sum(v ** 2))
        return float(np.sum(v)) ** 2 / s2 if s2 > 0 else 0.0

    if treated is None:
        return kish(w)
    t = np.asarray(treated).astype(bool)
    if len(t) != len(w):
        raise ValueError("weights and treated must have the same length")
    return {"treated": kish(w[t]), "control": kish(w[~t])}
