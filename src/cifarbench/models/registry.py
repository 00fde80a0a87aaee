"""The model registry: a model is built by the name the CLI, tests and benchmarks use.

Models are device- and dtype-neutral: the trainer moves and casts them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cifarbench.errors import ConfigError
from cifarbench.registry import Registry


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Callable[..., nn.Module]  # (num_classes, in_channels, image_size, **options)
    source: str  # paper or code the architecture comes from
    options: tuple[str, ...] = ()  # the model-section options its factory takes by keyword ("widths")


MODELS: Registry[ModelEntry] = Registry("model", sort=True, describe=lambda entry: entry.source)


def register(name: str, source: str, options: tuple[str, ...] = ()):
    """Decorator: record a factory `(num_classes, in_channels, image_size, **options) -> nn.Module` by name;
    `options` names the keyword options it takes (config.ModelConfig fields of the same names)."""

    def add(factory):
        MODELS.add(name, ModelEntry(name, factory, source, tuple(options)))
        return factory

    return add


def list_models(pattern: str = "*") -> list[str]:
    """The models' names (`cifarbench list models`), those matching a shell-style `pattern` ("airbench*")."""
    return MODELS.names(pattern)


def build_model(name: str, num_classes: int = 10, in_channels: int = 3, image_size: int = 32, **options) -> nn.Module:
    entry = MODELS.get(name)
    check_options(name, options)
    return entry.factory(num_classes, in_channels, image_size, **options)


def check_options(name: str, options) -> None:
    """Every option given is one the model's factory takes (a one-line ConfigError otherwise)."""
    for option in options:
        if option not in MODELS[name].options:
            takers = [n for n in list_models() if option in MODELS[n].options]
            raise ConfigError(
                f"model.{option}: {name!r} has no {option} option (models that have: {', '.join(takers) or 'none'})"
            )


def build_model_for(name: str, shape: tuple[int, int, int], num_classes: int, **options) -> nn.Module:
    """The model for a dataset's image shape (C, H, W) and class count."""
    c, h, w = shape
    if h != w:
        raise ConfigError(f"the data has {h}x{w} images; the model zoo takes square images")
    return build_model(name, num_classes=num_classes, in_channels=c, image_size=h, **options)


def count_parameters(model: nn.Module) -> int:
    """All parameters, trainable or frozen (as the papers count them)."""
    return sum(p.numel() for p in model.parameters())


@contextlib.contextmanager
def untouched_buffers(model: nn.Module):
    """Forwards inside leave the model's buffers (BatchNorm's running statistics and batch
    counter) as they were: they are copied before and written back after. Module attributes are
    not touched, so a compiled model's guards still hold (no recompilation)."""
    saved = {name: value.detach().clone() for name, value in model.named_buffers()}
    try:
        yield
    finally:
        with torch.no_grad():
            for name, value in model.named_buffers():
                value.copy_(saved[name])


def flat_features(features: nn.Module, in_channels: int, image_size: int) -> int:
    """How many values `features` yields per image: a shape probe, so heads fit any input size."""
    with torch.no_grad():
        return features(torch.zeros(1, in_channels, image_size, image_size)).numel()


def model_table() -> tuple[list[str], list[list[str]]]:
    """Columns and rows of `cifarbench list models`: every model with its parameter count."""
    rows = [
        [
            name,
            f"{count_parameters(build_model(name, 10, 3, 32)):,}",
            "3x32x32, 1x28x28 (any square)",
            MODELS[name].source,
        ]
        for name in sorted(MODELS)
    ]
    return ["model", "parameters (3x32x32, 10 classes)", "inputs", "source"], rows
