"""A model as a run's config asks for it: the registered net, then the model section's options."""

from __future__ import annotations

import torch
from torch import nn

from cifarbench.config import ModelConfig
from cifarbench.errors import ConfigError
from cifarbench.models.airbench import drop_identity_init
from cifarbench.models.registry import build_model_for
from cifarbench.models.resnet import zero_init_residual


def build_configured_model(model: ModelConfig, shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    try:
        # some nets size their head with a forward pass
        net = build_model_for(model.name, shape, num_classes, **model_options(model))
    except RuntimeError as exc:
        raise _too_small(model.name, shape, exc) from None
    fits(net, model.name, shape)
    if not model.identity_init:
        drop_identity_init(net)
    if model.zero_init_residual and zero_init_residual(net) == 0:
        raise ConfigError(
            f"model.zero_init_residual: {model.name!r} has no residual blocks (resnet18, resnet34, "
            "resnet50 and small-resnet have)"
        )
    return net


def model_options(model: ModelConfig) -> dict:
    """The model section's options a factory takes by keyword (registry.register's `options`), where given."""
    return {"widths": tuple(model.widths)} if model.widths is not None else {}


SMALL_IMAGES = "choose a larger data.image_size or another model"


def fits(net: nn.Module, name: str, shape: tuple[int, int, int], remedy: str = SMALL_IMAGES) -> None:
    """One image through the net, so that a net too deep for small images (your own 12x12 sprites
    into lenet-small) is one line naming the shape, not a traceback at the first training step."""
    training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(torch.zeros(1, *shape))
    except RuntimeError as exc:
        raise _too_small(name, shape, exc, remedy) from None
    finally:
        net.train(training)


def _too_small(name: str, shape: tuple[int, int, int], exc: RuntimeError, remedy: str = SMALL_IMAGES) -> ConfigError:
    return ConfigError(
        f"model {name!r} cannot take {'x'.join(map(str, shape))} images ({str(exc).splitlines()[0][:100]}); {remedy}"
    )
