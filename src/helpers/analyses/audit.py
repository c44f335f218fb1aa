"""Published versus reproduced: join the analysis-results table with ``published.yaml`` and classify each number.

Every published number gets one status (documented on each study's audit page and in ``book/methods.md``):

* **reproduced**: equal to the published value at the precision the paper printed (counts exactly); for a value
  printed with a relation ("< 0.001", "exceeded 12 months"), the relation holds; not reached / not estimable
  on both sides (NR, NA) also counts as reproduced;
* **close**: not equal at the printed precision but within the tolerance of its class (:data:`TOLERANCE_RULES`:
  a hazard ratio inside the published 95% CI, a median within 10%, a p-value with the same conclusion at 0.05
  and within max(0.01, 20%) of the published value, ...); counts and design settings are never close;
* **differs**: outside the tolerance, or reached on one side and not on the other;
* **not reproducible**: this build does not compute the number at all (for example a multivariable term for a
  variable this run's screen did not select); the ``reason`` column says why.
"""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from helpers.report.format import format_p, printed_decimals
from helpers.study.published import PROVEN_STATUSES

RELATIONS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
             ">=": lambda a, b: a >= b}
JOIN = ["cohort", "section", "analysis", "variable", "level", "group", "stat"]
STATUSES = ["reproduced", "close", "differs", "not reproducible"]
STATUS_COLOURS = {"reproduced": "#009E73", "close": "#56B4E9", "differs": "#D55E00", "not reproducible": "#BBBBBB"}
ALPHA = 0.05

#: Tolerance class -> (what counts as reproduced, what counts as close). Shown on the audit pages.
TOLERANCE_RULES = {
    "count": ("exact", "never"),
    "setting": ("exact (caliper, ratio, thresholds)", "never"),
    "percentage": ("printed decimals", "within 2 percentage points"),
    "p-value": ("printed decimals, or the relation (P < 0.001) holds",
                "same side of 0.05 and within max(0.01, 20%)"),
    "hazard ratio": ("printed decimals", "within 0.1 on the log scale, on the same side of 1, and with the same "
                                         "significance as the paper's p"),
    "survival rate": ("printed decimals", "within 5 percentage points"),
    "confidence limit": ("printed decimals", "within 10%"),
    "estimate": ("printed decimals (medians, means, SDs, quartiles)", "within 10%"),
}
SETTING_ANALYSES = {"psm", "stat_methods", "eligibility"}


def tolerance_class(stat: str, analysis: str = "", level: str = "") -> str:
    """The tolerance class (a key of :data:`TOLERANCE_RULES`) of one published number."""
    if stat == "n":
        return "count"
    if analysis in SETTING_ANALYSES or stat == "threshold":
        return "setting"
    if stat == "pct":
        return "percentage"
    if stat == "p_value":
        return "p-value"
    if stat == "hr":
        return "hazard ratio"
    if stat in ("lower", "upper"):
        return "confidence limit"
    if stat == "estimate" and str(level).startswith("t="):
        return "survival rate"
    return "estimate"


#: A hazard ratio is close within this distance on the log scale (|log HR - log HR_published|).
LOG_HR_TOLERANCE = 0.1


def is_close(klass: str, published: float, reproduced: float, same_significance: bool | None = None) -> bool:
    """Whether ``reproduced`` is within the tolerance of class ``klass`` (:data:`TOLERANCE_RULES`) of
    ``published``; the reconstruction aims at the same rule for the key claims' estimates."""
    if klass in ("count", "setting"):
        return False
    diff = abs(reproduced - published)
    if klass == "percentage":
        return diff <= 2.0 + 1e-9
    if klass == "p-value":
        same_side = (reproduced < ALPHA) == (published < ALPHA)
        return same_side and diff <= max(0.01, 0.2 * published) + 1e-12
    if klass == "hazard ratio":
        if not (published > 0 and reproduced > 0):
            return False
        same_side = (published < 1) == (reproduced < 1) or published == 1 or reproduced == 1
        return (abs(np.log(reproduced) - np.log(published)) <= LOG_HR_TOLERANCE + 1e-12 and same_side
                and same_significance is not False)
    if klass == "survival rate":
        return diff <= 0.05 + 1e-9
    return diff <= 0.10 * abs(published) + 1e-12


#: Analyses whose estimate has a null value (no effect): a conclusion changes when it crosses it.
NULL_OF = {"cox_univariate": 1.0, "cox_multivariate": 1.0, "subgroup": 1.0, "rmst": 0.0, "rmst_regression": 0.0,
           "landmark": 0.0, "best_response": 0.0}


def _null_of(analysis: str, group: str, stat: str) -> float | None:
    base = analysis.split(".")[0]
    if base in ("cox_univariate", "cox_multivariate", "subgroup", "rmst_regression"):
        return NULL_OF[base]
    if base in ("rmst", "landmark", "best_response") and group == "difference":
        return 0.0
    return None


def _significance(published: pd.DataFrame, results: pd.DataFrame) -> dict[tuple, tuple]:
    """Estimate key (without stat) -> (published p, its relation, reproduced p), for the p-values both have."""
    key = JOIN[:-1]
    pub = published[published["stat"] == "p_value"].drop_duplicates(JOIN)
    res = results[results["stat"] == "p_value"].drop_duplicates(JOIN).set_index(key)["value"]
    out = {}
    for r in pub.itertuples():
        k = tuple(getattr(r, c) for c in key)
        rel = r.relation if isinstance(r.relation, str) else ""
        # the p of an estimate stands at the same key; a comparison's p (group = comparison) serves its groups
        out[k] = (r.value, rel, float(res.get(k, np.nan)))
    return out


def _significant(p: float, relation: str = "") -> bool | None:
    if not np.isfinite(p):
        return None
    return p <= ALPHA if relation in ("<", "<=") else p < ALPHA


def conclusion_changed(published: pd.DataFrame, results: pd.DataFrame) -> dict[tuple, str]:
    """Estimate key (without stat) -> why its conclusion changes on this data ("" when it does not):
    the p-value crosses 0.05, or the estimate or a CI limit crosses the value of no effect (1 for a hazard
    ratio), whatever the numeric distance."""
    key = JOIN[:-1]
    sig = _significance(published, results)
    pub = published.drop_duplicates(JOIN).set_index(JOIN)["value"]
    res = results.drop_duplicates(JOIN).set_index(JOIN)["value"]
    out = {}
    for k in {tuple(x) for x in published[key].itertuples(index=False, name=None)}:
        why = []
        if k in sig:
            p_pub, rel, p_res = sig[k]
            a, b = _significant(p_pub, rel), _significant(p_res)
            if a is not None and b is not None and a != b:
                why.append(f"p {'<' if a else '≥'} 0.05 in the paper, {'<' if b else '≥'} 0.05 here")
        null = _null_of(k[2], k[5], "")
        if null is not None:
            for stat in ("hr", "estimate", "lower", "upper"):
                pv, rv = pub.get((*k, stat), np.nan), res.get((*k, stat), np.nan)
                if np.isfinite(pv) and np.isfinite(rv) and (pv - null) * (rv - null) < 0:
                    what = {"hr": "the estimate", "estimate": "the estimate", "lower": "the lower CI limit",
                            "upper": "the upper CI limit"}[stat]
                    why.append(f"{what} is on the other side of {null:g}")
        out[k] = "; ".join(why)
    return out


