"""Internal consistency of a paper's published numbers, from ``published.yaml`` alone (no patient data).

Four checks, each returning one row per number checked with a ``verdict`` and the evidence:

* :func:`percentage_checks`: a printed percentage against its count and the arm size (the flow rows);
* :func:`grim_checks`: a printed mean of whole numbers (age in years) against the means n patients can have;
* :func:`categorical_p_checks`: a between-arm p-value recomputed from the published counts under Pearson's
  chi-square with and without Yates' correction and Fisher's exact test, naming the tests that give the
  printed value (to its printed precision) and flagging p-values no standard test gives;
* :func:`hazard_ratio_checks`: a hazard ratio against its 95% CI (symmetric on the log scale) and against its
  p-value (the Wald p implied by the CI), allowing for the rounding of every printed number.

Numbers printed repeatedly with different values are found by :func:`helpers.published.conflicting_values`.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from helpers.report.format import printed_decimals
from helpers.stats.hypothesis_tests import categorical_p_value
from helpers.stats.normal import critical_value, two_sided_p
from helpers.study.spec import StudySpec

Z975 = critical_value(0.95)
TESTS = {"chisq_yates": "chi-square with Yates' correction", "chisq": "uncorrected chi-square",
         "fisher": "Fisher's exact test"}
COUNT_ANALYSES = ("table1", "best_response", "adverse_events")


def _arm_sizes(pub: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(cohort, arm) -> number of patients, from the flow rows (``analysis = flow``, ``level = included``)."""
    flow = pub[(pub["analysis"] == "flow") & (pub["level"] == "included") & (pub["stat"] == "n")
               & (pub["group"] != "all")]
    return {(r.cohort, r.group): float(r.value) for r in flow.drop_duplicates(["cohort", "group"]).itertuples()}


def _first(pub: pd.DataFrame) -> pd.DataFrame:
    keys = ["cohort", "section", "analysis", "variable", "level", "group", "stat"]
    return pub[pub["relation"].isna() | (pub["relation"] == "")].drop_duplicates(keys)


def percentage_checks(pub: pd.DataFrame) -> pd.DataFrame:
    """Each printed percentage against 100 × count / arm size, at the printed precision."""
    sizes = _arm_sizes(pub)
    p = _first(pub[pub["analysis"].isin(COUNT_ANALYSES)])
    counts = p[p["stat"] == "n"].set_index(["cohort", "analysis", "variable", "level", "group"])["value"]
    rows = []
    for r in p[p["stat"] == "pct"].itertuples():
        key = (r.cohort, r.analysis, r.variable, r.level, r.group)
        n_arm = sizes.get((r.cohort, r.group))
        if key not in counts.index or n_arm is None or not np.isfinite(r.value):
            continue
        k = float(counts.loc[key] if np.ndim(counts.loc[key]) == 0 else counts.loc[key].iloc[0])
        d = printed_decimals(r.printed, r.value)
        implied = 100.0 * k / n_arm
        ok = round(implied, d) == round(r.value, d)
        rows.append(dict(check="percentage", cohort=r.cohort, analysis=r.analysis, variable=r.variable,
                         level=r.level, group=r.group, printed=f"{r.value:.{d}f}%",
                         evidence=f"{k:g}/{n_arm:g} = {implied:.{d + 2}f}%",
                         verdict="consistent" if ok else "inconsistent", source=r.source))
    return pd.DataFrame(rows)


def grim_checks(pub: pd.DataFrame, integer_variables) -> pd.DataFrame:
    """GRIM test (Brown & Heathers 2017) of each printed mean of a whole-number variable (e.g. age in years).

    The mean of n whole numbers is k/n for some integer k, so a mean printed with d decimals is possible only
    if some k gives k/n within half a unit of the last printed decimal. n is the arm size from the flow rows
    (both arms for ``group == "all"``). With n >= 10^d every printed mean is possible, so the check is
    reported as not informative (verdict ``consistent``) rather than silently passed.
    """
    sizes = _arm_sizes(pub)
    integer_variables = set(integer_variables or ())
    rows = []
    for r in _first(pub[(pub["stat"] == "mean") & pub["variable"].isin(integer_variables)]).itertuples():
        if r.group == "all":
            arms = [v for (c, _), v in sizes.items() if c == r.cohort]
            n = sum(arms) if arms else None
        else:
            n = sizes.get((r.cohort, r.group))
        if not n or not np.isfinite(r.value):
            continue
        d = printed_decimals(r.printed, r.value)
        half = 0.5 * 10.0 ** -d + 1e-9
        k = math.floor(r.value * n)
        possible = [j / n for j in range(k - 1, k + 3) if abs(j / n - r.value) <= half]
        if n >= 10 ** d:
            evidence, verdict = f"n = {n:g} ≥ 10^{d}: every mean printed to {d} decimals is possible", "consistent"
        elif possible:
            evidence, verdict = f"n = {n:g}: {possible[0] * n:.0f}/{n:g} = {possible[0]:.{d + 3}f}", "consistent"
        else:
            near = [j / n for j in (k, k + 1)]
            evidence = (f"n = {n:g}: no total of whole numbers gives {r.value:.{d}f} (nearest means "
                        f"{near[0]:.{d + 2}f} and {near[1]:.{d + 2}f})")
            verdict = "inconsistent (GRIM)"
        rows.append(dict(check="GRIM", cohort=r.cohort, analysis=r.analysis, variable=r.variable, level=r.level,
                         group=r.group, printed=f"{r.value:.{d}f}", evidence=evidence, verdict=verdict,
                         source=r.source))
    return pd.DataFrame(rows)


