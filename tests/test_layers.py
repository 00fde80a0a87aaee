"""The import directions of the package, checked from the source with `ast`, so the layering
cannot rot silently: a module imports only from its own layer or the layers below it, and
neither modules nor top-level packages import each other in a circle.

Layers, bottom to top (docs/DESIGN.md draws the same):
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cifarbench"

# top-level module or package of cifarbench -> its layer
LAYERS = {
    "__init__": 0, "errors": 0, "registry": 0, "device_names": 0,
    "devices": 1, "fingerprint": 1, "files": 1, "console": 1, "tables": 1, "process_clock": 1,
    "config": 2, "runs": 2,
    "data": 3, "models": 3,
    "checkpoints": 4, "eval": 4, "plots": 4, "export": 4, "results": 4, "contract": 4,
    "training": 5, "mlx": 5, "loggers": 5,
    "api": 6, "repeat": 6, "reproduce": 6, "resolve": 6,
    "planner": 7, "search": 7, "bench": 7, "report": 7, "library": 7,
    "cli": 8, "__main__": 8,
}
__doc__ += "\n".join(f"    {layer}: {', '.join(sorted(n for n, v in LAYERS.items() if v == layer))}"
                     for layer in sorted(set(LAYERS.values())))


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def unit(module: str) -> str:
    """The top-level piece a module belongs to: `cifarbench.data.loader` -> `data`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> set[str]:
    """Every cifarbench module `path` imports, at the top, inside functions (late imports count
    too) or under `if TYPE_CHECKING:` (a type-only import is still a dependency between modules)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("cifarbench"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cifarbench") \
                and node.level == 0:
            for alias in node.names:  # `from cifarbench.data import prepare` imports a module
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


# The one import that points up, on purpose: the package's own names (`cifarbench.train(...)`,
# PEP 562's module __getattr__) are library.py's, imported when a name is first asked for, never
# when the package is; library.py imports nothing that imports it back.
FACADE = {"cifarbench": {"cifarbench.library"}}
GRAPH = {name: imports_of(path) - {name} - FACADE.get(name, set()) for name, path in MODULES.items()}


def test_the_facade_is_the_only_upward_import_of_the_package_root():
    assert imports_of(MODULES["cifarbench"]) == FACADE["cifarbench"]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_design_map_names_every_module():
    design = (SRC.parents[1] / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    unnamed = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if p.name != "__init__.py"
                     and p.name not in design)
    assert not unnamed, f"docs/DESIGN.md does not name: {unnamed}"


def test_every_module_has_a_layer():
    missing = sorted({unit(m) for m in MODULES} - set(LAYERS))
    assert not missing, f"add these to LAYERS (and docs/DESIGN.md): {missing}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    mine = LAYERS[unit(module)]
    upward = sorted(f"{other} (layer {LAYERS[unit(other)]})" for other in GRAPH[module]
                    if LAYERS[unit(other)] > mine)
    assert not upward, f"{module} (layer {mine}) imports from above: {upward}"


def test_no_module_import_cycle():
    assert find_cycle(GRAPH) is None, f"import cycle: {' -> '.join(find_cycle(GRAPH))}"


def test_no_cycle_between_top_level_pieces():
    pieces: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        pieces.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    assert find_cycle(pieces) is None, f"cycle between packages: {' -> '.join(find_cycle(pieces))}"


# The measurement package measures runs; nothing that makes a run depends on it. Training, the
# planner and search are features a user trains with, and the commands that train are theirs.
MEASUREMENT_FREE = ("cifarbench.training", "cifarbench.mlx", "cifarbench.api", "cifarbench.repeat",
                    "cifarbench.planner", "cifarbench.search", "cifarbench.cli.train", "cifarbench.cli.plan",
                    "cifarbench.cli.search")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(MEASUREMENT_FREE)))
def test_training_planning_and_search_do_not_import_the_measurement_package(module):
    measured = sorted(m for m in GRAPH[module] if unit(m) == "bench")
    assert not measured, f"{module} imports the measurement package: {measured}"


def test_the_checker_sees_late_and_aliased_imports(tmp_path):
    """The checker itself can fail: it finds an import inside a function, a `from X import
    module` and a TYPE_CHECKING-only one."""
    source = tmp_path / "probe.py"
    source.write_text("from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from cifarbench.cli import main\n"
                      "def f():\n    from cifarbench.data import prepare\n    import cifarbench.api\n")
    assert imports_of(source) == {"cifarbench.cli", "cifarbench.data.prepare", "cifarbench.api"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