def _missing_reason(row, results: pd.DataFrame) -> str:
    if tolerance_class(row.stat, row.analysis, row.level) == "setting":
        return ("a design setting or eligibility criterion: not computable from the patient table, which holds "
                "only the included patients")
    if isinstance(row.note, str) and row.note.strip():
        return row.note.strip()
    same_section = results[(results["cohort"] == row.cohort) & (results["section"] == row.section)]
    if same_section.empty:
        return f"no chapter of this build computes the {row.section} of the {row.cohort} cohort"
    if row.analysis.startswith("cox_multivariate"):
        return "the multivariable model of this run did not select this variable (univariable screen)"
    if (same_section["analysis"] == row.analysis).sum() == 0:
        return f"this build does not compute the analysis '{row.analysis}'"
    return "this quantity is not in the analysis-results table"


def compare_with_published(results: pd.DataFrame, published: pd.DataFrame, include_missing: bool = False,
                           every_occurrence: bool = False) -> pd.DataFrame:
    """One row per published value that the results table also holds: published, reproduced, status.

    ``status`` is one of :data:`STATUSES` (see the module docstring); ``tolerance`` names the class whose rule
    was applied. With ``include_missing``, published values this run did not compute at all are kept with
    status ``not reproducible`` and a ``reason``. A number the paper prints several times is compared once,
    unless ``every_occurrence`` (the audit counts every printed occurrence).
    """
    pub = published.copy() if every_occurrence else published.drop_duplicates(JOIN).copy()
    for col in ("relation", "note", "printed", "source"):
        if col not in pub.columns:
            pub[col] = None
    res = results[JOIN + ["value"]].drop_duplicates(JOIN).rename(columns={"value": "reproduced"})
    merged = pub.merge(res, on=JOIN, how="left" if include_missing else "inner", indicator="merge_status")
    sig = _significance(published, results)
    changed = conclusion_changed(published, results)
    status, klasses, reasons = [], [], []
    for r in merged.itertuples():
        klass = tolerance_class(r.stat, r.analysis, r.level)
        klasses.append(klass)
        reason = ""
        if r.merge_status == "left_only":
            status.append("not reproducible")
            reasons.append(_missing_reason(r, results))
            continue
        # for a design setting the relation states the rule ("P < 0.1 enters the model"), not a bound
        relation = r.relation if isinstance(r.relation, str) and klass != "setting" else ""
        if pd.isna(r.value) and pd.isna(r.reproduced):
            s = "reproduced"  # both not reached / not estimable (printed as NR or NA)
        elif pd.isna(r.value) or pd.isna(r.reproduced):
            s = "differs"  # reached on one side, not reached (NR / NA) on the other
            reason = "not reached / not estimable on one side only"
        elif relation in RELATIONS:
            s = "reproduced" if RELATIONS[relation](r.reproduced, r.value) else "differs"
        else:
            d = 0 if r.stat == "n" else printed_decimals(r.printed, r.value)
            s = "reproduced" if round(r.reproduced, d) == round(r.value, d) else "differs"
        if s == "differs" and not reason:
            k = tuple(getattr(r, c) for c in JOIN[:-1])
            same = None
            if k in sig:
                a, b = _significant(sig[k][0], sig[k][1]), _significant(sig[k][2])
                same = None if a is None or b is None else a == b
            if is_close(klass, r.value, r.reproduced, same) and not changed.get(k):
                s = "close"
        status.append(s)
        reasons.append(reason)
    merged["status"] = status
    merged["tolerance"] = klasses
    merged["reason"] = reasons
    merged["difference"] = merged["reproduced"] - merged["value"]
    merged["conclusion"] = [changed.get(tuple(getattr(r, c) for c in JOIN[:-1]), "") if r.merge_status == "both"
                            else "" for r in merged.itertuples()]
    return merged[JOIN + ["printed", "value", "relation", "reproduced", "difference", "tolerance", "status",
                          "reason", "conclusion", "source"]]


def status_counts(comparison: pd.DataFrame) -> dict[str, int]:
    """Numbers per status, in the order of :data:`STATUSES` (zeros included)."""
    counts = comparison["status"].value_counts()
    return {s: int(counts.get(s, 0)) for s in STATUSES}


def verdict_sentence(comparison: pd.DataFrame, spec=None) -> str:
    """One line: how many published numbers this chapter reproduces, counted from ``comparison``."""
    c = status_counts(comparison)
    n = len(comparison)
    parts = [f"**{c['reproduced']} of {n}** published numbers compared here are reproduced"]
    if c["close"]:
        parts.append(f"{c['close']} {'is' if c['close'] == 1 else 'are'} close (within the tolerance of the audit)")
    if c["differs"]:
        parts.append(f"{c['differs']} {'differs' if c['differs'] == 1 else 'differ'}")
    if c["not reproducible"]:
        parts.append(f"{c['not reproducible']} {'is' if c['not reproducible'] == 1 else 'are'} not computed by "
                     "this run (see the table)")
    by_cohort = comparison.groupby("cohort")["status"].apply(lambda s: f"{(s == 'reproduced').sum()}/{len(s)}")
    return "; ".join(parts) + " (" + ", ".join(f"{c}: {v}" for c, v in by_cohort.items()) + ")."


def _difference_text(difference: float, published: float) -> str:
    """Reproduced minus published, blank when zero up to floating-point noise."""
    if pd.isna(difference) or abs(difference) <= 1e-9 * max(1.0, abs(published)):
        return ""
    return f"{difference:+.3g}"


def _reproduced_text(r, d: int) -> str:
    if pd.isna(r.reproduced):
        return "" if r.status == "not reproducible" else "NA"
    return format_p(r.reproduced, max(d, 3)) if r.stat == "p_value" else f"{r.reproduced:.{d}f}"


