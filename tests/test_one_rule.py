"""Each statistical rule is written once (issue 14): the product-limit step, the normal p-value and critical
value, and the logistic IRLS live in one function each, and every engine calls it.

The source checks below fail the day a second copy is written; the value checks compare the shared functions
with an independent computation (``math.erfc`` for the normal tail, R's ``glm`` through MatchIt and mice in
the matching and imputation tests).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from helpers.stats.glm import logistic_irls, non_aliased_columns
from helpers.stats.normal import critical_value, two_sided_p
from helpers.stats.survival import km_steps

HELPERS = Path(__file__).resolve().parents[1] / "src" / "helpers"

#: (pattern, the one module allowed to hold it, what it is)
RULES = [
    (r"np\.cumprod\(", "stats/survival.py", "the product-limit (Kaplan-Meier) step"),
    (r"norm\.sf\(|norm\.cdf\(|ndtr\(\s*-", "stats/normal.py", "the two-sided normal p-value"),
    (r"norm\.ppf\(|ndtri\(\s*1\s*-", "stats/normal.py", "the normal critical value"),
    (r"mu_eta", "stats/glm.py", "the logistic IRLS (binomial mu.eta)"),
]


def _code_lines(path: Path):
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split("#", 1)[0]
        if code.strip():
            yield i, code


@pytest.mark.parametrize("pattern, owner, what", RULES, ids=[r[2] for r in RULES])
def test_a_rule_is_written_in_one_module(pattern, owner, what):
    found = [f"{p.relative_to(HELPERS)}:{i}" for p in sorted(HELPERS.rglob("*.py"))
             for i, code in _code_lines(p) if re.search(pattern, code)]
    outside = [f for f in found if not f.startswith(owner + ":")]
    assert found, f"{what}: expected in {owner}"
    assert not outside, f"{what} is written again outside {owner}: {outside}"


def test_the_product_limit_step_is_written_once_in_km_steps():
    # km_steps is the only cumprod of the package: the others (reverse, weighted, cox.zph, competing risks) call it
    text = (HELPERS / "stats" / "survival.py").read_text(encoding="utf-8")
    body = text[text.index("def km_steps("):]
    body = body[: body.index("\ndef ", 1)]
    assert text.count("np.cumprod(") == body.count("np.cumprod(") == 1


def test_km_steps_by_hand():
    # 5 at risk, 1 event; 3 at risk, 2 events; 1 at risk, 0 events: S = 4/5, 4/5 * 1/3, unchanged
    surv, gw = km_steps(np.array([5, 3, 1]), np.array([1, 2, 0]))
    np.testing.assert_allclose(surv, [0.8, 0.8 / 3, 0.8 / 3], rtol=1e-15)
    np.testing.assert_allclose(gw, [1 / 20, 1 / 20 + 2 / 3, 1 / 20 + 2 / 3], rtol=1e-15)
    # several curves at once, one per column
    s2, _ = km_steps(np.array([[5, 4], [3, 2]]), np.array([[1, 0], [2, 1]]))
    np.testing.assert_allclose(s2, [[0.8, 1.0], [0.8 / 3, 0.5]], rtol=1e-15)


@pytest.mark.parametrize("z", [0.0, 0.5, 1.959963984540054, -2.5, 4.0, 8.3])
def test_two_sided_p_is_the_normal_tail(z):
    # 2 (1 - Phi(|z|)) = erfc(|z| / sqrt 2)
    assert two_sided_p(z) == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-13)


def test_two_sided_p_arrays_and_nan():
    p = two_sided_p(np.array([1.0, -1.0, np.nan]))
    assert p[0] == p[1] and math.isnan(p[2])
    assert math.isnan(two_sided_p(math.nan))


@pytest.mark.parametrize("level, z", [(0.95, 1.959963984540054), (0.90, 1.6448536269514722),
                                      (0.99, 2.5758293035489004)])
def test_critical_value_is_r_qnorm(level, z):
    # R 4.2.2: qnorm(0.975), qnorm(0.95), qnorm(0.995), printed with digits = 17
    assert critical_value(level) == pytest.approx(z, rel=1e-15)
    assert math.erfc(critical_value(level) / math.sqrt(2)) == pytest.approx(1 - level, rel=1e-12)


def test_logistic_irls_by_hand_saturated_model():
    # one binary covariate: the fit is saturated, so the fitted values are the observed proportions
    # (2/5 where x = 0, 3/4 where x = 1) and the coefficients their logits
    x = np.column_stack([np.ones(9), [0] * 5 + [1] * 4])
    y = np.array([1, 1, 0, 0, 0, 1, 1, 1, 0], dtype=float)
    fit = logistic_irls(x, y, cov_unscaled=True)
    assert fit.converged
    np.testing.assert_allclose(fit.fitted, [0.4] * 5 + [0.75] * 4, rtol=1e-9)
    np.testing.assert_allclose(fit.coef, [math.log(0.4 / 0.6), math.log(3) - math.log(0.4 / 0.6)], rtol=1e-8)
    # cov.unscaled of a saturated logit: 1 / (n p (1 - p)) per cell. R takes it from the working weights of
    # the last iteration, one step before the converged fit (|dev change| < 1e-8): equal to about 1e-6
    v0, v1 = 1 / (5 * 0.4 * 0.6), 1 / (4 * 0.75 * 0.25)
    np.testing.assert_allclose(fit.cov_unscaled, [[v0, -v0], [-v0, v0 + v1]], rtol=1e-5)
    # prior weights: doubling every row changes nothing but the information (cov.unscaled halves)
    fit2 = logistic_irls(x, y, np.full(9, 2.0), cov_unscaled=True)
    np.testing.assert_allclose(fit2.fitted, fit.fitted, rtol=1e-7)  # another start (R: (w y + 0.5) / (w + 1))
    # (one iteration fewer from this start, so the lag of the working weights shows at 6e-5)
    np.testing.assert_allclose(fit2.cov_unscaled, np.array([[v0, -v0], [-v0, v0 + v1]]) / 2, rtol=2e-4)


def test_non_aliased_columns_drops_a_copy_and_a_constant_zero():
    x = np.column_stack([np.ones(4), [0, 1, 0, 1], [0, 2, 0, 2], np.zeros(4), [1, 1, 0, 0]])
    assert non_aliased_columns(x, 1e-11) == [0, 1, 4]


def test_product_limit_by_hand_and_as_kaplan_meier():
    """RMST's curve without bands: times 1, 2, 3 with 4, 3, 2 at risk and 0, 1, 2 deaths give S = 1, 2/3, 0;
    each observation's index into the distinct times; and the same numbers as kaplan_meier on random data."""
    from helpers.stats.survival import kaplan_meier, product_limit

    times, d, n, surv, inv = product_limit(np.array([3.0, 1.0, 3.0, 2.0]), np.array([1.0, 0.0, 1.0, 1.0]))
    assert times.tolist() == [1.0, 2.0, 3.0] and n.tolist() == [4.0, 3.0, 2.0] and d.tolist() == [0.0, 1.0, 2.0]
    assert np.allclose(surv, [1.0, 2 / 3, 0.0]) and inv.tolist() == [2, 0, 2, 1]
    rng = np.random.default_rng(5)
    t = np.round(rng.exponential(5, 500), 1)
    e = (rng.random(500) < 0.6).astype(float)
    times, d, n, surv, inv = product_limit(t, e)
    km = kaplan_meier(t, e)
    assert np.array_equal(times, km.time) and np.array_equal(surv, km.surv) and np.array_equal(n, km.n_risk)
    assert np.array_equal(times[inv], t)
