"""The seam between the config and the registries: a recipe and the user's layers resolved into one
`RunConfig`, and every name it gives checked against the registry that holds it.

config/ checks values (types, ranges, choices) and sits below the registries, which load torch and
the model zoo; so it names a registry by a string (`registry="models"`) and the names are read here,
for the checks and for `--help`.
"""

from __future__ import annotations

from cifarbench.config import RunConfig, current_paths, merge
from cifarbench.data.custom import is_custom
from cifarbench.data.registry import DATASET_NAMES
from cifarbench.data.sources import SOURCES
from cifarbench.errors import ConfigError
from cifarbench.loggers import LOGGERS
from cifarbench.models import list_models
from cifarbench.models.configured import build_configured_model, model_options
from cifarbench.models.registry import check_options
from cifarbench.registry import catalogued, did_you_mean
from cifarbench.training.recipes import DEFAULT_RECIPE, get_recipe, recipe_for_model


def resolve_config(recipe: str | None = None, *layers: dict) -> RunConfig:
    """defaults < recipe < each layer in turn (YAML file, then command-line values)."""
    merged: dict = {}
    for layer in layers:  # each at its fields' current paths first: a later layer's old path still wins
        merged = merge(merged, current_paths(layer))
    recipe = recipe or merged.get("recipe")
    if recipe is None:
        model = merged.get("model", {}).get("name")
        recipe = recipe_for_model(model) if model else DEFAULT_RECIPE
    values = merge(merge({"recipe": recipe}, current_paths(get_recipe(recipe))), merged)
    return check_registered(RunConfig.from_dict(values))


def registered_names(registry: str) -> tuple[str, ...]:
    """The names a config field's `registry` metadata refers to (config/ sits below the registries,
    so it names them and they are read here): what the checks below and `--help` list."""
    if registry == "datasets":  # the registry's and `synthetic`, which is made, not downloaded
        return tuple(DATASET_NAMES)
    return tuple(catalogued(registry).names())


def check_registered(config: RunConfig) -> RunConfig:
    """The names a config gives are in the registries (config/ checks values, not names:
    it is below the registries, which import torch and the model zoo)."""
    if config.model.name not in list_models():
        raise ConfigError(
            f"model.name {config.model.name!r} is not one of {', '.join(list_models())}"
            f"{did_you_mean(config.model.name, list_models())}"
        )
    if config.data.dataset not in DATASET_NAMES and not is_custom(config.data.dataset):
        own = ", ".join(f"{kind}:PATH" for kind in SOURCES)
        raise ConfigError(
            f"data.dataset {config.data.dataset!r} is not one of {', '.join(DATASET_NAMES)}, {own}"
            f"{did_you_mean(config.data.dataset, DATASET_NAMES)}"
        )
    for name in config.output.loggers:
        if name not in LOGGERS:
            raise ConfigError(f"output.loggers entry {name!r} is not one of {', '.join(LOGGERS.names())} (or none)")
    check_options(config.model.name, model_options(config.model))  # before a run folder exists
    if config.model.zero_init_residual:  # refused here, before a run folder exists, if the net has no blocks
        build_configured_model(config.model, (3, 32, 32), 10)
    return config
