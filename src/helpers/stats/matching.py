"""Propensity-score nearest-neighbour matching with the semantics of R's MatchIt.

The reference is ``MatchIt::matchit(method = "nearest", distance = "glm", ...)`` (MatchIt 4.x).
This module reproduces, unit for unit, which treated unit is matched to which control.

What MatchIt does, and therefore what this module does
-------------------------------------------------------
Propensity score (``distance = "glm"``)
    An unpenalised logistic regression of treatment on the covariates, fitted by iteratively
    reweighted least squares exactly as ``stats::glm.fit`` does it (same start, same convergence
    rule ``|dev - dev_old| / (|dev| + 0.1) < 1e-8``, at most 25 iterations). The distance is the
    fitted probability, i.e. on the probability scale, not the logit.
Caliper
    With ``std.caliper = TRUE`` (the default) the caliper is given in standard deviations of the
    distance: width = ``caliper * sd(distance)``, where the SD is the sample SD (n - 1) over *all*
    units of both groups (MatchIt: ``sd(distance[!discarded])``; nothing is discarded here). A control
    whose gap ``|d_t - d_c|`` is strictly greater than the width is not eligible; a gap equal to the
    width is. MatchIt drops an infinite caliper and a caliper on a distance that takes a single
    value, and refuses a caliper on a distance that takes only two values.
Matching order (``m.order``)
    ``"largest"`` (the default when the distance is a propensity score): treated units in decreasing
    order of distance; ``"smallest"``: increasing; ``"data"``: the order of the rows. Equal distances
    keep the order of the rows (R's ``order()`` is stable, also when decreasing). With replacement,
    MatchIt forces ``"data"``; the order cannot change anything then.
Nearest neighbour and ties
    All units are sorted by distance with a stable sort (ties in row order). For the treated unit
    being matched, the candidates are the nearest still-available control on its left in that
    sorted order (lower or equal distance) and on its right (higher or equal distance). Each must
    be within the caliper. The left one wins when the gaps are equal (``gap_left <= gap_right``):
    an exact tie goes to the control with the lower distance or, at equal distance, to the one
    that comes *before* the treated unit in the sorted order.
Ratio > 1
    Matching is done in rounds: every treated unit (in the matching order) gets its first control
    before any gets its second, and so on. A treated unit that finds no eligible control simply gets
    fewer matches; with a caliper it may get none and is then unmatched (weight 0, dropped).
Replacement
    ``replace = FALSE``: a control is used at most once. ``replace = TRUE``: controls can be reused
    by different treated units but not twice by the same one, so each treated unit receives its
    ``ratio`` nearest controls within the caliper.
Weights (estimand ATT)
    A matched treated unit has weight 1. A control receives, for every treated unit it is matched
    to, ``1 / (number of controls matched to that treated unit)``; the control weights are then
    rescaled to sum to the number of matched controls. Unmatched units have weight 0.
Subclasses
    Without replacement, each matched treated unit and its controls form a subclass. MatchIt numbers
    subclasses by sorting the treated units' row numbers *as character strings* ("1" < "10" < "2");
    this module reproduces that numbering. With replacement MatchIt returns no subclass; the
    ``subclass`` column of :attr:`MatchResult.pairs` then just labels each treated unit's matched set.

Matching the way SAS PSMATCH does (``convention="sas_psmatch"``)
----------------------------------------------------------------
SAS's ``PROC PSMATCH`` differs from MatchIt's defaults in three ways, each a keyword switch here (the
default, ``convention="matchit"``, is MatchIt's behaviour exactly):

``logit=True``
    Match on the logit of the score (SAS ``DISTANCE=LPS``, its default). MatchIt: ``distance = "glm",
    link = "linear.logit"``.
``caliper_sd="pooled"``
    A standardised caliper multiplies ``sqrt((s1^2 + s0^2) / 2)``, the pooled SD of the treated and control
    groups' distances (SAS ``CALIPER(MULT=STDDEV)=``), instead of the SD over all units. MatchIt has no such
    option; its reference is an absolute caliper (``std.caliper = FALSE``) computed in R.
``discard="both"``
    Common support: drop units whose distance lies outside the overlap of the two groups' ranges before
    matching (SAS ``REGION=CS``). MatchIt: ``discard = "both"``; ``"control"`` and ``"treated"`` are
    MatchIt's one-sided versions. As in MatchIt, the caliper's SD is computed over the units kept.

``tests/reference/causal_reference.R`` runs each of these through MatchIt 4.5.1 (``link = "linear.logit"``
and ``discard`` directly, the pooled caliper as an absolute width) on lalonde and rotterdam, and
``tests/test_causal_stats.py`` checks the pairs, weights, subclasses, discarded units and caliper widths.
What is *not* checked, because SAS is not available here: SAS's own greedy algorithm (the order in which
``METHOD=GREEDY`` takes the treated units and breaks ties; this module keeps MatchIt's ``m.order``), SAS's
default support region when a ``MATCH`` statement is given (``REGION=TREATED``, i.e. ``discard="control"``,
and its optional ``EXTEND=`` widening, not implemented), SAS's default caliper of 0.25, and whether SAS
computes the pooled SD over all observations or over the support region (here: over the units kept).

Two bugs in the MatchIt installed on the build machine
-----------------------------------------------------
1. MatchIt 4.5.1 to 4.5.3 (the Debian package ``r-cran-matchit`` 4.5.1 included) compute the gaps
   with the integer ``abs()`` (MatchIt issue #163, "Caliper not working as intended on versions
   4.5.1 - 4.5.3"). On the probability scale every gap is below 1 and truncates to 0, so the caliper
   is never applied and the lower-distance neighbour is always taken.
2. In rounds after the first (``ratio > 1``), MatchIt 4.5.1 compares 0-based row numbers with the
   1-based ones of its match matrix when it skips "controls already matched to this treated unit":
   with replacement the same control is matched to the same treated unit again; without
   replacement the control on the row right after an earlier match is skipped. MatchIt's NEWS
   after 4.5.2 records the fix ("... with replace = TRUE and ratio greater than 1").

This module implements the intended behaviour, which is what later MatchIt releases do (their
``find_both()`` uses ``std::abs``, the same left-wins rule and the same rounds). The R reference
script ``tests/reference/matchit_reference.R`` derives that behaviour from the installed binary
(distance multiplied by 2**30, an exact rescaling; ratio > 1 as successive ratio-1 rounds) and
explains why this is exact. The installed 4.5.1 engine recompiled with both one-line fixes gave the
same matches in all 174 reference configurations.

Complexity
----------
Without replacement the search for the nearest available control on each side uses two
"next available" union-find structures over the sorted controls (path halving), so matching is
O(n log n) overall, dominated by the sort. With replacement each treated unit needs O(ratio) work
after a binary search.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.stats.design import treatment_dummies
from helpers.stats.glm import logistic_irls, non_aliased_columns

__all__ = [
    "CONVENTIONS",
    "resolve_convention",
    "MatchResult",
    "propensity_design",
    "propensity_kernel",
    "propensity_scores",
    "nearest_neighbor_match",
    "match_cohort",
]

_ORDERS = ("largest", "smallest", "data")

_DBL_EPSILON = np.finfo(float).eps
_QR_TOL = 1e-11  # min(1e-7, epsilon / 1000), the tolerance glm.fit passes to its QR


# ----------------------------------------------------------------------------------------------
# Propensity score
# ----------------------------------------------------------------------------------------------
def propensity_design(data: pd.DataFrame, covariates: list[str]) -> tuple[np.ndarray, list[str]]:
    """Build R's ``model.matrix(~ covariates)``: an intercept plus treatment-contrast dummies
    (:func:`helpers.stats.design.treatment_dummies`, the project's one dummy coder)."""
    columns = [np.ones(len(data))]
    names = ["(Intercept)"]
    for cov in covariates:
        if cov not in data.columns:
            raise ValueError(f"covariate {cov!r} is not a column of the data")
        col = data[cov]
        if col.isna().any():
            raise ValueError(
                f"covariate {cov!r} has {int(col.isna().sum())} missing value(s); MatchIt refuses "
                "missing covariates, so impute or drop them first"
            )
        if isinstance(col.dtype, pd.CategoricalDtype):
            levels = list(col.cat.categories)
        elif col.dtype == bool or col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            levels = sorted(col.unique())
        else:
            values = pd.to_numeric(col, errors="raise").to_numpy(dtype=float)
            if not np.all(np.isfinite(values)):
                raise ValueError(f"covariate {cov!r} has non-finite values")
            columns.append(values)
            names.append(cov)
            continue
        # Treatment contrasts: the first level is the reference, one dummy per other level.
        dummies, coded = treatment_dummies(col, levels, name=cov)
        columns += list(dummies.T)
        names += [f"{cov}{level}" for level in coded]
    return np.column_stack(columns), names


def propensity_kernel(x_full: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, list[int], bool]:
    """The propensity fit on a design from :func:`propensity_design` and a 0/1 treatment: R's aliased columns
    dropped (``glm.fit``'s QR tolerance), then :func:`helpers.stats.glm.logistic_irls`. Returns the fitted
    probabilities, the kept columns and whether IRLS converged. :func:`propensity_scores` checks its input and
    calls this; so does the synthetic-data generator when it designs the matched cohort."""
    kept = non_aliased_columns(x_full, _QR_TOL)
    fit = logistic_irls(x_full[:, kept], y)
    return fit.fitted, kept, fit.converged


def propensity_scores(data: pd.DataFrame, treated: pd.Series, covariates: list[str]) -> pd.Series:
    """Fitted probabilities of an unpenalised logistic regression, as R's ``glm(family = binomial)``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.
    treated : pandas.Series
        Treatment indicator for the rows of ``data`` (booleans or 0/1). If its index holds the same
        ids as ``data``'s it is aligned on them, otherwise it is taken in row order.
    covariates : list of str
        Columns of ``data``. Numeric columns enter linearly. Categorical, object, string and boolean
        columns are dummy-coded with treatment contrasts, the reference being the first level: the
        first category of a pandas Categorical, otherwise the first of the sorted distinct values
        (R sorts character levels in the locale's collation; use a Categorical to fix the order when
        that could differ, e.g. mixed case).

    Returns
    -------
    pandas.Series
        The fitted probabilities ``expit(X beta_hat)``, indexed like ``data`` and named ``"distance"``.

    Notes
    -----
    The fit is :func:`helpers.stats.glm.logistic_irls`, which follows ``stats::glm.fit``: start at ``mu = (y + 0.5) / 2``; each iteration solves the
    weighted least-squares problem with working response ``z = eta + (y - mu) / mu'(eta)`` and
    weights ``mu'(eta)^2 / (mu (1 - mu))``; stop when ``|dev - dev_old| / (|dev| + 0.1) < 1e-8`` or
    after 25 iterations. The inverse link and its derivative are clamped like R's C code
    (``|eta| > 30``). Aliased columns (e.g. a constant covariate, or an unused factor level) are
    dropped, as R does when it reports an ``NA`` coefficient; the fitted values do not depend on
    which of the collinear columns is dropped.

    Under complete or quasi-complete separation R returns fitted values anyway, with the warnings
    "algorithm did not converge" and/or "fitted probabilities numerically 0 or 1 occurred"; this
    function does the same with :func:`warnings.warn`.

    Raises
    ------
    ValueError
        If a covariate is missing from ``data`` or has missing/non-finite values, if the lengths
        differ, or if the treatment is not binary with both groups present.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError("data must be a pandas DataFrame")
    t = _as_treatment_array(treated, len(data), data.index)
    if len(covariates) == 0:
        warnings.warn("no covariates given: every unit gets the same propensity score", stacklevel=2)
    x_full, names = propensity_design(data, list(covariates))
    mu, kept, converged = propensity_kernel(x_full, t.astype(float))
    dropped = [names[j] for j in range(len(names)) if j not in kept]
    if dropped:
        warnings.warn(
            "aliased (collinear or constant) terms dropped from the propensity model, as R reports "
            f"NA coefficients for them: {dropped}",
            stacklevel=2,
        )
    if not converged:
        warnings.warn(
            "glm.fit: algorithm did not converge (as R would warn); the propensity model may suffer "
            "from separation",
            stacklevel=2,
        )
    eps = 10.0 * _DBL_EPSILON
    if np.any(mu > 1.0 - eps) or np.any(mu < eps):
        warnings.warn(
            "glm.fit: fitted probabilities numerically 0 or 1 occurred (as R would warn): "
            "some covariate separates the groups",
            stacklevel=2,
        )
    return pd.Series(mu, index=data.index, name="distance")


def _as_treatment_array(treated, n: int, index: pd.Index | None = None) -> np.ndarray:
    if isinstance(treated, pd.Series):
        if index is not None and treated.index.equals(index):
            values = treated.to_numpy()
        elif (
            index is not None
            and len(treated) == n
            and treated.index.is_unique
            and index.is_unique
            and set(treated.index) == set(index)
        ):
            values = treated.reindex(index).to_numpy()  # same ids in another order: align
        elif len(treated) == n:
            values = treated.to_numpy()
        else:
            raise ValueError(f"treated has length {len(treated)} but there are {n} units")
    else:
        values = np.asarray(treated)
    if values.ndim != 1 or len(values) != n:
        raise ValueError(f"treated has length {len(values)} but there are {n} units")
    if pd.isna(values).any():
        raise ValueError("treated has missing values")
    uniq = set(np.unique(values).tolist())
    if not uniq <= {0, 1, True, False}:
        raise ValueError(f"treated must be boolean or 0/1, got values {sorted(map(str, uniq))}")
    t = values.astype(bool)
    if t.all() or not t.any():
        raise ValueError("both a treated and a control group are needed (one group is empty)")
    return t


# ----------------------------------------------------------------------------------------------
# Matching
# ----------------------------------------------------------------------------------------------
@dataclass
class MatchResult:
    """Result of :func:`nearest_neighbor_match`.

    Attributes
    ----------
    pairs : pandas.DataFrame
        One row per (treated unit, matched control): columns ``subclass`` (int), ``treated_id``,
        ``control_id``. Rows are ordered by treated unit (row order) and then by match round.
    matched_ids : pandas.Index
        Ids of all matched units (treated and control), in row order.
    weights : pandas.Series
        MatchIt's ATT matching weights for every unit (0 for unmatched units), indexed by id.
    caliper_width : float or None
        The caliper on the distance scale (``caliper * sd(distance)`` when standardised), or None.
    n_unmatched_treated : int
        Treated units that received no control (discarded ones not counted).
    match_matrix : pandas.DataFrame
        MatchIt's ``match.matrix``: one row per treated unit (row order), one column per round
        (``1 .. ratio``), holding control ids, None where no control was found.
    subclass : pandas.Series or None
        Subclass of every unit (NaN when unmatched), as MatchIt's ``m$subclass``; None with
        replacement, where MatchIt returns none.
    treated : pandas.Series
        Boolean treatment indicator indexed by id (used by :meth:`summary`).
    distance : pandas.Series
        The distance the matching used, indexed by id (the logit of the score with ``logit=True``).
    discarded : pandas.Series
        True for the units outside the common support (``discard``), never matched.
    ratio, replace, order : int, bool, str
        The settings used (``order`` is the one MatchIt applied: "data" with replacement).
    """

    pairs: pd.DataFrame
    matched_ids: pd.Index
    weights: pd.Series
    caliper_width: float | None
    n_unmatched_treated: int
    match_matrix: pd.DataFrame = field(repr=False)
    subclass: pd.Series | None = field(repr=False)
    treated: pd.Series = field(repr=False)
    distance: pd.Series = field(repr=False)
    ratio: int = 1
    replace: bool = False
    order: str = "largest"
    discarded: pd.Series | None = field(default=None, repr=False)

    def summary(self) -> pd.DataFrame:
        """Sample sizes as MatchIt's ``summary(m)$nn``.

        Rows "All (ESS)", "All", "Matched (ESS)", "Matched", "Unmatched", "Discarded"; columns
        "Control" and "Treated". ESS is Kish's effective sample size ``(sum w)^2 / sum(w^2)``.
        "Unmatched" counts the units kept but not matched, "Discarded" those outside the common support
        (``discard``).
        """
        t = self.treated.to_numpy()
        w = self.weights.reindex(self.treated.index).to_numpy()
        disc = (np.zeros(len(t), dtype=bool) if self.discarded is None
                else self.discarded.reindex(self.treated.index).to_numpy())
        out = {}
        for label, grp in (("Control", ~t), ("Treated", t)):
            wg = w[grp]
            ess = float(wg.sum() ** 2 / np.sum(wg**2)) if np.any(wg > 0) else 0.0
            n_all = int(grp.sum())
            out[label] = [float(n_all), float(n_all), ess, float(np.sum(wg > 0)),
                          float(np.sum((wg == 0) & ~disc[grp])), float(np.sum(disc[grp]))]
        return pd.DataFrame(
            out, index=["All (ESS)", "All", "Matched (ESS)", "Matched", "Unmatched", "Discarded"]
        )


CONVENTIONS = {
    "matchit": dict(logit=False, caliper_sd="all", discard="none"),
    "sas_psmatch": dict(logit=True, caliper_sd="pooled", discard="both"),
}
_CALIPER_SDS = ("all", "pooled")
_DISCARDS = ("none", "both", "control", "treated")


def resolve_convention(convention: str | None, logit: bool | None = None, caliper_sd: str | None = None,
                       discard: str | None = None) -> tuple[bool, str, str]:
    """(logit, caliper_sd, discard) of a convention ("matchit" by default), explicit values overriding it.

    Examples
    --------
    >>> resolve_convention("sas_psmatch")
    (True, 'pooled', 'both')
    >>> resolve_convention("sas_psmatch", discard="control")
    (True, 'pooled', 'control')
    """
    key = "matchit" if convention is None else convention
    if key not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; valid conventions are {list(CONVENTIONS)}")
    base = CONVENTIONS[key]
    logit = base["logit"] if logit is None else bool(logit)
    caliper_sd = base["caliper_sd"] if caliper_sd is None else caliper_sd
    discard = base["discard"] if discard is None else discard
    if caliper_sd not in _CALIPER_SDS:
        raise ValueError(f"caliper_sd must be one of {list(_CALIPER_SDS)}, got {caliper_sd!r}")
    if discard not in _DISCARDS:
        raise ValueError(f"discard must be one of {list(_DISCARDS)}, got {discard!r}")
    return logit, caliper_sd, discard


def _discarded(d: np.ndarray, t: np.ndarray, discard: str) -> np.ndarray:
    """MatchIt's ``discard()``: units outside the common support of the distance."""
    if discard == "none":
        return np.zeros(len(d), dtype=bool)
    lo1, hi1 = d[t].min(), d[t].max()
    lo0, hi0 = d[~t].min(), d[~t].max()
    if discard == "both":
        return (d < max(lo0, lo1)) | (d > min(hi0, hi1))
    if discard == "control":
        return ~t & ((d < lo1) | (d > hi1))
    return t & ((d < lo0) | (d > hi0))


def _caliper_width(d: np.ndarray, caliper: float | None, std_caliper: bool, t: np.ndarray | None = None,
                   caliper_sd: str = "all") -> float | None:
    if caliper is None:
        return None
    caliper = float(caliper)
    if math.isnan(caliper):
        raise ValueError("caliper must be a number or None, not NaN")
    if caliper < 0:
        raise ValueError(f"caliper must be non-negative, got {caliper}")
    if math.isinf(caliper):
        return None  # MatchIt drops non-finite calipers
    n_unique = len(np.unique(d))
    if n_unique <= 1:
        return None  # MatchIt drops a caliper on a constant distance
    if n_unique == 2:
        raise ValueError(
            "a caliper cannot be used when the distance takes only two distinct values "
            "(MatchIt refuses calipers on binary variables)"
        )
    if std_caliper:
        if caliper_sd == "pooled":
            return caliper * math.sqrt((float(np.var(d[t], ddof=1)) + float(np.var(d[~t], ddof=1))) / 2)
        return caliper * float(np.std(d, ddof=1))
    return caliper


def nearest_neighbor_match(
    scores: pd.Series,
    treated: pd.Series,
    ratio: int = 1,
    caliper: float | None = 0.1,
    std_caliper: bool = True,
    replace: bool = False,
    order: str = "largest",
    *,
    logit: bool | None = None,
    caliper_sd: str | None = None,
    discard: str | None = None,
    convention: str | None = None,
) -> MatchResult:
    """Greedy nearest-neighbour matching on a scalar distance, as MatchIt's ``method = "nearest"``.

    Parameters
    ----------
    scores : pandas.Series
        The distance (normally the propensity score on the probability scale), indexed by unit id.
        Ids must be unique.
    treated : pandas.Series
        Treatment indicator (boolean or 0/1): aligned on ``scores``' ids when its index holds the
        same ids, otherwise taken in row order (it must then have the same length).
    ratio : int, default 1
        Number of controls per treated unit (k in 1:k matching), matched in rounds.
    caliper : float or None, default 0.1
        Maximum allowed gap ``|d_t - d_c|``; gaps equal to the caliper are allowed. None (or inf)
        for no caliper.
    std_caliper : bool, default True
        If True, ``caliper`` is in units of the sample SD (ddof = 1) of ``scores`` over all units,
        as MatchIt's ``std.caliper = TRUE``.
    replace : bool, default False
        Match with replacement (a control may serve several treated units).
    order : {"largest", "smallest", "data"}, default "largest"
        MatchIt's ``m.order``: order in which treated units choose their controls. Ignored (and
        reported as "data") with replacement, as in MatchIt.
    logit : bool, optional
        Match on ``log(s / (1 - s))`` of the scores (which must then be probabilities), as MatchIt's
        ``distance = "glm", link = "linear.logit"`` and SAS PSMATCH's ``DISTANCE=LPS``. Default False.
    caliper_sd : {"all", "pooled"}, optional
        The SD that a standardised caliper multiplies: ``"all"`` (default, MatchIt) the SD of the distance
        over all units kept; ``"pooled"`` (SAS PSMATCH's ``CALIPER(MULT=STDDEV)``) ``sqrt((s1^2 + s0^2) / 2)``
        of the treated and control groups' distances, over the units kept.
    discard : {"none", "both", "control", "treated"}, optional
        Common support, as MatchIt's ``discard``: units whose distance is outside ``[max of the two groups'
        minima, min of their maxima]`` (``"both"``), outside the treated range (``"control"``: controls only)
        or the control range (``"treated"``) are discarded before matching (weight 0, never matched; the
        caliper's SD is then computed without them). Default "none".
    convention : {"matchit", "sas_psmatch"}, optional
        Sets the three switches above: ``"matchit"`` (the default) is ``logit=False, caliper_sd="all",
        discard="none"``; ``"sas_psmatch"`` is ``logit=True, caliper_sd="pooled", discard="both"``. A switch
        passed explicitly overrides the convention (e.g. ``discard="control"`` for SAS's default region).

    Returns
    -------
    MatchResult

    Examples
    --------
    Three treated (a, b, c) and four controls; no caliper. In MatchIt's default order (largest score
    first) c (0.8) takes f (0.75, nearer than g at 0.9), then b takes e and a takes d:

    >>> import pandas as pd
    >>> scores = pd.Series([0.2, 0.5, 0.8, 0.25, 0.45, 0.75, 0.9], index=list("abcdefg"))
    >>> treated = pd.Series([1, 1, 1, 0, 0, 0, 0], index=scores.index)
    >>> m = nearest_neighbor_match(scores, treated, caliper=None)
    >>> m.pairs[["treated_id", "control_id"]].values.tolist()
    [['a', 'd'], ['b', 'e'], ['c', 'f']]

    Notes
    -----
    See the module docstring for the exact rules (stable sort, left neighbour wins an equal gap,
    rounds for ``ratio > 1``, weights). Runs in O(n log n) time without replacement. The
    ``"sas_psmatch"`` convention and its limits are described in the module docstring ("Matching the
    way SAS PSMATCH does").

    Raises
    ------
    ValueError
        On mismatched lengths, duplicate ids, missing or non-finite scores, an empty group, a
        non-positive ``ratio``, a negative caliper, an unknown ``order``, or when no unit can be
        matched (MatchIt stops with "No units were matched").
    """
    if not isinstance(scores, pd.Series):
        scores = pd.Series(scores)
    if not scores.index.is_unique:
        raise ValueError("unit ids (the index of scores) must be unique")
    n = len(scores)
    t = _as_treatment_array(treated, n, scores.index)
    d = pd.to_numeric(scores, errors="raise").to_numpy(dtype=float)
    if not np.all(np.isfinite(d)):
        raise ValueError("scores must be finite (no missing or infinite values)")
    if isinstance(ratio, bool) or int(ratio) != ratio or ratio < 1:
        raise ValueError(f"ratio must be a positive integer, got {ratio!r}")
    ratio = int(ratio)
    if order not in _ORDERS:
        raise ValueError(f"unknown order {order!r}; valid orders are {list(_ORDERS)}")
    logit, caliper_sd, discard = resolve_convention(convention, logit, caliper_sd, discard)
    if logit and np.any((d <= 0) | (d >= 1)):
        raise ValueError("logit=True needs scores strictly between 0 and 1 (propensity scores)")
    m = nearest_neighbor_kernel(d, t, ratio, caliper, std_caliper, replace, order, logit, caliper_sd, discard)
    return _build_result(scores.index, t, m.distance, m.ctrl_sorted, m.treated_rows, m.mm, m.width, ratio, replace,
                         m.order, m.discarded)


@dataclass(frozen=True)
class NearestNeighborKernelResult:
    """What :func:`nearest_neighbor_kernel` returns, in row numbers of the full data: ``mm[i, r]`` indexes
    ``ctrl_sorted`` for the r-th control of treated row ``treated_rows[i]`` (-1: none)."""

    mm: np.ndarray
    ctrl_sorted: np.ndarray
    treated_rows: np.ndarray
    distance: np.ndarray           # the distance matched on (logit of the scores with ``logit``)
    width: float | None
    order: str
    discarded: np.ndarray | None   # None when no unit is discarded

    def matched_rows(self) -> np.ndarray:
        """A boolean per row: a treated unit with a match, or a control matched to one (MatchIt's weight > 0)."""
        out = np.zeros(len(self.distance), dtype=bool)
        out[self.treated_rows[(self.mm >= 0).any(axis=1)]] = True
        out[self.ctrl_sorted[self.mm[self.mm >= 0]]] = True
        return out

    @property
    def n_matched_treated(self) -> int:
        return int((self.mm >= 0).any(axis=1).sum())


def nearest_neighbor_kernel(d: np.ndarray, t: np.ndarray, ratio: int, caliper: float | None, std_caliper: bool,
                            replace: bool, order: str, logit: bool, caliper_sd: str,
                            discard: str) -> NearestNeighborKernelResult:
    """The matching of :func:`nearest_neighbor_match` on clean arrays (finite scores, a boolean treatment, settings
    already resolved), without its checks or result tables: that function checks its input and calls
    this; so does the synthetic-data generator, tens of thousands of times, when it designs the matched cohort."""
    if logit:
        d = np.log(d / (1 - d))
    discarded = _discarded(d, t, discard)
    n = len(d)
    if discarded.any():
        # match the units kept; row numbers are mapped back to the full data below (MatchIt numbers subclasses
        # by the row numbers of the full data)
        kept = np.flatnonzero(~discarded)
        t_full, d_full = t, d
        t, d = t[kept], d[kept]
        if t.all() or not t.any():
            raise ValueError(f"discard={discard!r} leaves no {'control' if t.all() else 'treated'} unit")
        n = len(d)
    width = _caliper_width(d, caliper, std_caliper, t, caliper_sd)
    cal = math.inf if width is None else width

    n1 = int(t.sum())
    n0 = n - n1
    if not replace:  # stacklevel 3: the caller of nearest_neighbor_match
        if n0 < n1:
            warnings.warn(
                "Fewer control units than treated units; not all treated units will get a match.",
                stacklevel=3,
            )
        elif n0 < ratio * n1:
            warnings.warn(f"Not all treated units will get {ratio} matches.", stacklevel=3)

    # Global stable sort by distance (R: sort.list / order, ties in row order).
    sort_idx = np.argsort(d, kind="stable")
    pos = np.empty(n, dtype=np.int64)
    pos[sort_idx] = np.arange(n)
    ctrl_sorted = sort_idx[~t[sort_idx]]           # row numbers of controls, sorted
    ctrl_pos = pos[ctrl_sorted]                    # their positions in the global order
    treated_rows = np.flatnonzero(t)               # row order
    # number of controls strictly before each treated unit in the global order
    n_left = np.searchsorted(ctrl_pos, pos[treated_rows])

    if replace:
        applied_order = "data"
        proc = np.arange(n1)
    else:
        applied_order = order
        td = d[treated_rows]
        if order == "largest":
            proc = np.argsort(-td, kind="stable")
        elif order == "smallest":
            proc = np.argsort(td, kind="stable")
        else:
            proc = np.arange(n1)

    # mm[i, r] = index into ctrl_sorted of the r-th control of treated_rows[i], -1 if none
    if replace:
        mm = _match_with_replacement(d, ctrl_sorted, n_left, treated_rows, ratio, cal)
    else:
        mm = _match_without_replacement(d, ctrl_sorted, n_left, treated_rows, proc, ratio, cal)

    if discarded.any():
        all_treated = np.flatnonzero(t_full)
        mm_full = np.full((len(all_treated), ratio), -1, dtype=np.int64)
        mm_full[np.searchsorted(all_treated, kept[treated_rows])] = mm    # discarded treated: no match
        return NearestNeighborKernelResult(mm_full, kept[ctrl_sorted], all_treated, d_full, width, applied_order,
                                           discarded)
    return NearestNeighborKernelResult(mm, ctrl_sorted, treated_rows, d, width, applied_order, None)


def _match_without_replacement(d, ctrl_sorted, n_left, treated_rows, proc, ratio, cal):
    n1 = len(treated_rows)
    nc = len(ctrl_sorted)
    mm = np.full((n1, ratio), -1, dtype=np.int64)
    if nc == 0:
        return mm
    cd = d[ctrl_sorted].tolist()
    td = d[treated_rows].tolist()
    nl = n_left.tolist()
    # Left structure: slot k+1 <-> control k, slot 0 = "none on the left".
    # find_left(j) = largest available slot <= j.
    lpar = list(range(nc + 1))
    # Right structure: slot k <-> control k, slot nc = "none on the right".
    # find_right(j) = smallest available slot >= j.
    rpar = list(range(nc + 1))
    alive = [True] * n1  # treated units that may still get a match
    remaining = nc
    proc_list = proc.tolist()
    fabs = abs
    for r in range(ratio):
        if remaining == 0:
            break
        for i in proc_list:
            if not alive[i]:
                continue
            j = nl[i]
            # --- nearest available control on the left: largest available slot <= j
            x = j
            while lpar[x] != x:
                lpar[x] = lpar[lpar[x]]
                x = lpar[x]
            kl = x - 1  # control index, -1 if none
            # --- nearest available control on the right: smallest available slot >= j
            y = j
            while rpar[y] != y:
                rpar[y] = rpar[rpar[y]]
                y = rpar[y]
            kr = y if y < nc else -1
            dt = td[i]
            gl = fabs(cd[kl] - dt) if kl >= 0 else math.inf
            gr = fabs(cd[kr] - dt) if kr >= 0 else math.inf
            if kl >= 0 and gl > cal:
                kl = -1
            if kr >= 0 and gr > cal:
                kr = -1
            if kl >= 0 and (kr < 0 or gl <= gr):
                k = kl
            elif kr >= 0:
                k = kr
            else:
                alive[i] = False  # no eligible control now, hence none in later rounds
                continue
            mm[i, r] = k
            # delete control k from both structures
            lpar[k + 1] = k
            rpar[k] = k + 1
            remaining -= 1
            if remaining == 0:
                break
    return mm


def _match_with_replacement(d, ctrl_sorted, n_left, treated_rows, ratio, cal):
    n1 = len(treated_rows)
    nc = len(ctrl_sorted)
    mm = np.full((n1, ratio), -1, dtype=np.int64)
    if nc == 0:
        return mm
    cd = d[ctrl_sorted]
    td = d[treated_rows]
    lptr = n_left.astype(np.int64) - 1   # next candidate on the left (control index)
    rptr = n_left.astype(np.int64).copy()  # next candidate on the right
    active = np.ones(n1, dtype=bool)
    for r in range(ratio):
        has_l = active & (lptr >= 0)
        has_r = active & (rptr < nc)
        gl = np.full(n1, np.inf)
        gr = np.full(n1, np.inf)
        gl[has_l] = np.abs(cd[lptr[has_l]] - td[has_l])
        gr[has_r] = np.abs(cd[rptr[has_r]] - td[has_r])
        ok_l = has_l & (gl <= cal)
        ok_r = has_r & (gr <= cal)
        take_l = ok_l & (~ok_r | (gl <= gr))
        take_r = ok_r & ~take_l
        mm[take_l, r] = lptr[take_l]
        mm[take_r, r] = rptr[take_r]
        lptr[take_l] -= 1
        rptr[take_r] += 1
        active &= take_l | take_r
        if not active.any():
            break
    return mm


def _subclass_numbers(treated_rows_matched: np.ndarray) -> np.ndarray:
    """MatchIt's subclass numbers: factor levels of the treated row numbers (1-based) as strings."""
    labels = [str(int(r) + 1) for r in treated_rows_matched]
    order = sorted(range(len(labels)), key=lambda i: labels[i])
    numbers = np.empty(len(labels), dtype=np.int64)
    for rank, i in enumerate(order, start=1):
        numbers[i] = rank
    return numbers


def _build_result(ids, t, d, ctrl_sorted, treated_rows, mm, width, ratio, replace, applied_order, discarded=None):
    n = len(ids)
    n1 = len(treated_rows)
    counts = (mm >= 0).sum(axis=1)
    matched_t = counts > 0
    n_matched_t = int(matched_t.sum())
    n_discarded_t = 0 if discarded is None else int(discarded[treated_rows].sum())
    if n_matched_t == 0:
        raise ValueError("No units were matched (no control within the caliper of any treated unit).")

    # Weights (MatchIt's weights_matrixC, then control weights rescaled).
    w = np.zeros(n)
    w[treated_rows[matched_t]] = 1.0
    rows_i, cols_r = np.nonzero(mm >= 0)
    ctrl_rows = ctrl_sorted[mm[rows_i, cols_r]]
    np.add.at(w, ctrl_rows, 1.0 / counts[rows_i])
    ctrl_mask = ~t
    ctrl_w_sum = w[ctrl_mask].sum()
    n_ctrl_matched = int(np.sum(w[ctrl_mask] > 0))
    w[ctrl_mask] *= n_ctrl_matched / ctrl_w_sum

    # Subclasses, numbered as MatchIt does.
    sub_of_treated = np.zeros(n1, dtype=np.int64)
    sub_of_treated[matched_t] = _subclass_numbers(treated_rows[matched_t])

    # pairs, ordered by treated row then round
    order_pairs = np.lexsort((cols_r, rows_i))
    rows_i = rows_i[order_pairs]
    cols_r = cols_r[order_pairs]
    ctrl_rows = ctrl_sorted[mm[rows_i, cols_r]]
    pairs = pd.DataFrame(
        {
            "subclass": sub_of_treated[rows_i],
            "treated_id": ids[treated_rows[rows_i]],
            "control_id": ids[ctrl_rows],
        }
    )

    mm_ids = np.full((n1, ratio), None, dtype=object)
    for r in range(ratio):
        has = mm[:, r] >= 0
        mm_ids[has, r] = np.asarray(ids[ctrl_sorted[mm[has, r]]], dtype=object)
    match_matrix = pd.DataFrame(mm_ids, index=ids[treated_rows], columns=list(range(1, ratio + 1)))

    subclass = None
    if not replace:
        sc = np.full(n, np.nan)
        sc[treated_rows[matched_t]] = sub_of_treated[matched_t]
        sc[ctrl_rows] = sub_of_treated[rows_i]
        subclass = pd.Series(pd.array(np.where(np.isnan(sc), pd.NA, sc), dtype="Int64"), index=ids, name="subclass")

    weights = pd.Series(w, index=ids, name="weights")
    return MatchResult(
        pairs=pairs,
        matched_ids=ids[w > 0],
        weights=weights,
        caliper_width=width,
        n_unmatched_treated=int(n1 - n_matched_t - n_discarded_t),
        match_matrix=match_matrix,
        subclass=subclass,
        treated=pd.Series(t, index=ids, name="treated"),
        distance=pd.Series(d, index=ids, name="distance"),
        ratio=ratio,
        replace=replace,
        order=applied_order,
        discarded=pd.Series(np.zeros(n, dtype=bool) if discarded is None else discarded, index=ids,
                            name="discarded"),
    )


def match_cohort(
    data: pd.DataFrame,
    arm_column: str,
    treated_level,
    covariates: list[str],
    ratio: int = 1,
    caliper: float | None = 0.1,
    replace: bool = False,
    id_column: str | None = None,
    order: str = "largest",
    std_caliper: bool = True,
    *,
    logit: bool | None = None,
    caliper_sd: str | None = None,
    discard: str | None = None,
    convention: str | None = None,
) -> tuple[MatchResult, pd.Series]:
    """Estimate propensity scores and match, like ``matchit(arm ~ covariates, method = "nearest",
    distance = "glm", caliper = caliper, std.caliper = TRUE, ratio = ratio, replace = replace)``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per patient.
    arm_column : str
        Column holding the treatment arm.
    treated_level
        Value of ``arm_column`` that marks the treated (focal) group; every other value is control.
    covariates : list of str
        Covariates of the propensity model (see :func:`propensity_scores` for the coding).
    ratio, caliper, replace, order, std_caliper, logit, caliper_sd, discard, convention
        Passed to :func:`nearest_neighbor_match` (``convention="sas_psmatch"``: logit distance, pooled-SD
        caliper, common support).
    id_column : str, optional
        Column with unique patient ids; by default the index of ``data`` is used.

    Returns
    -------
    (MatchResult, pandas.Series)
        The matching and the propensity scores, both indexed by patient id.
    """
    if arm_column not in data.columns:
        raise ValueError(f"arm column {arm_column!r} is not in the data")
    if data[arm_column].isna().any():
        raise ValueError(f"arm column {arm_column!r} has missing values")
    if id_column is not None:
        if id_column not in data.columns:
            raise ValueError(f"id column {id_column!r} is not in the data")
        ids = pd.Index(data[id_column])
    else:
        ids = data.index
    if not ids.is_unique:
        raise ValueError("patient ids must be unique")
    treated = pd.Series((data[arm_column] == treated_level).to_numpy(), index=data.index)
    if not treated.any():
        raise ValueError(f"no row has {arm_column} == {treated_level!r} (empty treated group)")
    scores = propensity_scores(data, treated, covariates)
    scores.index = ids
    result = nearest_neighbor_match(
        scores,
        pd.Series(treated.to_numpy(), index=ids),
        ratio=ratio,
        caliper=caliper,
        std_caliper=std_caliper,
        replace=replace,
        order=order,
        logit=logit,
        caliper_sd=caliper_sd,
        discard=discard,
        convention=convention,
    )
    return result, scores
