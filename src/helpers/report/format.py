"""How the book prints numbers: p-values, hazard ratios with CIs, medians, percentages, and the words for the
spec's settings. One module, so that a number prints the same on every page.

Conventions (as the papers print them):

* p-values with three decimals, ``<0.001`` below that, ``NA`` when undefined; never ``0.000``;
* estimates with their 95% CI as ``0.36 (0.21–0.62)`` (an en dash between the limits);
* "NR" for a median or limit not reached (the curve or band does not fall to 0.5), "NE" for an estimate that
  cannot be estimated (an arm without events, a diverging Cox term).
"""
from __future__ import annotations

import html
import math
import re

import numpy as np

from helpers.stats.survival import format_median  # the median's own printer: one definition

DASH = "\u2013"


def html_cell_text(cell: str) -> str:
    """The words of a table cell that holds HTML (a link, bold): tags removed, entities decoded, as the CSV and
    Word downloads give it.

    >>> html_cell_text("<a href='survival.html'>Survival &amp; Cox</a>")
    'Survival & Cox'
    """
    return html.unescape(re.sub(r"<[^>]+>", "", cell))


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and bool(np.isfinite(x))


def format_number(x, decimals: int = 1, missing: str = "NR") -> str:
    """``x`` with ``decimals`` decimals, or ``missing`` when it is not a finite number."""
    return f"{x:.{decimals}f}" if _finite(x) else missing


def format_p(p: float, decimals: int = 3) -> str:
    """p as papers print it: three decimals, ``<0.001`` below that, ``NA`` when undefined."""
    if not _finite(p):
        return "NA"
    if p < 10 ** -decimals:
        return f"<{10 ** -decimals:.{decimals}f}"
    return f"{p:.{decimals}f}"


def p_text(p: float, decimals: int = 3) -> str:
    """'p = 0.033' or 'p < 0.001', for prose."""
    f = format_p(p, decimals)
    return f"p {f.replace('<', '< ')}" if f.startswith("<") else f"p = {f}"


def format_ci(estimate: float, lower: float, upper: float, decimals: int = 2, missing: str = "NE") -> str:
    """'0.36 (0.21–0.62)'; a limit that is not a number prints as ``missing``."""
    return (f"{format_number(estimate, decimals, missing)} ({format_number(lower, decimals, missing)}{DASH}"
            f"{format_number(upper, decimals, missing)})")


#: Decimals of hazard ratios when a call does not say: the study's ``survival.hr_decimals`` (as its paper prints
#: them), set for the page by :func:`set_hr_decimals` when a chapter opens; 2 otherwise.
HR_DECIMALS = [2]


def set_hr_decimals(decimals: int) -> None:
    """The decimals of every hazard ratio formatted without explicit ``decimals`` on this page (kernel)."""
    HR_DECIMALS[0] = int(decimals)


def format_hr(hr: float, lower: float, upper: float, decimals: int | None = None, estimable: bool = True) -> str:
    """'0.36 (0.21–0.62)'; 'NE' when the model could not estimate the term (e.g. an arm without events).
    ``decimals``: the study's (:data:`HR_DECIMALS`) when not given."""
    if not estimable or not _finite(hr):
        return "NE"
    return format_ci(hr, lower, upper, HR_DECIMALS[0] if decimals is None else decimals)


def estimable(row) -> bool:
    """A result row's ``estimable`` flag (True when the row has none)."""
    value = row.get("estimable", True) if hasattr(row, "get") else getattr(row, "estimable", True)
    return bool(value) if value is not None and value == value else True


def hr_text(row, decimals: int | None = None) -> str:
    """The HR (95% CI) of a result row with ``hr``, ``lower``, ``upper`` (and ``estimable``)."""
    return format_hr(row["hr"], row["lower"], row["upper"], decimals, estimable=estimable(row))


def median_text(m, decimals: int = 1) -> str:
    """'10.1 (95% CI 7.2–NR)', for prose."""
    est, ci = format_median(m, decimals).split(" ", 1)
    return f"{est} (95% CI {ci.strip('()')})"


def format_percent(k: int, n: int, decimals: int = 1) -> str:
    """'12 (18.2%)'."""
    return f"{k} ({100 * k / n:.{decimals}f}%)" if n else f"{k} (NA)"


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 patient', '3 patients' ('1 is', '2 are' with one='is', many='are')."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


#: The words for the spec's test policies, for prose and table notes.
TEST_NAMES = {
    "chisq_yates": "Pearson's χ² test with Yates' continuity correction",
    "chisq": "Pearson's χ² test without continuity correction",
    "fisher": "Fisher's exact test",
    "fisher_if_expected_lt5": "Fisher's exact test when an expected count is below 5, otherwise Pearson's χ² "
                              "test with Yates' correction",
    "mann_whitney": "the Mann-Whitney U test (asymptotic, no continuity correction)",
    "wilcox_cc": "the Wilcoxon rank-sum test with continuity correction",
    "t_test": "Student's t-test",
    "welch": "Welch's t-test",
}

#: Short labels of the tests, for table columns.
TEST_LABELS = {
    "chisq_yates": "χ² (Yates)", "chisq": "χ²", "fisher": "Fisher", "mann_whitney": "Mann-Whitney",
    "wilcox_cc": "Wilcoxon (cc)", "t_test": "t-test", "welch": "Welch t",
}

#: The words for the RMST τ rules.
TAU_NAMES = {
    "floor_min_max": "the smaller of the two arms' longest observed times, rounded down to a whole number",
    "min_max": "the smaller of the two arms' longest observed times",
}

CONF_TYPE_NAMES = {"log": "log", "log-log": "log-log (complementary log-log)", "plain": "plain (linear)"}


def test_name(policy: str) -> str:
    """Words for a test policy of the spec (``chisq_yates`` -> "Pearson's χ² test with Yates' ...")."""
    return TEST_NAMES.get(policy, policy)


def tau_name(tau) -> str:
    """Words for an RMST τ (a rule or a number)."""
    return TAU_NAMES.get(tau, tau) if isinstance(tau, str) else f"{tau:g}"


def short_test_label(method: str) -> str:
    """A short column label for R's ``method`` string."""
    if "Fisher" in method:
        return "Fisher"
    if "given probabilities" in method:
        return "χ² (one level observed)"
    if "Yates" in method:
        return "χ² (Yates)"
    return "χ²"


def printed_decimals(printed: str, value: float) -> int:
    """Decimals of ``value`` as printed in ``printed`` (e.g. "47 (92.2%)" has 1 for 92.2, 0 for 47)."""
    text = f"{value:g}"
    for token in re.findall(r"\d+(?:\.\d+)?", str(printed)):
        places = len(token.split(".")[1]) if "." in token else 0
        if np.isclose(float(token), value):
            return places
        if np.isclose(float(token), value * 100):  # a proportion printed as a percentage: 0.540 from "54.0%"
            return places + 2
    return len(text.split(".")[1]) if "." in text else 0
