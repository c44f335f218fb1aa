"""Kaplan-Meier curves, log-rank tests, landmark comparisons and follow-up, giving R's numbers.

Every function mirrors a named R function and is checked against R (R 4.2.2, survival 3.5-3,
prodlim 2019.11.13) in ``tests/test_survival.py``; the R side is
``tests/reference/survival_km_reference.R``.

=====================================================  =============================================
Python                                                 R
=====================================================  =============================================
``kaplan_meier(time, event)``                          ``survfit(Surv(time, event) ~ 1)``
``KaplanMeier.table``                                  ``summary(fit, censored = TRUE)`` / the fit
``KaplanMeier.median()``                               ``print(fit)`` (``summary(fit)$table``)
``KaplanMeier.median(rule="quantile")``,               ``quantile(fit, probs)``
``KaplanMeier.quantile(p)``
``KaplanMeier.survival_at(times)``                     ``summary(fit, times = times)``
``KaplanMeier.at_risk(times)``                         number with ``time >= t``
``kaplan_meier_by_group(time, event, group)``          ``survfit(Surv(time, event) ~ group)``
``weighted_kaplan_meier(time, event, weights)``        ``survfit(Surv(time, event) ~ 1, weights = w)``
``weighted_kaplan_meier_by_group(..., group, w)``      ``survfit(Surv(time, event) ~ group, weights = w)``
``logrank_test(time, event, group)``                   ``survdiff(Surv(time, event) ~ group)``
``landmark_comparison(km_a, km_b, t)``                 z test built on ``summary(fit, times = t)``
``median_followup(time, event)``                       ``prodlim(Hist(time, status) ~ 1,
                                                       reverse = TRUE)`` and its ``quantile()``
=====================================================  =============================================

``SurvivalSample(time, event, codes)`` sorts once and gives the KM curves of each group and of everyone,
the log-rank test and the reverse KM from that one order, with the same numbers as the functions above
(what a registry of 10^6 patients needs: one sort per endpoint instead of one per fit).

Conventions (R's, not lifelines'):

* ``event`` is 1 for the event (death, progression) and 0 for censored; ``time`` is >= 0.
* At a time where events and censorings tie, the censored patients are still at risk for the events
  (``n_risk`` at ``t`` is the number with ``time >= t``).
* Greenwood variance. ``std_err`` is R's ``fit$std.err``: the standard error of the cumulative
  hazard ``-log S``, ``sqrt(sum d / (n (n - d)))``; it is ``Inf`` once ``n == d`` (S = 0).
  ``se_surv = surv * std_err`` is the standard error of S, which is what ``summary(fit)`` prints as
  ``std.err``.
* Pointwise CIs, ``z = qnorm(1 - (1 - conf_level) / 2)``, ``sigma = std_err``:

  - ``"log"`` (R's default): ``S exp(-+ z sigma)``, upper bound capped at 1; NaN where S = 0.
  - ``"log-log"``: ``S ** exp(+- z sigma / log S)``; NaN where S = 0 or S = 1.
  - ``"plain"``: ``S -+ z S sigma`` clipped to [0, 1].
  - ``"none"``: no bands (NaN).

* Weighted curves (:func:`weighted_kaplan_meier`): the product-limit estimate on weighted counts. Which SE R
  reports depends on the weights (survival 3.5-3, ``survfitKM``): with any non-integer weight ``robust``
  defaults to TRUE and ``std.err`` is the infinitesimal-jackknife SE *of S* (one cluster per row,
  ``logse = FALSE``); with integer weights it is Greenwood's formula on the weighted counts (SE of -log S).
  Checked against R in ``tests/test_causal_stats.py``.
* Times are compared exactly. (R's ``survfit``/``survdiff`` first merge times that differ by less
  than about 1e-8 relative, ``aeqSurv``; round your times if they come from float arithmetic.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from .normal import critical_value, two_sided_p

__all__ = [
    "CONF_TYPES",
    "format_median",
    "MedianEstimate",
    "KaplanMeier",
    "LogRankResult",
    "LandmarkComparison",
    "FollowUp",
    "kaplan_meier",
    "kaplan_meier_by_group",
    "WeightedKaplanMeier",
    "weighted_kaplan_meier",
    "weighted_kaplan_meier_by_group",
    "SurvivalSample",
    "logrank_test",
    "landmark_comparison",
    "reverse_kaplan_meier",
    "median_followup",
    "followup_from_table",
]

CONF_TYPES = ("log", "log-log", "plain", "none")
#: R's tolerance in ``quantile.survfit`` and ``survmean`` (``sqrt(.Machine$double.eps)``).
R_TOLERANCE = math.sqrt(np.finfo(float).eps)


# ------------------------------------------------------------------------------------------------
# Input checks
# ------------------------------------------------------------------------------------------------
def _as_1d(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _check_time_event(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _as_1d(time, "time")
    e = _as_1d(event, "event")
    if len(t) != len(e):
        raise ValueError(f"time and event must have the same length, got {len(t)} and {len(e)}")
    if len(t) == 0:
        raise ValueError("time and event are empty: need at least one patient")
    try:
        t = t.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"time must be numeric: {exc}") from None
    if not np.all(np.isfinite(t)):
        raise ValueError("time must be finite (no NaN or infinite values); drop missing times first")
    if np.any(t < 0):
        raise ValueError(f"time must be >= 0, found {t.min()!r}")
    if e.dtype == bool:
        e = e.astype(np.int64)
    else:
        try:
            ef = e.astype(float)
        except (TypeError, ValueError):
            raise ValueError("event must contain only 0 (censored) and 1 (event)") from None
        if not np.all((ef == 0) | (ef == 1)):
            bad = ef[~((ef == 0) | (ef == 1))][:3]
            raise ValueError(f"event must contain only 0 (censored) and 1 (event), found {bad.tolist()}")
        e = ef.astype(np.int64)
    return t, e


def _check_conf(conf_type: str, conf_level: float) -> None:
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, got {conf_type!r}")
    if not (0 < float(conf_level) < 1):
        raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")


def _distinct_sorted(ts: np.ndarray, es: np.ndarray):
    """From times sorted ascending (and their events): distinct times, number with time >= t, events and
    censorings at each time, and the index of each distinct time's first row."""
    n = len(ts)
    starts = np.flatnonzero(np.concatenate(([True], ts[1:] != ts[:-1])))  # not np.r_: called ~10^5 times
    times = ts[starts]
    counts = np.diff(np.concatenate((starts, [n])))
    n_event = np.add.reduceat(es, starts)
    n_risk = n - starts
    n_event = n_event.astype(np.int64, copy=False)
    return times, n_risk.astype(np.int64, copy=False), n_event, (counts - n_event).astype(np.int64, copy=False), starts


def _distinct_times(t: np.ndarray, e: np.ndarray):
    """Sort once; distinct times, number with time >= t, events and censorings at each time (any sort will do:
    the counts at a time do not depend on the order of its tied rows)."""
    order = np.argsort(t)
    return _distinct_sorted(t[order], e[order])[:4]


