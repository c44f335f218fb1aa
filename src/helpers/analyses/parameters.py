"""The chapters' parameters: what each means, which values it takes, and the check of a value.

Every notebook declares its parameters in a cell tagged ``parameters`` (papermill reads them from there); this
module holds the one rule per parameter, used before anything runs:

* by the build, for every ``--set NAME=VALUE``: an unknown name is refused with the nearest declared one,
  a bad value with a message naming the parameter and what it takes;
* by :func:`helpers.analyses.chapter.open_chapter`, the first call of every notebook, so that a chapter run
  on its own (papermill, or ``python -m helpers.build --only STUDY/PAGE``) gets the same checks, as a
  one-line error.

``None`` means "as declared in the study spec" for every parameter that has a spec counterpart; the
resolved value (the spec's, or the one given) is what the chapter uses and what its parameters table shows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from helpers.stats.hypothesis_tests import CATEGORICAL_POLICIES, CONTINUOUS_POLICIES
from helpers.study.schema import KM_LAYOUTS, did_you_mean, nearest
from helpers.study.spec import CONF_TYPES, TAU_RULES, StudySpec


class ParameterError(ValueError):
    """A parameter value that a chapter cannot use. Shown as one line, also in a notebook (IPython uses
    :meth:`_render_traceback_` instead of a traceback)."""

    def _render_traceback_(self) -> list[str]:
        return [f"ParameterError: {self}"]


class ChapterError(ValueError):
    """A chapter cannot run on this study (shown as one line in a notebook, like :class:`ParameterError`)."""

    def _render_traceback_(self) -> list[str]:
        return [f"ChapterError: {self}"]


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter: its meaning, and the rule that checks a value and resolves ``None``."""

    name: str
    help: str
    check: Callable[[Any, StudySpec, "pd.DataFrame | None"], Any]


def _fail(name: str, message: str):
    raise ParameterError(f"parameter {name}: {message}")


def _choice(name: str, choices, value) -> str:
    if not isinstance(value, str) or value not in choices:
        close = nearest(str(value), list(choices))
        _fail(name, f"{value!r} is not one of {list(choices)}" + (f" (did you mean `{close}`?)" if close else ""))
    return value


