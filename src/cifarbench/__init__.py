"""cifarbench: train and benchmark small-image classifiers on any device, and record what was measured.

The calls a notebook needs are here (cifarbench/library.py, imported on first use, so that the
command line, which imports this package, does not load torch for `--help`):

    import cifarbench

    result = cifarbench.train("airbench94", dataset="fashion-mnist", epochs=2)
    result.metrics["accuracy"], result.model
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "LoadedModel",
    "Plan",
    "RunConfig",
    "RunResult",
    "__version__",
    "list_models",
    "list_recipes",
    "load_model",
    "plan",
    "resume",
    "run_config",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cifarbench import library

        return getattr(library, name)
    raise AttributeError(f"module 'cifarbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
