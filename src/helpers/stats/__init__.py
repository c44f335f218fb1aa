"""Statistics engines: arrays in, small result objects out. They know nothing about studies.

Each function names the R function whose conventions it follows (``survival::survfit``, ``coxph``,
``survdiff``, ``survRM2::rmst2``, ``MatchIt::matchit``, ``mice::mice``, ``mice::pool``, ``chisq.test``,
``fisher.test``, ...). The main ones can be imported from the package itself, for use in your own
notebook::

    from helpers.stats import kaplan_meier, cox_fit, logrank_test, rmst_difference, nearest_neighbor_match

The names are resolved on first use (``__getattr__``), so importing :mod:`helpers.stats` or one of its
modules does not import all the engines.
"""
from __future__ import annotations

import importlib

# public name -> the module of helpers.stats that defines it
_EXPORTS = {
    # survival (survival::survfit, survdiff; prodlim reverse KM)
    "kaplan_meier": "survival", "kaplan_meier_by_group": "survival", "weighted_kaplan_meier": "survival",
    "logrank_test": "survival", "landmark_comparison": "survival", "median_followup": "survival",
    "reverse_kaplan_meier": "survival", "KaplanMeier": "survival", "LogRankResult": "survival",
    "MedianEstimate": "survival",
    # Cox models (survival::coxph, cox.zph)
    "cox_fit": "cox", "proportional_hazards_test": "cox", "concordance": "cox", "CoxResult": "cox",
    # restricted mean survival time (survRM2::rmst2, survival::pseudo)
    "rmst_difference": "rmst", "rmst_regression": "rmst", "rmst_pseudo_values": "rmst",
    "RMSTComparison": "rmst", "RMSTEstimate": "rmst",
    # competing risks (cmprsk::cuminc, crr)
    "cumulative_incidence": "competing", "gray_test": "competing", "fine_gray": "competing",
    # propensity scores: matching (MatchIt), weights (WeightIt), balance (cobalt)
    "propensity_scores": "matching", "nearest_neighbor_match": "matching", "MatchResult": "matching",
    "ipw_weights": "weights", "effective_sample_size": "weights",
    "standardized_mean_difference": "balance", "balance_table": "balance",
    "matched_bootstrap": "bootstrap", "e_value": "evalue",
    # multiple imputation (mice::mice, mice::pool)
    "impute": "imputation", "pool_rubin": "imputation", "pool_cox": "imputation",
    # Table 1 tests and proportions (stats::chisq.test, fisher.test, wilcox.test, t.test, binom.test)
    "chisq_test": "hypothesis_tests", "fisher_test": "hypothesis_tests",
    "wilcoxon_rank_sum_p": "hypothesis_tests", "mann_whitney_p": "hypothesis_tests",
    "t_test_p": "hypothesis_tests", "categorical_p_value": "hypothesis_tests",
    "continuous_p_value": "hypothesis_tests", "clopper_pearson": "proportions", "wilson_interval": "proportions",
    "proportion_difference_ci": "proportions",
    # the one design-matrix (dummy) coder
    "design_matrix": "design",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'helpers.stats' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"helpers.stats.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