def comparison_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """A reader's view of :func:`compare_with_published`: one line per number, differing ones first.

    The reproduced value is shown to the decimals the paper printed (counts as integers), so a reader compares
    like with like; ``difference`` is unrounded.
    """
    rows = []
    for r in comparison.itertuples():
        d = 0 if r.stat == "n" else printed_decimals(r.printed, r.value)
        what = " ".join(str(x) for x in (r.variable, r.level) if x)
        rel = r.relation if isinstance(r.relation, str) and r.relation in RELATIONS else ""
        rows.append({
            "Cohort": r.cohort,
            "Analysis": r.analysis,
            "Quantity": what,
            "Group": r.group,
            "Statistic": r.stat,
            "Published": f"{rel}{r.value:.{d}f}" if pd.notna(r.value) else "NA",
            "Reproduced": _reproduced_text(r, d),
            "Difference": _difference_text(r.difference, r.value),
            "Status": r.status,
            "Source": r.source,
            "_order": {"differs": 0, "not reproducible": 1, "close": 2, "reproduced": 3}.get(r.status, 4),
        })
    out = pd.DataFrame(rows, columns=["Cohort", "Analysis", "Quantity", "Group", "Statistic", "Published",
                                      "Reproduced", "Difference", "Status", "Source", "_order"])
    return out.sort_values(["_order", "Cohort"], kind="stable").drop(columns="_order").reset_index(drop=True)


def p_value_discrepancies(differs: pd.DataFrame, rows: pd.DataFrame, spec, policy: str, arm_sizes: dict) -> str:
    """Explain published 2×2 p-values that differ from the stated policy: which test gives the printed value.

    ``differs``: rows of :func:`comparison_display`; ``rows``: the chapter's long result rows with per-arm
    counts (``stat == "n"``). For each differing p-value (response level or adverse event), recompute the 2x2 table under every policy and name the ones
    whose value prints as published (e.g. AST increased, any grade: printed 0.072 = Fisher; the stated rule,
    chi-square with Yates' correction because no expected count is below 5, gives 0.081).
    """
    from helpers.report.format import test_name
    from helpers.stats.hypothesis_tests import categorical_p_value

    notes = []
    ref, exp = spec.arm.codes
    for r in differs.itertuples():
        if r.Statistic != "p_value" or not re.fullmatch(r"\d+(\.\d+)?", r.Published):
            continue  # NA or printed with a relation ("<0.001")
        variable, _, level = r.Quantity.rpartition(" ")
        n = rows[(rows["variable"] == variable) & (rows["level"] == level) & (rows["stat"] == "n")]
        k = {g: int(v) for g, v in zip(n["group"], n["value"])}
        if ref not in k or exp not in k:
            continue
        table = np.array([[k[ref], arm_sizes[ref] - k[ref]], [k[exp], arm_sizes[exp] - k[exp]]])
        decimals = len(r.Published.split(".")[1]) if "." in r.Published else 3
        matches = []
        for name in ("fisher", "chisq_yates", "chisq"):
            p, _ = categorical_p_value(table, name)
            if round(p, decimals) == float(r.Published):
                matches.append(name)
        p_policy, method = categorical_p_value(table, policy)
        terms = spec.adverse_events.terms if spec.adverse_events else {}
        criteria = {k: c.label for k, c in spec.response.criteria.items()} if spec.response else {}
        label = terms.get(variable) or criteria.get(variable) or variable
        level_label = {"any_grade": "any grade", "grade_3_4": "grade 3-4"}.get(level, level)
        names = {"fisher": "Fisher's exact test", "chisq_yates": "chi-square with Yates' correction",
                 "chisq": "the uncorrected chi-square"}
        found = (f"the printed value is what {' and '.join(names[m] for m in matches)} gives" if matches
                 else "no standard test gives the printed value from these counts")
        notes.append(f"- {label}, {level_label} ({k[ref]}/{arm_sizes[ref]} vs {k[exp]}/{arm_sizes[exp]}): the paper "
                     f"prints p = {r.Published}; the stated policy ({test_name(policy)}) applies {method} here, "
                     f"which gives {p_policy:.3f}; {found}.")
    if not notes:
        return ""
    return "**Why these p-values differ**\n\n" + "\n".join(notes)


def p_value_notes(comparison: pd.DataFrame, rows: pd.DataFrame, spec, policy: str, data: pd.DataFrame) -> str:
    """:func:`p_value_discrepancies` for the numbers of a chapter's comparison that are not reproduced."""
    if comparison.empty:
        return ""
    shown = comparison_display(comparison)
    off = shown[shown["Status"] != "reproduced"]
    if not len(off):
        return ""
    return p_value_discrepancies(off, rows, spec, policy, data[spec.arm.column].astype(str).value_counts().to_dict())


# --- Roles: calibration targets apart from tests ------------------------------------------------------------

#: The role of a published number in the audit. On the default synthetic data, a *calibration target* was aimed
#: at by the generator (agreement is built in); a *structural* number is fixed by construction (the counts the
#: generator copies, the design settings); every other number is *untargeted*: a genuine test of the synthetic
#: cohort. On a real patient table there are no targets: every number but the design settings is a test.
ROLES = ("untargeted", "calibration target", "structural")
STRUCTURAL_ANALYSES = ("flow", "table1", "best_response", "adverse_events")


def reconstruction_targets(spec) -> dict[tuple, dict]:
    """The published numbers the reconstruction was calibrated to (``reconstruction_report.csv``): key
    (cohort, analysis, variable, level, group, stat) -> target, achieved, hit, status (``hit``, ``missed``,
    ``out_of_reach`` or ``conflict``) and proof (the test proving the miss unavoidable, else empty).  A key the paper
    prints with two values (seed 000's HAIT median follow-up) is also listed under the key plus its target."""
    path = spec.folder / "reconstruction_report.csv"
    if not path.exists():
        return {}
    keys = ["cohort", "analysis", "variable", "level", "group", "stat"]
    report = pd.read_csv(path, dtype={k: str for k in keys}, keep_default_na=False, na_values={"achieved": [""]})
    out = {}
    for _, r in report.iterrows():
        hit = str(r["hit"]).lower() == "true"
        entry = {"target": r["target"], "achieved": r["achieved"], "hit": hit,
                 "status": r.get("status") or ("hit" if hit else "missed"), "proof": r.get("proof", "")}
        out[tuple(r[k] for k in keys)] = entry
        out[tuple(r[k] for k in keys) + (_value_key(r["target"]),)] = entry
    return out


def _value_key(value) -> str:
    """A published value as a key part (the report's target and the audit's value print alike)."""
    try:
        return f"{float(value):.10g}"
    except (TypeError, ValueError):
        return str(value)


def role_of(row, targets: dict, real_data: bool) -> str:
    """The role of one published number (see :data:`ROLES`)."""
    if row.tolerance == "setting":
        return "structural"
    if real_data:
        return "untargeted"
    if row.stat in ("n", "pct") and row.analysis in STRUCTURAL_ANALYSES and row.cohort == "primary":
        return "structural"
    key = (row.cohort, row.analysis, row.variable, row.level, row.group, row.stat)
    return "calibration target" if key in targets else "untargeted"


