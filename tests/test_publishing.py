"""Publishing: the GitHub Pages workflow is valid (offline, against the GitHub workflow JSON schema) and uses
the same build command as a workstation."""
from __future__ import annotations

import importlib.resources
import json

import jsonschema
import pytest
import yaml

from helpers.paths import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


@pytest.fixture(scope="module")
def workflow_schema() -> dict:
    # the schemastore.org schema vendored by check-jsonschema: no network needed
    path = importlib.resources.files("check_jsonschema.builtin_schemas") / "vendor" / "github-workflows.json"
    return json.loads(path.read_text(encoding="utf-8"))


def load_workflow(text: str) -> dict:
    data = yaml.safe_load(text)
    if True in data:  # YAML 1.1 reads the key `on` as the boolean True; GitHub reads it as "on"
        data["on"] = data.pop(True)
    return data


def test_pages_workflow_is_valid_against_the_github_schema(workflow_schema):
    jsonschema.validate(load_workflow(WORKFLOW.read_text(encoding="utf-8")), workflow_schema)


def test_schema_check_catches_a_broken_workflow(workflow_schema):
    broken = "name: x\non: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    step:\n      - run: echo\n"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(load_workflow(broken), workflow_schema)


def test_pages_workflow_builds_with_make_book_and_deploys_with_the_official_actions():
    wf = load_workflow(WORKFLOW.read_text(encoding="utf-8"))
    build_steps = wf["jobs"]["build"]["steps"]
    assert any(s.get("run") == "make book" for s in build_steps)
    upload = next(s for s in build_steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert any(str(s.get("uses", "")).startswith("actions/cache@") for s in build_steps)
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages@") for s in deploy["steps"])
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}


def test_make_publish_uses_ghp_import_on_the_built_site():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\npublish:", 1)[1].split("\n\n", 1)[0]
    assert "ghp_import" in recipe and "_build/html" in recipe
