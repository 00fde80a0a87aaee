"""Every recipe trains: a few steps of each, on tiny synthetic data of both input shapes the
zoo serves (3x32x32 like CIFAR, 1x28x28 like MNIST), through the one run lifecycle."""

from __future__ import annotations

import math

import pytest

from cifarbench.api import train
from cifarbench.train.recipes import RECIPES, resolve_config

SHAPES = {"3x32x32": [3, 32, 32], "1x28x28": [1, 28, 28]}
TRAIN_IMAGES, TEST_IMAGES, BATCH = 16, 8, 8


@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("recipe", list(RECIPES))
def test_every_recipe_trains_a_few_steps(recipe, shape, tmp_path):
    epochs = 2 * BATCH / TRAIN_IMAGES  # two optimizer steps: a fraction of an epoch
    config = resolve_config(recipe, {
        "data": {"dataset": "synthetic", "synthetic_shape": SHAPES[shape], "synthetic_train_size": TRAIN_IMAGES,
                 "synthetic_test_size": TEST_IMAGES},
        "train": {"epochs": epochs, "batch_size": BATCH, "eval_batch_size": TEST_IMAGES, "device": "cpu",
                  "precision": "fp32", "plots": False},
        "runs_dir": str(tmp_path / "runs")})
    result = train(config, quiet=True)
    log = result.run_log
    assert log["status"] == "completed" and log["recipe"] == recipe
    assert log["steps"] == math.ceil(epochs * TRAIN_IMAGES / BATCH) == 2
    assert result.metrics["num_examples"] == TEST_IMAGES
    assert math.isfinite(result.metrics["loss"]) and math.isfinite(result.history[-1]["train_loss"])
    assert result.metrics["tta_level"] == config.train.tta  # airbench's recipes evaluate with their TTA