def assign_roles(audit: pd.DataFrame, spec, real_data: bool) -> pd.DataFrame:
    """``audit`` with a ``role`` per number, and, for a missed calibration target, the reason with its miss."""
    targets = {} if real_data else reconstruction_targets(spec)
    out = audit.copy()
    out["role"] = [role_of(r, targets, real_data) for r in out.itertuples()]
    reasons = []
    for r in out.itertuples():
        reason = r.reason
        if not reason and r.status in ("differs", "close") and pd.notna(r.reproduced) and pd.notna(r.value):
            key = (r.cohort, r.analysis, r.variable, r.level, r.group, r.stat)
            target = targets.get(key + (_value_key(r.value),), targets.get(key, {}))
            if r.role == "calibration target" and target.get("status") in PROVEN_STATUSES:
                # the test's file only: the full test id (in reconstruction_report.csv) is too long for a cell
                how = ("proven out of reach" if target["status"] == "out_of_reach" else
                       "proven in conflict with other published numbers")
                reason = (f"calibration target {how} (by a test in {target['proof'].split('::')[0]}, "
                          f"named in reconstruction_report.csv); missed by " + _miss_text(r))
            elif r.role == "calibration target":
                reason = "calibration target missed by " + _miss_text(r)
            elif r.role == "untargeted" and not real_data:
                reason = "not a calibration target: shows how far the synthetic cohort is from the real one"
            elif r.role == "structural":
                reason = "fixed by construction: a reconstruction error"
        reasons.append(reason)
    out["reason"] = reasons
    return out


def _miss_text(r) -> str:
    if r.stat == "hr" and r.value > 0 and r.reproduced > 0:
        return f"{abs(np.log(r.reproduced / r.value)):.2f} on the log scale"
    if r.stat == "pct":
        return f"{abs(r.reproduced - r.value):.1f} percentage points"
    if r.stat == "p_value":
        return f"{abs(r.reproduced - r.value):.3f}"
    return f"{abs(r.reproduced - r.value):.3g}"


def role_verdicts(audit: pd.DataFrame) -> dict[str, str]:
    """Per role, the verdict line counted from ``audit`` (untargeted first)."""
    out = {}
    for role in ROLES:
        rows = audit[audit["role"] == role]
        if len(rows):
            c = status_counts(rows)
            out[role] = (f"{c['reproduced']} of {len(rows)} reproduced, {c['close']} close, {c['differs']} "
                         f"differ, {c['not reproducible']} not reproducible")
    return out


# --- One row per estimate, for a reviewer ----------------------------------------------------------------

#: Which statistic of an estimate's numbers is the estimate itself, in order of preference.
MAIN_STATS = ("hr", "estimate", "median", "mean", "n", "pct", "kappa", "tau", "threshold", "p_value", "lower",
              "upper", "q1", "q3", "sd", "chisq")
_STATUS_RANK = {"reproduced": 0, "close": 1, "differs": 2, "not reproducible": 3}


def _printed_value(r, value) -> str:
    d = 0 if r.stat == "n" else printed_decimals(r.printed, r.value)
    if pd.isna(value):
        return "NR" if r.stat in ("estimate", "median", "lower", "upper") else "NA"
    if r.stat == "p_value":
        rel = r.relation if isinstance(r.relation, str) and r.relation in RELATIONS else ""
        return f"p {rel} {value:.{d}f}" if rel else f"p = {format_p(value, max(d, 3))}"
    return f"{value:.{d}f}"


def estimate_text(rows, column: str) -> str:
    """The numbers of one estimate as a paper prints them: "0.30 (0.10–0.91), p = 0.033", "47 (92.2%)",
    "56.0 [50.5, 63.5]"; ``column`` is ``value`` (published) or ``reproduced``. ``rows``: the audit rows of the
    estimate, a DataFrame or its ``itertuples()`` records."""
    by = {r.stat: r for r in (rows.itertuples() if isinstance(rows, pd.DataFrame) else rows)}
    val = {stat: getattr(r, column) for stat, r in by.items()}

    def f(stat):
        r = by[stat]
        if column == "reproduced":
            if r.status == "not reproducible":
                return "—"
            if stat == "p_value":  # the reproduced p as the paper prints p-values, never with the paper's relation
                return "p = NA" if pd.isna(val[stat]) else (
                    f"p < {format_p(val[stat])[1:]}" if format_p(val[stat]).startswith("<")
                    else f"p = {format_p(val[stat])}")
        return _printed_value(r, val[stat])

    main = next((st for st in MAIN_STATS if st in by), None)
    if main is None:
        return ""
    if main in ("hr", "estimate", "median", "mean") or (main == "n" and "pct" in by):
        text = f(main)
        if "lower" in by and "upper" in by:
            text += f" ({f('lower')}–{f('upper')})"
        elif "q1" in by and "q3" in by:
            text += f" [{f('q1')}, {f('q3')}]"
        elif "sd" in by:
            text += f" ± {f('sd')}"
        elif main == "n" and "pct" in by:
            text += f" ({f('pct')}%)"
    else:
        text = f(main)
    if "p_value" in by and main != "p_value":
        text += f", {f('p_value')}"
    return text


def estimate_label(spec, key: tuple) -> str:
    """A reader's name for an estimate: "Child-Pugh grade: B vs A, OS, multivariable Cox" (key without stat)."""
    cohort, section, analysis, variable, level, group = key
    arms = spec.arm.labels
    base, _, ep = analysis.partition(".")
    ep_short = spec.survival.endpoints[ep].short if spec.survival and ep in spec.survival.endpoints else ep.upper()
    var = spec.variables.get(variable)

    def var_text():
        if variable == "arm":
            return f"Treatment ({arms.get(level, level)} vs {arms.get(spec.arm.reference)})"
        if var is None:
            return " ".join(x for x in (variable, level) if x)
        cats = var.category_labels
        if level and cats:
            refs = spec.survival.cox.reference_levels if spec.survival else {}
            ref = refs.get(variable, next(iter(cats), ""))
            if base.startswith("cox") or base == "rmst_regression":
                return f"{var.label}: {cats.get(level, level)} vs {cats.get(ref, ref)}"
            return f"{var.label}: {cats.get(level, level)}"
        return var.label

    who = arms.get(group, "" if group in ("all", "comparison", "difference") else group)
    words = {
        "km": f"{'Median ' if level == 'median' else level.removeprefix('t=') + '-' + spec.survival.time_unit.rstrip('s') + ' ' if level.startswith('t=') else ''}{ep_short}",
        "logrank": f"{ep_short}, log-rank test",
        "cox_univariate": f"{var_text()}, {ep_short}, univariable Cox",
        "cox_multivariate": f"{var_text()}, {ep_short}, multivariable Cox",
        "followup": f"Median follow-up ({ep_short})",
        "rmst": f"RMST, {ep_short}" + (" (difference)" if group == "difference" else ""),
        "rmst_regression": f"{var_text()}, {ep_short}, RMST regression",
        "landmark": f"{level.removeprefix('t=')}-{spec.survival.time_unit if spec.survival else ''} {ep_short}",
        "events": f"{ep_short} events",
        "subgroup": f"{ep_short} in {var_text()}",
        "table1": f"{var_text()}",
        "best_response": f"{level} ({spec.response.criteria[variable].label})" if spec.response and
                         variable in spec.response.criteria else f"{variable} {level}",
        "adverse_events": f"{spec.adverse_events.terms.get(variable, 'Any adverse event' if variable == 'overall' else variable) if spec.adverse_events else variable}, "
                          f"{'any grade' if level == 'any_grade' else 'grade 3-4'}",
        "flow": f"Patients {level}",
        "stat_methods": {"alpha": "Significance threshold",
                         "multivariable_entry_p": "Entry p of the multivariable model"}.get(variable, variable),
        "eligibility": f"Eligibility ({level}): {variable.replace('_', ' ')}",
        "psm": {"pairs": "Matched pairs", "ratio": "Matching ratio", "caliper_width": "Caliper"}.get(variable, variable),
    }
    text = words.get(base, " ".join(x for x in (analysis, variable, level) if x))
    if who and base not in ("cox_univariate", "cox_multivariate", "subgroup"):
        text += f", {who}"
    if group == "comparison" and base in ("table1", "best_response", "adverse_events"):
        text += ", between arms"
    return ("Matched cohort: " if cohort == "matched" else "") + text


