"""What every chapter does before and after its analyses, written once.

A notebook opens its chapter with :func:`open_chapter` (the study's spec and patient table, checked; the
parameters, checked and resolved; the cohort of this run; the results table; the paper's numbers; the numbers
of the study's tables and figures), shows its displays with :meth:`Chapter.show`, and ends with
:meth:`Chapter.close` (the published-versus-reproduced block, the warnings, the results written, the
parameters of the run).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from helpers.analyses import audit, cohorts, consistency
from helpers.analyses import parameters as params_mod
from helpers.analyses.catalogue import study_numbering
from helpers.analyses.parameters import ChapterError
from helpers.analyses.validation import data_problems
from helpers.report import figures
from helpers.report.display import (SYNTHETIC_MARK, parameters_table, reconstruction_summary, set_figure_mark, show,
                                    show_table, synthetic_notice)
from helpers.report.format import plural, set_hr_decimals
from helpers.study import published
from helpers.study.patients import load_patients
from helpers.study.results import ResultsTable
from helpers.study.spec import StudySpec, load_spec
from helpers.study.toc import study_pages

#: What a chapter needs of the spec, and the message when it is not there.
NEEDS = {
    "survival": ("survival", "has no survival section in its spec"),
    "subgroups": ("survival", "has no survival section in its spec; subgroups need endpoints"),
    "sensitivity": ("matching", "has no matching section in its spec; there is no matched analysis to vary"),
    "response": ("response", "has no response section in its spec"),
    "safety": ("adverse_events", "has no adverse_events section in its spec"),
    "weighting": ("survival", "has no survival section in its spec; the weighting chapter compares endpoints"),
    "competing": ("survival", "has no survival section in its spec"),
}

MATCHED_COHORT_FILE = "matched_cohort.json"


@dataclass
class Chapter:
    """One page of one study, as the notebook runs it."""

    section: str
    page: str
    spec: StudySpec
    data: pd.DataFrame            # the analysed cohort (the matched one on a matched page)
    all_patients: pd.DataFrame    # the whole patient table
    params: dict                  # every parameter of the page, resolved (spec defaults filled in)
    given: dict                   # the parameters as the notebook received them
    results: ResultsTable
    published: pd.DataFrame | None
    numbering: dict[str, str]
    results_dir: str
    patients_file: str | None = None
    matched: cohorts.MatchedCohort | None = None   # when this chapter matched (the cohorts chapter)
    matched_sets: pd.DataFrame | None = None       # matched patients' subclass and weight, by id
    matched_data: pd.DataFrame | None = None       # the matched patients' rows
    matched_from: str = ""
    pages: dict[str, str] = field(default_factory=dict)   # the study's pages in TOC order, with their titles
    warnings: list[str] = field(default_factory=list)

    @property
    def cohort(self) -> str:
        return self.params.get("cohort", "primary")

    @property
    def synthetic_default(self) -> bool:
        """The study's synthetic table, not a user's: reconstruction notes apply."""
        return self.spec.synthetic and not self.patients_file

    # ----------------------------------------------------------------------------------------- display
    def header(self) -> None:
        """The first lines of the page: what is analysed (study, cohort, n per arm), the paper, the data notice."""
        spec = self.spec
        n = self.data[spec.arm.column].value_counts()
        arms = ", ".join(f"{spec.arm.labels[c]} {int(n.get(c, 0))}" for c in spec.arm.codes)
        who = (f"all {len(self.data)} patients" if self.cohort == "primary" else
               f"the propensity-matched cohort, {plural(len(self.data), 'patient')}" if self.cohort == "matched"
               else f"the {self.cohort} cohort, {plural(len(self.data), 'patient')}")
        lines = [f"**{spec.short_title}**: {who} ({arms})."]
        if self.cohort == "matched" and self.matched_from:
            lines[0] += f" {self.matched_from}"
        if spec.citation is not None:
            link = spec.citation.link
            lines.append(f"Reproduces: {spec.citation.text()}" + (f" [{link}]({link})" if link else ""))
        elif spec.paper:
            lines.append(spec.paper)
        display(Markdown("\n\n".join(lines)))
        display(Markdown(synthetic_notice(spec, self.patients_file)))

    def label(self, key: str) -> str | None:
        """The number of display ``key`` in the study ("Table 2"), None for an auxiliary display."""
        return self.numbering.get(key)

    def show(self, item) -> None:
        """Show a :class:`~helpers.report.display.Table` or ``Figure`` (or a list) with its number."""
        for one in item if isinstance(item, (list, tuple)) else [item]:
            if one is not None:
                show(one, self.label(one.key))

    def note(self, text: str) -> None:
        if text:
            display(Markdown(text))

    def glue(self, **values) -> None:
        """Glue values for the prose (``{glue:text}`name```); NumPy numbers become Python numbers."""
        from myst_nb import glue

        for name, value in values.items():
            glue(name, value.item() if hasattr(value, "item") else value, display=False)

    def paper_statement(self, key: str) -> str:
        """A statement of the paper in its words (``statements:`` of ``published.yaml``), or ""."""
        if self.published is None or not self.spec.published_file.exists():
            return ""
        from helpers.study.published import safe_load_yaml

        raw = safe_load_yaml(self.spec.published_file.read_text(encoding="utf-8")) or {}
        return str((raw.get("statements") or {}).get(key, ""))

    def warn(self, messages) -> None:
        self.warnings += [m for m in messages if m]

    # -------------------------------------------------------------------------------------------- close
    def close(self, sections: tuple[str, ...] | None = None, caption_note: str = "", name: str | None = None,
              extra=None) -> pd.DataFrame:
        """End the page: published versus reproduced for this page's numbers, where the paper disagrees with
        itself, how the synthetic cohort was made, the warnings, and the results written. Returns the
        comparison (empty without ``published.yaml``). ``extra(comparison)`` adds page-specific notes."""
        frame = self.results.frame()
        comparison = pd.DataFrame()
        sections = sections or (self.section,)
        pub = self.published
        if pub is not None:
            pub = pub[pub["section"].isin(sections)]
            if self.section == "survival":
                pub = pub[pub["cohort"] == self.cohort]
        if pub is None or len(pub):
            display(Markdown("## Published versus reproduced"))
        if pub is not None and len(pub):
            comparison = audit.compare_with_published(frame, pub, include_missing=self.section != "cohorts")
            if len(comparison):
                audit.show_published_comparison(comparison, _WHAT.get(self.section, "numbers"), caption_note)
            if extra is not None:
                extra(comparison)
            for section in sections:
                noted = consistency.inconsistencies_markdown(self.spec, self.published, section)
                if noted:
                    self.note(f"**Where the paper disagrees with itself** ({_WHAT.get(section, section)}):\n\n"
                              + noted)
        elif pub is None:
            self.note(audit.no_published_text(self.spec))
        if self.synthetic_default:
            part = {"cohorts": "baseline", "survival": "survival", "response": "response",
                    "safety": "safety"}.get(self.section)
            if part:
                self.note(reconstruction_summary(self.spec, part=part))
        if self.warnings:
            self.note(":::{warning}\n" + "\n".join(f"- {w}" for w in dict.fromkeys(self.warnings)) + "\n:::")
        self.results.write(self.results_dir, name=name or (self.section if self.section != "survival"
                                                           else f"survival_{self.cohort}"))
        display(Markdown("## Parameters of this run"))
        show_table(parameters_table(**self.shown_parameters()), caption="Parameters of this run.")
        return comparison

    def shown_parameters(self) -> dict:
        """The parameters of the run as the parameters table shows them: resolved values; the matching
        settings only where a matched cohort is analysed."""
        out = {}
        for name, value in self.params.items():
            if name == "results_dir" or (name.startswith("match_") and self.cohort != "matched"
                                         and self.section != "cohorts"):
                continue
            if name in ("patients_file",) and value is None:
                value = "(the study's own table)"
            out[name] = "none" if value is None else value
        return out


_WHAT = {"cohorts": "baseline and cohort numbers", "survival": "survival numbers of this cohort",
         "response": "response numbers", "safety": "adverse-event numbers", "subgroups": "subgroup numbers"}


def open_chapter(section: str, study_id: str, patients_file: str | None = None, results_dir: str = "_build/results",
                 namespace: dict | None = None, **given) -> Chapter:
    """Open a chapter of a study: spec, patient table, parameters and cohort, all checked.

    ``given`` are the notebook's other parameters (as papermill set them). ``namespace`` (the notebook's
    ``globals()``) lets the chapter refuse a parameter that papermill injected but the notebook does not declare
    (``papermill -p match_calipr 0.2``), with the nearest declared name. Raises a one-line
    :class:`~helpers.analyses.parameters.ParameterError` or :class:`ChapterError` for anything the chapter
    cannot run with.
    """
    if namespace is not None:
        check_injected(section, namespace)
    figures.use_book_style()
    spec = load_spec(study_id)
    # the page prints hazard ratios as the study's paper does; its figures say when the data are synthetic
    set_hr_decimals(spec.survival.hr_decimals if spec.survival else 2)
    set_figure_mark(SYNTHETIC_MARK if spec.synthetic and not patients_file else "")
    need = NEEDS.get(section)
    if need and getattr(spec, need[0]) is None:
        raise ChapterError(f"study '{study_id}' {need[1]}; see the spec format page")
    data = load_patients(spec, patients_file)
    problems = data_problems(spec, data, patients_file)
    if problems:
        raise ChapterError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    resolved = params_mod.resolve({"study_id": study_id, "patients_file": patients_file,
                                   "results_dir": results_dir, **given}, spec, data)
    cohort = resolved.get("cohort", "primary")
    page = section if cohort == "primary" else f"{section}_{cohort}"
    matched, sets, matched_from, analysed, rows = None, None, "", data, None
    wants_matched = section in ("cohorts", "weighting") or cohort == "matched"
    if wants_matched and (spec.matching is not None or given.get("match_covariates")):
        settings = cohorts.matching_settings(spec, resolved.get("match_covariates"), resolved.get("match_ratio"),
                                             resolved["match_caliper"] if "match_caliper" in resolved else "spec",
                                             resolved.get("match_replace"))
        rows, sets, matched, matched_from = matched_cohort_of_run(spec, data, settings, results_dir,
                                                                  write=section == "cohorts")
        if cohort == "matched":
            analysed = rows
    titles = study_pages(study_id)
    pages = list(titles) or [page]
    pub = published.load_published(spec) if spec.published_file.exists() else None
    return Chapter(section=section, page=page, spec=spec, data=analysed, all_patients=data, params=resolved,
                   given=given, results=ResultsTable(spec.study_id, section=section), published=pub,
                   numbering=study_numbering(spec, pages), results_dir=str(results_dir),
                   patients_file=patients_file, matched=matched, matched_sets=sets, matched_from=matched_from,
                   matched_data=rows, pages=titles)


def check_injected(section: str, namespace: dict) -> None:
    """Refuse data in the notebook's namespace that is not one of its declared parameters: a parameter name
    that papermill injected although the notebook does not declare it (papermill itself only warns)."""
    import types

    from helpers.analyses.validation import notebook_parameters
    from helpers.paths import NOTEBOOKS_DIR

    declared = notebook_parameters(NOTEBOOKS_DIR / f"{section}.md")
    for name, value in namespace.items():
        if (name.startswith("_") or name in declared or name in ("In", "Out") or callable(value)
                or isinstance(value, types.ModuleType)):
            continue
        params_mod.check_name(name, declared)


def matched_cohort_of_run(spec: StudySpec, data: pd.DataFrame, settings, results_dir,
                          write: bool) -> tuple[pd.DataFrame, pd.DataFrame, cohorts.MatchedCohort | None, str]:
    """The run's one matched cohort: made by the cohorts chapter (``write``), read by every other chapter.

    The cohorts chapter writes the matched patients' ids, matched sets and weights, with the settings, to
    ``<results_dir>/<study>/matched_cohort.json`` (the build runs it before the study's other pages); a chapter of
    the same run reads them, so that every page analyses the same patients. A chapter run on its own (no such
    file, or one made with other settings) matches with its settings itself, and says so.

    Returns the matched patients' rows, their ``subclass`` and ``weight`` (indexed by id), the
    :class:`~helpers.analyses.cohorts.MatchedCohort` when this chapter matched, and a sentence for the page.
    """
    path = Path(results_dir) / spec.study_id / MATCHED_COHORT_FILE
    key = _settings_key(settings)
    if not write and path.exists():
        stored = json.loads(path.read_text())
        if stored.get("settings") == key:
            missing = [i for i in stored["ids"] if i not in data.index]
            if missing:
                raise ChapterError(f"{path}: matched patients {missing[:3]} are not in the patient table; rebuild")
            sets = pd.DataFrame(stored["sets"], index=pd.Index(stored["ids"], name=data.index.name))
            return data.loc[stored["ids"]], sets, None, "The matched cohort of this run, as the cohorts chapter made it."
    matched = cohorts.match_study(data, spec, settings)
    sets = matched_sets(matched)
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"settings": key, "ids": [str(i) for i in sets.index],
                                    "sets": {c: sets[c].tolist() for c in sets.columns}}, indent=0) + "\n")
        return matched.data, sets, matched, ""
    return matched.data, sets, matched, ("This chapter ran on its own: it matched the patients itself, with the "
                                         "settings below (a full build's cohorts chapter makes the same cohort).")


def matched_sets(matched: cohorts.MatchedCohort) -> pd.DataFrame:
    """Each matched patient's matched set (``subclass``; NaN with replacement, where a control may belong to
    several) and matching weight, in the order of the matched cohort's rows."""
    ids = matched.data.index
    subclass = (matched.result.subclass.reindex(ids).astype(float) if matched.result.subclass is not None
                else pd.Series(float("nan"), index=ids))
    return pd.DataFrame({"subclass": subclass.to_numpy(), "weight": matched.result.weights.reindex(ids).to_numpy(float)},
                        index=ids)


def _settings_key(settings) -> dict:
    return {"covariates": list(settings.covariates), "ratio": settings.ratio, "caliper": settings.caliper,
            "replace": settings.replace, "order": settings.order, "convention": settings.convention,
            "distance": settings.distance, "caliper_sd": settings.caliper_sd, "discard": settings.discard}
