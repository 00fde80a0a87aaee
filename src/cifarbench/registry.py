"""One way to give a thing a name: a Registry of one kind (models, datasets, own-image sources,
recipes, loggers, benchmarks, commands), filled where each thing is defined and read by the
CLI, the config checks, `cifarbench list` and the tests that loop over it.

    MODELS = Registry("model")

    @MODELS.register("resnet18")          # a decorator: the thing defined below gets the name
    def resnet18(...): ...

    DATASETS.add("mnist", spec)          # or a call, for a value that is not a definition

A name is given once (a second one is a programming error, raised at import); an unknown name is
a one-line UserError naming the value and every known name.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from cifarbench.errors import ConfigError

T = TypeVar("T")


def did_you_mean(word: str, names) -> str:
    """`"; did you mean 'x'?"` for the known name closest to a misspelt one, else "" (difflib's ratio)."""
    close = difflib.get_close_matches(word, [str(n) for n in names], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def imported(target: str) -> Any:
    """What a `"package.module:attribute"` string names, its module imported now."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class lazy:
    """`"package.module:function"` as a callable that imports the module at its first call: an entry
    the command line lists (its name, help, options) without loading what runs it, torch among it."""

    def __init__(self, target: str):
        self.target = target
        self.module, _, self.name = target.partition(":")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return imported(self.target)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"lazy({self.target!r})"


def first_line(text: str | None) -> str:
    """A docstring's first line: an entry's help line where the entry is a function or a class."""
    return (text or "").strip().split("\n", 1)[0].strip()


class Registry(Generic[T]):
    """Named things of one kind, listed in the order they were added (or by name: `sort=True`).
    `describe(entry)` is an entry's help line, what `cifarbench list` shows beside its name."""

    def __init__(
        self,
        kind: str,
        error: type[Exception] = ConfigError,
        plural: str | None = None,
        sort: bool = False,
        describe: Callable[[T], str] | None = None,
    ):
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.error = error
        self.sort = sort
        self.entries: dict[str, T] = {}  # public for tests that swap an entry (monkeypatch.setitem)
        self._describe = describe or (lambda entry: first_line(getattr(entry, "__doc__", None)))

    def describe(self, name: str) -> str:
        """The help line of the entry `name`."""
        return self._describe(self.get(name))

    def add(self, name: str, entry: T) -> T:
        if name in self.entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self.entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of add: the decorated definition is the entry."""
        return lambda entry: self.add(name, entry)

    def get(self, name: str) -> T:
        if name not in self.entries:
            raise self.error(
                f"unknown {self.kind} {name!r}; known {self.plural}: {', '.join(self.names())}"
                f"{did_you_mean(name, self.names())}"
            )
        return self.entries[name]

    __getitem__ = get

    def names(self, pattern: str = "*") -> list[str]:
        found = [n for n in self.entries if fnmatch.fnmatch(n, pattern)]
        return sorted(found) if self.sort else found

    def items(self):
        return self.entries.items()

    def values(self):
        return self.entries.values()

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.entries)})"


# Every registry of names a user types, by the word `cifarbench list` takes: where it lives (imported
# only when it is asked for: most of them load torch) and what its names are given to. One place, so
# that `list`, its help and the catalog's test (tests/test_catalog.py) read the same registries.
CATALOG: dict[str, tuple[str, str]] = {
    "models": ("cifarbench.models.registry:MODELS", "--model (model.name)"),
    "recipes": ("cifarbench.training.recipes:RECIPES", "--recipe"),
    "datasets": ("cifarbench.data.registry:DATASETS", "--dataset"),
    "sources": ("cifarbench.data.sources:SOURCES", "--dataset KIND:PATH (your own images)"),
    "loggers": ("cifarbench.loggers:LOGGERS", "--logger"),
    "benchmarks": ("cifarbench.bench:BENCHMARKS", "cifarbench bench NAME"),
    "commands": ("cifarbench.cli.commands:COMMANDS", "cifarbench NAME"),
    "mlx-models": ("cifarbench.mlx.models:MLX_MODELS", "--model with --framework mlx"),
}


def catalogued(word: str) -> Registry:
    """The registry `cifarbench list WORD` shows, imported now."""
    if word not in CATALOG:
        raise ConfigError(f"unknown list {word!r}{did_you_mean(word, CATALOG)}; known: {', '.join(CATALOG)}")
    try:
        return imported(CATALOG[word][0])
    except ModuleNotFoundError as exc:  # an optional framework's registry without the framework
        raise ConfigError(
            f"`list {word}` needs {exc.name}, an optional extra: pip install 'cifarbench[{exc.name}]'"
        ) from None