#: The display (catalogue key) that shows each analysis, for the link from an audit row to its table or figure.
def display_key(spec, cohort: str, analysis: str) -> str | None:
    from helpers.analyses.catalogue import cox_keys, km_keys

    base, _, ep = analysis.partition(".")
    if base in ("flow", "psm"):
        return "flow"
    if base == "table1":
        return "table1"
    if base in ("km", "logrank", "events", "cox_univariate") and (base != "cox_univariate" or cohort != "primary"):
        keys = km_keys(spec, cohort) if spec.survival else []
        return next((k for k in keys if k.endswith("." + ep)), keys[0] if keys else None)
    if base in ("cox_univariate", "cox_multivariate"):
        keys = cox_keys(spec) if spec.survival else []
        return next((k for k in keys if k == f"cox.{ep}"), keys[0] if keys else None)
    if base == "landmark":
        return f"landmarks.{cohort}"
    if base in ("followup", "rmst", "rmst_regression"):
        return f"{base}.{cohort}" if base != "followup" else f"followup.{cohort}"
    if base == "best_response":
        return "best_response"
    if base == "adverse_events":
        return "adverse_events"
    if base == "subgroup":
        return f"forest.{ep}"
    return None


def estimate_rows(audit: pd.DataFrame, spec, numbering: dict[str, str], page_titles: dict[str, str]) -> pd.DataFrame:
    """One row per published estimate and printed occurrence: "HR 0.30 (0.10–0.91), p = 0.033" beside the
    reproduced one, with a reader's label, role, status, the reason, and a link to the table or figure."""
    from helpers.report.display import anchor_of

    key = JOIN[:-1]
    rows = []
    audit = audit.reset_index(drop=True)
    # the rows as records once: itertuples() makes a namedtuple type per call, about 1 ms, twice per estimate
    records = list(audit.itertuples())
    for (k, source), grp in audit.groupby([audit[key].apply(tuple, axis=1), "source"], sort=False):
        grp = grp.drop_duplicates("stat")
        grp_records = [records[i] for i in grp.index]
        main = next((st for st in MAIN_STATS if st in set(grp["stat"])), grp["stat"].iloc[0])
        head = grp[grp["stat"] == main].iloc[0]
        status = max(grp["status"], key=lambda x: _STATUS_RANK.get(x, 0))
        if head["status"] == "not reproducible":
            status = "not reproducible"
        page = head["page"]
        dkey = display_key(spec, k[0], k[2])
        label = numbering.get(dkey) if dkey else None
        href = f"{page}.html" + (f"#{anchor_of(label)}" if label else "") if page else ""
        where = (label or page_titles.get(page, page)) if page else ""
        # the reason of the estimate itself, then of its p-value (a CI limit's reason repeats the estimate's)
        focus = grp[grp["stat"].isin([main, "p_value"])]
        reasons = "; ".join(dict.fromkeys(
            (f"p: {x}" if st == "p_value" and st != main and x.startswith("calibration target") else x)
            for x, st in zip(focus["reason"], focus["stat"]) if isinstance(x, str) and x))
        changed = "; ".join(dict.fromkeys(x for x in grp.get("conclusion", pd.Series([], dtype=str)) if x))
        rows.append({"part": head["part"], "source": source, "label": estimate_label(spec, k), "key": k,
                     "published": estimate_text(grp_records, "value"),
                     "reproduced": estimate_text(grp_records, "reproduced"),
                     "role": head["role"] if "role" in grp else "", "status": status,
                     "conclusion": ("changed: " + changed) if changed else "", "reason": reasons,
                     "href": href, "where": where, "n_numbers": len(grp)})
    return pd.DataFrame(rows)


def estimate_display(rows: pd.DataFrame) -> pd.DataFrame:
    """The reviewer's table (HTML links; show with ``escape=False``)."""
    out = []
    for r in rows.itertuples():
        link = f"<a href='{html.escape(r.href)}'>{html.escape(r.where)}</a>" if r.href else ""
        status = r.status + (f"; <strong>conclusion {html.escape(r.conclusion)}</strong>" if r.conclusion else "")
        out.append({"Estimate": html.escape(r.label), "Printed in": html.escape(str(r.source)),
                    "Published": html.escape(r.published), "Reproduced": html.escape(r.reproduced),
                    "Role": r.role, "Status": status, "Why it differs": html.escape(r.reason), "Computed in": link})
    return pd.DataFrame(out, columns=["Estimate", "Printed in", "Published", "Reproduced", "Role", "Status",
                                      "Why it differs", "Computed in"])


# --- The reproduction audit of a whole study (the audit chapter) -------------------------------------------

_PART_RANK = {"Abstract": 0, "Methods": 1, "Results": 2, "Table": 3, "Figure": 4, "Discussion": 5}


def paper_part(source: str) -> str:
    """Where in the paper a number is printed, for grouping: "Table 2", "Figure 1", "Results", "Abstract", ...

    >>> paper_part("Table 1 row Sex, column HAIT"), paper_part("Results 3.2 Survival"), paper_part("")
    ('Table 1', 'Results', 'Other')
    """
    text = str(source or "").strip()
    m = re.match(r"(Supplementary\s+)?(Table|Figure|Fig\.)\s*(S?\d+)", text, flags=re.IGNORECASE)
    if m:
        kind = "Figure" if m.group(2).lower().startswith("fig") else "Table"
        return f"{'Supplementary ' if m.group(1) else ''}{kind} {m.group(3)}"
    m = re.match(r"[A-Za-z]+", text)
    return m.group(0).capitalize() if m else "Other"


