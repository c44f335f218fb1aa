"""The public API of the engines: ``from helpers.stats import ...``, lazily, with docstrings whose examples run."""
from __future__ import annotations

import doctest
import re
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import helpers.stats

SRC = Path(__file__).resolve().parents[1] / "src"
MAIN = ["kaplan_meier", "cox_fit", "logrank_test", "rmst_difference", "nearest_neighbor_match"]


def test_main_functions_import_from_the_package():
    from helpers.stats import cox_fit, kaplan_meier, logrank_test, nearest_neighbor_match, rmst_difference

    assert kaplan_meier.__module__ == "helpers.stats.survival"
    assert cox_fit.__module__ == "helpers.stats.cox"
    assert logrank_test.__module__ == "helpers.stats.survival"
    assert rmst_difference.__module__ == "helpers.stats.rmst"
    assert nearest_neighbor_match.__module__ == "helpers.stats.matching"
    assert set(MAIN) <= set(helpers.stats.__all__) and set(MAIN) <= set(dir(helpers.stats))


def test_every_export_exists_and_is_documented():
    for name in helpers.stats.__all__:
        obj = getattr(helpers.stats, name)
        assert obj.__doc__ and obj.__doc__.strip(), f"helpers.stats.{name} has no docstring"


@pytest.mark.parametrize("name", MAIN)
def test_main_functions_state_their_r_convention_and_carry_an_example(name):
    doc = getattr(helpers.stats, name).__doc__
    assert any(r in doc for r in ("survfit", "coxph", "survdiff", "survRM2", "MatchIt")), name
    assert ">>>" in doc.split("Examples\n    --------", 1)[-1], name


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'kaplan_meir'"):
        helpers.stats.kaplan_meir  # noqa: B018
    with pytest.raises(ImportError):
        exec("from helpers.stats import kaplan_meir", {})


def test_importing_the_package_imports_no_engine():
    code = ("import sys, helpers.stats; "
            "print(sorted(m for m in sys.modules if m.startswith('helpers.stats.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC), "PATH": ""}).stdout.strip()
    assert out == "[]"


def _stats_modules():
    return [f"helpers.stats.{m.name}" for m in pkgutil.iter_modules(helpers.stats.__path__)]


@pytest.mark.parametrize("module", _stats_modules())
def test_docstring_examples_run(module):
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {module}"


def test_the_main_examples_are_doctests():
    finder = doctest.DocTestFinder()
    for name in MAIN:
        obj = getattr(helpers.stats, name)
        tests = [t for t in finder.find(obj, name) if t.examples]
        assert tests and sum(len(t.examples) for t in tests) >= 2, name


def test_api_page_documents_existing_objects_and_is_in_the_book():
    root = SRC.parent
    page = (root / "book" / "api.md").read_text(encoding="utf-8")
    targets = re.findall(r"^\.\. auto(?:function|class):: (\S+)$", page, flags=re.M)
    assert set(MAIN) <= {t.rsplit(".", 1)[1] for t in targets}
    for target in targets:
        module, name = target.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name).__doc__, target
    assert "book/api" in (root / "_toc.yml").read_text(encoding="utf-8")
    config = (root / "_config.yml").read_text(encoding="utf-8")
    assert "sphinx.ext.autodoc" in config and "sphinx.ext.napoleon" in config