# ------------------------------------------------------------------------------------------------
# Confidence bands and quantile rules (R survival 3.5)
# ------------------------------------------------------------------------------------------------
def _confint(surv: np.ndarray, std_err: np.ndarray, conf_type: str, conf_level: float):
    """``survival:::survfit_confint`` with ``logse = TRUE``."""
    if conf_type == "none":
        nan = np.full_like(surv, np.nan, dtype=float)
        return nan, nan.copy()
    z = critical_value(conf_level)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            se2 = std_err * surv * z
            return np.maximum(surv - se2, 0.0), np.minimum(surv + se2, 1.0)
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            se2 = z * std_err
            return np.exp(np.log(xx) - se2), np.minimum(np.exp(np.log(xx) + se2), 1.0)
        # log-log
        xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
        se2 = z * std_err / np.log(xx)
        return np.exp(-np.exp(np.log(-np.log(xx)) - se2)), np.exp(-np.exp(np.log(-np.log(xx)) + se2))


def _findq(x: np.ndarray, y: np.ndarray, probs: np.ndarray, tol: float) -> np.ndarray:
    """``survival:::findq``: x = c(0, time), y = c(0, 1 - curve).

    The quantile for p is the first time the distribution function reaches p (within ``tol``);
    if it equals p (within ``tol``) on a flat stretch, the midpoint of that stretch; if the flat
    stretch is the end of the curve, the midpoint of its start and the last time of the fit.
    Values of y are looked up by value (R uses ``approx`` after dropping duplicates), which only
    matters for a non-monotone band.
    """
    probs = np.asarray(probs, dtype=float)
    out = np.full(len(probs), np.nan)
    finite = y[~np.isnan(y)]
    if len(finite) == 0 or finite.max() < probs.min():
        return out
    xmax = x[-1]
    # duplicated(y): keep the first occurrence of each value (all NaNs count as one value)
    _, first = np.unique(y, return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    n = len(y)
    valid = ~np.isnan(y)
    idx = np.arange(n)[valid]
    yv = y[valid]
    if len(yv) >= 2:  # approx() needs two points
        o = np.argsort(yv, kind="stable")
        ys, idxs = yv[o], idx[o]

        def lookup(v: np.ndarray, p: np.ndarray) -> np.ndarray:
            # approx(v, idx, p, method = "constant", f = 1): the point with the smallest v >= p;
            # NA outside [min(v), max(v)]
            k = np.searchsorted(v, p, side="left")
            res = np.full(len(p), -1)
            ok = (k < len(v)) & (p >= v[0])
            res[ok] = idxs[k[ok]]
            return res

        i1 = lookup(ys + tol, probs)
        i2 = lookup(ys - tol, probs)
        x1 = np.where(i1 >= 0, x[np.maximum(i1, 0)], np.nan)
        x2 = np.where(i2 >= 0, x[np.maximum(i2, 0)], np.nan)
        out = (x1 + x2) / 2
        if not np.isnan(y[n - 1]):
            last = np.abs(probs - y[n - 1]) < tol
            out[last] = (x1[last] + xmax) / 2
    out[probs == 0] = x[0]
    return out


def _minmin(y: np.ndarray, x: np.ndarray, tol: float = R_TOLERANCE) -> float:
    """``survmean``'s median rule (print.survfit): the first time the curve is <= 0.5 (within
    ``tol``); if it is 0.5 there (within ``tol``) and drops later, the midpoint between that time
    and the first time it is below that value."""
    keep = ~np.isnan(y) & (y < 0.5 + tol)
    if not keep.any():
        return math.nan
    xk, yk = x[keep], y[keep]
    if abs(yk[0] - 0.5) < tol:
        lower = np.flatnonzero(yk < yk[0])
        if len(lower):
            return float((xk[0] + xk[lower[0]]) / 2)
    return float(xk[0])


def _missing_reason(y: np.ndarray, p: float = 0.5) -> str:
    """Why a quantile is NaN: "NR" (the curve stays above 1 - p) or "NE" (not estimable: no band,
    or the band stops being defined, e.g. the log band after S reaches 0, before crossing)."""
    if len(y) == 0 or np.all(np.isnan(y)):
        return "NE"
    if np.isnan(y[-1]):
        return "NE"
    return "NR"


# ------------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MedianEstimate:
    """A median (or other quantile) survival time with its confidence limits.

    NaN means not available; ``reasons`` tells why for (estimate, lower, upper): ``"NR"`` (not
    reached: the curve or band never falls to the level), ``"NE"`` (not estimable), or None.
    """

    estimate: float
    lower: float
    upper: float
    reasons: tuple[str | None, str | None, str | None] = (None, None, None)

    def __str__(self) -> str:
        return format_median(self)


@dataclass(frozen=True, eq=False)
class KaplanMeier:
    """A Kaplan-Meier curve; build it with :func:`kaplan_meier`.

    Arrays hold one value per distinct observed time (events or censorings), as R's ``survfit``.
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: int
    conf_type: str = "log"
    conf_level: float = 0.95

    def __repr__(self) -> str:
        return (f"KaplanMeier(n={self.n}, events={self.n_events}, conf_type={self.conf_type!r}, "
                f"conf_level={self.conf_level}, median={format_median(self.median())})")

    @property
    def n_events(self) -> int:
        return int(self.n_event.sum())

    @property
    def se_surv(self) -> np.ndarray:
        """Standard error of S (Greenwood): ``surv * std_err`` (R ``summary(fit)$std.err``)."""
        with np.errstate(invalid="ignore"):
            return self.surv * self.std_err

    @cached_property
    def table(self) -> pd.DataFrame:
        """One row per distinct time: time, n_risk, n_event, n_censor, surv, std_err (SE of the
        cumulative hazard, R ``fit$std.err``), se_surv (SE of S), lower, upper."""
        return pd.DataFrame({
            "time": self.time, "n_risk": self.n_risk, "n_event": self.n_event,
            "n_censor": self.n_censor, "surv": self.surv, "std_err": self.std_err,
            "se_surv": self.se_surv, "lower": self.lower, "upper": self.upper,
        })

    def curve(self) -> pd.DataFrame:
        """The step function from time 0 (for plotting): time, surv, lower, upper; a row at 0 with
        S = 1 is added unless the first observed time is 0 (R ``survfit0``)."""
        t, s, lo, up, _, _ = self._with_origin()
        return pd.DataFrame({"time": t, "surv": s, "lower": lo, "upper": up})

    # -- quantiles ---------------------------------------------------------------------------------
    def median(self, rule: Literal["print", "quantile"] = "print") -> MedianEstimate:
        """Median survival time and its CI (from the bands of this fit's ``conf_type``).

        ``rule="print"`` (default) is what ``print(fit)`` and ``summary(fit)$table`` show
        (``survival:::survmean``): the first time with S(t) <= 0.5; if S(t) == 0.5 (to within
        sqrt(machine eps)) on a flat stretch, the midpoint between that time and the next time the
        curve drops. The CI limits apply the same rule to the lower and upper bands.

        ``rule="quantile"`` is ``quantile(fit, 0.5)``. The two differ only when the curve ends on a
        flat stretch at exactly 0.5 (print: the start of the stretch; quantile: the midpoint of its
        start and the last follow-up time) or when a band is not monotone.
        """
        if rule == "quantile":
            return self.quantile(0.5)
        if rule != "print":
            raise ValueError(f"rule must be 'print' or 'quantile', got {rule!r}")
        curves = (self.surv, self.lower, self.upper)
        vals = [_minmin(c, self.time) for c in curves]
        reasons = tuple(None if not math.isnan(v) else _missing_reason(c) for v, c in zip(vals, curves))
        return MedianEstimate(*vals, reasons=reasons)  # type: ignore[arg-type]

    def quantile(self, p: float | Sequence[float]) -> MedianEstimate | pd.DataFrame:
        """Quantiles of the survival-time distribution as ``quantile(fit, probs = p)``.

        ``p`` is a probability of the event (0.25 = first quartile: the time where S(t) falls to
        0.75). The time is the first one where 1 - S(t) >= p; where 1 - S(t) == p (within
        sqrt(machine eps)) on a flat stretch, the midpoint of the stretch (the midpoint of its
        start and the last observed time if the curve ends there). CI limits: the same rule on the
        lower and upper bands. A scalar ``p`` gives a :class:`MedianEstimate`; a sequence gives a
        DataFrame with columns p, estimate, lower, upper.
        """
        scalar = np.ndim(p) == 0
        probs = np.atleast_1d(np.asarray(p, dtype=float))
        if np.any(np.isnan(probs)) or np.any((probs < 0) | (probs > 1)):
            raise ValueError(f"p must be probabilities in [0, 1], got {p!r}")
        x = np.r_[0.0, self.time]
        q = _findq(x, np.r_[0.0, 1 - self.surv], probs, R_TOLERANCE)
        lo = _findq(x, np.r_[0.0, 1 - self.lower], probs, R_TOLERANCE)
        up = _findq(x, np.r_[0.0, 1 - self.upper], probs, R_TOLERANCE)
        if scalar:
            pr = float(probs[0])
            vals = (float(q[0]), float(lo[0]), float(up[0]))
            reasons = tuple(None if not math.isnan(v) else _missing_reason(c, pr)
                            for v, c in zip(vals, (self.surv, self.lower, self.upper)))
            return MedianEstimate(*vals, reasons=reasons)  # type: ignore[arg-type]
        return pd.DataFrame({"p": probs, "estimate": q, "lower": lo, "upper": up})

    # -- values at given times -----------------------------------------------------------------------
    def _with_origin(self):
        """R ``survfit0``: prepend time 0 with S = 1, bands 1, std.err 0, n.risk = n.risk[1]."""
        if len(self.time) and self.time[0] == 0:
            return self.time, self.surv, self.lower, self.upper, self.std_err, self.n_risk
        one = np.ones(1)
        lo1 = one if self.conf_type != "none" else np.full(1, np.nan)
        return (np.r_[0.0, self.time], np.r_[one, self.surv], np.r_[lo1, self.lower],
                np.r_[lo1, self.upper], np.r_[0.0, self.std_err], np.r_[self.n_risk[:1], self.n_risk])

    def survival_at(self, times: float | Iterable[float], extend: bool = False) -> pd.DataFrame:
        """S(t) and its CI at given times, as ``summary(fit, times = times)``.

        The curve is right-continuous: at an event time the value after the drop. ``n_risk`` is the
        number with ``time >= t`` (R takes n.risk of the first observed time >= t). ``std_err`` is
        the SE of the cumulative hazard (as in :attr:`table`) and ``se_surv = surv * std_err`` the
        SE of S, i.e. R's ``summary(fit, times)$std.err``. Rows keep the order of ``times``.

        Times after the last observed time: R drops them unless ``extend = TRUE``; here they give
        NaN (and n_risk 0) unless ``extend=True``, which carries the last value forward as R does.
        """
        t_req = np.atleast_1d(np.asarray(times, dtype=float))
        t0, s0, lo0, up0, se0, nr0 = self._with_origin()
        idx1 = np.maximum(np.searchsorted(t0, t_req, side="right") - 1, 0)  # last time <= t
        idx2 = np.searchsorted(t0, t_req, side="left")                      # first time >= t
        n_risk = np.r_[nr0, 0][idx2]
        surv, lower, upper, std_err = s0[idx1], lo0[idx1], up0[idx1], se0[idx1]
        with np.errstate(invalid="ignore"):
            se_surv = surv * std_err
        out = pd.DataFrame({"time": t_req, "surv": surv, "lower": lower, "upper": upper,
                            "std_err": std_err, "se_surv": se_surv, "n_risk": n_risk})
        beyond = ~np.isfinite(t_req)
        if not extend:
            beyond |= t_req > t0[-1]
        if beyond.any():
            out.loc[beyond, ["surv", "lower", "upper", "std_err", "se_surv"]] = np.nan
        return out

    def at_risk(self, times: float | Iterable[float]) -> np.ndarray:
        """Numbers at risk at ``times``: patients with ``time >= t`` (for tables under KM plots)."""
        t_req = np.atleast_1d(np.asarray(times, dtype=float))
        return np.r_[self.n_risk, 0][np.searchsorted(self.time, t_req, side="left")].astype(np.int64)

    def cumulative_counts(self, times: float | Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative numbers of events and of censored patients at ``times``: those with ``time <= t``, as
        the cumulative sums of ``summary(fit, times = times, extend = TRUE)``'s ``n.event`` and ``n.censor``
        in R (the rows of the KMunicate table, Morris et al. 2019, as R's KMunicate package counts them). A
        patient whose time equals ``t`` is also at risk at ``t`` (:meth:`at_risk`).

        >>> km = kaplan_meier([1, 2, 2, 3, 5], [1, 1, 0, 0, 1])
        >>> [c.tolist() for c in km.cumulative_counts([0, 2, 4, 6])]
        [[0, 2, 2, 3], [0, 1, 2, 2]]
        """
        k = np.searchsorted(self.time, np.atleast_1d(np.asarray(times, dtype=float)), side="right")
        events = np.r_[0, np.cumsum(self.n_event)][k].astype(np.int64)
        censored = np.r_[0, np.cumsum(self.n_censor)][k].astype(np.int64)
        return events, censored


def km_steps(n_risk: np.ndarray, n_event: np.ndarray, greenwood: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The Kaplan-Meier kernel: ``S(t_j) = prod_{i <= j} (n_i - d_i) / n_i`` and Greenwood's sum
    ``sum_{i <= j} d_i / (n_i (n_i - d_i))`` (the variance of -log S; infinite once everyone at risk has
    died) at each distinct time, from the numbers at risk and events there (``_distinct_times``).

    :func:`helpers.stats.kaplan_meier` checks its input and calls this; so does the synthetic-data generator, which
    evaluates it tens of thousands of times (``survfit`` over its C routine, in the same way). It is the
    package's one product-limit step: the reverse Kaplan-Meier (censoring as the event), the weighted
    Kaplan-Meier, cox.zph's ``transform = "km"``, the all-cause and censoring curves of the competing-risks
    engines all call it with their own counts. Arrays of several curves (times x curves) give one curve per
    column. ``greenwood=False`` (RMST, which needs ``S`` only) returns None for the sum."""
    nr = np.asarray(n_risk, dtype=float)
    d = np.asarray(n_event, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(d > 0, (nr - d) / nr, 1.0), axis=0)
        if not greenwood:
            return surv, None
        inc = np.where(d > 0, d / (nr * (nr - d)), 0.0)
    return surv, np.cumsum(inc, axis=0)


def product_limit(t: np.ndarray, e: np.ndarray):
    """The Kaplan-Meier curve without its bands, for engines that need only ``S`` (RMST and its pseudo-values):
    distinct times, events, numbers at risk (floats), ``S`` just after each time (:func:`km_steps`, so exactly
    :func:`kaplan_meier`'s ``surv``) and the index of each observation's distinct time. ``t`` and ``e`` are
    checked arrays (the caller checks them). One sort; no search."""
    # not a stable sort: the counts at a time do not depend on the order of its tied rows, and numpy's default
    # sort of floats is half again as fast as the stable one at 10^6 rows
    order = np.argsort(t)
    ts = t[order]
    times, n_risk, n_event, _, starts = _distinct_sorted(ts, e[order])
    first = np.zeros(len(ts), dtype=np.int64)
    first[starts[1:]] = 1
    inv = np.empty(len(ts), dtype=np.int64)
    inv[order] = np.cumsum(first)                 # each sorted row's distinct time, back in the input order
    n_event, n_risk = n_event.astype(float), n_risk.astype(float)
    return times, n_event, n_risk, km_steps(n_risk, n_event, greenwood=False)[0], inv


def _km_from_counts(times, n_risk, n_event, n_censor, n: int, conf_type: str, conf_level: float) -> KaplanMeier:
    surv, greenwood = km_steps(n_risk, n_event)
    std_err = np.sqrt(greenwood)
    lower, upper = _confint(surv, std_err, conf_type, conf_level)
    return KaplanMeier(time=times, n_risk=n_risk, n_event=n_event, n_censor=n_censor, surv=surv,
                       std_err=std_err, lower=lower, upper=upper, n=n, conf_type=conf_type,
                       conf_level=float(conf_level))


def kaplan_meier(time: Any, event: Any, conf_type: str = "log", conf_level: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier estimate as ``survfit(Surv(time, event) ~ 1, conf.type, conf.int)``.

    ``S(t) = prod_{t_j <= t} (n_j - d_j) / n_j`` over distinct times, with Greenwood
    ``std_err(t) = sqrt(sum_{t_j <= t} d_j / (n_j (n_j - d_j)))`` (SE of -log S). See the module
    docstring for the bands. O(n log n): one sort.

    Parameters
    ----------
    time : array-like
        Follow-up times (non-negative, finite).
    event : array-like
        1 (or True) for an event, 0 for a censored time.
    conf_type : {"log", "log-log", "plain"}, default "log"
        The pointwise interval, as R's ``conf.type``; R's default ``log`` (lifelines' only interval is
        ``log-log``).
    conf_level : float, default 0.95

    Returns
    -------
    KaplanMeier
        One row per distinct time (events and censorings, as ``survfit``): ``time``, ``n_risk``
        (time >= t), ``n_event``, ``n_censor``, ``surv``, ``std_err``, ``lower``, ``upper``; ``median()``
        follows ``print.survfit`` (the midpoint of a flat stretch at exactly 0.5).

    Examples
    --------
    Six patients; by hand S = 5/6, then 5/6 x 4/5 = 2/3 at t = 2, 2/3 x 2/3 = 4/9 at t = 3, 0 at t = 6
    (R: ``summary(survfit(...))$surv``; median 3, lower limit 2):

    >>> km = kaplan_meier([1, 2, 2, 3, 5, 6], [1, 1, 0, 1, 0, 1])
    >>> km.time.tolist(), km.surv.round(4).tolist()
    ([1.0, 2.0, 3.0, 5.0, 6.0], [0.8333, 0.6667, 0.4444, 0.4444, 0.0])
    >>> km.median().estimate, km.median().lower
    (3.0, 2.0)
    """
    _check_conf(conf_type, conf_level)
    t, e = _check_time_event(time, event)
    return _km_from_counts(*_distinct_times(t, e), len(t), conf_type, conf_level)


def _group_codes(group: Any, n: int, order: Sequence | None):
    """Labels (in ``order``, else categorical order, else sorted) and integer codes; -1 = dropped."""
    if isinstance(group, (pd.Series, pd.Index)) and isinstance(group.dtype, pd.CategoricalDtype):
        return _categorical_codes(pd.Series(group).reset_index(drop=True), n, order)
    g = pd.Series(_as_1d(group, "group"))
    if len(g) != n:
        raise ValueError(f"group must have the same length as time, got {len(g)} and {n}")
    present = pd.unique(g[g.notna()])
    if order is not None:
        labels = _ordered_labels(present, order)
    else:
        try:
            labels = sorted(present)
        except TypeError:
            labels = sorted(present, key=str)
    codes = pd.Categorical(g, categories=labels).codes.astype(np.int64)
    return labels, codes


def _ordered_labels(present, order: Sequence) -> list:
    """``order`` as the group labels; every value present must be in it."""
    labels = list(order)
    missing = set(present) - set(labels)
    if missing:
        raise ValueError(f"group values not in order: {sorted(map(str, missing))}")
    return labels


def _categorical_codes(g: pd.Series, n: int, order: Sequence | None):
    """:func:`_group_codes` for a pandas Categorical, through its categories: a million patients need one
    lookup per category, not a million comparisons of objects."""
    if len(g) != n:
        raise ValueError(f"group must have the same length as time, got {len(g)} and {n}")
    cats = list(g.cat.categories)
    cat_codes = g.cat.codes.to_numpy()
    counts = np.bincount(cat_codes[cat_codes >= 0], minlength=len(cats))
    present = [c for c, m in zip(cats, counts) if m > 0]
    labels = _ordered_labels(present, order) if order is not None else present
    position = {lab: k for k, lab in enumerate(labels)}
    # category i -> its position in labels; the extra last entry maps the code -1 (missing) to -1
    lookup = np.array([position.get(c, -1) for c in cats] + [-1], dtype=np.int64)
    return labels, lookup[cat_codes]


class SurvivalSample:
    """Times and events sorted once, with optional group codes, for several fits on the same patients.

    ``kaplan_meier(k)`` (group k, or everyone), ``logrank(labels)`` and ``reverse_kaplan_meier(k)`` all reuse
    the one stable sort by time: the patients of a group, taken in that order, are exactly what sorting the
    group alone would give, so every result equals that of :func:`kaplan_meier`, :func:`logrank_test` and
    :func:`reverse_kaplan_meier` on the group's own arrays. ``codes``: integers, 0 .. groups - 1, -1 for a
    patient in no group (counted only in the fits of everyone).
    """

    def __init__(self, time: Any, event: Any, codes: Any = None):
        t, e = _check_time_event(time, event)
        order = np.argsort(t, kind="stable")
        self.time, self.event = t[order], e[order]
        self.codes = None if codes is None else np.asarray(codes, dtype=np.int64)[order]
        self._all = _distinct_sorted(self.time, self.event)

    def __len__(self) -> int:
        return len(self.time)

    def _counts(self, group: int | None):
        if group is None:
            return self._all[:4], len(self.time)
        sel = self.codes == group
        return _distinct_sorted(self.time[sel], self.event[sel])[:4], int(np.count_nonzero(sel))

    def n_group(self, group: int) -> int:
        return int(np.count_nonzero(self.codes == group))

    def kaplan_meier(self, group: int | None = None, conf_type: str = "log",
                     conf_level: float = 0.95) -> KaplanMeier:
        _check_conf(conf_type, conf_level)
        counts, n = self._counts(group)
        if n == 0:
            raise ValueError("time and event are empty: need at least one patient")
        return _km_from_counts(*counts, n, conf_type, conf_level)

    def reverse_kaplan_meier(self, group: int | None = None, conf_level: float = 0.95) -> pd.DataFrame:
        if not (0 < conf_level < 1):
            raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
        counts, n = self._counts(group)
        if n == 0:
            raise ValueError("time and event are empty: need at least one patient")
        return _reverse_km_from_counts(*counts, conf_level)

    def with_event(self, event_sorted: np.ndarray) -> "SurvivalSample":
        """The same patients and order with another event indicator (given in the sorted order)."""
        out = object.__new__(SurvivalSample)
        out.time, out.event, out.codes = self.time, np.asarray(event_sorted, dtype=np.int64), self.codes
        out._all = _distinct_sorted(out.time, out.event)
        return out

    def logrank(self, labels: Sequence) -> LogRankResult:
        """:func:`logrank_test` with groups ``labels`` (code k is ``labels[k]``); code -1 is left out."""
        return _logrank_sorted(self.time, self.event, self.codes, list(labels), self._all)


def kaplan_meier_by_group(time: Any, event: Any, group: Any, order: Sequence | None = None,
                          **kw: Any) -> dict[Any, KaplanMeier]:
    """One :func:`kaplan_meier` per group, as ``survfit(Surv(time, event) ~ group)``.

    Keys follow ``order`` if given (a label with no patients is an error), else the categories of
    a pandas Categorical, else sorted labels. Patients with a missing group are dropped, as R does.
    ``kw`` goes to :func:`kaplan_meier` (``conf_type``, ``conf_level``). One sort for all groups.
    """
    t, e = _check_time_event(time, event)
    labels, codes = _group_codes(group, len(t), order)
    sample = SurvivalSample(t, e, codes)
    out: dict[Any, KaplanMeier] = {}
    for k, lab in enumerate(labels):
        if sample.n_group(k) == 0:
            raise ValueError(f"group {lab!r} has no patients")
        out[lab] = sample.kaplan_meier(k, **kw)
    return out


# ------------------------------------------------------------------------------------------------
# Weighted Kaplan-Meier (survfit with case weights)
# ------------------------------------------------------------------------------------------------
WEIGHTED_SE = ("auto", "greenwood", "robust")


@dataclass(frozen=True, eq=False)
class WeightedKaplanMeier(KaplanMeier):
    """A weighted Kaplan-Meier curve (:func:`weighted_kaplan_meier`).

    ``n_risk``, ``n_event`` and ``n_censor`` are weighted counts (floats), as R's ``survfit`` reports them;
    ``n`` is the number of rows. ``variance`` says which SE the bands use: ``"greenwood"`` (Greenwood's
    formula on the weighted counts; ``std_err`` is then the SE of -log S, as for :class:`KaplanMeier`) or
    ``"robust"`` (infinitesimal jackknife, one cluster per row; R stores the SE of S itself,
    :attr:`se_surv`, and ``std_err = se_surv / S``).
    """

    variance: str = "greenwood"
    se_surv_values: np.ndarray | None = None

    @property
    def n_events(self) -> float:  # type: ignore[override]
        return float(self.n_event.sum())

    @property
    def se_surv(self) -> np.ndarray:
        """Standard error of S (R ``summary(fit)$std.err``)."""
        if self.se_surv_values is not None:
            return self.se_surv_values
        with np.errstate(invalid="ignore"):
            return self.surv * self.std_err

    def survival_at(self, times: float | Iterable[float], extend: bool = False) -> pd.DataFrame:
        out = super().survival_at(times, extend)
        if self.se_surv_values is not None:   # the stored SE of S (0, not NaN, once S = 0)
            t0 = np.r_[0.0, self.time] if not (len(self.time) and self.time[0] == 0) else self.time
            se0 = np.r_[0.0, self.se_surv_values] if len(t0) > len(self.time) else self.se_surv_values
            idx = np.maximum(np.searchsorted(t0, out["time"].to_numpy(float), side="right") - 1, 0)
            out["se_surv"] = np.where(out["surv"].isna(), np.nan, se0[idx])
        return out

    def at_risk(self, times: float | Iterable[float]) -> np.ndarray:
        """Weighted numbers at risk at ``times`` (sum of the weights of the patients with ``time >= t``)."""
        t_req = np.atleast_1d(np.asarray(times, dtype=float))
        return np.r_[self.n_risk, 0.0][np.searchsorted(self.time, t_req, side="left")]


def _weighted_km(ts: np.ndarray, es: np.ndarray, ws: np.ndarray, robust: bool, conf_type: str,
                 conf_level: float) -> WeightedKaplanMeier:
    """The weighted KM of rows sorted by time (ascending), as survival 3.5-3's C routine ``survfitkm``."""
    n = len(ts)
    starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
    times = ts[starts]
    block = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    d0 = np.add.reduceat(es, starts)                            # events, unweighted
    dw = np.add.reduceat(es * ws, starts)                       # events, weighted
    cw = np.add.reduceat((1 - es) * ws, starts)                 # censorings, weighted
    nw = np.cumsum((dw + cw)[::-1])[::-1]                       # weighted number with time >= t
    step = (d0 > 0) & (dw > 0)                                  # R: at least one event with a weight > 0
    # the product-limit step of km_steps on the weighted counts (Greenwood's sum too), at the times with a step
    surv, greenwood = km_steps(nw, np.where(step, dw, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(step, dw / nw, 0.0)                        # the weighted hazard increments
    if not robust:
        std_err = np.sqrt(greenwood)
        lower, upper = _confint(surv, std_err, conf_type, conf_level)
        return WeightedKaplanMeier(time=times, n_risk=nw, n_event=dw, n_censor=cw, surv=surv, std_err=std_err,
                                   lower=lower, upper=upper, n=n, conf_type=conf_type, conf_level=float(conf_level),
                                   variance="greenwood")
    # Infinitesimal jackknife, one cluster per row: D_k(t) = w_k dS(t)/dw_k = S(t) a_k(t) with
    # a_k(t) = w_k [C(min(t, T_k)) - delta_k 1(T_k <= t) g(T_k)], g = 1 / (n_w (1 - h)), C = cumsum h g
    # (the Greenwood sum). var(t) = sum_k D_k(t)^2 = S(t)^2 [C(t)^2 sum_{T_k > t} w_k^2 + sum_{T_k <= t} w_k^2 b_k^2].
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(step, 1 / (nw * (1 - h)), 0.0)
        b = greenwood[block] - es * g[block]
        w2 = ws ** 2
        later = np.r_[np.cumsum((w2)[::-1])[::-1], 0.0][np.r_[starts[1:], n]]   # sum of w^2 with T_k > t
        done = np.cumsum(np.add.reduceat(w2 * b ** 2, starts))                   # sum with T_k <= t
        var = surv ** 2 * (greenwood ** 2 * later + done)
    var = np.where(surv > 0, var, 0.0)
    se_surv = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        std_err = np.where(se_surv == 0, 0.0, se_surv / surv)   # survfit_confint(logse = FALSE): se / p
    lower, upper = _confint(surv, std_err, conf_type, conf_level)
    return WeightedKaplanMeier(time=times, n_risk=nw, n_event=dw, n_censor=cw, surv=surv, std_err=std_err,
                               lower=lower, upper=upper, n=n, conf_type=conf_type, conf_level=float(conf_level),
                               variance="robust", se_surv_values=se_surv)


def _check_weights(weights: Any, n: int) -> np.ndarray:
    w = _as_1d(weights, "weights")
    try:
        w = w.astype(float)
    except (TypeError, ValueError):
        raise ValueError("weights must be numeric") from None
    if len(w) != n:
        raise ValueError(f"weights must have the same length as time, got {len(w)} and {n}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative (R: 'weights must be non-negative')")
    return w


def _robust_rule(w: np.ndarray, se: str) -> bool:
    if se not in WEIGHTED_SE:
        raise ValueError(f"se must be one of {WEIGHTED_SE}, got {se!r}")
    if se == "auto":   # survfitKM: robust when any weight is not an integer (has.rwt)
        return bool(np.any(w != np.floor(w)))
    return se == "robust"


def weighted_kaplan_meier(time: Any, event: Any, weights: Any, se: str = "auto", conf_type: str = "log",
                          conf_level: float = 0.95) -> WeightedKaplanMeier:
    """Weighted Kaplan-Meier estimate as ``survfit(Surv(time, event) ~ 1, weights = weights)`` (survival 3.5-3).

    Parameters
    ----------
    time, event : array-like
        Follow-up times (>= 0) and event indicators (1 event, 0 censored).
    weights : array-like
        Case weights (>= 0; IPW or matching weights). Rows of weight 0 add time points but no information.
    se : {"auto", "greenwood", "robust"}
        Which standard error, hence which bands. ``"auto"`` is R's default in survival 3.5-3: ``survfitKM``
        sets ``robust = TRUE`` when any weight is not an integer (``has.rwt <- any(weights != floor(weights))``),
        and then reports the infinitesimal-jackknife (IJ) SE with one cluster per row; with integer weights it
        keeps Greenwood's formula on the weighted counts, ``sqrt(sum d_w / (n_w (n_w - d_w)))`` for -log S.
        ``"greenwood"`` / ``"robust"`` are ``survfit(..., robust = FALSE / TRUE)``.
    conf_type, conf_level
        As :func:`kaplan_meier` (the IJ SE of S is turned into ``se / S`` for the bands, as R's
        ``survfit_confint(logse = FALSE)``).

    Returns
    -------
    WeightedKaplanMeier
        S(t) = prod (1 - d_w / n_w) over the distinct times with weighted counts; ``variance`` records the SE
        used, ``se_surv`` is the SE of S that R's ``summary(fit)`` prints.

    Examples
    --------
    >>> km = weighted_kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1], [0.5, 1.5, 1.0, 2.0])
    >>> km.variance, km.surv.round(4).tolist()
    ('robust', [0.9, 0.6, 0.0])
    """
    _check_conf(conf_type, conf_level)
    t, e = _check_time_event(time, event)
    w = _check_weights(weights, len(t))
    order = np.argsort(t, kind="stable")
    return _weighted_km(t[order], e[order].astype(float), w[order], _robust_rule(w, se), conf_type, conf_level)


def weighted_kaplan_meier_by_group(time: Any, event: Any, group: Any, weights: Any, order: Sequence | None = None,
                                   se: str = "auto", conf_type: str = "log",
                                   conf_level: float = 0.95) -> dict[Any, WeightedKaplanMeier]:
    """One :func:`weighted_kaplan_meier` per group, as ``survfit(Surv(time, event) ~ group, weights = w)``.

    R decides between Greenwood and the robust SE once, from *all* the weights (a non-integer weight in one
    arm makes every arm's SE robust); so does ``se="auto"`` here. Groups as :func:`kaplan_meier_by_group`.

    Examples
    --------
    >>> fits = weighted_kaplan_meier_by_group([1, 2, 3, 4], [1, 0, 1, 1], ["a", "a", "b", "b"], [1, 2, 1, 1])
    >>> fits["a"].variance, fits["b"].surv.tolist()
    ('greenwood', [0.5, 0.0])
    """
    _check_conf(conf_type, conf_level)
    t, e = _check_time_event(time, event)
    w = _check_weights(weights, len(t))
    robust = _robust_rule(w, se)
    labels, codes = _group_codes(group, len(t), order)
    srt = np.argsort(t, kind="stable")
    ts, es, ws, cs = t[srt], e[srt].astype(float), w[srt], codes[srt]
    out: dict[Any, WeightedKaplanMeier] = {}
    for k, lab in enumerate(labels):
        sel = cs == k
        if not sel.any():
            raise ValueError(f"group {lab!r} has no patients")
        out[lab] = _weighted_km(ts[sel], es[sel], ws[sel], robust, conf_type, conf_level)
    return out


# ------------------------------------------------------------------------------------------------
# Log-rank test
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LogRankResult:
    """``survdiff`` (rho = 0): observed and expected events per group, the variance matrix of O - E
    (hypergeometric), the chi-square on df = (groups with expected > 0) - 1 and its p-value."""

    chisq: float
    df: int
    p_value: float
    observed: pd.Series
    expected: pd.Series
    variance: pd.DataFrame
    n: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))


def logrank_test(time: Any, event: Any, group: Any, order: Sequence | None = None) -> LogRankResult:
    """Log-rank test for any number of groups, as ``survdiff(Surv(time, event) ~ group)``.

    At each distinct event time t_j with n_j at risk (time >= t_j) and d_j events, group g expects
    ``n_gj d_j / n_j`` events; ``Var(O - E) = sum_j d_j (n_j - d_j) / (n_j - 1) *
    (diag(p_j) - p_j p_j')`` with ``p_gj = n_gj / n_j`` (terms with n_j = 1 are 0).
    As R: groups with expected 0 are left out; the first remaining group is dropped and
    ``chisq = (O - E)' V^-1 (O - E)`` over the rest; with fewer than two groups left, chisq = 0,
    df = 0 and p = 1. O(n log n) plus O(groups x n) plus O(groups^2 x times).

    Parameters
    ----------
    time, event : array-like
        Follow-up times and event indicators (1 = event, 0 = censored).
    group : array-like
        Group labels, one per patient; missing labels leave the patient out.
    order : sequence, optional
        The group labels in the order of the result (default: categorical order, else sorted).

    Returns
    -------
    LogRankResult
        ``chisq``, ``df``, ``p_value``, and ``observed``, ``expected``, ``variance`` per group.

    Examples
    --------
    R: ``survdiff(Surv(time, event) ~ x)`` gives chisq 2.5764528 on 1 df, p = 0.1084645:

    >>> time = [5, 8, 12, 15, 20, 23, 27, 30, 34, 40]
    >>> event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1]
    >>> x = [1, 1, 1, 0, 1, 0, 0, 1, 0, 0]
    >>> res = logrank_test(time, event, x)
    >>> round(res.chisq, 7), res.df, round(res.p_value, 7)
    (2.5764528, 1, 0.1084645)
    """
    t, e = _check_time_event(time, event)
    labels, codes = _group_codes(group, len(t), order)
    keep = codes >= 0
    if len(labels) < 2:
        raise ValueError("logrank_test needs at least two groups")
    return SurvivalSample(t[keep], e[keep], codes[keep]).logrank(labels)


def _logrank_sorted(ts: np.ndarray, es: np.ndarray, gs: np.ndarray, labels: list, overall=None) -> LogRankResult:
    """The log-rank test on times sorted ascending; ``gs`` holds group codes, -1 = left out.

    Per group g, the number at risk at the j-th distinct time (first row ``starts[j]``) is the number of
    g's patients at or after that row: the group's size minus a running count. This is the same integer
    table a (groups x times) histogram gives, without one.
    """
    k = len(labels)
    if k < 2:
        raise ValueError("logrank_test needs at least two groups")
    chisq, df, p_value, observed, expected, var, sizes = logrank_kernel(ts, es, gs, k, overall)
    idx = pd.Index(labels, name="group")
    return LogRankResult(chisq=chisq, df=df, p_value=p_value,
                         observed=pd.Series(observed, index=idx, name="observed"),
                         expected=pd.Series(expected, index=idx, name="expected"),
                         variance=pd.DataFrame(var, index=idx, columns=idx),
                         n=pd.Series(sizes, index=idx, name="n"))


def logrank_kernel(ts: np.ndarray, es: np.ndarray, gs: np.ndarray, k: int, overall=None):
    """The log-rank kernel (``survdiff.fit``'s part): times sorted ascending, their events, group codes
    0..k-1 (-1 = left out). Returns (chisq, df, p, observed, expected, variance matrix, group sizes).
    :func:`logrank_test` checks its input and calls this; so does the synthetic-data generator."""
    if np.any(gs < 0):  # patients in no group: the test is on the others only
        keep = gs >= 0
        ts, es, gs, overall = ts[keep], es[keep], gs[keep], None
    if overall is None:
        overall = _distinct_sorted(ts, es)
    _, _, n_event, _, starts = overall
    ev = n_event > 0
    at = starts[ev]                                   # first row of each distinct event time
    J = len(at)
    # Fortran order, as the (groups x times) table had before: numpy then adds each group's terms over the
    # times in the same (sequential) order, so observed, expected and the variance are unchanged to the bit
    n_gj = np.empty((k, J), order="F")
    dg = np.empty((k, J), order="F")
    sizes = np.empty(k, dtype=np.int64)
    for g in range(k):
        in_g = gs == g
        before = np.concatenate(([0], np.cumsum(in_g)))   # patients of g in rows < i
        sizes[g] = before[-1]
        n_gj[g] = sizes[g] - before[at]
        dg[g] = np.add.reduceat(np.where(in_g, es, 0), starts)[ev]
    d = dg.sum(axis=0)
    n_j = n_gj.sum(axis=0)
    p = n_gj / n_j
    observed = dg.sum(axis=1)
    expected = (p * d).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_j > 1, d * (n_j - d) / (n_j - 1), 0.0)
    var = np.diag((p * w).sum(axis=1)) - (p * w) @ p.T
    use = np.flatnonzero(expected > 0)
    if len(use) < 2:
        chisq, df, p_value = 0.0, 0, 1.0
    else:
        sub = use[1:]
        diff = (observed - expected)[sub]
        chisq = float(diff @ np.linalg.solve(var[np.ix_(sub, sub)], diff))
        df = len(use) - 1
        # stats.chi2.sf(chisq, df) is chdtrc(df, chisq) on its support (1 below it): the same bits, without the
        # argument checks that cost more than the test itself in the generator's search
        p_value = float(special.chdtrc(df, max(chisq, 0.0)))
    return chisq, df, p_value, observed, expected, var, sizes


# ------------------------------------------------------------------------------------------------
# Landmark comparison
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LandmarkComparison:
    """Two curves compared at one time t. ``difference = surv_a - surv_b`` with a Wald CI
    (``diff_lower``, ``diff_upper``) from the Greenwood SEs; ``z`` and ``p_value`` from ``method``."""

    t: float
    surv_a: float
    lower_a: float
    upper_a: float
    se_a: float
    surv_b: float
    lower_b: float
    upper_b: float
    se_b: float
    difference: float
    se_difference: float
    diff_lower: float
    diff_upper: float
    z: float
    p_value: float
    method: str
    conf_level: float


def landmark_naive_z(surv_a: float, se_a: float, surv_b: float, se_b: float) -> tuple[float, float, np.float64]:
    """The landmark kernel: ``S_a - S_b``, its SE ``sqrt(se_a^2 + se_b^2)`` (Greenwood SEs of S) and the naive
    z. :func:`landmark_comparison` calls this; so does the synthetic-data generator."""
    diff = surv_a - surv_b
    se_diff = math.sqrt(se_a ** 2 + se_b ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return diff, se_diff, np.float64(diff) / np.float64(se_diff)


def landmark_comparison(km_a: KaplanMeier, km_b: KaplanMeier, t: float,
                        method: Literal["naive", "cloglog"] = "naive",
                        conf_level: float = 0.95) -> LandmarkComparison:
    """Two-sided z-test of S_a(t) = S_b(t) with Greenwood variances (independent groups).

    S, CI bands and SEs at t are those of ``summary(fit, times = t)``; Var S = S^2 std_err^2.

    * ``method="naive"`` (default): ``z = (S_a - S_b) / sqrt(Var S_a + Var S_b)``.
    * ``method="cloglog"`` (Klein, Logan, Harhoff & Andersen 2007, Stat Med 26:4505): the test on
      the log(-log S) scale, Var = std_err^2 / (log S)^2, with
      ``z = (log(-log S_b) - log(-log S_a)) / sqrt(Var_a + Var_b)`` so that z > 0 when S_a > S_b
      as for the naive test. NaN when either S is 0 or 1.

    The difference CI is the Wald interval on the S scale for both methods. t after an arm's last
    observed time gives NaN (R drops such times).
    """
    if method not in ("naive", "cloglog"):
        raise ValueError(f"method must be 'naive' or 'cloglog', got {method!r}")
    if not (0 < conf_level < 1):
        raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    ra = km_a.survival_at([t]).iloc[0]
    rb = km_b.survival_at([t]).iloc[0]
    sa, sb = float(ra["surv"]), float(rb["surv"])
    se_a, se_b = float(ra["se_surv"]), float(rb["se_surv"])
    diff, se_diff, z_naive = landmark_naive_z(sa, se_a, sb, se_b)
    zc = critical_value(conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "naive":
            z = z_naive
        else:
            sig_a, sig_b = float(ra["std_err"]), float(rb["std_err"])
            if sa in (0.0, 1.0) or sb in (0.0, 1.0) or math.isnan(sa) or math.isnan(sb):
                z = np.float64(np.nan)
            else:
                va = sig_a ** 2 / math.log(sa) ** 2
                vb = sig_b ** 2 / math.log(sb) ** 2
                z = np.float64(math.log(-math.log(sb)) - math.log(-math.log(sa))) / np.float64(math.sqrt(va + vb))
    z = float(z)
    p_value = two_sided_p(z) if not math.isnan(z) else math.nan
    return LandmarkComparison(
        t=float(t), surv_a=sa, lower_a=float(ra["lower"]), upper_a=float(ra["upper"]), se_a=se_a,
        surv_b=sb, lower_b=float(rb["lower"]), upper_b=float(rb["upper"]), se_b=se_b,
        difference=diff, se_difference=se_diff, diff_lower=diff - zc * se_diff,
        diff_upper=diff + zc * se_diff, z=z, p_value=p_value, method=method,
        conf_level=float(conf_level))


# ------------------------------------------------------------------------------------------------
# Follow-up: reverse Kaplan-Meier as prodlim
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FollowUp:
    """Median potential follow-up (reverse Kaplan-Meier) with quartiles and a CI for the median."""

    median: float
    q1: float
    q3: float
    lower: float
    upper: float
    n: int


def reverse_kaplan_meier(time: Any, event: Any, conf_level: float = 0.95) -> pd.DataFrame:
    """The censoring distribution G(t) as ``prodlim(Hist(time, status) ~ 1, reverse = TRUE)``.

    Censoring is the "event". At a tied time, events (deaths) come before censorings: a patient who
    died at t is no longer at risk of being censored at t. With n_j at risk (time >= t_j),
    d_j events and c_j censorings: ``G = prod (1 - c_j / (n_j - d_j))``, Greenwood
    ``se_surv = G sqrt(sum c_j / ((n_j - d_j)(n_j - d_j - c_j)))`` and plain bands
    ``G -+ z se_surv`` clipped to [0, 1]; where se_surv is 0, prodlim sets the band to [0, 1].
    (``survfit(Surv(time, 1 - status) ~ 1)`` keeps the deaths at t in the risk set, which gives a
    different G wherever deaths and censorings tie.)

    Columns: time, n_risk, n_event, n_lost, surv, se_surv, lower, upper.
    """
    if not (0 < conf_level < 1):
        raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    t, e = _check_time_event(time, event)
    return _reverse_km_from_counts(*_distinct_times(t, e), conf_level)


def reverse_km_steps(n_risk: np.ndarray, n_event: np.ndarray, n_lost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reverse Kaplan-Meier kernel (prodlim's tie rule: the deaths at t leave the risk set before the
    censorings): ``G = prod (1 - c_j / (n_j - d_j))`` and Greenwood's sum ``sum c_j / ((n_j - d_j)(n_j - d_j -
    c_j))`` at each distinct time. :func:`reverse_kaplan_meier` checks its input and calls this; so does the
    synthetic-data generator."""
    # the product-limit step of km_steps with censoring as the event and n_j - d_j at risk
    return km_steps(n_risk - n_event, n_lost)


def _reverse_km_from_counts(times, n_risk, n_event, n_lost, conf_level: float) -> pd.DataFrame:
    surv, greenwood = reverse_km_steps(n_risk, n_event, n_lost)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = surv * np.sqrt(greenwood)
        z = critical_value(conf_level)
        lower = np.maximum(surv - z * se, 0.0)
        upper = np.minimum(surv + z * se, 1.0)
    lower[se == 0] = 0.0
    upper[se == 0] = 1.0
    return pd.DataFrame({"time": times, "n_risk": n_risk, "n_event": n_event, "n_lost": n_lost,
                         "surv": surv, "se_surv": se, "lower": lower, "upper": upper})


def _prodlim_quantile(times: np.ndarray, values: np.ndarray, q: float) -> float:
    """``quantile.prodlim``: drop values that are NA, 0 or 1; then the first time with value < q
    (strictly; R counts values >= q and takes the next time). NaN if none is left."""
    keep = ~(np.isnan(values) | (values == 0) | (values == 1))
    v, tt = values[keep], times[keep]
    if len(v) == 0:
        return math.nan
    k = int(np.sum(v >= q))
    return float(tt[k]) if k < len(tt) else math.nan


def median_followup(time: Any, event: Any, conf_level: float = 0.95) -> FollowUp:
    """Median follow-up by the reverse Kaplan-Meier method, as prodlim's
    ``quantile(prodlim(Hist(time, status) ~ 1, reverse = TRUE))``.

    G is :func:`reverse_kaplan_meier`. prodlim's quantile rule: median = the first time with
    G(t) < 0.5 *strictly* (no midpoint on a flat stretch at 0.5, unlike survfit), ignoring time
    points where G is 0 or 1 — so if G jumps from above the level straight to 0 the quantile is NaN.
    q1 = first time G < 0.75, q3 = first time G < 0.25. ``lower``/``upper`` are the CI of the median
    from the plain lower/upper bands with the same rule.
    """
    return followup_from_table(reverse_kaplan_meier(time, event, conf_level))


def followup_from_table(tab: pd.DataFrame) -> FollowUp:
    """:func:`median_followup` from a :func:`reverse_kaplan_meier` table (e.g. of
    :meth:`SurvivalSample.reverse_kaplan_meier`)."""
    tt = tab["time"].to_numpy()
    g = tab["surv"].to_numpy()
    return FollowUp(median=_prodlim_quantile(tt, g, 0.5), q1=_prodlim_quantile(tt, g, 0.75),
                    q3=_prodlim_quantile(tt, g, 0.25),
                    lower=_prodlim_quantile(tt, tab["lower"].to_numpy(), 0.5),
                    upper=_prodlim_quantile(tt, tab["upper"].to_numpy(), 0.5),
                    n=int(tab["n_risk"].iloc[0]))


# ------------------------------------------------------------------------------------------------
# Formatting
# ------------------------------------------------------------------------------------------------


def format_median(m: MedianEstimate, decimals: int = 1, sep: str = "\u2013") -> str:
    """``"10.1 (7.2–NR)"``: estimate and CI; a missing value prints as its reason, "NR" (not
    reached) or "NE" (not estimable), defaulting to "NR"."""
    def one(v: float, reason: str | None) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return reason or "NR"
        return f"{v:.{decimals}f}"

    r = m.reasons
    return f"{one(m.estimate, r[0])} ({one(m.lower, r[1])}{sep}{one(m.upper, r[2])})"