def categorical_p_checks(pub: pd.DataFrame, arms: list[str], policies: dict[str, str] | None = None) -> pd.DataFrame:
    """Recompute each between-arm p-value of a count table under every standard test.

    ``policies`` maps an analysis (``table1``, ``best_response``, ``adverse_events``) to the paper's stated
    policy; a p-value that a standard test gives but the stated policy does not is reported as such (seed
    000's AST increased, any grade: 0.072 is Fisher's p, the stated rule gives 0.081).

    Table 1 variables use the k x 2 table of their levels (levels with no patient in either arm dropped, as
    R tableone does); response levels and adverse events use their 2 x 2 table (level versus not).
    """
    sizes = _arm_sizes(pub)
    p = _first(pub[pub["analysis"].isin(COUNT_ANALYSES)])
    counts = p[(p["stat"] == "n") & p["group"].isin(arms)]
    rows = []
    for r in p[(p["stat"] == "p_value") & (p["group"] == "comparison")].itertuples():
        if not np.isfinite(r.value):
            continue
        block = counts[(counts.cohort == r.cohort) & (counts.analysis == r.analysis) & (counts.variable == r.variable)]
        n_arm = [sizes.get((r.cohort, a)) for a in arms]
        if block.empty or None in n_arm:
            continue
        if r.analysis == "table1":
            if r.level:
                continue
            wide = block.pivot_table(index="level", columns="group", values="value", aggfunc="first")
            if set(arms) - set(wide.columns) or wide.isna().any().any():
                continue
            table = wide[arms].to_numpy(float)
            table = table[table.sum(axis=1) > 0]
            if table.shape[0] < 2 or not np.allclose(table.sum(axis=0), n_arm):
                continue
        else:
            lvl = block[block.level == r.level].set_index("group")["value"]
            if set(arms) - set(lvl.index):
                continue
            k = [float(lvl[a]) for a in arms]
            table = np.array([k, [n - x for n, x in zip(n_arm, k)]])
        d = printed_decimals(r.printed, r.value)
        values = {name: categorical_p_value(table.astype(int), name)[0] for name in TESTS}
        matches = [name for name, v in values.items() if _prints_as(v, r.value, d)]
        verdict = "consistent" if matches else "no standard test gives it"
        policy = (policies or {}).get(r.analysis)
        if matches and policy:
            p_policy, method = categorical_p_value(table.astype(int), policy)
            if not _prints_as(p_policy, r.value, d):
                verdict = f"not the stated test ({policy} gives {p_policy:.{d}f})"
        rows.append(dict(check="categorical p-value", cohort=r.cohort, analysis=r.analysis, variable=r.variable,
                         level=r.level, group="comparison", printed=f"{r.value:.{d}f}",
                         evidence="; ".join(f"{TESTS[n]} {v:.{d + 1}f}" for n, v in values.items()),
                         tests=", ".join(TESTS[m] for m in matches), verdict=verdict, source=r.source))
    return pd.DataFrame(rows)


def _prints_as(value: float, printed: float, decimals: int) -> bool:
    return round(value, decimals) == round(printed, decimals)


