"""Specs and notebook sources are parsed once per process (the warm kernels' zygote parses them before forking);
each caller gets its own copy, and an edited text is parsed afresh."""
from __future__ import annotations

import yaml

from helpers.analyses import validation
from helpers.paths import NOTEBOOKS_DIR, STUDIES_DIR
from helpers.study import spec as spec_module


def test_a_spec_parsed_once_gives_every_caller_its_own_copy():
    path = STUDIES_DIR / "veteran" / "study.yaml"
    text = path.read_text(encoding="utf-8")
    data, lines = spec_module.read_yaml_with_lines(text, path)
    assert data == yaml.load(text, Loader=spec_module._LineLoader)  # one parse gives what PyYAML's load gives
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("study_id:"))
    assert lines[("study_id",)] == first
    data["study_id"] = "changed"
    lines.clear()
    again, lines_again = spec_module.read_yaml_with_lines(text, path)
    assert again["study_id"] == "veteran" and lines_again
    edited = text + "\n# an edit\n"
    assert edited not in spec_module._PARSED_WITH_LINES
    spec_module.read_yaml_with_lines(edited, path)
    assert edited in spec_module._PARSED_WITH_LINES


def test_preparse_fills_the_caches_the_chapters_read():
    spec_module._PARSED_WITH_LINES.clear()
    validation._PARAMETERS_BY_TEXT.clear()
    spec_module.preparse_specs(STUDIES_DIR)
    validation.preparse_notebooks(NOTEBOOKS_DIR)
    specs = sorted(STUDIES_DIR.glob("*/study.yaml"))
    assert {p.read_text(encoding="utf-8") for p in specs} <= set(spec_module._PARSED_WITH_LINES)
    sources = sorted(NOTEBOOKS_DIR.glob("*.md"))
    assert len(validation._PARAMETERS_BY_TEXT) == len(sources)
    names = validation.notebook_parameters(NOTEBOOKS_DIR / "survival.md")
    assert {"study_id", "patients_file", "results_dir", "cohort", "rmst_tau", "n_boot"} <= names
    names.add("not_a_parameter")  # a copy: the cache is unchanged
    assert "not_a_parameter" not in validation.notebook_parameters(NOTEBOOKS_DIR / "survival.md")
