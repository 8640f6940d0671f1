"""The package's layers point one way, with no circles and no private names borrowed.

Read from the source (every ``import``, at module level or inside a function):

* each room (``sim.codes``, ``sim.engines``, ...) imports only the rooms below
  it in :data:`ALLOWED`; the leaves import nothing of leftshift's;
* engines never import metrics, analysis, runs, experiments or presentation;
  presentation never imports an engine;
* the module graph has no circle;
* no module imports another's private name (``_name``) or reaches for one
  through a module (``module._name``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"

LEAVES = {"_version", "errors", "codes", "analysis", "jit"}
ALLOWED: dict[str, set[str]] = {
    "_version": set(),
    "errors": set(),
    "codes": set(),
    "analysis": set(),
    "jit": set(),
    "clock": {"codes"},
    "rng": {"codes", "jit"},
    "scenario": {"clock", "rng", "codes", "errors"},
    "model": {"scenario", "clock", "rng", "codes", "errors", "jit"},
    "engines": {"model", "scenario", "clock", "rng", "codes", "errors", "jit"},
    "metrics": {"model", "scenario", "clock", "codes", "errors"},
    "runs": {"engines", "metrics", "model", "scenario", "analysis", "codes", "errors", "_version"},
    "experiments": {
        "runs",
        "engines",
        "metrics",
        "scenario",
        "analysis",
        "codes",
        "errors",
        "_version",
    },
    "present": {
        "experiments",
        "runs",
        "metrics",
        "analysis",
        "codes",
        "errors",
        "_version",
    },
    "app": {"sim", "present"},
    "cli": {
        "app",
        "present",
        "experiments",
        "runs",
        "engines",
        "metrics",
        "scenario",
        "errors",
        "_version",
    },
}
"""Which rooms each room may import (besides itself). ``sim/__init__.py`` is the public
API and may import any room; nothing may import it but the app (:data:`PUBLIC_API_USERS`)."""

PUBLIC_API_USERS = {"app"}
"""Rooms built on the public API (``import sim``) and the presentation layer alone, as a
user's own program would be: the app never reaches past them for an engine or a model."""

ONLY_THE_REGISTRY = {"runs", "experiments", "cli"}
"""Rooms that may ask for an engine, but only through ``sim.engines.registry``."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES.get(name) is not None and MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sim":
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if target.split(".")[0] != "sim":
                continue
            plain = []
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:  # a submodule, imported by name
                    yield f"{target}.{alias.name}", [], node.lineno
                else:
                    plain.append(alias.name)
            if plain:
                yield target, plain, node.lineno


def _room(module: str) -> str:
    return module.split(".")[1] if module != "sim" else "sim"


EDGES = {m: list(_imports(m)) for m in MODULES}


def test_every_room_is_known():
    rooms = {_room(m) for m in MODULES} - {"sim"}
    assert rooms == set(ALLOWED), "a new room needs its line in ALLOWED"


@pytest.mark.parametrize("module", [m for m in MODULES if m != "sim"])
def test_imports_point_down(module):
    room = _room(module)
    bad = []
    for target, _, line in EDGES[module]:
        other = _room(target)
        if other == "sim" and room not in PUBLIC_API_USERS:
            bad.append(f"line {line}: imports the package sim itself (the public API)")
        elif other != room and other not in ALLOWED[room]:
            bad.append(f"line {line}: {room} may not import {other} ({target})")
        elif (
            other == "engines"
            and room in ONLY_THE_REGISTRY
            and target not in ("sim.engines.registry", "sim.engines")
        ):
            bad.append(f"line {line}: {room} asks the registry, not {target}")
    assert not bad, f"{module}:\n" + "\n".join(bad)


def test_leaves_import_nothing_of_ours():
    for module in MODULES:
        if _room(module) in LEAVES:
            assert not EDGES[module], f"{module} is a leaf but imports {EDGES[module]}"


def test_there_is_no_import_circle():
    graph = {m: {t for t, _, _ in EDGES[m] if t in MODULES and t != m} for m in MODULES}
    graph["sim"] = set()  # the public API sits on top; nothing imports it (checked above)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_no_private_name_crosses_a_module():
    bad = []
    for module, edges in EDGES.items():
        for target, names, line in edges:
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if target != module and private and target != "sim._version":
                bad.append(f"{module} line {line}: takes {', '.join(private)} from {target}")
        tree = ast.parse(MODULES[module].read_text())
        imported = {
            (alias.asname or alias.name)
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and _resolve(module, node).startswith("sim")
            for alias in node.names
            if f"{_resolve(module, node)}.{alias.name}" in MODULES
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                bad.append(f"{module} line {node.lineno}: uses {node.value.id}.{node.attr}")
    assert not bad, "\n".join(bad)