def hazard_ratio_checks(pub: pd.DataFrame) -> pd.DataFrame:
    """Each HR with its 95% CI (and p, when printed): log-scale symmetry and the implied Wald p.

    Every printed number stands for an interval (± half a unit of its last decimal); a check fails only if no
    values inside those intervals satisfy it, so rounding alone never raises an alarm.
    """
    p = _first(pub[pub["stat"].isin(["hr", "lower", "upper", "p_value"]) & (pub["group"] == "all")])
    rows = []
    for key, block in p.groupby(["cohort", "analysis", "variable", "level"], sort=False):
        got = block.set_index("stat")
        if not {"hr", "lower", "upper"} <= set(got.index):
            continue
        vals = {s: float(got.loc[s, "value"]) for s in ("hr", "lower", "upper")}
        if not all(np.isfinite(v) and v > 0 for v in vals.values()):
            continue
        dec = {s: printed_decimals(got.loc[s, "printed"], vals[s]) for s in vals}
        box = {s: (vals[s] - 0.5 * 10 ** -dec[s], vals[s] + 0.5 * 10 ** -dec[s]) for s in vals}
        corners = [dict(zip(box, c)) for c in itertools.product(*box.values())]
        corners = [c for c in corners if min(c.values()) > 0]
        asym = [(math.log(c["upper"]) - math.log(c["hr"])) - (math.log(c["hr"]) - math.log(c["lower"]))
                for c in corners]
        symmetric = min(asym) <= 0 <= max(asym) or min(abs(a) for a in asym) < 1e-9
        verdict, evidence = "consistent", ""
        if not symmetric:
            verdict = "CI not symmetric around the HR on the log scale"
            evidence = f"log-scale asymmetry between {min(asym):+.3f} and {max(asym):+.3f}"
        if "p_value" in got.index and np.isfinite(float(got.loc["p_value", "value"])):
            p_printed = float(got.loc["p_value", "value"])
            relation = got.loc["p_value", "relation"] if "relation" in got.columns else None
            # |log HR| is smallest at HR = 1 when 1 lies in the HR's rounding interval (p is not monotone there)
            log_hr = [math.log(box["hr"][0]), math.log(box["hr"][1])]
            abs_min = 0.0 if log_hr[0] <= 0 <= log_hr[1] else min(abs(x) for x in log_hr)
            abs_max = max(abs(x) for x in log_hr)
            ses = [(math.log(c["upper"]) - math.log(c["lower"])) / (2 * Z975) for c in corners]
            ses = [x for x in ses if x > 0]
            lo_p = two_sided_p(abs_max / min(ses))
            hi_p = two_sided_p(abs_min / max(ses))
            dp = printed_decimals(got.loc["p_value", "printed"], p_printed)
            half = 0.5 * 10 ** -dp
            ok = (lo_p < p_printed if relation == "<" else lo_p <= p_printed + half and hi_p >= p_printed - half)
            evidence += ("; " if evidence else "") + f"Wald p implied by the CI: {lo_p:.3f}–{hi_p:.3f}"
            if not ok:
                verdict = "p-value not implied by the CI" if verdict == "consistent" else verdict + "; p-value too"
        rows.append(dict(check="hazard ratio", cohort=key[0], analysis=key[1], variable=key[2], level=key[3],
                         group="all", printed=f"{vals['hr']:g} ({vals['lower']:g}–{vals['upper']:g})",
                         evidence=evidence, verdict=verdict, source=got.iloc[0]["source"]))
    return pd.DataFrame(rows)


def consistency_report(pub: pd.DataFrame, arms: list[str], policies: dict[str, str] | None = None,
                       integer_variables=()) -> pd.DataFrame:
    """All checks in one table (``verdict != 'consistent'`` are the findings)."""
    parts = [percentage_checks(pub), grim_checks(pub, integer_variables), categorical_p_checks(pub, arms, policies),
             hazard_ratio_checks(pub)]
    return pd.concat([x for x in parts if len(x)], ignore_index=True)


def integer_variables(spec) -> list[str]:
    """Variables the spec declares as whole numbers (``integer: true``): their published means get GRIM checks."""
    return [name for name, v in spec.variables.items() if getattr(v, "integer", False)]


def study_policies(spec) -> dict[str, str]:
    """The stated test policy of each count analysis of a study spec."""
    out = {"table1": spec.table1.categorical_test}
    if getattr(spec, "response", None) is not None:
        out["best_response"] = spec.response.test
    if getattr(spec, "adverse_events", None) is not None:
        out["adverse_events"] = spec.adverse_events.test
    return out


def inconsistencies_markdown(spec: StudySpec, published: pd.DataFrame, section: str | None) -> str:
    """A bullet list of where the paper's own numbers disagree, for one chapter (``section=None``: the whole
    paper, for the audit page); empty string if none."""
    from helpers.study.published import conflicting_values, noted_inconsistencies

    bullets = []
    for _, r in conflicting_values(published, section).iterrows():
        key = " / ".join(str(r[c]) for c in ("cohort", "analysis", "variable", "level", "group", "stat") if r[c])
        bullets.append(f"- `{key}` is printed as {r['values']}: {r['where']}.")
    bullets += [f"- {i['description']} ({i.get('sources', '')})." for i in noted_inconsistencies(spec, section)]
    checks = consistency_report(published, spec.arm.codes, study_policies(spec), integer_variables(spec))
    if len(checks) and section is not None:
        sections = published.drop_duplicates("analysis").set_index("analysis")["section"]
        checks = checks[checks["analysis"].map(sections) == section]
        for r in checks[checks["verdict"] != "consistent"].itertuples():
            key = " / ".join(str(x) for x in (r.cohort, r.analysis, r.variable, r.level, r.group) if x)
            bullets.append(f"- Automatic check, `{key}`: printed {r.printed}; {r.evidence}: {r.verdict}.")
    return "\n".join(bullets)
