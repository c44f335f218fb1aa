"""The helper package is layered: each layer imports only the layers below it, and there are no cycles.

``paths`` < ``stats`` < ``study`` < ``report`` < ``analyses`` < ``synth`` < ``build`` (ARCHITECTURE.md).
The imports are read from the source (every ``import`` and ``from ... import``, also inside functions).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parents[1] / "src" / "helpers"
LAYERS = ["paths", "stats", "study", "report", "analyses", "synth", "build"]
RANK = {name: i for i, name in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    rel = path.relative_to(HELPERS.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def helper_imports(path: Path) -> set[str]:
    """The helpers modules that ``path`` imports (absolute or relative), as dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "helpers"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "helpers":
                continue
            for alias in node.names:  # "from helpers.stats import cox" imports the module helpers.stats.cox
                sub = f"{mod}.{alias.name}"
                found.add(sub if (HELPERS.parent / Path(*sub.split("."))).with_suffix(".py").exists() else mod)
    return found


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


SOURCES = sorted(HELPERS.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    for path in SOURCES:
        name = module_name(path)
        assert name == "helpers" or layer(name) in RANK, f"{path}: not in a layer package {LAYERS}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_only_lower_layers(path):
    here = layer(module_name(path))
    if here is None:
        return
    for target in helper_imports(path):
        there = layer(target)
        assert there is not None, f"{module_name(path)} imports the package root {target}"
        assert RANK[there] <= RANK[here], (f"{module_name(path)} (layer {here}) imports {target} "
                                           f"(layer {there}, above it)")


def test_no_import_cycles():
    graph = {module_name(p): {t for t in helper_imports(p) if t != module_name(p)} for p in SOURCES}
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt in graph and state.get(nxt) is None:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in graph:
        if state.get(node) is None:
            visit(node, [])


def test_the_checker_sees_a_violation(tmp_path):
    """The import reader finds both absolute and relative imports (the test would pass vacuously otherwise)."""
    fake = HELPERS / "stats" / "_probe_for_test.py"
    try:
        fake.write_text("from helpers.analyses import survival\nfrom ..study import spec\n")
        assert helper_imports(fake) == {"helpers.analyses.survival", "helpers.study.spec"}
    finally:
        fake.unlink()


NOTEBOOKS = sorted((HELPERS.parents[1] / "notebooks").glob("*.md"))
#: issue 14's target: "no notebook holds more than about 40 code lines" (parameters, set-up, one call per display)
MAX_NOTEBOOK_CODE_LINES = 42


def notebook_code_lines(text: str) -> int:
    """Non-blank, non-comment lines inside the MyST ``{code-cell}`` blocks (cell options such as ``:tags:`` not
    counted)."""
    count, inside = 0, False
    for line in text.splitlines():
        if line.startswith("```{code-cell}"):
            inside = True
        elif inside and line.startswith("```"):
            inside = False
        elif inside and line.strip() and not line.lstrip().startswith(("#", ":")):
            count += 1
    return count


def test_notebook_code_line_counter_by_hand():
    text = "# prose\n```{code-cell} ipython3\n:tags: [remove-input]\n\n# why\nx = 1\nch.show(x)\n```\nmore prose\n"
    assert notebook_code_lines(text) == 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_stay_thin(path):
    assert NOTEBOOKS, "no notebooks found"
    n = notebook_code_lines(path.read_text(encoding="utf-8"))
    assert n <= MAX_NOTEBOOK_CODE_LINES, f"{path.name}: {n} code lines; move logic into src/helpers"
