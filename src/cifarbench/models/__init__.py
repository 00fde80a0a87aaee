"""The model zoo, found by name through one registry (registry.py):

    build_model("resnet18", num_classes=10, in_channels=3, image_size=32)

Importing this package imports every family module, which registers its models.
"""

from cifarbench.models import airbench, cnn, lenet, resnet  # noqa: F401  (registers the models)
from cifarbench.models.registry import (
    MODELS,
    ModelEntry,
    build_model,
    build_model_for,
    count_parameters,
    flat_features,
    list_models,
    register,
    untouched_buffers,
)

__all__ = [
    "MODELS",
    "ModelEntry",
    "build_model",
    "build_model_for",
    "count_parameters",
    "flat_features",
    "list_models",
    "register",
    "untouched_buffers",
]
