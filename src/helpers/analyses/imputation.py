"""The survival chapter's Cox models under multiple imputation (``missing: {method: mice}`` in the spec).

Every model of the chapter's Cox analysis (the univariable screen and the multivariable model) is fitted in
each of ``m`` data sets completed by chained equations (:func:`helpers.stats.imputation.impute`, R mice's
algorithms: predictive mean matching for continuous variables, logistic or multinomial regression for
categorical ones) and pooled by Rubin's rules (``mice::pool``), with the fraction of missing information. The
imputation model holds the candidate variables, the arm and the outcomes: each endpoint's event indicator and
Nelson-Aalen cumulative hazard (White & Royston 2009); one set of imputations serves all the chapter's endpoints. A variable with a cut is imputed on its
own scale and cut afterwards. The variables enter the multivariable model when a pooled univariable p is below
the entry threshold, as in the complete-case screen. The complete-case results stay on the page; the observed
Table 1 is unchanged.
"""
from __future__ import annotations

import math

import pandas as pd

from helpers.analyses.terms import cox_terms, term_label
from helpers.report.format import format_hr, format_p
from helpers.stats import cox as coxmod
from helpers.stats.imputation import impute, nelson_aalen, pool_cox
from helpers.study.patients import CUT_SUFFIX, cut_variable


def completed_tables(spec, data: pd.DataFrame, endpoints, variables) -> list[pd.DataFrame]:
    """The patient table completed ``m`` times (cut columns recomputed) for the models of ``endpoints`` (one name
    or several): the imputation model holds ``variables``, the arm, and each endpoint's event indicator and
    Nelson-Aalen cumulative hazard, so that one set of imputations serves every endpoint's models."""
    miss = spec.missing
    frame = pd.DataFrame(index=data.index)
    for v in variables:
        frame[v] = data[v]
    frame["_arm"] = (data[spec.arm.column].astype(str) == spec.arm.experimental).astype(float)
    for name in [endpoints] if isinstance(endpoints, str) else list(endpoints):
        ep = spec.survival.endpoints[name]
        frame[f"_event_{name}"] = data[ep.event].astype(float)
        frame[f"_hazard_{name}"] = nelson_aalen(data[ep.time].to_numpy(float), data[ep.event].to_numpy(float))
    # the spec's categorical variables are ordered factors; mice's default for those (polr) is not implemented, so
    # a variable of more than two levels gets multinomial regression (polyreg), as for an unordered factor
    method = {v: "polyreg" for v in variables
              if spec.variables[v].type == "categorical" and len(spec.variables[v].levels) > 2}
    imp = impute(frame, m=miss.m, seed=miss.seed, maxit=miss.maxit, method=method)
    out = []
    for done in imp:
        table = data.copy()
        for v in variables:
            table[v] = done[v].to_numpy() if spec.variables[v].type == "continuous" else pd.Categorical(
                done[v].astype(object), categories=list(spec.variables[v].levels), ordered=True)
            var = spec.variables[v]
            if var.cut is not None:
                table[v + CUT_SUFFIX] = cut_variable(table[v].astype(float), var)
        out.append(table)
    return out


def _fit(table: pd.DataFrame, spec, endpoint: str, variables) -> tuple[coxmod.CoxResult, dict]:
    ep = spec.survival.endpoints[endpoint]
    design, terms, term_map = cox_terms(table, spec, variables)
    design["time"] = table[ep.time].astype(float)
    design["event"] = table[ep.event].astype(float)
    cols = [c for c in design.columns if c not in ("time", "event")]
    return coxmod.cox_fit(design, "time", "event", cols, compute_concordance=False, keep_data=False), term_map


class ImputedCox:
    """The pooled univariable screen and multivariable model of one endpoint."""

    def __init__(self, spec, data: pd.DataFrame, endpoint: str, entry_p: float,
                 tables: list[pd.DataFrame] | None = None):
        self.spec, self.endpoint = spec, endpoint
        candidates = list(spec.survival.cox.candidates)
        self.missing_counts = {v: int(data[v].isna().sum()) for v in candidates if data[v].isna().any()}
        # ``tables``: data sets completed once for the chapter's endpoints (completed_tables), else for this one
        self.tables = tables if tables is not None else completed_tables(spec, data, endpoint, candidates)
        self.univariate = {}
        for v in ["arm", *candidates]:
            if v in self.missing_counts:
                fits = [_fit(t, spec, endpoint, [v]) for t in self.tables]
            else:  # observed in every patient, so the same in every completed table: one fit stands for all m
                fits = [_fit(self.tables[0], spec, endpoint, [v])] * len(self.tables)
            self.univariate[v] = (pool_cox([f for f, _ in fits]), fits[0][1])
        self.selected = [v for v, (pooled, _) in self.univariate.items()
                         if (pooled.table["p_value"] < entry_p).any()]
        self.multivariate = None
        if self.selected:
            fits = [_fit(t, spec, endpoint, self.selected) for t in self.tables]
            self.multivariate = (pool_cox([f for f, _ in fits]), fits[0][1])

    def rows(self) -> list[dict]:
        out = []
        for kind, models in (("cox_mi_univariate", self.univariate), ("cox_mi_multivariate",
                                                                     {"model": self.multivariate}
                                                                     if self.multivariate else {})):
            for pooled, term_map in models.values():
                for r in pooled.table.itertuples():
                    variable, level = term_map.get(r.term, (r.term, ""))
                    for stat, value in (("hr", math.exp(r.estimate)), ("lower", math.exp(r.lower)),
                                        ("upper", math.exp(r.upper)), ("p_value", r.p_value), ("fmi", r.fmi)):
                        out.append(dict(analysis=f"{kind}.{self.endpoint}", variable=variable, level=level,
                                        group="all", stat=stat, value=float(value)))
        return out

    def display(self) -> pd.DataFrame:
        rows = {}
        for kind, models in (("Univariable", self.univariate), ("Multivariable",
                                                               {"model": self.multivariate}
                                                               if self.multivariate else {})):
            for pooled, term_map in models.values():
                for r in pooled.table.itertuples():
                    key = term_map.get(r.term, (r.term, ""))
                    row = rows.setdefault(key, {})
                    row[f"{kind} HR (95% CI)"] = format_hr(math.exp(r.estimate), math.exp(r.lower), math.exp(r.upper))
                    row[f"{kind} P"] = format_p(r.p_value)
                    row[f"{kind} FMI"] = f"{r.fmi:.2f}"
        out = pd.DataFrame.from_dict(rows, orient="index").fillna("")
        out.index = [term_label(self.spec, v, lv) for v, lv in out.index]
        return out


def pooled_note(models: list[ImputedCox], spec) -> str:
    miss = spec.missing
    counts = {}
    for m in models:
        counts.update(m.missing_counts)
    listed = ", ".join(f"{spec.variables[v].label} {n}" for v, n in counts.items()) or "none"
    return (f"Multiple imputation by chained equations: m = {miss.m} data sets, {miss.maxit} iterations, seed "
            f"{miss.seed}; predictive mean matching for continuous variables, logistic regression for categorical ones "
            "of two levels and multinomial regression for more (also for ordered ones, where mice's default would be "
            "proportional-odds regression); one set of imputations for all the chapter's endpoints, with the candidate "
            "variables, the arm, and each endpoint's event indicator and Nelson-Aalen cumulative hazard in the "
            "imputation model (White & Royston 2009). Pooled by Rubin's rules with the "
            "Barnard-Rubin degrees of freedom (R mice::pool). FMI: fraction of missing information. Missing values "
            f"imputed: {listed}.")