def _part_sort_key(part: str) -> tuple:
    words = part.split()
    number = re.sub(r"\D", "", words[-1]) if len(words) > 1 else ""
    supplementary = part.startswith("Supplementary")
    kind = words[1] if supplementary else words[0]
    return (supplementary, _PART_RANK.get(kind, 6), int(number) if number else 0, part)


def page_of_results_file(stem: str, pages: list[str]) -> str:
    """The book page that wrote ``<stem>.csv``: ``survival_primary`` was written by page ``survival``."""
    if stem in pages:
        return stem
    base = stem.rsplit("_", 1)[0]
    return base if base in pages else ""


def read_study_results(results_dir, study_id: str, pages: list[str]) -> pd.DataFrame:
    """Every result CSV of one study (except the audit's own) with the ``page`` that computed each row."""
    from pathlib import Path

    from helpers.study.results import KEY_COLUMNS

    frames = []
    for f in sorted((Path(results_dir) / study_id).glob("*.csv")):
        if f.stem == "audit":
            continue
        df = pd.read_csv(f, dtype={c: str for c in KEY_COLUMNS}, keep_default_na=False,
                         na_values={"value": ["", "nan", "NaN"]})
        frames.append(df.assign(page=page_of_results_file(f.stem, pages)))
    if not frames:
        raise FileNotFoundError(
            f"no analysis results for study '{study_id}' under {results_dir}/{study_id}/: build the book "
            "(make book) or execute the study's chapters first; the audit compares their results")
    return pd.concat(frames, ignore_index=True)


