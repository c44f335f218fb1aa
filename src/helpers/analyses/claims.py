"""A paper's key claims (``claims:`` in ``published.yaml``) and whether each holds on the analysed data.

A claim points at a published estimate and its p-value by their results-table keys (format: the results-table
page). It **holds** when the reproduced estimate lies on the same side of ``no_effect`` (1 for a ratio, 0 for a
difference; or, for one arm's rate or median, the same key in the reference arm, each side compared with its
own) as the published one, and the reproduced p-value on the same side of the paper's threshold: the same
conclusion, whatever the numeric distance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.report.format import format_number, format_p

KEY = ["cohort", "analysis", "variable", "level", "group", "stat"]
VERDICTS = ("holds", "changed", "not computed", "not reproducible by any data")


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    where: str
    estimate: dict
    p_value: dict | None
    no_effect: float | dict
    threshold: float = 0.05
    satisfiable: bool = True
    why: str = ""
    note: str = ""


def load_claims(path: Path | str) -> list[Claim]:
    """The ``claims:`` of a ``published.yaml`` (an empty list when it has none); each is checked for its keys."""
    from helpers.study.published import safe_load_yaml

    raw = safe_load_yaml(Path(path).read_text(encoding="utf-8")) or {}
    out = []
    for i, c in enumerate(raw.get("claims") or []):
        missing = [k for k in ("id", "claim", "estimate") if k not in c]
        if missing:
            raise ValueError(f"{path}: claims[{i}]: missing {missing}")
        allowed = {"id", "claim", "where", "estimate", "p_value", "no_effect", "threshold", "satisfiable", "why",
                   "note"}
        unknown = set(c) - allowed
        if unknown:
            from helpers.study.schema import did_you_mean

            raise ValueError(f"{path}: claims[{i}] ({c['id']}): unknown key {sorted(unknown, key=str)[0]!r}"
                             f"{did_you_mean(str(sorted(unknown, key=str)[0]), sorted(allowed))}")
        estimate = {k: str(c["estimate"].get(k, "")) for k in KEY}
        p_key = c.get("p_value")
        p = {k: str(p_key.get(k, "")) for k in KEY} if p_key else {**estimate, "stat": "p_value"}
        no_effect = c.get("no_effect", 0.0 if estimate["stat"] in ("estimate", "difference") else 1.0)
        if isinstance(no_effect, dict):  # the same key with these fields changed (the reference arm)
            no_effect = {**estimate, **{k: str(v) for k, v in no_effect.items()}}
        out.append(Claim(str(c["id"]), str(c["claim"]), str(c.get("where", "")), estimate, p,
                         no_effect if isinstance(no_effect, dict) else float(no_effect),
                         float(c.get("threshold", 0.05)), bool(c.get("satisfiable", True)), str(c.get("why", "")),
                         str(c.get("note", ""))))
    return out


def _lookup(frame: pd.DataFrame, key: dict, column: str = "value") -> tuple[float, str]:
    """The first row of ``frame`` with this key: (value, relation)."""
    hit = frame
    for k in KEY:
        hit = hit[hit[k].astype(str) == key[k]]
    if hit.empty:
        return math.nan, ""
    rel = hit["relation"].iloc[0] if "relation" in hit.columns else ""
    return float(hit[column].iloc[0]), rel if isinstance(rel, str) else ""


def _null_value(claim: Claim, frame: pd.DataFrame) -> float:
    """The value of no effect: a number, or the reference arm's number in ``frame`` (published or reproduced)."""
    if isinstance(claim.no_effect, dict):
        return _lookup(frame, claim.no_effect)[0]
    return claim.no_effect


def _side(x: float, null: float) -> int:
    return 0 if not math.isfinite(x) else (1 if x > null else -1 if x < null else 0)


