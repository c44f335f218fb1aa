"""Every package in requirements.in has a role: it is imported by src/, notebooks/, tests/ or benchmarks/, or
it is a tool that the build, the tests or the Makefile runs (each listed with the file that runs it). The
README's package list names every package with what it is for."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# distribution name -> the module it is imported as, where the two differ
MODULE = {"pyyaml": "yaml", "ghp-import": "ghp_import", "check-jsonschema": "check_jsonschema",
          "jupyter-book": "jupyter_book"}

# packages that are run rather than imported: (why, a file that runs it, the text in that file that does)
TOOLS = {
    "openpyxl": ("pandas' engine for reading Excel patient tables", "src/helpers/study/patients.py",
                 "pd.read_excel("),
    "pytest": ("runs the test suite (make test)", "Makefile", "-m pytest"),
    "ghp-import": ("publishes the built site to gh-pages (make publish)", "Makefile", "-m ghp_import"),
    "check-jsonschema": ("its vendored GitHub-workflow schema validates the Pages workflow offline",
                         "tests/test_publishing.py", '"check_jsonschema.builtin_schemas"'),
}


def requirements() -> list[str]:
    names = []
    for line in (ROOT / "requirements.in").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower())
    return names


def _python_sources() -> list[tuple[Path, str]]:
    out = [(p, p.read_text(encoding="utf-8")) for d in ("src", "tests", "benchmarks") for p in (ROOT / d).rglob("*.py")]
    for nb in (ROOT / "notebooks").glob("*.md"):  # the code cells of the MyST notebooks
        cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", nb.read_text(encoding="utf-8"), flags=re.S)
        out.append((nb, "\n".join(re.sub(r"^:[a-z]+:.*$", "", c, flags=re.M) for c in cells)))
    return out


def imported_modules() -> set[str]:
    found = set()
    for path, text in _python_sources():
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


IMPORTED = imported_modules()


def test_requirements_in_parses():
    names = requirements()
    assert "pandas" in names and "jupyter-book" in names and len(names) == len(set(names))


@pytest.mark.parametrize("name", requirements())
def test_every_requirement_has_a_role(name):
    if name in TOOLS:
        why, path, text = TOOLS[name]
        assert text in (ROOT / path).read_text(encoding="utf-8"), f"{name} ({why}): {path} no longer runs it"
        return
    module = MODULE.get(name, name.replace("-", "_"))
    assert module in IMPORTED, (f"{name} is in requirements.in but nothing in src/, notebooks/, tests/ or "
                                "benchmarks/ imports it: give it a role or remove it (and say why in the README)")


def test_tools_are_not_also_imported():
    # a tool that became an import belongs to the import check, not to the list of exceptions
    assert not {MODULE.get(n, n) for n in TOOLS if n != "pytest"} & IMPORTED


def test_readme_says_what_each_package_is_for():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## What each package is for", 1)
    assert len(section) == 2, "README.md has no section 'What each package is for'"
    listed = set(re.findall(r"^\| `([^`]+)` \|", section[1].split("\n## ", 1)[0], flags=re.M))
    assert listed == set(requirements())
