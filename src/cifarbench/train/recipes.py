"""Named recipes: every hyper-parameter of a classic training setup in one visible place.

A recipe is a partial config (a nested dict over the sections of config.RunConfig); what it
does not say keeps the default. Each value carries the reason or the source it comes from.
Override any field on the command line (`--epochs 5`, `--set optim.lr=0.05`) or from YAML.
"""

from __future__ import annotations

from cifarbench.config import RunConfig, merge
from cifarbench.errors import ConfigError

CROP_FLIP = {"flip": "random", "crop_padding": 4}  # RandomCrop(32, padding=4) + RandomHorizontalFlip

RECIPES: dict[str, dict] = {
    # PyTorch "Training a Classifier" tutorial (pytorch.org/tutorials/beginner/blitz/cifar10_tutorial):
    # its exact loop: batch 4, SGD lr 0.001 momentum 0.9, no decay, 2 epochs, no augmentation.
    "tutorial": {
        "model": {"name": "lenet-small"},
        "optim": {"name": "sgd", "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0},
        "schedule": {"name": "constant"},
        "train": {"epochs": 2, "batch_size": 4},
    },
    # The tutorial net with one-cycle SGD at batch 32 (peak lr 0.05, momentum 0.9, decay 5e-4):
    # a cifarbench recipe, measured to pass the tutorial's 2-epoch accuracy within one epoch on
    # Fashion-MNIST (86.4% vs 84.0% for `tutorial` at 1 epoch, seed 0, see README).
    "lenet-small-onecycle": {
        "model": {"name": "lenet-small"},
        "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
        "schedule": {"name": "onecycle", "max_lr": 0.05, "pct_start": 0.3, "anneal": "cos"},
        "train": {"epochs": 10, "batch_size": 32},
    },
    # The widened LeNet with a fixed lr, the classic "bigger net, same loop" step.
    "lenet-large": {
        "model": {"name": "lenet-large"},
        "optim": {"name": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0},
        "schedule": {"name": "constant"},
        "train": {"epochs": 20, "batch_size": 64},
    },
    # ... plus the standard CIFAR augmentation, which is what closes most of its overfitting gap.
    "lenet-large-aug": {
        "model": {"name": "lenet-large"},
        "augment": CROP_FLIP,
        "optim": {"name": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0},
        "schedule": {"name": "constant"},
        "train": {"epochs": 20, "batch_size": 64},
    },
    # ... plus Smith's one-cycle policy (arXiv 1708.07120): peak 0.1 at 30%, cosine annealing,
    # weight decay 5e-4 as in kuangliu/pytorch-cifar.
    "lenet-large-onecycle": {
        "model": {"name": "lenet-large"},
        "augment": CROP_FLIP,
        "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
        "schedule": {"name": "onecycle", "max_lr": 0.1, "pct_start": 0.3, "anneal": "cos"},
        "train": {"epochs": 40, "batch_size": 64},
    },
    # ResNet-18 with one-cycle SGD: kuangliu/pytorch-cifar's lr 0.1, momentum 0.9, decay 5e-4,
    # batch 128, crop + flip; one-cycle over 40 epochs instead of its 200-epoch cosine.
    "resnet18-onecycle": {
        "model": {"name": "resnet18"},
        "augment": CROP_FLIP,
        "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
        "schedule": {"name": "onecycle", "max_lr": 0.1, "pct_start": 0.3, "anneal": "cos"},
        "train": {"epochs": 40, "batch_size": 128},
    },
    # He et al. 2015's ImageNet schedule shrunk to 10 epochs: SGD 0.1, momentum 0.9, decay 1e-4,
    # lr x0.1 at epochs 5 and 8.
    "resnet50-multistep": {
        "model": {"name": "resnet50"},
        "augment": CROP_FLIP,
        "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
        "schedule": {"name": "multistep", "interval": "epoch", "milestones": [5, 8], "gamma": 0.1},
        "train": {"epochs": 10, "batch_size": 128},
    },
    # A plain Adam baseline: Adam's default lr 1e-3 (Kingma & Ba 2014), L2 decay 1e-4, lr x0.1 every
    # 5 epochs; flips and small (10 degree) rotations.
    "cnn-adam": {
        "model": {"name": "cnn-3conv"},
        "augment": {"flip": "random", "rotate_degrees": 10.0},
        "optim": {"name": "adam", "lr": 1e-3, "weight_decay": 1e-4},
        "schedule": {"name": "step", "interval": "epoch", "step_size": 5, "gamma": 0.1},
        "train": {"epochs": 15, "batch_size": 64},
    },
    # AdamW at Karpathy's "3e-4 is the best learning rate for Adam", decoupled decay 0.01 (the
    # torch default), crop + flip.
    "small-resnet-adamw": {
        "model": {"name": "small-resnet"},
        "augment": CROP_FLIP,
        "optim": {"name": "adamw", "lr": 3e-4, "weight_decay": 0.01},
        "schedule": {"name": "constant"},
        "train": {"epochs": 20, "batch_size": 128},
    },
    # pytorch/examples mnist/main.py defaults: Adadelta lr 1.0, StepLR gamma 0.7 each epoch,
    # batch 64, test batch 1000, 14 epochs.
    "mnist-cnn": {
        "data": {"dataset": "mnist"},
        "model": {"name": "mnist-cnn"},
        "optim": {"name": "adadelta", "lr": 1.0, "weight_decay": 0.0},
        "schedule": {"name": "step", "interval": "epoch", "step_size": 1, "gamma": 0.7},
        "train": {"epochs": 14, "batch_size": 64, "eval_batch_size": 1000},
    },
}

# What `cifarbench train` runs with no flags: the best CIFAR-10 recipe the tool has.
DEFAULT_RECIPE = "resnet18-onecycle"

# What `--model M` without `--recipe` runs: the fastest good recipe written for M. Models not
# named here get the first recipe written for them, else the default.
HOME_RECIPES = {"lenet-small": "lenet-small-onecycle"}


def recipe_names() -> list[str]:
    return list(RECIPES)


def get_recipe(name: str) -> dict:
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; known recipes: {', '.join(RECIPES)}")
    return RECIPES[name]


def recipe_for_model(model: str) -> str:
    """The recipe `--model M` alone trains M with."""
    if model in HOME_RECIPES:
        return HOME_RECIPES[model]
    for name, recipe in RECIPES.items():
        if recipe.get("model", {}).get("name") == model:
            return name
    return DEFAULT_RECIPE


def resolve_config(recipe: str | None = None, *layers: dict) -> RunConfig:
    """defaults < recipe < each layer in turn (YAML file, then command-line values)."""
    merged: dict = {}
    for layer in layers:
        merged = merge(merged, layer)
    recipe = recipe or merged.get("recipe")
    if recipe is None:
        model = merged.get("model", {}).get("name")
        recipe = recipe_for_model(model) if model else DEFAULT_RECIPE
    values = merge(merge({"recipe": recipe}, get_recipe(recipe)), merged)
    return RunConfig.from_dict(values)