def claim_rows(claims: list[Claim], published: pd.DataFrame, results: pd.DataFrame, decimals: int = 2,
               statuses: dict | None = None) -> pd.DataFrame:
    """One row per claim: the published and the reproduced estimate and p, and the verdict.

    ``statuses``: the audit's status (reproduced, close, differs) of each published number, by its key (the
    :data:`KEY` fields in order); a claim's ``estimate_status`` is its estimate's ("" when not given).
    """
    rows = []
    statuses = statuses or {}
    for c in claims:
        pub_est, pub_rel = _lookup(published, c.estimate)
        pub_p, pub_p_rel = _lookup(published, c.p_value) if c.p_value else (math.nan, "")
        res_est, _ = _lookup(results, c.estimate)
        res_p, _ = _lookup(results, c.p_value) if c.p_value else (math.nan, "")
        null = _null_value(c, published)
        res_null = _null_value(c, results)
        if not c.satisfiable:
            verdict = VERDICTS[3]
        elif not math.isfinite(res_est) and not math.isfinite(res_p):
            verdict = VERDICTS[2]
        else:
            same_side = _side(pub_est, null) == _side(res_est, res_null) if math.isfinite(pub_est) else True
            # a p printed as "< 0.001" is below the threshold; otherwise compare the value
            pub_sig = None if not math.isfinite(pub_p) else (
                pub_p <= c.threshold if pub_p_rel in ("<", "<=") else pub_p < c.threshold)
            res_sig = res_p < c.threshold if math.isfinite(res_p) else None
            same_sig = pub_sig == res_sig if pub_sig is not None and res_sig is not None else True
            verdict = VERDICTS[0] if same_side and same_sig else VERDICTS[1]
        alternatives = alternative_rows(c, published, results)
        rows.append({"id": c.id, "claim": c.claim, "where": c.where,
                     "published_estimate": pub_est, "published_p": pub_p, "published_p_relation": pub_p_rel,
                     "reproduced_estimate": res_est, "reproduced_p": res_p, "threshold": c.threshold,
                     "no_effect": null, "reproduced_no_effect": res_null, "verdict": verdict,
                     "estimate_status": statuses.get(tuple(c.estimate[k] for k in KEY), ""), "why": c.why,
                     "note": c.note, "alternatives": alternatives_text(alternatives, decimals),
                     "alternatives_holding": sum(a["verdict"] == VERDICTS[0] for a in alternatives),
                     "alternatives_run": len(alternatives)})
    return pd.DataFrame(rows)


#: The analyses a methodologist adds to a claim that rests on the matched cohort's naive Cox model: the same
#: matched pairs with a cluster-robust SE and stratified by pair, and the propensity weights of the same model.
MATCHED_ALTERNATIVES = (
    ("robust SE", "matched", "matched_cox", "robust"),
    ("pair-stratified", "matched", "matched_cox", "stratified"),
    ("ATE weights", "primary", "weighted_cox", "ATE"),
    ("ATT weights", "primary", "weighted_cox", "ATT"),
    ("overlap weights", "primary", "weighted_cox", "ATO"),
)


def alternative_rows(claim: Claim, published: pd.DataFrame, results: pd.DataFrame) -> list[dict]:
    """For a claim on the matched cohort's treatment hazard ratio: whether each alternative analysis of
    :data:`MATCHED_ALTERNATIVES` found in ``results`` reaches the published conclusion (same side of 1, same side of
    the threshold). Empty for any other claim, or when none of them was run."""
    est = claim.estimate
    if est["cohort"] != "matched" or est["variable"] != "arm" or est["stat"] != "hr" \
            or not est["analysis"].startswith("cox_univariate."):
        return []
    endpoint = est["analysis"].split(".", 1)[1]
    pub_est, _ = _lookup(published, est)
    pub_p, pub_rel = _lookup(published, claim.p_value) if claim.p_value else (math.nan, "")
    pub_sig = None if not math.isfinite(pub_p) else (pub_p <= claim.threshold if pub_rel in ("<", "<=")
                                                      else pub_p < claim.threshold)
    rows = []
    for label, cohort, analysis, group in MATCHED_ALTERNATIVES:
        key = {**est, "cohort": cohort, "analysis": f"{analysis}.{endpoint}", "group": group}
        hr, _ = _lookup(results, key)
        p, _ = _lookup(results, {**key, "stat": "p_value"})
        if not math.isfinite(hr):
            continue
        same_side = not math.isfinite(pub_est) or _side(pub_est, 1.0) == _side(hr, 1.0)
        same_sig = pub_sig is None or not math.isfinite(p) or pub_sig == (p < claim.threshold)
        rows.append({"id": claim.id, "analysis": label, "hr": hr, "p_value": p,
                     "verdict": VERDICTS[0] if same_side and same_sig else VERDICTS[1]})
    return rows


