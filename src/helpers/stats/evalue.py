"""E-values for unmeasured confounding (VanderWeele & Ding 2017), for a risk ratio or a hazard ratio and its CI.

Conventions follow the R package ``EValue`` (``evalues.RR``, ``evalues.HR(est, lo, hi, rare)``), which is not
installed on the build machine; ``tests/test_causal_stats.py`` checks this module against hand calculations and
the worked example of VanderWeele & Ding, "Sensitivity Analysis in Observational Research: Introducing the
E-Value", Ann Intern Med 2017;167:268-274.

* E-value of a risk ratio RR >= 1: ``E = RR + sqrt(RR (RR - 1))``; for RR < 1 the same formula applied to 1 / RR.
  E = 1 at RR = 1.
* Hazard ratio, rare outcome (< 15% at the end of follow-up, ``rare=True``): the HR is used as a risk ratio.
* Hazard ratio, common outcome (``rare=False``): first ``RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1 / HR))``
  (VanderWeele 2017/2020), applied to the estimate and to each CI limit.
* The E-value of the CI is that of the limit closest to 1 (the lower limit when the estimate is above 1, the
  upper one when below), or 1 when the CI includes 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["EValue", "e_value", "e_value_rr", "hr_to_rr"]


@dataclass(frozen=True)
class EValue:
    """E-values of an estimate and of its CI.

    ``point``: E-value of the estimate; ``ci``: E-value of the CI limit closest to 1 (1 when the CI includes 1;
    None when no CI was given); ``rr``, ``rr_lower``, ``rr_upper``: the risk ratios the E-values were computed
    from (the hazard ratios themselves when the outcome is rare); ``limit``: "lower", "upper" or None (which CI
    limit gave ``ci``).
    """

    point: float
    ci: float | None
    rr: float
    rr_lower: float | None
    rr_upper: float | None
    limit: str | None
    measure: str
    rare: bool


def e_value_rr(rr: float) -> float:
    """``RR + sqrt(RR (RR - 1))`` for RR >= 1, the same of 1 / RR for RR < 1.

    Examples
    --------
    >>> round(e_value_rr(3.9), 2)
    7.26
    >>> e_value_rr(1.8)   # 1.8 + sqrt(1.44)
    3.0
    """
    rr = float(rr)
    if not rr > 0 or not math.isfinite(rr):
        raise ValueError(f"a risk ratio must be positive and finite, got {rr}")
    if rr < 1:
        rr = 1 / rr
    return rr + math.sqrt(rr * (rr - 1))


def hr_to_rr(hr: float) -> float:
    """The common-outcome approximation ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1 / HR))`` of a risk ratio.

    Examples
    --------
    >>> hr_to_rr(1.0)
    1.0
    >>> round(hr_to_rr(4.0), 6)   # (1 - 0.25) / (1 - 0.5^0.5)
    2.56066
    """
    hr = float(hr)
    if not hr > 0 or not math.isfinite(hr):
        raise ValueError(f"a hazard ratio must be positive and finite, got {hr}")
    return (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))


def e_value(estimate: float, lower: float | None = None, upper: float | None = None, measure: str = "HR",
            rare: bool = True) -> EValue:
    """E-values of a hazard ratio (or risk ratio) and of its confidence interval.

    Parameters
    ----------
    estimate : float
        The hazard ratio (``measure="HR"``) or risk ratio (``measure="RR"``).
    lower, upper : float, optional
        The CI limits (both or neither).
    measure : {"HR", "RR"}
        For "RR" ``rare`` is ignored.
    rare : bool, default True
        HR only: the outcome is rare (< 15%), so the HR approximates the RR; False applies the common-outcome
        transformation :func:`hr_to_rr` first.

    Returns
    -------
    EValue

    Examples
    --------
    >>> e = e_value(3.9, 1.8, 8.7, measure="RR")   # VanderWeele & Ding 2017, breastfeeding example
    >>> round(e.point, 2), round(e.ci, 2)
    (7.26, 3.0)
    >>> e_value(0.8, 0.6, 1.1).ci                  # the CI includes 1
    1.0
    """
    measure = str(measure).upper()
    if measure not in ("HR", "RR"):
        raise ValueError(f"measure must be 'HR' or 'RR', got {measure!r}")
    if (lower is None) != (upper is None):
        raise ValueError("give both CI limits or neither")
    to_rr = hr_to_rr if (measure == "HR" and not rare) else float
    rr = to_rr(estimate)
    point = e_value_rr(rr)
    if lower is None:
        return EValue(point, None, rr, None, None, None, measure, bool(rare))
    if not float(lower) <= float(estimate) <= float(upper):
        raise ValueError(f"the CI ({lower}, {upper}) does not contain the estimate {estimate}")
    rr_lo, rr_up = to_rr(lower), to_rr(upper)
    if rr_lo <= 1 <= rr_up:
        ci, limit = 1.0, None
    elif rr > 1:
        ci, limit = e_value_rr(rr_lo), "lower"
    else:
        ci, limit = e_value_rr(rr_up), "upper"
    return EValue(point, ci, rr, rr_lo, rr_up, limit, measure, bool(rare))
