"""The study spec is strict: every key at every level is checked against the one format definition.

A misspelled key is refused with its line, its key path and the nearest valid key; the JSON Schema that
editors use and the key reference of the spec format page are generated from the same definition.
"""
from __future__ import annotations

import json
import shutil

import jsonschema
import pytest
import yaml

from helpers.paths import ROOT, STUDIES_DIR
from helpers.study import schema
from helpers.study.spec import SpecError, load_spec, read_yaml_with_lines

SHIPPED = ["erhcc_hait_mp", "haic_after_ab", "veteran", "colon"]


def copy_study(tmp_path, study="veteran"):
    folder = tmp_path / study
    shutil.copytree(STUDIES_DIR / study, folder)
    return folder


def replace_once(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems_of(folder) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(folder / "study.yaml")
    return info.value.problems


def test_generated_files_are_in_sync():
    """`make schema` has been run: the JSON Schema and the spec page's key reference match the models."""
    assert (STUDIES_DIR / "study.schema.json").read_text(encoding="utf-8") == schema.json_schema_text()
    page = (ROOT / "book" / "spec_format.md").read_text(encoding="utf-8")
    between = page.split(schema.REFERENCE_START)[1].split(schema.REFERENCE_END)[0]
    assert between.strip() == schema.reference_markdown().strip()


@pytest.mark.parametrize("study", SHIPPED)
def test_shipped_specs_validate_with_the_json_schema_too(study):
    """An independent validator (jsonschema) accepts the shipped specs with the generated schema."""
    raw = yaml.safe_load((STUDIES_DIR / study / "study.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(json.loads((STUDIES_DIR / "study.schema.json").read_text())).validate(raw)


def test_json_schema_refuses_an_unknown_key():
    raw = yaml.safe_load((STUDIES_DIR / "veteran" / "study.yaml").read_text(encoding="utf-8"))
    raw["survival"]["endpoints"]["os"]["evnt"] = "x"
    validator = jsonschema.Draft202012Validator(schema.json_schema())
    errors = list(validator.iter_errors(raw))
    assert any("evnt" in e.message for e in errors)


@pytest.mark.parametrize("old, new, key_path, nearest", [
    ("synthetic: true", "synthetc: true", "synthetc", "synthetic"),
    ("\nmatching:", "\nmatchng:", "matchng", "matching"),
    ("\nsurvival:", "\nsurvivl:", "survivl", "survival"),
    ("  caliper: 0.1", "  calipr: 0.1", "matching.calipr", "caliper"),
    ("  conf_type: log", "  conf_typ: log", "survival.conf_typ", "conf_type"),
    ("    entry_p: 0.1", "    entry_pp: 0.1", "survival.cox.entry_pp", "entry_p"),
    ("  id_column: patient_id", "  id_colum: patient_id", "data.id_colum", "id_column"),
    ("tau: floor_min_max", "tua: floor_min_max", "survival.rmst.tua", "tau"),
    ("  severe_grades: [3, 4]", "  severe_grade: [3, 4]", "adverse_events.severe_grade", "severe_grades"),
])
def test_misspelled_keys_of_seed_000_are_refused_with_line_and_nearest_key(tmp_path, old, new, key_path, nearest):
    folder = copy_study(tmp_path, "erhcc_hait_mp")
    replace_once(folder / "study.yaml", old, new)
    line = next(i for i, text in enumerate((folder / "study.yaml").read_text().splitlines(), 1)
                if new.strip().split(":")[0] + ":" in text)
    found = [p for p in problems_of(folder) if f"unknown key `{key_path.split('.')[-1]}`" in p]
    assert found, problems_of(folder)
    assert found[0].startswith(f"line {line}: {key_path}: ")
    assert f"did you mean `{nearest}`?" in found[0]


@pytest.mark.parametrize("old, new, key_path, nearest", [
    ("  date_format: day_first", "  date_fromat: day_first", "data.date_fromat", "date_format"),
    ("  # cutoff_date: 1990-12-31", "  cuttoff_date: 1990-12-31", "data.cuttoff_date", "cutoff_date"),
    ("    missing_codes: [99]", "    missing_code: [99]", "variables.nodes.missing_code", "missing_codes"),
    ("      start: date_randomisation\n      events: [date_recurrence",
     "      strat: date_randomisation\n      events: [date_recurrence", "survival.endpoints.rfs.strat", "start"),
    ("      events: [date_death]", "      evnts: [date_death]", "survival.endpoints.os.evnts", "events"),
    ("      last_seen: date_last_seen\n  cox:", "      lastseen: date_last_seen\n  cox:",
     "survival.endpoints.os.lastseen", "last_seen"),
    ("  time_unit: months", "  time_units: months", "survival.time_units", "time_unit"),
])
def test_misspelled_date_and_code_keys_are_refused_with_line_and_nearest_key(tmp_path, old, new, key_path, nearest):
    """Every key of the dates form and of the codes, misspelled in the worked example with dates (colon)."""
    folder = copy_study(tmp_path, "colon")
    replace_once(folder / "study.yaml", old, new)
    wrong = key_path.split(".")[-1]
    line = next(i for i, text in enumerate((folder / "study.yaml").read_text().splitlines(), 1)
                if text.strip().startswith(wrong + ":"))
    found = [p for p in problems_of(folder) if f"unknown key `{wrong}`" in p]
    assert found, problems_of(folder)
    assert found[0].startswith(f"line {line}: {key_path}: ")
    assert f"did you mean `{nearest}`?" in found[0]


def test_the_generated_schema_knows_the_new_keys():
    """Editors complete and check the dates form and the codes: the JSON Schema has each key, with its words."""
    defs = schema.json_schema()["$defs"]
    for model, keys in {"DataSection": ["date_format", "cutoff_date"], "VariableSection": ["missing_codes"],
                        "EndpointSection": ["start", "events", "last_seen"]}.items():
        for key in keys:
            assert defs[model]["properties"][key]["description"], (model, key)
    assert defs["DataSection"]["properties"]["cutoff_date"]["anyOf"][0] == {"format": "date", "type": "string"}


def key_paths(node, loc=()):
    """Every key path of the parsed YAML whose last part is a key of the format (not a user's name)."""
    if isinstance(node, dict):
        allowed = schema.allowed_keys(loc)
        for key, value in node.items():
            if key in allowed:
                yield loc + (key,)
            yield from key_paths(value, loc + (key,))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from key_paths(item, loc + (i,))


@pytest.mark.parametrize("study", SHIPPED)
def test_every_key_of_every_shipped_spec_misspelled_is_refused(study):
    """Each format key of the shipped specs, misspelled (last letter doubled), at every level."""
    text = (STUDIES_DIR / study / "study.yaml").read_text(encoding="utf-8")
    raw, lines = read_yaml_with_lines(text, "study.yaml")
    paths = list(key_paths(raw))
    assert len(paths) > 40
    for loc in paths:
        mutated = json.loads(json.dumps(raw))
        parent = mutated
        for part in loc[:-1]:
            parent = parent[part]
        parent[loc[-1] + loc[-1][-1]] = parent.pop(loc[-1])
        _, problems, _ = schema.check_structure(mutated)
        unknown = [m for where, m in problems if where == loc[:-1] + (loc[-1] + loc[-1][-1],)]
        assert unknown and f"did you mean `{loc[-1]}`?" in unknown[0], (loc, problems)


def test_required_keys_whose_absence_would_change_a_claim(tmp_path):
    folder = copy_study(tmp_path)
    replace_once(folder / "study.yaml", "synthetic: false\n", "")
    replace_once(folder / "study.yaml", "design:\n  type: randomised\n  timing: prospective\n"
                 '  time_zero: "randomisation"\n  immortal_time: none\n', "")
    found = problems_of(folder)
    assert "line 1: synthetic: required key is missing" in found
    assert "line 1: design: required key is missing" in found


def test_wrong_values_name_what_is_expected(tmp_path):
    folder = copy_study(tmp_path)
    replace_once(folder / "study.yaml", "conf_type: log", "conf_type: loglog")
    replace_once(folder / "study.yaml", "entry_p: 0.1", "entry_p: 2")
    replace_once(folder / "study.yaml", "  type: randomised\n", "  type: randomized\n")
    replace_once(folder / "study.yaml", "  km_layout: kmunicate ", "  km_layout: KMunicate ")
    found = "\n".join(problems_of(folder))
    assert ("survival.km_layout: 'KMunicate' is not one of ['standard', 'kmunicate'] (did you mean `kmunicate`?)"
            in found)
    assert "survival.conf_type: 'loglog' is not one of ['log', 'log-log', 'plain'] (did you mean `log-log`?)" in found
    assert "survival.cox.entry_p: must be <= 1, got 2" in found
    assert "design.type: 'randomized' is not one of ['randomised', 'observational'] (did you mean `randomised`?)" \
        in found


def test_unknown_references_get_the_nearest_name(tmp_path):
    folder = copy_study(tmp_path)
    replace_once(folder / "study.yaml", "variables: [celltype, karno, age, diagtime, prior]",
                 "variables: [celltype, karnof, age, diagtime, prior]")
    replace_once(folder / "study.yaml", "followup_endpoint: os", "followup_endpoint: oss")
    found = "\n".join(problems_of(folder))
    assert "table1.variables[1]: 'karnof' is not declared under variables (did you mean `karno`?)" in found
    assert "survival.followup_endpoint: 'oss' is not an endpoint (did you mean `os`?)" in found


def test_yaml_syntax_error_names_the_line_in_plain_words(tmp_path):
    folder = copy_study(tmp_path)
    replace_once(folder / "study.yaml", "title: \"Standard versus test", "title: Standard: versus \"test")
    line = next(i for i, text in enumerate((folder / "study.yaml").read_text().splitlines(), 1)
                if text.startswith("title: Standard:"))
    (problem,) = problems_of(folder)
    assert problem.startswith(f"line {line}, column ")
    assert "missing its quotes" in problem


def test_a_key_given_twice_is_refused(tmp_path):
    folder = copy_study(tmp_path)
    replace_once(folder / "study.yaml", "synthetic: false\n", "synthetic: false\nsynthetic: true\n")
    (problem,) = problems_of(folder)
    assert "the key 'synthetic' is given twice" in problem


def test_unquoted_yes_no_as_level_codes_are_refused(tmp_path):
    folder = copy_study(tmp_path)
    replace_once(folder / "study.yaml", 'levels: {"no": "no", "yes": "yes"}', "levels: {no: no, yes: yes}")
    found = "\n".join(problems_of(folder))
    assert "was read as a boolean" in found and 'write the code in quotes, e.g. "no"' in found


def test_a_faulty_variable_is_not_also_reported_as_undeclared(tmp_path):
    folder = copy_study(tmp_path)
    replace_once(folder / "study.yaml", "    label: Prior therapy\n    type: categorical",
                 "    label: Prior therapy\n    type: categorial")
    found = problems_of(folder)
    assert any("variables.prior.type: 'categorial' is not one of" in p for p in found)
    assert not any("'prior' is not declared" in p for p in found)
