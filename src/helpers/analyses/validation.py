"""One validation of a study, used by ``--validate-only``, by the build before anything runs, and by every
chapter when it opens: "valid" means the chapters will not fail on the data.

It covers what :func:`helpers.study.spec.load_spec` and :func:`helpers.study.patients.load_patients` check
(the spec's keys and references; every cell of the patient table) and what only the analyses need:

* each arm has patients;
* a long-format adverse-event file names only patients of the table (and valid terms and grades);
* the matching covariates have no missing values (the propensity model needs complete data);
* the spec's RMST τ, landmark and at-risk times lie inside the follow-up;
* ``paper_numbers`` names displays the study's pages show;
* every parameter given for the run (``--set``) is one a chapter of the study declares, with a valid value.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.analyses import parameters as params_mod
from helpers.analyses.catalogue import unknown_paper_numbers
from helpers.study.patients import DataValidationError, load_adverse_events, load_patients
from helpers.study.spec import SpecError, StudySpec, load_spec
from helpers.study.toc import page_notebook, study_pages


def data_problems(spec: StudySpec, data: pd.DataFrame, source: Path | str | None = None) -> list[str]:
    """What the analyses need of a loaded patient table beyond its cells; each message names the file."""
    where = str(source or spec.patients_file)
    problems = []
    counts = data[spec.arm.column].value_counts()
    for code in spec.arm.codes:
        if int(counts.get(code, 0)) == 0:
            problems.append(f"{where}: column '{spec.arm.column}': arm '{code}' ({spec.arm.labels[code]}) has no "
                            "patients; every chapter compares the two arms")
    ae = spec.adverse_events
    if ae is not None and ae.format == "long":
        try:
            load_adverse_events(spec, data.index)
        except DataValidationError as exc:
            problems.append(str(exc))
    if spec.matching is not None:
        try:
            params_mod._no_missing_in_covariates(spec.matching.covariates, spec, data,
                                                 f"{spec.spec_file or 'study.yaml'}: matching.covariates")
        except params_mod.ParameterError as exc:
            problems.append(str(exc))
    if spec.survival is not None and not problems:
        for name in ("rmst_tau", "landmarks", "at_risk_times"):
            try:
                params_mod.PARAMETERS[name].check(None, spec, data)
            except params_mod.ParameterError as exc:
                problems.append(f"{spec.spec_file or 'study.yaml'}: {exc}")
    return problems


def declared_parameters(study_id: str) -> dict[str, set[str]]:
    """Page of the study -> the parameters its notebook declares (read from the notebook's parameters cell)."""
    from helpers.paths import NOTEBOOKS_DIR

    out = {}
    for page in study_pages(study_id):
        notebook, _ = page_notebook(page)
        out[page] = notebook_parameters(NOTEBOOKS_DIR / f"{notebook}.md")
    return out


#: Parameter names by notebook text: a chapter's kernel, forked from the warm kernels' zygote, finds its
#: notebook read already (:func:`preparse_notebooks`); a text edited since is a new key.
_PARAMETERS_BY_TEXT: dict[str, frozenset[str]] = {}


def notebook_parameters(source: Path) -> set[str]:
    """The names assigned in the cell tagged ``parameters`` of a jupytext (MyST) notebook."""
    text = Path(source).read_text(encoding="utf-8")
    if text not in _PARAMETERS_BY_TEXT:
        _PARAMETERS_BY_TEXT[text] = frozenset(_parameter_names(text, Path(source).suffix))
    return set(_PARAMETERS_BY_TEXT[text])


def preparse_notebooks(notebooks_dir: Path) -> None:
    """Read every notebook source under ``notebooks_dir`` for :func:`notebook_parameters` (the zygote does)."""
    for source in sorted(Path(notebooks_dir).glob("*.md")):
        try:
            notebook_parameters(source)
        except Exception:  # noqa: BLE001 - the chapter that reads it reports the problem
            pass


def _parameter_names(text: str, suffix: str) -> set[str]:
    import ast

    import jupytext

    nb = jupytext.reads(text, fmt=suffix.lstrip(".") or "md")
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                    if isinstance(t, ast.Name)}
    return set()


def validate_study(study_id: str, patients_file: str | None = None, parameters: dict | None = None) -> list[str]:
    """Every problem that would make a chapter of the study fail (empty when the study is valid)."""
    try:
        spec = load_spec(study_id)
        data = load_patients(spec, patients_file)
    except (SpecError, DataValidationError, FileNotFoundError) as exc:
        return [str(exc)]
    problems = data_problems(spec, data, patients_file)
    pages = list(study_pages(study_id))
    problems += [f"{spec.spec_file}: {p}" for p in unknown_paper_numbers(spec, pages)]
    if parameters and not problems:
        declared = declared_parameters(study_id)
        for name, value in parameters.items():
            pages_with = [p for p, names in declared.items() if name in names]
            if not pages_with:
                continue  # declared by another study's chapters (the build checks the name across the book)
            try:
                params_mod.resolve({name: value}, spec, data)
            except params_mod.ParameterError as exc:
                problems.append(f"study '{study_id}': {exc}")
    return problems
