"""Best overall response and adverse-event columns of the synthetic patient tables.

Called by :func:`helpers.reconstruct.reconstruct` after the survival columns exist; it only appends columns
(baseline and survival columns are never changed) and uses its own seeded random streams, so the earlier
columns stay byte-identical.

* **Best response** (``response`` section of ``study.yaml``; targets ``analysis: best_response``): per arm, the
  published counts of each category (CR/PR/SD/PD, PD being the remainder of the arm when only CR/PR/SD are
  printed).  Patients of an arm are ranked by a noisy PFS score (log PFS time plus seeded normal noise) and
  the categories are handed out best-first down that ranking, so responders tend to have the longer PFS and
  PD patients the shorter.  When two criteria are published (RECIST 1.1 and mRECIST) both use the *same*
  ranking (a comonotone coupling): since mRECIST's cumulative counts dominate RECIST 1.1's in every arm,
  every patient's mRECIST category is then at least as good as their RECIST 1.1 category.
* **Adverse events** (``adverse_events`` section; targets ``analysis: adverse_events``): one integer column
  ``ae_<term>`` per Table 4 term, the worst CTCAE grade (0 = none).  Per arm, the any-grade (grade >= 1) and
  grade 3-4 counts of every term are met exactly, and so are the ``overall`` rows (patients with any AE;
  patients with any grade 3-4 AE), which constrain co-occurrence.  Construction: pick the patients with any
  grade 3-4 AE (``S3``) and those with any AE (``S1`` ⊇ ``S3``); give every ``S3`` patient one severe event of
  some term with severe capacity left, then fill the remaining severe slots inside ``S3``; give every not yet
  covered ``S1`` patient one non-severe event, then fill the remaining non-severe slots inside ``S1``.  This is
  feasible whenever each term's grade 3-4 count is at most |S3|, the severe slots total at least |S3|, the
  any-grade count of each term is at most |S1| and all slots total at least |S1| (checked; an error is
  raised otherwise).  Severe events get grade 3 or 4, the others grade 1 or 2.
  ``treatment_related_death`` (0, stated in words) is derived: no column carries grade 5.

Every published count, percentage and p-value of these sections is recorded in the reconstruction report; the
p-values are consequences of the counts under the study's test policy (Fisher's exact test when an expected
count is below 5, else Yates' chi-square), and the report says whether each prints as published.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from helpers.stats import hypothesis_tests as ht

CATEGORIES = ("CR", "PR", "SD", "PD")
COMPOSITES = {"ORR": ("CR", "PR"), "DCR": ("CR", "PR", "SD")}
SEED_OFFSET_RESPONSE = 300
SEED_OFFSET_AE = 400


def _first_occurrences(published: pd.DataFrame, analysis: str) -> pd.DataFrame:
    pub = published[(published["analysis"] == analysis) & (published["cohort"] == "primary")].copy()
    pub["relation"] = pub["relation"].fillna("") if "relation" in pub else ""
    return pub.drop_duplicates(["cohort", "analysis", "variable", "level", "group", "stat"], keep="first")


def _count(pub: pd.DataFrame, variable: str, level: str, group: str) -> int | None:
    rows = pub[(pub.variable == variable) & (pub.level == level) & (pub.group == group) & (pub.stat == "n")]
    return int(rows["value"].iloc[0]) if len(rows) else None


def _p(k_ref: int, n_ref: int, k_exp: int, n_exp: int, policy: str) -> float:
    if k_ref + k_exp == 0 or k_ref + k_exp == n_ref + n_exp:
        return math.nan  # no events (or all) in both arms: printed NA
    table = np.array([[k_ref, n_ref - k_ref], [k_exp, n_exp - k_exp]])
    return float(ht.categorical_p_value(table, policy)[0])


def _achieved(stat: str, group: str, k: dict, n: dict, ref: str, exp: str, policy: str) -> float | None:
    """The reconstructed value of a published count, percentage or p-value (None for other statistics)."""
    if stat == "n":
        return float(k[group])
    if stat == "pct":
        return 100.0 * k[group] / n[group]
    if stat == "p_value":
        return _p(k[ref], n[ref], k[exp], n[exp], policy)
    return None


def _row(r, achieved: float) -> dict:
    target = float(r.value) if r.value is not None and not pd.isna(r.value) else math.nan
    decimals = {"n": 0, "pct": 1}.get(r.stat, 3)
    if math.isnan(target):
        hit = bool(math.isnan(achieved))
    elif not np.isfinite(achieved):
        hit = False
    elif r.relation == "<":
        hit = bool(achieved < target)
    elif r.relation == ">":
        hit = bool(achieved > target)
    else:
        hit = bool(round(achieved, decimals) == round(target, decimals))
    return dict(cohort=r.cohort, analysis=r.analysis, variable=r.variable, level=r.level, group=r.group,
                stat=r.stat, relation=r.relation, target=target,
                achieved=round(achieved, 6) if np.isfinite(achieved) else math.nan, hit=hit)


# ---------------------------------------------------------------------------------------------- best response
def response_counts(pub: pd.DataFrame, criterion: str, arm: str, n_arm: int) -> dict[str, int]:
    """Published counts of CR/PR/SD/PD for one arm (PD = remainder when not printed)."""
    counts = {}
    for c in CATEGORIES:
        k = _count(pub, criterion, c, arm)
        if k is not None:
            counts[c] = k
    missing = [c for c in CATEGORIES if c not in counts]
    if len(missing) > 1:
        raise ValueError(f"{criterion}/{arm}: more than one response category unpublished: {missing}")
    if missing:
        counts[missing[0]] = n_arm - sum(counts.values())
    if sum(counts.values()) != n_arm or min(counts.values()) < 0:
        raise ValueError(f"{criterion}/{arm}: counts {counts} do not add up to the arm size {n_arm}")
    for comp, parts in COMPOSITES.items():
        k = _count(pub, criterion, comp, arm)
        if k is not None and k != sum(counts[p] for p in parts):
            raise ValueError(f"{criterion}/{arm}: published {comp} {k} disagrees with the category counts")
    return counts


def add_best_response(spec, assumptions: dict, published: pd.DataFrame, df: pd.DataFrame, criteria: list[str],
                      pfs_time: str) -> tuple[pd.DataFrame, list[dict]]:
    pub = _first_occurrences(published, "best_response")
    arm_col = spec.arm.column
    ref, exp = spec.arm.codes
    conf = assumptions.get("response") or {}
    noise = float(conf.get("pfs_noise_sd", 0.35))
    rng = np.random.default_rng([int(assumptions["seed"]), SEED_OFFSET_RESPONSE])
    score = np.log(np.maximum(pd.to_numeric(df[pfs_time]).to_numpy(float), 0.05)) + rng.normal(0, noise, len(df))
    out = df.copy()
    columns = {c: np.empty(len(df), dtype=object) for c in criteria}
    counts = {}
    for arm in spec.arm.codes:
        idx = np.flatnonzero(df[arm_col].to_numpy() == arm)
        order = idx[np.argsort(-score[idx], kind="stable")]  # best score first
        for c in criteria:
            counts[c, arm] = response_counts(pub, c, arm, len(idx))
            labels = [cat for cat in CATEGORIES for _ in range(counts[c, arm][cat])]
            columns[c][order] = labels
    # consistency: the second criterion (mRECIST) at least as good as the first (RECIST 1.1) for every patient
    if len(criteria) == 2:
        rank = {c: i for i, c in enumerate(CATEGORIES)}
        a, b = (np.array([rank[x] for x in columns[c]]) for c in criteria)
        if (b > a).any():
            raise ValueError(f"{criteria[1]} worse than {criteria[0]} for some patients: cumulative counts do not nest")
    for c in criteria:
        out[f"{c}_best"] = columns[c]
    rows = []
    n = {arm: int((df[arm_col] == arm).sum()) for arm in spec.arm.codes}
    policy = spec.response.test
    for r in pub.itertuples():
        col = columns.get(r.variable)
        if col is None:
            continue
        cats = COMPOSITES.get(r.level, (r.level,))
        k = {arm: int(np.isin(col[df[arm_col].to_numpy() == arm], cats).sum()) for arm in spec.arm.codes}
        achieved = _achieved(r.stat, r.group, k, n, ref, exp, policy)
        if achieved is not None:
            rows.append(_row(r, achieved))
    return out, rows


# --------------------------------------------------------------------------------------------- adverse events
def ae_terms(published: pd.DataFrame) -> list[str]:
    pub = _first_occurrences(published, "adverse_events")
    # Table 4's row order: the count rows (text-quoted percentages are grouped first in published.yaml)
    pub = published[(published["analysis"] == "adverse_events") & (published["stat"] == "n")
                    & (published["level"] == "any_grade")]
    terms = []
    for v in pub["variable"]:
        if v not in ("overall", "treatment_related_death") and v not in terms:
            terms.append(v)
    return terms


def _allocate(members: np.ndarray, capacity: dict[str, int], taken: dict[str, set], rng: np.random.Generator,
              fill: np.ndarray | None = None, who: str = "adverse events") -> dict[str, set]:
    """Give every patient of ``members`` at least one slot, then use up every term's ``capacity`` inside ``fill``
    (default: ``members``).

    ``taken[t]`` are patients that already have term ``t`` (excluded from new slots of ``t``).  Terms with the
    most capacity left are used first for coverage, so no term is starved of eligible patients.
    """
    fill = members if fill is None else fill
    cap = dict(capacity)
    new: dict[str, set] = {t: set() for t in cap}
    for p in rng.permutation(members):
        terms = [t for t in cap if cap[t] > 0 and p not in taken[t]]
        if not terms:
            raise ValueError(f"{who}: not enough events to give every patient one")
        weights = np.array([cap[t] for t in terms], dtype=float)
        t = terms[int(rng.choice(len(terms), p=weights / weights.sum()))]
        new[t].add(int(p))
        cap[t] -= 1
    for t in cap:
        if cap[t] <= 0:
            continue
        free = [int(p) for p in fill if int(p) not in taken[t] and int(p) not in new[t]]
        if len(free) < cap[t]:
            raise ValueError(f"{who}: term {t} needs {cap[t]} more patients, {len(free)} eligible")
        new[t] |= set(int(p) for p in rng.choice(free, size=cap[t], replace=False))
    return new


def add_adverse_events(spec, assumptions: dict, published: pd.DataFrame, df: pd.DataFrame
                       ) -> tuple[pd.DataFrame, list[dict]]:
    pub = _first_occurrences(published, "adverse_events")
    terms = ae_terms(published)
    arm_col = spec.arm.column
    ref, exp = spec.arm.codes
    conf = assumptions.get("adverse_events") or {}
    p_grade4 = float(conf.get("p_grade4_given_severe", 0.15))
    p_grade2 = float(conf.get("p_grade2_given_mild", 0.35))
    grades = {t: np.zeros(len(df), dtype=int) for t in terms}
    for j, arm in enumerate(spec.arm.codes):
        rng = np.random.default_rng([int(assumptions["seed"]), SEED_OFFSET_AE, j])
        idx = np.flatnonzero(df[arm_col].to_numpy() == arm)
        any_n = {t: _count(pub, t, "any_grade", arm) or 0 for t in terms}
        sev_n = {t: _count(pub, t, "grade_3_4", arm) or 0 for t in terms}
        n_any = _count(pub, "overall", "any_grade", arm)
        n_sev = _count(pub, "overall", "grade_3_4", arm)
        n_any = len(idx) if n_any is None else n_any
        if n_sev is None:
            raise ValueError(f"{arm}: the overall grade 3-4 count is not published")
        # feasibility
        if max(sev_n.values()) > n_sev or (n_sev > 0 and sum(sev_n.values()) < n_sev):
            raise ValueError(f"{arm}: grade 3-4 counts {sev_n} cannot make {n_sev} patients")
        if max(any_n.values()) > n_any or sum(any_n.values()) < n_any or n_sev > n_any:
            raise ValueError(f"{arm}: any-grade counts cannot make {n_any} patients")
        perm = rng.permutation(idx)
        s_any = perm[:n_any]
        s_sev = rng.permutation(s_any)[:n_sev]
        severe = _allocate(s_sev, sev_n, {t: set() for t in terms}, rng)
        # patients of S3 already have an event; the non-severe coverage step only needs the rest of S1
        mild_cap = {t: any_n[t] - sev_n[t] for t in terms}
        covered = set(int(p) for p in s_sev)
        rest = np.array([p for p in s_any if int(p) not in covered], dtype=int)
        # cover the rest of S1 first, then fill remaining mild slots anywhere in S1 (not where severe already)
        mild = _allocate(rest, mild_cap, severe, rng, fill=s_any, who=f"{arm} (any grade)")
        for t in terms:
            for p in sorted(severe[t]):
                grades[t][p] = 4 if rng.random() < p_grade4 else 3
            for p in sorted(mild[t]):
                grades[t][p] = 2 if rng.random() < p_grade2 else 1
    out = df.copy()
    for t in terms:
        out[f"ae_{t}"] = grades[t]
    # report
    policy = spec.adverse_events.test
    arms = df[arm_col].to_numpy()
    n = {arm: int((arms == arm).sum()) for arm in spec.arm.codes}
    matrix = np.column_stack([grades[t] for t in terms])
    rows = []
    for r in pub.itertuples():
        if r.variable == "treatment_related_death":
            rows.append(_row(r, float((matrix >= 5).any(axis=1).sum())))
            continue
        g = matrix.max(axis=1) if r.variable == "overall" else grades.get(r.variable)
        if g is None:
            continue
        hit_mask = g >= (3 if r.level == "grade_3_4" else 1)
        k = {arm: int(hit_mask[arms == arm].sum()) for arm in spec.arm.codes}
        achieved = _achieved(r.stat, r.group, k, n, ref, exp, policy)
        if achieved is not None:
            rows.append(_row(r, achieved))
    return out, rows


# ------------------------------------------------------------------------------------------------- entry point
def add_response_and_safety(spec, assumptions: dict, published: pd.DataFrame, df: pd.DataFrame
                            ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Append best-response and adverse-event columns when the paper publishes them; return the report rows."""
    rows: list[dict] = []
    criteria = [c for c in ("recist11", "mrecist")
                if ((published["analysis"] == "best_response") & (published["variable"] == c)).any()]
    if criteria:
        pfs = spec.survival.endpoints["pfs"].time
        df, r = add_best_response(spec, assumptions, published, df, criteria, pfs)
        rows += r
    if ((published["analysis"] == "adverse_events") & (published["variable"] != "treatment_related_death")).any():
        df, r = add_adverse_events(spec, assumptions, published, df)
        rows += r
    return df, (pd.DataFrame(rows) if rows else None)