def alternatives_text(rows: list[dict], decimals: int = 2) -> str:
    """'robust SE: 0.30, p = 0.003 ✓; pair-stratified: 0.40, p = 0.058 ✗; ...' (✓ the paper's conclusion holds)."""
    return "; ".join(f"{r['analysis']}: {format_number(r['hr'], decimals, '')}, {_p_shown(r['p_value'])} "
                     f"{'✓' if r['verdict'] == VERDICTS[0] else '✗'}" for r in rows)


def _p_shown(p: float, relation: str = "") -> str:
    if not math.isfinite(p):
        return ""
    return f"p {relation} {p:g}" if relation in ("<", "<=") else f"p = {format_p(p)}" if format_p(p)[0] != "<" \
        else f"p < {format_p(p)[1:]}"


#: How the audit's status of a claim's estimate reads in the key-claims table.
ESTIMATE_SHOWN = {"reproduced": "✓ reproduced", "close": "✓ within tolerance", "differs": "✗ outside tolerance",
                  "not reproducible": "not reproducible by any data"}


def claims_display(rows: pd.DataFrame, decimals: int = 2) -> pd.DataFrame:
    """The key-claims table for a reader: claim, published, reproduced, conclusion."""
    out = []
    for r in rows.itertuples():
        pub = ", ".join(x for x in (format_number(r.published_estimate, decimals, ""),
                                    _p_shown(r.published_p, r.published_p_relation)) if x)
        res = ", ".join(x for x in (format_number(r.reproduced_estimate, decimals, ""), _p_shown(r.reproduced_p))
                        if x)
        verdict = {"holds": "✓ holds", "changed": "✗ changed"}.get(r.verdict, r.verdict)
        if r.why:
            verdict += f" ({r.why})"
        status = getattr(r, "estimate_status", "")
        out.append({"Claim": r.claim, "Stated in": r.where, "Published": pub, "Reproduced": res or "not computed",
                    "Estimate": ESTIMATE_SHOWN.get(status, status), "Conclusion": verdict,
                    "Robust and weighted analyses": getattr(r, "alternatives", "")})
    columns = ["Claim", "Stated in", "Published", "Reproduced", "Estimate", "Conclusion",
               "Robust and weighted analyses"]
    table = pd.DataFrame(out, columns=columns)
    if not table["Estimate"].astype(bool).any():
        table = table.drop(columns="Estimate")  # no audit statuses given
    if not table["Robust and weighted analyses"].astype(bool).any():
        table = table.drop(columns="Robust and weighted analyses")  # no claim rests on a matched analysis
    return table


def claims_verdict(rows: pd.DataFrame) -> str:
    """'9 of 12 key claims hold their conclusion on this data; 2 change; 1 cannot be reproduced by any data.'"""
    counts = rows["verdict"].value_counts()
    checkable = len(rows) - int(counts.get(VERDICTS[3], 0))
    parts = [f"{int(counts.get('holds', 0))} of {checkable} key claims hold their conclusion on this data"]
    if counts.get("changed", 0):
        parts.append(f"{int(counts['changed'])} change")
    if counts.get(VERDICTS[2], 0):
        parts.append(f"{int(counts[VERDICTS[2]])} not computed")
    if counts.get(VERDICTS[3], 0):
        parts.append(f"{int(counts[VERDICTS[3]])} cannot be reproduced by any data")
    if "estimate_status" in rows and rows["estimate_status"].astype(bool).any():
        judged = rows[(rows["verdict"] != VERDICTS[3]) & rows["estimate_status"].astype(bool)]
        within = int(judged["estimate_status"].isin(["reproduced", "close"]).sum())
        parts.append(f"{within} of {len(judged)} estimates are within the audit's tolerance of the paper's")
    return "; ".join(parts) + "."
