"""The calls a notebook or another program needs, re-exported by `import cifarbench`:

    import cifarbench

    result = cifarbench.train("airbench94", dataset="fashion-mnist", epochs=2)
    result.metrics["accuracy"], result.run.path, result.model      # the trained model, in eval mode
    plan = cifarbench.plan(dataset="fashion-mnist", budget_s=60)   # what the planner would run, and why
    result = cifarbench.train(plan)                                 # ... and running it
    cifarbench.load_model("runs/<run>").model(images)

A run is named the way the command line names it: a recipe, then the options that change it, by
the names of their command-line flags (`dataset`, `epochs`, `batch_size`, `lr`, `device`, ...), or
whole sections as dicts (`optim={"nesterov": True}`). The values are checked exactly as the
command line checks them: a wrong one is a `cifarbench.errors.ConfigError` naming the field and
what is allowed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cifarbench.api import RunResult as RunResult
from cifarbench.api import resume as resume
from cifarbench.api import train as train_config
from cifarbench.config import RunConfig as RunConfig
from cifarbench.config import merge, nested, schema_fields, with_implied
from cifarbench.contract.callbacks import Callback
from cifarbench.errors import ConfigError
from cifarbench.eval.inference import LoadedModel as LoadedModel
from cifarbench.eval.inference import load_model as load_model
from cifarbench.models import list_models as list_models
from cifarbench.planner.plan import Plan as Plan
from cifarbench.planner.plan import make_plan, run_plan
from cifarbench.registry import did_you_mean
from cifarbench.resolve import resolve_config
from cifarbench.training.recipes import recipe_names

# the public names are listed once, in cifarbench/__init__.py's __all__ (this module is what they resolve to)


@functools.cache
def keyword_paths() -> dict[str, str]:
    """{keyword: config path} for every field that has a plain command-line flag (`--batch-size`:
    `batch_size` -> `train.batch_size`); the sections' names take a dict."""
    paths: dict[str, str] = {}
    for path, field, _ in schema_fields():
        flags = field.metadata.get("flags") or ()
        for flag in flags if isinstance(flags, tuple) else (flags,):
            if flag.value is None and flag.parse is None:
                paths[flag.name.removeprefix("--").replace("-", "_")] = path
    return paths


def layer_of(overrides: dict[str, Any]) -> dict:
    """Keyword overrides as one nested config layer (what the command line's options make)."""
    sections = {path.split(".")[0] for path, _, _ in schema_fields() if "." in path}
    layer: dict = {}
    for key, value in overrides.items():
        if key in sections and isinstance(value, dict):  # model={...}: the section's fields
            layer = merge(layer, {key: value})
        elif key in keyword_paths():  # model="resnet18": what --model sets
            layer = merge(layer, nested(keyword_paths()[key], value))
        elif key in sections:
            raise ConfigError(f"{key}={value!r}: a section takes a dict of its fields, e.g. {key}={{...}}")
        else:
            known = sorted({*keyword_paths(), *sections})
            raise ConfigError(f"unknown option {key!r}{did_you_mean(key, known)}; options: {', '.join(known)}")
    return with_implied(layer)  # as the command line: hybrid={"preset": ...} asks for the hybrid trainer


def run_config(recipe: str | dict | RunConfig | None = None, /, **overrides: Any) -> RunConfig:
    """The run a recipe and options describe, resolved and checked, without training it.

    Args:
        recipe: a recipe's name (`cifarbench.list_recipes()`), a nested dict of config values (as a
            YAML config file holds them), a `RunConfig`, or None for what `cifarbench train` runs
            with no flags (the default recipe, or the home recipe of a `model=` given).
        **overrides: options by their flag names (`dataset="fashion-mnist"`, `epochs=2`,
            `batch_size=256`, `lr=0.05`, `device="cpu"`), or sections as dicts (`optim={...}`).

    Returns:
        The resolved `RunConfig`: what config.yaml of the run would hold.

    Raises:
        ConfigError: an unknown recipe, option, model or dataset, or a value its field does not allow.
    """
    layer = layer_of(overrides)
    if isinstance(recipe, RunConfig):
        return resolve_config(None, recipe.to_dict(), layer)
    if isinstance(recipe, dict):
        return resolve_config(None, recipe, layer)
    if recipe is not None and not isinstance(recipe, str):
        raise ConfigError(f"a run is named by a recipe, a dict or a RunConfig, not {type(recipe).__name__}")
    return resolve_config(recipe, layer)


def train(
    recipe: str | dict | RunConfig | Plan | None = None,
    /,
    *,
    quiet: bool = False,
    callbacks: Sequence[Callback] = (),
    **overrides: Any,
) -> RunResult:
    """Train a run into a new run folder, as `cifarbench train` does, and evaluate it once on the
    test split.

    Args:
        recipe: a recipe's name, a dict of config values, a `RunConfig`, a `Plan` (from `plan()`:
            its schedule is trained and how it kept its promise recorded), or None for the default.
        quiet: no progress bar or epoch lines.
        callbacks: `cifarbench.contract.callbacks.Callback`s, called at the loop's moments
            (Lightning's names: on_train_start, on_epoch_end, on_batch_end, ...).
        **overrides: options by their flag names or sections as dicts (see `run_config`); not with a Plan.

    Returns:
        A `RunResult`: `metrics` (the test split's), `history`, `run_log`, `run` (the folder),
        and `model`, the trained model loaded from the run's checkpoint.

    Raises:
        ConfigError: a name or value the config does not allow (nothing is written).
        DataError: the dataset cannot be found, downloaded or verified.
        RunStopped: the run was interrupted or failed; its folder says how, and `resume` goes on.
    """
    if isinstance(recipe, Plan):
        if overrides:
            raise ConfigError("a plan is trained as it was made: give the options to plan() instead")
        return run_plan(recipe, quiet=quiet, callbacks=list(callbacks))
    return train_config(run_config(recipe, **overrides), quiet=quiet, callbacks=callbacks)


def plan(
    *, budget_s: float | None = None, target: float | None = None, frontier: str | Path | None = None, **overrides: Any
) -> Plan:
    """The schedule `cifarbench train --budget-s S` or `--target A` would run on this machine, and
    why: every candidate's predicted test accuracy and seconds (`Plan.chosen`, `Plan.candidates`).
    The first call on a machine calibrates it (seconds; cached after). Train it with `train(plan)`.

    Args:
        budget_s: seconds for the whole run (one of budget_s and target).
        target: a test accuracy to reach as fast as possible, e.g. 0.93.
        frontier: a frontier file to plan from instead of the package's for the dataset.
        **overrides: options by their flag names (`dataset=` at least), as in `run_config`; not the
            recipe, the model or the epochs, which the plan chooses.

    Returns:
        The `Plan`.

    Raises:
        ConfigError: no schedule fits the budget or reaches the target here (the message names the
            smallest budget or the highest accuracy possible), or a bad option.
    """
    return make_plan(
        layer_of(overrides), budget_s=budget_s, target=target, frontier=None if frontier is None else str(frontier)
    )


def list_recipes() -> list[str]:
    """The recipes' names, as `cifarbench list recipes` shows them."""
    return recipe_names()
