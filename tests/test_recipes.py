"""Every recipe trains: a few steps of each, on tiny synthetic data of both input shapes the
zoo serves (3x32x32 like CIFAR, 1x28x28 like MNIST), through the one run lifecycle. "Trains"
means the recipe's own optimizer moved the weights and the losses stayed finite."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from cifarbench.api import train
from cifarbench.contract.callbacks import Callback
from cifarbench.resolve import resolve_config
from cifarbench.training.recipes import RECIPES

OPTIMIZER_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adadelta": "Adadelta", "muon": "Muon"}


class WeightsBeforeAndAfter(Callback):
    def on_fit_start(self, trainer):
        self.optimizer = type(trainer.optimizer).__name__
        self.before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}

    def on_fit_end(self, trainer):
        self.after = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}

    def moved(self) -> list[str]:
        return [k for k in self.before if not torch.equal(self.before[k], self.after[k])]

SHAPES = {"3x32x32": [3, 32, 32], "1x28x28": [1, 28, 28]}
# six steps: airbench's lookahead syncs every 5 steps and ends by copying its slow weights into the
# model, so a run shorter than one sync ends on its initial weights (as the reference's would)
TRAIN_IMAGES, TEST_IMAGES, BATCH, STEPS = 48, 8, 8, 6


@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("recipe", list(RECIPES))
def test_every_recipe_trains_a_few_steps(recipe, shape, tmp_path):
    epochs = STEPS * BATCH / TRAIN_IMAGES
    config = resolve_config(recipe, {
        "data": {"dataset": "synthetic", "synthetic_shape": SHAPES[shape], "synthetic_train_size": TRAIN_IMAGES,
                 "synthetic_test_size": TEST_IMAGES},
        "train": {"epochs": epochs, "batch_size": BATCH, "eval_batch_size": TEST_IMAGES, "device": "cpu",
                  "precision": "fp32", "plots": False},
        "runs_dir": str(tmp_path / "runs")})
    weights = WeightsBeforeAndAfter()
    result = train(config, quiet=True, callbacks=[weights])
    log = result.run_log
    assert log["status"] == "completed" and log["recipe"] == recipe
    assert log["steps"] == math.ceil(epochs * TRAIN_IMAGES / BATCH) == STEPS
    assert result.metrics["num_examples"] == TEST_IMAGES
    assert math.isfinite(result.metrics["loss"]) and math.isfinite(result.history[-1]["train_loss"])
    assert result.metrics["tta_level"] == config.train.tta  # airbench's recipes evaluate with their TTA
    assert weights.optimizer == OPTIMIZER_CLASSES[config.optim.name]  # the recipe's optimizer, not a default
    moved = weights.moved()  # the steps changed the weights: most of them (frozen or lr-0 groups aside)
    assert len(moved) >= len(weights.before) / 2, (len(moved), len(weights.before))
    assert all(torch.isfinite(v).all() for v in weights.after.values())


def test_every_recipe_written_in_recipes_py_is_registered():
    """No recipe written in training/recipes.py can drop out of the registry (its listing order is a
    sort, not a list to keep in step): the names come from the file's own source."""
    import ast

    from cifarbench.training import recipes

    tree = ast.parse(Path(recipes.__file__).read_text())
    written = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "WRITTEN":
            written += [k.value for k in node.value.keys]
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript) \
                and getattr(node.targets[0].value, "id", None) == "WRITTEN":
            written.append(node.targets[0].slice.value)
    assert len(written) >= 16 and set(written) == set(RECIPES)
    assert list(RECIPES)[:len(recipes.LISTED_FIRST)] == [n for n in recipes.LISTED_FIRST if n in RECIPES]
