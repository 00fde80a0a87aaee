"""The registries (registry.py) as a contributor meets them: a module that registers a thing is
imported by its package (else it registers nothing and no loop test sees it), an unknown name is
one line naming the known ones, and the help texts that list a registry's names list all of them."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from cifarbench.errors import ConfigError
from cifarbench.registry import Registry

SRC = Path(__file__).resolve().parents[1] / "src" / "cifarbench"

# package -> the modules in it that register something where they are defined
REGISTERING = {
    "cifarbench.models": [p.stem for p in (SRC / "models").glob("*.py")
                          if p.stem not in ("__init__", "registry", "configured", "mlx_layout")],
    "cifarbench.data.sources": [p.stem for p in (SRC / "data" / "sources").glob("*.py")
                                if p.stem not in ("__init__", "base")],
    "cifarbench.loggers": [p.stem for p in (SRC / "loggers").glob("*_logger.py")],
    "cifarbench.cli": [p.stem for p in (SRC / "cli").glob("*.py")
                       if p.stem not in ("__init__", "commands", "options", "parser", "reference")],
}


@pytest.mark.parametrize("package", sorted(REGISTERING))
def test_a_package_imports_every_module_that_registers(package):
    """Importing the package (what the CLI does) imports each of its registering modules: checked in a
    fresh interpreter, where nothing else has imported them first."""
    code = (f"import sys, {package}; missing = [m for m in {REGISTERING[package]!r} "
            f"if '{package}.' + m not in sys.modules]; print(missing)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", f"{package}/__init__.py does not import {done.stdout.strip()}"


def test_every_benchmark_module_is_registered_and_runs_what_it_names():
    """bench/__init__.py registers each benchmark module's run() lazily: a module nobody registered, or
    an entry whose target does not exist, fails here (the command line would list a benchmark that
    cannot run, or never list one)."""
    from cifarbench.bench import BENCHMARKS
    from cifarbench.registry import lazy

    modules = {p.stem for p in (SRC / "bench").glob("*.py")} - {"__init__", "registry", "methods"}
    targets = {entry.run.module for entry in BENCHMARKS.values() if isinstance(entry.run, lazy)}
    assert targets == {f"cifarbench.bench.{m}" for m in modules}
    for entry in BENCHMARKS.values():
        for call in (entry.run, entry.report):
            if isinstance(call, lazy):
                assert callable(getattr(importlib.import_module(call.module), call.name)), call


def test_a_name_is_given_once_and_an_unknown_one_is_one_line():
    things: Registry[int] = Registry("thing")
    things.add("b", 2)
    things.register("a")(1)
    with pytest.raises(ValueError, match="thing 'a' registered twice"):
        things.add("a", 3)
    with pytest.raises(ConfigError, match=r"^unknown thing 'c'; known things: b, a$"):
        things.get("c")
    assert things.names() == ["b", "a"] and Registry("x", sort=True).names() == []


def test_the_help_texts_that_list_a_registry_name_every_entry():
    from cifarbench.config import DataConfig, OutputConfig
    from cifarbench.data.sources import SOURCES
    from cifarbench.loggers import LOGGERS

    fields = {f.name: f for f in (*DataConfig.__dataclass_fields__.values(), *OutputConfig.__dataclass_fields__.values())}
    own_images = fields["dataset"].metadata["also"]
    assert [kind for kind in SOURCES if f"{kind}:" not in own_images] == []
    loggers = fields["loggers"].metadata["help"]
    assert [name for name in LOGGERS if name not in loggers] == []


def test_every_registered_logger_is_its_module():
    """The logger called NAME is loggers/NAME_logger.py, so a name's code is found by its name."""
    from cifarbench.loggers import LOGGERS

    for name, cls in LOGGERS.items():
        assert cls.name == name and cls.__module__ == f"cifarbench.loggers.{name}_logger"
        importlib.import_module(cls.__module__)