def _number(name: str, value, *, low=None, high=None, low_open=False, whole=False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float)
                                                                            and math.isnan(value)):
        _fail(name, f"must be a {'whole number' if whole else 'number'}, got {value!r}")
    if whole and float(value) != int(value):
        _fail(name, f"must be a whole number, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        _fail(name, f"must be {'>' if low_open else '>='} {low:g}, got {value!r}")
    if high is not None and value > high:
        _fail(name, f"must be <= {high:g}, got {value!r}")
    return int(value) if whole else float(value)


def _list(name: str, value) -> list:
    if not isinstance(value, (list, tuple)):
        _fail(name, f"must be a list, e.g. [a, b], got {value!r}")
    return list(value)


def _names(name: str, value, known, what: str) -> list[str]:
    out = []
    for v in _list(name, value):
        if str(v) not in known:
            _fail(name, f"'{v}' is not {what}{did_you_mean(str(v), list(known))}")
        out.append(str(v))
    if not out:
        _fail(name, "must name at least one")
    return out


def _survival(spec: StudySpec, name: str):
    if spec.survival is None:
        _fail(name, f"study '{spec.study_id}' has no survival section")
    return spec.survival


def _max_time(spec: StudySpec, data) -> float | None:
    """The longest follow-up of any endpoint (the end of the time axis)."""
    if data is None or spec.survival is None:
        return None
    return max(float(data[ep.time].max()) for ep in spec.survival.endpoints.values())


def _times(name: str, value, spec: StudySpec, data, default) -> list[float]:
    if value is None:
        times = list(default)
    else:
        times = [_number(name, t, low=0) for t in _list(name, value)]
    last = _max_time(spec, data)
    beyond = [t for t in times if last is not None and t > last]
    if beyond:
        unit = spec.survival.time_unit
        where = "the spec's survival." + name if value is None else f"parameter {name}"
        raise ParameterError(f"{where}: {', '.join(f'{t:g}' for t in beyond)} {unit} lies beyond the follow-up "
                             f"(the longest observed time is {last:g} {unit})")
    return times


def _check_study(value, spec, data):
    return value


def _check_path(name):
    def check(value, spec, data):
        if value is None:
            return None
        if not isinstance(value, (str, Path)):
            _fail(name, f"must be a file path, got {value!r}")
        if name == "patients_file" and not Path(value).exists():
            _fail(name, f"file not found: {value}")
        return str(value)
    return check


def _check_cohort(value, spec, data):
    value = _choice("cohort", ("primary", "matched"), value)
    if value == "matched" and spec.matching is None:
        _fail("cohort", f"study '{spec.study_id}' has no matched cohort (no matching section in its spec)")
    return value


def _policy(name, kind):
    choices = CATEGORICAL_POLICIES if kind == "categorical" else CONTINUOUS_POLICIES

    def check(value, spec, data):
        if value is None:
            section = {"categorical_test": spec.table1.categorical_test,
                       "continuous_test": spec.table1.continuous_test}
            if name in section:
                return section[name]
            return None  # response/safety resolve their own section's default
        return _choice(name, choices, value)
    return check


def _check_match_covariates(value, spec, data):
    if value is None:
        return list(spec.matching.covariates) if spec.matching else None
    names = _names("match_covariates", value, spec.variables, "a variable of the study")
    _no_missing_in_covariates(names, spec, data, "parameter match_covariates")
    return names


def _no_missing_in_covariates(names, spec, data, where) -> None:
    """The propensity model needs complete covariates (validation, before anything runs)."""
    if data is None:
        return
    from helpers.study.patients import analysis_column

    for v in names:
        missing = data[analysis_column(spec, v)].isna()
        if missing.any():
            ids = ", ".join(map(str, data.index[missing][:5])) + (" ..." if missing.sum() > 5 else "")
            raise ParameterError(
                f"{where}: matching covariate '{v}' has {int(missing.sum())} missing value(s) (patients {ids}): "
                "the propensity model needs every covariate; remove it from the matching covariates, or fill the "
                "missing values in the patient table")


def _check_ratio(value, spec, data):
    if value is None:
        return spec.matching.ratio if spec.matching else 1
    return _number("match_ratio", value, low=1, whole=True)


def _check_caliper(value, spec, data):
    if value == "spec":
        return spec.matching.caliper if spec.matching else None
    if value is None or value == "none":
        return None
    return _number("match_caliper", value, low=0, low_open=True)


def _check_replace(value, spec, data):
    if value is None:
        return spec.matching.replace if spec.matching else False
    if not isinstance(value, bool):
        _fail("match_replace", f"must be true or false, got {value!r}")
    return value


def _check_conf_type(value, spec, data):
    return _survival(spec, "conf_type").conf_type if value is None else _choice("conf_type", CONF_TYPES, value)


def _check_entry_p(value, spec, data):
    if value is None:
        return _survival(spec, "entry_p").cox.entry_p
    return _number("entry_p", value, low=0, low_open=True, high=1)


def _check_tau(value, spec, data):
    surv = _survival(spec, "rmst_tau")
    tau = surv.rmst_tau if value is None else value
    if value is not None and not (isinstance(value, str) and value in TAU_RULES):
        if isinstance(value, str):
            _choice("rmst_tau", TAU_RULES, value)
        tau = _number("rmst_tau", value, low=0, low_open=True)
    if data is not None:
        from helpers.stats.rmst import choose_tau

        for name in surv.rmst_endpoints:
            ep = surv.endpoints[name]
            try:
                choose_tau(data[ep.time].to_numpy(float), data[ep.event].to_numpy(float),
                           data[spec.arm.column].astype(str).to_numpy(), tau, order=spec.arm.codes)
            except ValueError as exc:
                where = "parameter rmst_tau" if value is not None else "the spec's survival.rmst.tau"
                raise ParameterError(f"{where} ({ep.short}): {exc}") from None
    return tau


def _check_landmarks(value, spec, data):
    return _times("landmarks", value, spec, data, _survival(spec, "landmarks").landmarks)


def _check_at_risk(value, spec, data):
    return _times("at_risk_times", value, spec, data, _survival(spec, "at_risk_times").at_risk_times)


def _check_km_layout(value, spec, data):
    return _survival(spec, "km_layout").km_layout if value is None else _choice("km_layout", KM_LAYOUTS, value)


#: Orders of the adverse-event table: the paper's, or the most frequent (any grade) first.
AE_ORDERS = ("paper", "frequency")


def _check_order(value, spec, data):
    return _choice("order", AE_ORDERS, value)


def _check_endpoints(value, spec, data):
    surv = _survival(spec, "endpoints")
    if value is None:
        return None
    return _names("endpoints", value, surv.endpoints, "an endpoint of the study")


def _check_variables(value, spec, data):
    if value is None:
        return None
    names = _names("variables", value, spec.variables, "a variable of the study")
    for v in names:
        var = spec.variables[v]
        if var.type == "continuous" and var.cut is None:
            _fail("variables", f"'{v}' is continuous without a cut; subgroups need categories")
    return names


def _check_alpha(value, spec, data):
    return _number("alpha", value, low=0, low_open=True, high=1)


def _check_calipers(value, spec, data):
    out = []
    for c in _list("calipers", value):
        out.append(None if c is None or c == "none" else _number("calipers", c, low=0, low_open=True))
    if not out:
        _fail("calipers", "must hold at least one caliper")
    return out


def _check_ratios(value, spec, data):
    out = [_number("ratios", r, low=1, whole=True) for r in _list("ratios", value)]
    if not out:
        _fail("ratios", "must hold at least one ratio")
    return out


def _check_replace_options(value, spec, data):
    out = _list("replace_options", value)
    if not out or not all(isinstance(x, bool) for x in out):
        _fail("replace_options", f"must be a list of true/false, got {value!r}")
    return out


PARAMETERS: dict[str, Parameter] = {p.name: p for p in [
    Parameter("study_id", "the study (a folder of data/studies)", _check_study),
    Parameter("patients_file", "another patient table (CSV or Excel) with the spec's columns", _check_path(
        "patients_file")),
    Parameter("results_dir", "where the analysis-results table is written", _check_path("results_dir")),
    Parameter("cohort", "primary, or matched (the propensity-matched cohort)", _check_cohort),
    Parameter("categorical_test", "Table 1 test for categorical variables", _policy("categorical_test",
                                                                                  "categorical")),
    Parameter("continuous_test", "Table 1 test for continuous variables", _policy("continuous_test", "continuous")),
    Parameter("test", "test policy of the response or adverse-event table", _policy("test", "categorical")),
    Parameter("match_covariates", "variables of the propensity model", _check_match_covariates),
    Parameter("match_ratio", "controls per treated patient", _check_ratio),
    Parameter("match_caliper", "caliper in SDs of the propensity score, or None for none", _check_caliper),
    Parameter("match_replace", "match with replacement", _check_replace),
    Parameter("conf_type", "pointwise Kaplan-Meier CI: log, log-log or plain", _check_conf_type),
    Parameter("entry_p", "univariable p below which a variable enters the multivariable Cox model",
              _check_entry_p),
    Parameter("rmst_tau", "RMST horizon: floor_min_max, min_max or a number of time units", _check_tau),
    Parameter("landmarks", "times of landmark survival comparisons", _check_landmarks),
    Parameter("at_risk_times", "times of the numbers at risk under the curves", _check_at_risk),
    Parameter("km_layout", "layout of the Kaplan-Meier figures: standard, or kmunicate (at risk, censored and "
              "events under the curves)", _check_km_layout),
    Parameter("order", "order of the adverse-event table: paper or frequency", _check_order),
    Parameter("endpoints", "endpoint ids", _check_endpoints),
    Parameter("variables", "baseline variables of the subgroups", _check_variables),
    Parameter("alpha", "threshold for naming subgroups in the summary", _check_alpha),
    Parameter("estimands", "estimands of the weighting chapter: ATE, ATT, ATO", lambda v, spec, data: None if v is None
              else [_choice("estimands", ("ATE", "ATT", "ATO"), e) for e in _list("estimands", v)]),
    Parameter("stabilize", "stabilize the ATE weights", lambda v, spec, data: v if v is None or isinstance(v, bool)
              else _fail("stabilize", f"must be true or false, got {v!r}")),
    Parameter("trim", "trim propensity scores outside [trim, 1 - trim]", lambda v, spec, data: None if v is None
              else _number("trim", v, low=0, low_open=True, high=0.49)),
    Parameter("n_boot", "bootstrap resamples of matched sets on the matched survival page (0: none)",
              lambda v, spec, data: _number("n_boot", v, low=0, whole=True)),
    Parameter("calipers", "calipers of the sensitivity grid (None: no caliper)", _check_calipers),
    Parameter("ratios", "ratios of the sensitivity grid", _check_ratios),
    Parameter("replace_options", "replacement options of the sensitivity grid", _check_replace_options),
]}


def check_name(name: str, declared) -> None:
    """Refuse a parameter name that no chapter declares, with the nearest declared name."""
    if name not in declared:
        raise ParameterError(f"unknown parameter '{name}'{did_you_mean(name, sorted(declared))}: no chapter "
                             "run here declares it")


def resolve(params: dict, spec: StudySpec, data: pd.DataFrame | None = None) -> dict:
    """Check every value of ``params`` (notebook parameters) against its rule; return the resolved values.

    Raises :class:`ParameterError` naming the first parameter at fault.
    """
    out = {}
    for name, value in params.items():
        if name not in PARAMETERS:
            check_name(name, PARAMETERS)
        out[name] = PARAMETERS[name].check(value, spec, data)
    return out
