"""Every table and figure a study's pages show, in page order, and the number each one carries.

A display is known by its key (``table1``, ``km.primary``, ``cox.pfs``). The study spec's ``paper_numbers``
says which of the paper's tables and figures a display reproduces; it then carries the paper's number ("Table
2", "Figure 4A", "Table S3"). Every other display is numbered as the book's own, in page order: "Table S5",
"Figure S1" (the supplementary numbers continue after the highest the paper uses), or, for a study without a
paper's numbering (a user's own data), simply "Table 1", "Table 2", ... So no number is used twice in a study.

Auxiliary tables (the parameters of a run, the published-versus-reproduced lists) are not numbered.
"""
from __future__ import annotations

import re

from helpers.study.spec import StudySpec
from helpers.study.toc import page_notebook

KINDS = {"table": "Table", "figure": "Figure"}


def _per_endpoint(spec: StudySpec, prefix: str, endpoints) -> bool:
    """Whether the paper shows ``prefix`` once per endpoint (``km.primary.os``) rather than as one display."""
    return any(f"{prefix}.{ep}" in spec.paper_numbers for ep in endpoints)


def km_keys(spec: StudySpec, cohort: str) -> list[str]:
    """One Kaplan-Meier figure with a panel per endpoint, or one figure per endpoint when the paper has that."""
    endpoints = list(spec.survival.endpoints)
    if _per_endpoint(spec, f"km.{cohort}", endpoints):
        return [f"km.{cohort}.{ep}" for ep in endpoints]
    return [f"km.{cohort}"]


def cox_keys(spec: StudySpec) -> list[str]:
    """One Cox table for every endpoint (the paper's Table 2 style), or one per endpoint when the paper has
    that (``cox.os: Table 3``)."""
    endpoints = list(spec.survival.cox.endpoints)
    if not endpoints:
        return []
    return [f"cox.{ep}" for ep in endpoints] if _per_endpoint(spec, "cox", endpoints) else ["cox"]


def page_displays(spec: StudySpec, page: str) -> list[tuple[str, str]]:
    """``(key, kind)`` of every numbered display the page can show for this spec, in the page's order."""
    notebook, own = page_notebook(page)
    cohort = own.get("cohort", "primary")
    out: list[tuple[str, str]] = []
    if notebook == "cohorts":
        out += [("flow", "figure"), ("table1", "table")]
        if spec.matching is not None:
            out += [("love", "figure"), ("ps_overlap", "figure")]
        out += [("balance", "table")]
    elif notebook == "survival" and spec.survival is not None:
        surv = spec.survival
        out += [(k, "figure") for k in km_keys(spec, cohort)]
        out += [(f"medians.{cohort}", "table")]
        if surv.landmarks:
            out += [(f"landmarks.{cohort}", "table")]
        if cohort == "primary":
            out += [(k, "table") for k in cox_keys(spec)]
            if spec.missing.impute:
                out += [(f"cox_mi.{ep}", "table") for ep in surv.cox.endpoints]
            out += [(f"ph.{ep}", "table") for ep in surv.cox.endpoints]
            out += [(f"zph.{ep}", "figure") for ep in surv.cox.endpoints] + [("piecewise", "table")]
        if cohort == "matched":
            out += [(f"matched_variance.{cohort}", "table")]
        out += [(f"evalues.{cohort}", "table")]
        out += [(f"followup.{cohort}", "table")]
        if surv.rmst_endpoints:
            out += [(f"rmst.{cohort}", "table"), (f"rmst_regression.{cohort}", "table")]
    elif notebook == "response" and spec.response is not None:
        out += [("best_response", "table"), ("response_bars", "figure"), ("response_rates", "table")]
        if len(spec.response.criteria) >= 2:
            out += [("agreement", "table")]
    elif notebook == "safety" and spec.adverse_events is not None:
        out += [("adverse_events", "table"), ("ae_butterfly", "figure")]
    elif notebook == "subgroups" and spec.subgroups is not None:
        out += [(f"forest.{ep}", "figure") for ep in spec.subgroups.endpoints]
        out += [(f"subgroups.{ep}", "table") for ep in spec.subgroups.endpoints]
    elif notebook == "competing" and spec.survival is not None:
        out += [(f"cif.{cid}", "figure") for cid in spec.survival.competing_risks]
        out += [("cif_vs_km", "table"), ("competing_hr", "table")]
    elif notebook == "weighting" and spec.survival is not None:
        out += [("weights", "figure"), ("ps_weighted", "figure"), ("weighted_balance", "table"),
                ("love_weighted", "figure")]
        estimands = spec.weighting.estimands if spec.weighting else ("ATE", "ATT", "ATO")
        out += [(f"km_weighted.{e}", "figure") for e in estimands]
        out += [("adjustments", "table"), ("evalues.weighted", "table")]
    elif notebook == "sensitivity" and spec.survival is not None and spec.matching is not None:
        endpoints = spec.survival.cox.endpoints or tuple(spec.survival.endpoints)
        out += [("sensitivity_forest", "figure")] + [(f"sensitivity.{ep}", "table") for ep in endpoints]
    return out


def study_numbering(spec: StudySpec, pages) -> dict[str, str]:
    """Display key -> its number in the study ("Table 2", "Figure S1"), over the study's ``pages`` in order."""
    mapped = dict(spec.paper_numbers)
    supplementary = bool(mapped)
    counters = {}
    for kind, word in KINDS.items():
        used = [int(m.group(1)) for label in mapped.values()
                if (m := re.fullmatch(rf"{word} S(\d+)[A-Z]?", label))]
        counters[kind] = max(used, default=0)
    labels: dict[str, str] = {}
    for page in pages:
        for key, kind in page_displays(spec, page):
            if key in labels:
                continue
            if key in mapped:
                labels[key] = mapped[key]
            else:
                counters[kind] += 1
                labels[key] = f"{KINDS[kind]} {'S' if supplementary else ''}{counters[kind]}"
    return labels


def unknown_paper_numbers(spec: StudySpec, pages) -> list[str]:
    """Problems with ``paper_numbers``: keys that no page of the study shows (with the nearest key)."""
    from helpers.study.schema import did_you_mean

    known = [key for page in pages for key, _ in page_displays(spec, page)]
    for page in pages:  # the alternative layouts are known keys too
        notebook, own = page_notebook(page)
        if notebook == "survival" and spec.survival is not None:
            cohort = own.get("cohort", "primary")
            known += [f"km.{cohort}", *[f"km.{cohort}.{ep}" for ep in spec.survival.endpoints]]
            if cohort == "primary":
                known += ["cox", *[f"cox.{ep}" for ep in spec.survival.cox.endpoints]]
    return [f"paper_numbers.{key}: no page of study '{spec.study_id}' shows a display '{key}'"
            f"{did_you_mean(key, sorted(set(known)))}" for key in spec.paper_numbers if key not in known]
