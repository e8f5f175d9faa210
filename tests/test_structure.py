"""The house rules, checked on the code itself: no import cycle inside bench/, imports run one way
(entry points -> pipelines -> domain -> pure functions), and no `_private` name used across modules."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "bench"
ENTRY = {"bench.cli", "bench.commands", "bench.__main__"}
# Each layer may import only from layers after it (and itself).
LAYERS = [
    {"bench.cli", "bench.commands", "bench.__main__"},
    {"bench.pipelines", "bench.tools", "bench.config"},
    {"bench.leaderboard", "bench.clone", "bench.personas", "bench.administration", "bench.behaviour"},
    {"bench.populations", "bench.writing", "bench.engines", "bench.results"},
    {"bench.metrics", "bench.instruments"},
    {"bench.errors", "bench.hashing", "bench.resources", "bench.mappings", "bench.userfiles", "bench.templates", "bench"},
]


def modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        name = ".".join(f.relative_to(REPO).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = f
    return out


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every bench module this file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    known = modules()
    g = {}
    for name, path in known.items():
        # a package's __init__ re-exporting its own modules, or a module importing its package, is one unit
        g[name] = {d for d in imports(path, known)
                   if d != name and not d.startswith(name + ".") and not name.startswith(d + ".")}
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def subpackage(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def layer(module: str) -> int:
    for k, names in enumerate(LAYERS):
        if subpackage(module) in names:
            return k
    raise AssertionError(f"{module}: not placed in a layer of tests/test_structure.py; add its subpackage")


def test_no_import_cycle_inside_bench():
    assert cycles(graph()) == []


def test_no_import_cycle_between_subpackages():
    g: dict[str, set[str]] = {}
    for m, deps in graph().items():
        g.setdefault(subpackage(m), set()).update(subpackage(d) for d in deps if subpackage(d) != subpackage(m))
    assert cycles(g) == []


def test_imports_run_one_way():
    upward = [f"{m} -> {d}" for m, deps in graph().items() for d in deps if layer(d) < layer(m)]
    assert upward == []


def test_cycle_detection_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_name_crosses_a_module():
    bad = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench"):
                bad += [f"{name}: from {node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
            elif (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                  and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                bad.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert bad == []


def test_every_subpackage_names_its_purpose():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init}: say what the subpackage holds"


def test_architecture_lists_every_module_of_the_tree():
    """docs/architecture.md's module table is the tree: a module added, moved or removed fails here until its
    line there says what it is for."""
    import re

    text = (REPO / "docs" / "architecture.md").read_text()
    listed = set(re.findall(r"^\| `(bench/[\w/]+\.py)` \|", text, flags=re.M))
    tree = {str(f.relative_to(REPO)) for f in PACKAGE.rglob("*.py") if "__pycache__" not in f.parts}
    assert sorted(tree - listed) == [], "modules missing from docs/architecture.md"
    assert sorted(listed - tree) == [], "docs/architecture.md lists modules that are gone"


def test_no_module_holds_more_than_one_job_by_size():
    """500 lines is where a module starts doing several things (perf, checks and human were split at it)."""
    long = {str(f.relative_to(REPO)): n for f in PACKAGE.rglob("*.py")
            if (n := len(f.read_text().splitlines())) > 500}
    assert long == {}
