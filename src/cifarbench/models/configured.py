"""A model as a run's config asks for it: the registered net, then the model section's options."""

from __future__ import annotations

from torch import nn

from cifarbench.config import ModelConfig
from cifarbench.errors import ConfigError
from cifarbench.models.airbench import drop_identity_init
from cifarbench.models.registry import build_model_for
from cifarbench.models.resnet import zero_init_residual


def build_configured_model(model: ModelConfig, shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    net = build_model_for(model.name, shape, num_classes)
    if not model.identity_init:
        drop_identity_init(net)
    if model.zero_init_residual and zero_init_residual(net) == 0:
        raise ConfigError(f"model.zero_init_residual: {model.name!r} has no residual blocks (resnet18, resnet34, "
                          "resnet50 and small-resnet have)")
    return net
