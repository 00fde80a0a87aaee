"""One catalog of registries (registry.CATALOG), one test over all of it: every registry of names a
user types is in the catalog, and every entry of every catalogued registry has its help line,
is shown by `cifarbench list`, refuses a misspelling of itself with a suggestion, and, where an
option takes it, is accepted there."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import cifarbench
from cifarbench.cli import main
from cifarbench.errors import UserError
from cifarbench.registry import CATALOG, Registry, catalogued
from conftest import needs_extra

SRC = Path(__file__).resolve().parents[1] / "src" / "cifarbench"
# registries that hold no names a user types: command groups are `bench`'s help line and placeholder
NOT_TYPED = {"cifarbench.cli.commands:GROUPS"}


def registries_in_source() -> set[str]:
    """Every `NAME = Registry(...)` at the top of a module of the package, as module:NAME."""
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call) \
                    and getattr(node.value.func, "id", None) == "Registry":
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
                found.add(f"{module.removesuffix('.__init__')}:{target.id}")
    return found


def test_every_registry_a_user_types_from_is_in_the_catalog():
    listed = []
    for word in CATALOG:
        try:
            listed.append(catalogued(word))
        except UserError:  # MLX's registry without MLX (CI installs it, and checks it)
            pass
    for target in sorted(registries_in_source() - NOT_TYPED):
        module, _, name = target.partition(":")
        try:
            registry = getattr(importlib.import_module(module), name)
        except ModuleNotFoundError:
            continue
        assert any(registry is r for r in listed), f"{target} is not in registry.CATALOG"


def entries() -> list[tuple[str, str]]:
    found = []
    for word in CATALOG:
        try:
            registry = catalogued(word)
        except UserError:  # an optional framework's registry (MLX): its rows skip below
            found.append((word, "*"))
            continue
        found += [(word, name) for name in registry.names()]
    return found


ENTRIES = entries()


@pytest.mark.parametrize("word, name", ENTRIES, ids=[f"{w}:{n}" for w, n in ENTRIES])
def test_every_entry_has_its_help_line_is_listed_and_a_misspelling_gets_it_suggested(word, name, capsys):
    if name == "*":
        needs_extra("mlx", "mlx.core")
    registry: Registry = catalogued(word)
    help_line = registry.describe(name)
    assert help_line and "\n" not in help_line, f"{word}: {name!r} has no help line"
    assert main(["list", word]) == 0
    listed = " ".join(capsys.readouterr().out.split())
    assert name in listed
    misspelt = name + "x"
    with pytest.raises(Exception, match=re.escape(f"did you mean {name!r}")):
        registry.get(misspelt)


def test_the_options_that_take_a_registry_accept_every_entry():
    for name in catalogued("models").names():
        assert cifarbench.run_config(model=name).model.name == name
    for name in catalogued("recipes").names():
        assert cifarbench.run_config(name).recipe == name
    for name in catalogued("datasets").names():
        assert cifarbench.run_config(dataset=name).data.dataset == name


def test_list_refuses_what_is_not_a_registry_with_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["list", "logger"])
    assert exit_info.value.code == 2 and "did you mean 'loggers'?" in capsys.readouterr().err