def audit_published(results: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Every printed occurrence of every published number, classified (see the module docstring).

    ``results``: the study's analysis results with a ``page`` column (:func:`read_study_results`). Adds
    ``part`` (the table or section of the paper) and ``page`` (the book page computing the number; for a
    number not computed, the page of its section and cohort, if any).
    """
    out = compare_with_published(results, published, include_missing=True, every_occurrence=True)
    pages = results.drop_duplicates(JOIN).set_index(JOIN)["page"]
    section_pages = (results[results["page"] != ""].drop_duplicates(["cohort", "section"])
                     .set_index(["cohort", "section"])["page"])
    keys = list(out[JOIN].itertuples(index=False, name=None))
    out["page"] = [pages.get(k, section_pages.get((k[0], k[1]), "")) for k in keys]
    out["part"] = out["source"].map(paper_part)
    order = {p: i for i, p in enumerate(sorted(out["part"].unique(), key=_part_sort_key))}
    out["_order"] = out["part"].map(order)
    return out.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def audit_summary(audit: pd.DataFrame) -> pd.DataFrame:
    """Counts per part of the paper (rows, in the paper's order) and status (columns), with a total row."""
    parts = list(dict.fromkeys(audit["part"]))
    table = (audit.groupby(["part", "status"]).size().unstack(fill_value=0)
             .reindex(index=parts, columns=STATUSES, fill_value=0))
    table["total"] = table.sum(axis=1)
    table.loc["All published numbers"] = table.sum()
    table.index.name = "Part of the paper"
    table.columns.name = None
    return table.astype(int)


def audit_verdict(audit: pd.DataFrame, label: str = "") -> str:
    """The one-line verdict, counted from ``audit`` (never typed): "612 of 949 published numbers reproduced, ..."."""
    c = status_counts(audit)
    n = len(audit)
    text = (f"{c['reproduced']} of {n} published numbers reproduced, {c['close']} close, {c['differs']} "
            f"differ, {c['not reproducible']} not reproducible from the available data")
    return f"{label}: {text}" if label else text


def tolerance_rules_table() -> pd.DataFrame:
    """The tolerance rules as a table for the page (one row per class)."""
    return pd.DataFrame([{"Class": k, "Reproduced when": v[0], "Close when": v[1]}
                         for k, v in TOLERANCE_RULES.items()])


def _with_test_reasons(audit: pd.DataFrame, checks: pd.DataFrame) -> pd.DataFrame:
    """A published p-value that the paper's stated test does not give gets the consistency check's finding as
    its reason ("the paper's p is Fisher's exact test; the stated rule gives 0.081")."""
    if checks is None or not len(checks):
        return audit
    found = checks[(checks["check"] == "categorical p-value") & (checks["verdict"] != "consistent")]
    why = {(r.cohort, r.analysis, r.variable, r.level): f"the paper's p is what {r.tests} gives; {r.verdict}"
           for r in found.itertuples() if isinstance(r.tests, str) and r.tests}
    out = audit.copy()
    out["reason"] = [why.get((r.cohort, r.analysis, r.variable, r.level), r.reason) if r.stat == "p_value"
                     and r.status != "reproduced" else r.reason for r in out.itertuples()]
    return out


def audit_display(audit: pd.DataFrame, page_titles: dict[str, str] | None = None) -> pd.DataFrame:
    """A reader's view of :func:`audit_published`: where printed, what, published and reproduced (at the printed
    precision), difference, tolerance class, status, the reason for a number not computed, and an HTML link
    to the page that computes it (``show_table(..., escape=False)``)."""
    titles = page_titles or {}
    rows = []
    for r in audit.itertuples():
        d = 0 if r.stat == "n" else printed_decimals(r.printed, r.value)
        rel = r.relation if isinstance(r.relation, str) and r.relation in RELATIONS else ""
        link = (f"<a href='{html.escape(r.page)}.html'>{html.escape(titles.get(r.page, r.page))}</a>"
                if r.page else "")
        rows.append({
            "Printed in": html.escape(str(r.source)),
            "Quantity": html.escape(" ".join(str(x) for x in (r.cohort if r.cohort != "primary" else "",
                                                              r.analysis, r.variable, r.level) if x)),
            "Group": html.escape(r.group),
            "Statistic": r.stat,
            "Published": f"{rel}{r.value:.{d}f}" if pd.notna(r.value) else "NA",
            "Reproduced": html.escape(_reproduced_text(r, d)),
            "Difference": _difference_text(r.difference, r.value),
            "Tolerance": r.tolerance,
            "Role": getattr(r, "role", ""),
            "Status": r.status + (f" ({html.escape(r.reason)})" if r.reason else ""),
            "Computed in": link,
        })
    return pd.DataFrame(rows)


def audit_figure(audit: pd.DataFrame, title: str = ""):
    """Horizontal stacked bars: for each part of the paper, how many numbers have each status."""
    import matplotlib.pyplot as plt

    summary = audit_summary(audit).drop(index="All published numbers")
    parts = list(summary.index)[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(parts) + 1.5))
    left = np.zeros(len(parts))
    for status in STATUSES:
        counts = summary.loc[parts, status].to_numpy(dtype=float)
        ax.barh(parts, counts, left=left, color=STATUS_COLOURS[status], label=status, height=0.7,
                edgecolor="white", linewidth=0.5)
        for y, (x0, w) in enumerate(zip(left, counts)):
            if w >= 0.06 * summary["total"].max():
                ax.text(x0 + w / 2, y, f"{int(w)}", ha="center", va="center", fontsize=8,
                        color="white" if status in ("reproduced", "differs") else "black")
        left += counts
    for y, total in enumerate(summary.loc[parts, "total"]):
        ax.text(total + summary["total"].max() * 0.01, y, f"{int(total)}", va="center", fontsize=8)
    ax.set_xlabel("Published numbers (each printed occurrence counted)")
    ax.set_xlim(0, summary["total"].max() * 1.08)
    ax.legend(ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, handlelength=1.2)
    if title:
        ax.set_title(title, pad=24)
    fig.tight_layout()
    return fig


def no_published_text(spec) -> str:
    """The published-versus-reproduced section of a study without ``published.yaml`` (e.g. the user's own data)."""
    return (f"There are no published numbers to compare with: the study has no `published.yaml` "
            f"(optional; see the spec format page). Every number on this page is computed from the patient table "
            f"and written to the analysis-results table (`_build/results/{spec.study_id}/`).")


def show_published_comparison(comparison: pd.DataFrame, what: str, caption_note: str = "",
                              max_rows: int = 1000) -> pd.DataFrame:
    """The "published versus reproduced" block of a chapter: the verdict line, the numbers not reproduced
    exactly (close, differing, not computed) and, folded, every compared number. Returns the displayed rows.

    ``comparison`` comes from :func:`compare_with_published`; ``what`` names the numbers
    ("survival numbers of this cohort"). The statuses and tolerance rules are those of the study's audit page.
    """
    from IPython.display import Markdown, display

    from helpers.report.display import show_table

    if comparison.empty:
        return comparison_display(comparison)
    display(Markdown(verdict_sentence(comparison)))
    shown = comparison_display(comparison)
    off = shown[shown["Status"] != "reproduced"]
    if len(off):
        show_table(off, caption=f"Published {what} this run does not reproduce exactly.", index=False,
                   max_rows=max_rows, notes="close: within the tolerance of its class (see the study's "
                   "reproduction audit page); not reproducible: not computed by this run.",
                   collapsed=f"Show the {len(off)} numbers not reproduced exactly" if len(off) > 25 else None)
    show_table(shown, caption=f"All published {what} next to the values computed from the patient table."
               + (f" {caption_note}" if caption_note else ""), index=False, max_rows=max_rows,
               collapsed=f"Show all {len(shown)} compared numbers")
    return shown


# ------------------------------------------------------------------------------------------ the chapter
class AuditChapter:
    """The reproduction audit of a study: the paper's key claims first; then every published estimate next to
    this run's, by part of the paper, with its role (calibration target, untargeted, structural), status and
    the reason it differs; and the checks of the paper's numbers against each other."""

    def __init__(self, ch):
        from helpers.analyses import consistency
        from helpers.analyses.claims import KEY, claim_rows, claims_verdict, load_claims
        from helpers.study.toc import study_pages

        self.ch, self.spec = ch, ch.spec
        if ch.published is None:
            from helpers.analyses.parameters import ChapterError

            raise ChapterError(f"{self.spec.published_file}: the audit compares with the published numbers, and this "
                               "study has no published.yaml (see book/results_table.md for its format)")
        self.real_data = not ch.synthetic_default
        self.titles = study_pages(self.spec.study_id)
        results = read_study_results(ch.results_dir, self.spec.study_id, list(self.titles))
        table = assign_roles(audit_published(results, ch.published), self.spec, self.real_data)
        self.checks = consistency.consistency_report(ch.published, self.spec.arm.codes,
                                                     consistency.study_policies(self.spec),
                                                     consistency.integer_variables(self.spec))
        self.table = _with_test_reasons(table, self.checks)
        self.estimates = estimate_rows(self.table, self.spec, ch.numbering, self.titles)
        self.verdict = audit_verdict(self.table)
        self.counts = status_counts(self.table)
        self.by_role = role_verdicts(self.table)
        statuses = {}  # the audit's status of each published number (its first occurrence), for the claims
        for r in self.table.itertuples():
            statuses.setdefault(tuple(getattr(r, k) for k in KEY), r.status)
        self.claims = claim_rows(load_claims(self.spec.published_file), ch.published, results, statuses=statuses)
        self.claims_verdict = claims_verdict(self.claims) if len(self.claims) else ""
        for (part, status), n in self.table.groupby(["part", "status"]).size().items():
            ch.results.add(cohort="all", analysis="audit", variable=part, level=status, group="all", stat="n",
                           value=int(n))
        for status, n in self.counts.items():
            ch.results.add(cohort="all", analysis="audit", variable="all", level=status, group="all", stat="n",
                           value=n)
        for (role, status), n in self.table.groupby(["role", "status"]).size().items():
            ch.results.add(cohort="all", analysis="audit", variable=role, level=status, group="role", stat="n",
                           value=int(n))
        for r in self.claims.itertuples():
            for stat in ("published_estimate", "published_p", "reproduced_estimate", "reproduced_p"):
                ch.results.add(cohort="all", analysis="claims", variable=r.id, level="", group="all", stat=stat,
                               value=getattr(r, stat))
            ch.results.add(cohort="all", analysis="claims", variable=r.id, level=r.verdict, group="all",
                           stat="verdict", value=1)
            if r.estimate_status:
                ch.results.add(cohort="all", analysis="claims", variable=r.id, level=r.estimate_status, group="all",
                               stat="estimate_status", value=1)
            if r.alternatives_run:
                for stat in ("alternatives_run", "alternatives_holding"):
                    ch.results.add(cohort="all", analysis="claims", variable=r.id, level="", group="all",
                                   stat=stat, value=int(getattr(r, stat)))

    def glue(self) -> None:
        from IPython.display import HTML

        from helpers.analyses.claims import claims_display

        compact = (claims_display(self.claims).drop(columns=["Stated in", "Robust and weighted analyses"],
                                                     errors="ignore") if len(self.claims) else None)
        claims_html = compact.to_html(index=False, border=0, classes=["book-table"]) if compact is not None \
            else "<p>The paper's key claims are not listed (claims: in published.yaml).</p>"
        self.ch.glue(verdict=self.verdict, n_published=len(self.table), n_reproduced=self.counts["reproduced"],
                     n_estimates=len(self.estimates), claims_verdict=self.claims_verdict or "no claims listed",
                     role_verdicts=self.role_text(),
                     summary_table=HTML(audit_summary(self.table).to_html(border=0, classes=["book-table"])),
                     claims_table=HTML(f"<div class='book-table-wrap wrap-cells'>{claims_html}</div>"))

    def role_text(self) -> str:
        """'untargeted (tests of the synthetic cohort): 35 of 80 reproduced, ...; calibration targets: ...'."""
        if self.real_data:
            return "; ".join(f"{r}: {v}" for r, v in self.by_role.items()).replace(
                "untargeted:", "every number is a test (real patient data, no calibration targets):")
        names = {"untargeted": "untargeted, the genuine tests of the synthetic cohort",
                 "calibration target": "calibration targets, which agree by construction when hit",
                 "structural": "structural, fixed by construction (copied counts, design settings)"}
        verdicts = dict(self.by_role)
        if "untargeted" not in verdicts:  # said, not left out: a reader looks for the genuine tests first
            verdicts = {"untargeted": "none (the reconstruction aims at every published number it can reach, so each "
                                      "is a calibration target or structural)", **verdicts}
        return "; ".join(f"{names[r]}: {v}" for r, v in verdicts.items())

    def role_list(self) -> str:
        """The verdicts by role as a list, untargeted (the genuine tests) first."""
        return "\n".join(f"- {part.strip()}" for part in self.role_text().split("; "))

    def claims_table(self):
        from helpers.analyses.claims import claims_display
        from helpers.report.display import Table

        if not len(self.claims):
            return None
        return Table("claims", claims_display(self.claims), "The paper's key claims, published and reproduced.",
                     index=False, wrap=True,
                     notes="A claim holds when the reproduced estimate is on the same side of no effect (1 for a "
                           "hazard ratio, 0 for a difference) and the reproduced p on the same side of the paper's "
                           "threshold (0.05) as the published ones. The Estimate column compares the reproduced "
                           "estimate with the published one by the audit's rules (table of tolerances below): "
                           "reproduced at the printed precision, within the tolerance of its class, or outside it."
                           + (
                           " For a claim on the propensity-matched cohort, the last column repeats the test with the "
                           "analyses a methodologist adds (survival chapter of the matched cohort and weighting "
                           "chapter): the same pairs with a cluster-robust SE (coxph cluster = subclass) and stratified "
                           "by pair, and the same propensity model's ATE, ATT and overlap weights (robust SE); ✓: the "
                           "paper's conclusion holds under that analysis, ✗: it does not."
                           if self.claims["alternatives_run"].gt(0).any() else "") + ("" if self.real_data else
                           " With the default synthetic data, a claim that holds shows the synthetic cohort carries "
                           "the paper's conclusion, not that the paper is right."))

    def synthetic_note(self) -> str:
        if not self.ch.synthetic_default:
            return ""
        return ("With the default synthetic data, agreement on a number the generator aimed at (for example a Table 1 "
                "count) shows that the reconstruction reached it, not that the paper's analysis was right; a difference "
                "shows how far the synthetic cohort is from the real one, not an error of the analysis code, which is "
                "checked against R in the test suite. Run the book on the real patient table (`patients_file`) to audit "
                "the paper itself.")

    def tolerance_table(self):
        from helpers.report.display import Table

        return Table("tolerances", tolerance_rules_table(), "Tolerance classes.", index=False, wrap=True)

    def summary_figure(self):
        from helpers.report.display import Figure

        return Figure("audit_summary", audit_figure(self.table), "Status of every published number by the part of "
                      "the paper that prints it (each printed occurrence counted).",
                      alt=f"Stacked bar chart of published numbers by part of the paper and status; {self.verdict}.")

    def summary_table(self):
        from helpers.report.display import Table

        return Table("audit_counts", audit_summary(self.table).reset_index(),
                     "Published numbers by part of the paper and status.", index=False)

    def show_parts(self) -> None:
        """Per part of the paper (its tables and figures in order): one row per estimate."""
        from helpers.report.display import Table

        for part, rows in self.estimates.groupby("part", sort=False):
            c = rows["status"].value_counts()
            numbers = self.table[self.table["part"] == part]
            self.ch.note(f"### {part}\n\n{len(rows)} estimates ({len(numbers)} printed numbers): "
                         f"{int(c.get('reproduced', 0))} reproduced, {int(c.get('close', 0))} close, "
                         f"{int(c.get('differs', 0))} differ, {int(c.get('not reproducible', 0))} not reproducible"
                         + (f"; {int((rows['conclusion'] != '').sum())} with a changed conclusion"
                            if (rows["conclusion"] != "").any() else "") + ".")
            self.ch.show(Table(f"audit.{part}", estimate_display(rows), f"{part}: published versus reproduced.",
                               index=False, escape=False, wrap=True, max_rows=2000,
                               collapsed=f"Show the {len(rows)} estimates of {part}" if len(rows) > 30 else None))

    def number_table(self):
        """Every printed number, for download (one row per number, with its role, difference and tolerance
        class). The page does not print its rows: the tables by part of the paper above show every estimate,
        and the long list would weigh more than the rest of the page."""
        from helpers.report.display import Table

        return Table("audit.numbers", audit_display(self.table, self.titles), "Every published number with its role "
                     "and status (the long list).", index=False, escape=False, wrap=True, max_rows=0)

    def show_consistency(self) -> None:
        from helpers.analyses import consistency
        from helpers.report.display import Table

        pub, spec = self.ch.published, self.spec
        checks = self.checks
        if len(checks):
            tally = checks.assign(finding=checks["verdict"] != "consistent").groupby("check")["finding"].agg(
                ["size", "sum"]).rename(columns={"size": "numbers checked", "sum": "findings"})
            self.ch.show(Table("consistency_tally", tally, "Automatic consistency checks of the published numbers."))
        noted = consistency.inconsistencies_markdown(spec, pub, None)
        self.ch.note(noted if noted else "No inconsistency found.")
        if len(checks):
            # the findings are listed above; the rows of every check are in the downloads
            self.ch.show(Table("consistency_checks", checks.drop(columns=["section"], errors="ignore"),
                               "Every automatic check with its evidence.", index=False, max_rows=0, wrap=True))

    def close(self) -> None:
        from IPython.display import Markdown, display

        from helpers.report.display import parameters_table, show_table

        self.ch.results.write(self.ch.results_dir, name="audit")
        display(Markdown("## Parameters of this run"))
        # as every chapter shows them (shown_parameters): results_dir is the build's own per-page staging copy,
        # a path that means nothing to a reader
        show_table(parameters_table(**self.ch.shown_parameters(), chapters=", ".join(self.titles)),
                   caption="Parameters of this run.", wrap=True)   # wrap: the list of chapters is long
