"""Named recipes: every hyper-parameter of a classic training setup in one visible place.

A recipe is a partial config (a nested dict over the sections of config.RunConfig); what it
does not say keeps the default. Each value carries the reason or the source it comes from.
Override any field on the command line (`--epochs 5`, `--set optim.lr=0.05`) or from YAML.

Data only, and no torch: `cifarbench list recipes` and the command line's help read it without
loading the model zoo. A recipe becomes a checked config in resolve.py.
"""

from __future__ import annotations

from cifarbench.config import merge
from cifarbench.errors import ConfigError
from cifarbench.registry import Registry

CROP_FLIP = {"flip": "random", "crop_padding": 4}  # RandomCrop(32, padding=4) + RandomHorizontalFlip

WRITTEN: dict[str, dict] = {  # each recipe as written; registered below in LISTED_FIRST order
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
    # ---- airbench (Keller Jordan, arXiv 2404.00498). Every value below is from the reference package
    # `airbench` (lib_airbench94.py `hyp` and utils.py `train`) unless a comment says otherwise.
    "airbench94": {
        "model": {
            "name": "airbench94",
            "whiten_bias_epochs": 3,
        },  # hyp['opt']['whiten_bias_epochs']: bias trained 3 epochs, then frozen
        "augment": {
            "flip": "alternating",  # CifarLoader(altflip=True): each image flipped every other epoch
            "crop_padding": 2,
            "pad_mode": "reflect",
        },  # hyp['aug']['translate'] = 2, reflect padding
        "optim": {
            "name": "sgd",
            "nesterov": True,  # utils.train: SGD(..., nesterov=True)
            "decoupled": True,  # lr and decay per 1024 examples, independent of momentum (utils.train)
            "lr": 11.5,  # hyp['opt']['lr']: "learning rate per 1024 examples"
            "momentum": 0.85,  # hyp['opt']['momentum']
            "weight_decay": 0.0153,  # hyp['opt']['weight_decay']: "per 1024 examples"
            "bias_lr_scale": 64.0,  # hyp['opt']['bias_scaler']: BatchNorm biases learn 64x faster
            "label_smoothing": 0.2,  # hyp['opt']['label_smoothing']
            "loss_reduction": "sum",  # utils.train: loss_fn(outputs, labels).sum()
            "lookahead": True,
            "lookahead_every": 5,
            "lookahead_decay": 0.95,
        },  # LookaheadState, 0.95**5
        "schedule": {
            "name": "triangle",
            "interval": "batch",  # LambdaLR stepped every batch
            "pct_start": 0.23,
            "start_factor": 0.2,
            "end_factor": 0.07,
        },  # train(lr_peak, lr_end), get_lr
        "train": {
            "epochs": 9.9,  # hyp['opt']['train_epochs']
            "batch_size": 1024,  # CifarLoader(batch_size=hyp['opt']['batch_size'])
            "drop_last": True,  # CifarLoader: drop_last = train
            "eval_batch_size": 2000,  # test_loader batch_size=2000
            "tta": 2,
        },  # hyp['net']['tta_level']: mirror + 1-px translations, 6 views
        "hardware": {"channels_last": True},  # make_net94: memory_format=torch.channels_last
    },
}

# lenet-large plus the standard CIFAR augmentation, which is what closes most of its overfitting gap.
WRITTEN["lenet-large-aug"] = merge(WRITTEN["lenet-large"], {"augment": CROP_FLIP})
# ... plus Smith's one-cycle policy (arXiv 1708.07120): peak 0.1 at 30%, cosine annealing, weight
# decay 5e-4 as in kuangliu/pytorch-cifar, 40 epochs.
WRITTEN["lenet-large-onecycle"] = merge(
    WRITTEN["lenet-large-aug"],
    {
        "optim": {"lr": 0.1, "weight_decay": 5e-4},
        "schedule": {"name": "onecycle", "max_lr": 0.1, "pct_start": 0.3, "anneal": "cos"},
        "train": {"epochs": 40},
    },
)
# lib_airbench95.py: the wider net (128/384/384), 15 epochs, lr 10.0; everything else as airbench94.
WRITTEN["airbench95"] = merge(
    WRITTEN["airbench94"],
    {
        "model": {"name": "airbench95"},
        "optim": {"lr": 10.0},
        "train": {"epochs": 15.0},
    },
)
# lib_airbench96.py: 128/384/512 with three convs and a residual per group, 37 epochs, lr 9.0, decay
# 0.012, translate 4, cutout 12. Its train96 declares lr_peak=0.1, lr_end=0 but does not pass them
# on, so the reference runs utils.train's defaults 0.23 / 0.07: we do the same.
WRITTEN["airbench96"] = merge(
    WRITTEN["airbench94"],
    {
        "model": {"name": "airbench96"},
        "augment": {"crop_padding": 4, "cutout": 12},
        "optim": {"lr": 9.0, "weight_decay": 0.012},
        "train": {"epochs": 37.0},
    },
)

# KellerJordan/cifar10-airbench airbench94_muon.py at commit 096d14d9 (94.01% in 2.59 s on an A100,
# published): every value below is from its main() and CifarNet unless a comment says otherwise.
WRITTEN["airbench94_muon"] = {
    "model": {
        "name": "airbench94-muon",
        "whiten_bias_epochs": 3,
    },  # whiten_bias_train_steps = ceil(3 * len(train_loader)), then detached
    "augment": {
        "flip": "alternating",  # CifarLoader(aug=dict(flip=True, ...)): pre-flipped, all flipped on odd epochs
        "crop_padding": 2,
        "pad_mode": "reflect",
    },  # aug=dict(translate=2), F.pad(..., "reflect")
    "optim": {
        "name": "muon",
        "lr": 0.24,
        "momentum": 0.6,
        "nesterov": True,  # Muon(filter_params, lr=0.24, momentum=0.6, nesterov=True)
        "ns_steps": 3,  # zeropower_via_newtonschulz5(G, steps=3)
        "aux_momentum": 0.85,  # torch.optim.SGD(param_configs, momentum=0.85, nesterov=True)
        "bias_lr": 0.053,
        "head_lr": 0.67,  # bias_lr = 0.053, head_lr = 0.67
        "weight_decay": 2e-6,  # wd = 2e-6 * batch_size, each SGD group's decay wd / its lr
        "label_smoothing": 0.2,
        "loss_reduction": "sum",  # F.cross_entropy(..., 0.2, reduction="sum")
        "lookahead": False,
        "decoupled": False,
    },  # no lookahead in this recipe
    "schedule": {"name": "linear_decay", "interval": "batch"},  # lr = initial * (1 - step / total_train_steps)
    "train": {
        "epochs": 8.0,  # total_train_steps = ceil(8 * len(train_loader))
        "batch_size": 2000,  # batch_size = 2000
        "drop_last": True,  # CifarLoader: drop_last = train
        "eval_batch_size": 2000,  # test_images.split(2000)
        "tta": 2,
    },  # evaluate(model, test_loader, tta_level=2)
    "hardware": {"channels_last": True},  # model.to(memory_format=torch.channels_last)
}

# ---- CPU recipes for Fashion-MNIST, found by `cifarbench tune` on a validation split (10% of the
# training images; the test split sealed). Everything not named here is airbench94's. The searches
# are kept in benchmarks/tune/ (space file, SQLite study, table): each value below is the named
# trial's, rounded. They are recipes of the one loop, so they also run on MNIST and 3x32x32 data.
# Each is named for what it is, its net and its schedule: how long it takes depends on the machine
# (the same schedule ran 2.5x apart on two CPUs), so a budget is the planner's (`train --budget-s`).
# They were tuned under a per-trial time limit on a 2-core AVX2 EPYC and first named for those
# limits (fashion-avx2-50s / fashion-avx2-160s), before that for accuracies (fashion93 / fashion94).
# Study fashion93 (14 trials, --budget-s 50, 2-core AMD EPYC, AVX2, no native bf16), trial 11:
# 91.33% validation accuracy in 51.6 s (init + training + 6-view TTA evaluation).
WRITTEN["fashion-tiny-2.25ep"] = merge(
    WRITTEN["airbench94"],
    {
        "data": {"dataset": "fashion-mnist"},  # what it was tuned on; --dataset mnist or cifar10 runs it there
        "model": {"name": "airbench-tiny"},  # airbench94's design at 16/32/64: the space fixed it (60 s on 2 cores)
        "optim": {
            "lr": 9.8,  # trial 11: 9.798 (per 1024 examples, as airbench94's 11.5)
            "label_smoothing": 0.27,
        },  # trial 11: 0.2739
        "train": {
            "epochs": 2.25,  # trial 11: 2.25
            "batch_size": 128,  # trial 11: 128 (every complete trial above 91% used 128)
            "tta": 2,
        },  # trial 11: 2
    },
)

# Study fashion94 (6 trials, --budget-s 160, TTA fixed at 2, the same CPU), trial 1: 93.23%
# validation accuracy in 163.4 s. airbench-small lost to airbench-tiny at this budget on 2 cores.
WRITTEN["fashion-tiny-8ep"] = merge(
    WRITTEN["fashion-tiny-2.25ep"],
    {
        "optim": {
            "lr": 11.85,  # trial 1: 11.852
            "label_smoothing": 0.26,
        },  # trial 1: 0.2592
        "train": {
            "epochs": 8.0,  # trial 1: 8
            "batch_size": 256,
        },  # trial 1: 256
    },
)

# The order `cifarbench list recipes` shows: simplest first. A sort, not a selection: a recipe
# written above and not named here keeps its place at the end instead of disappearing.
LISTED_FIRST = (
    "tutorial",
    "lenet-small-onecycle",
    "lenet-large",
    "lenet-large-aug",
    "lenet-large-onecycle",
    "cnn-adam",
    "small-resnet-adamw",
    "mnist-cnn",
    "resnet18-onecycle",
    "resnet50-multistep",
    "airbench94",
    "airbench94_muon",
    "airbench95",
    "airbench96",
    "fashion-tiny-2.25ep",
    "fashion-tiny-8ep",
)


def recipe_line(recipe: dict) -> str:
    """A recipe in one line: its net, optimizer, schedule, epochs and batch (`cifarbench list recipes`)."""
    optim, train = recipe["optim"], recipe["train"]
    return (
        f"{recipe['model']['name']}, {optim['name']} lr {optim['lr']}, {recipe['schedule']['name']}, "
        f"{train['epochs']} epochs of batch {train['batch_size']}"
    )


RECIPES: Registry[dict] = Registry("recipe", describe=recipe_line)
for _name in sorted(WRITTEN, key=lambda n: LISTED_FIRST.index(n) if n in LISTED_FIRST else len(LISTED_FIRST)):
    RECIPES.add(_name, WRITTEN[_name])  # sorted() is stable: unlisted recipes stay in written order

# What `cifarbench train` runs with no flags: the best CIFAR-10 recipe the tool has.
DEFAULT_RECIPE = "airbench94"

# What `--model M` without `--recipe` runs: the fastest good recipe written for M. Models not
# named here get the first recipe written for them, else the default.
HOME_RECIPES = {"lenet-small": "lenet-small-onecycle"}


def recipe_names() -> list[str]:
    return RECIPES.names()


# Former names, for the records that still carry them (results files, old run folders, commands), and
# why each was dropped: a name must say what the recipe is, not an accuracy or a time it had on one CPU.
RENAMED = {
    "fashion93": ("fashion-tiny-2.25ep", "it did not reach the accuracy in its name"),
    "fashion94": ("fashion-tiny-8ep", "it did not reach the accuracy in its name"),
    "fashion-avx2-50s": ("fashion-tiny-2.25ep", "its time held on one CPU only"),
    "fashion-avx2-160s": ("fashion-tiny-8ep", "its time held on one CPU only"),
}


def get_recipe(name: str) -> dict:
    if name in RENAMED:
        new, why = RENAMED[name]
        raise ConfigError(
            f"recipe {name!r} is now {new!r} ({why}); for an accuracy or a time, plan one: "
            "cifarbench train --target 0.93 or --budget-s 60"
        )
    return RECIPES.get(name)


def recipe_for_model(model: str) -> str:
    """The recipe `--model M` alone trains M with."""
    if model in HOME_RECIPES:
        return HOME_RECIPES[model]
    for name, recipe in RECIPES.items():
        if recipe.get("model", {}).get("name") == model:
            return name
    return DEFAULT_RECIPE


def recipe_table() -> tuple[list[str], list[list[str]]]:
    """Columns and rows of `cifarbench list recipes`, in the order the recipes are written."""
    rows = [
        [
            name + (" (default)" if name == DEFAULT_RECIPE else ""),
            r["model"]["name"],
            r.get("data", {}).get("dataset", "cifar10"),
            f"{r['optim']['name']} lr {r['optim']['lr']}",
            r["schedule"]["name"],
            str(r["train"]["epochs"]),
            str(r["train"]["batch_size"]),
        ]
        for name, r in RECIPES.items()
    ]
    return ["recipe", "model", "dataset", "optimizer", "schedule", "epochs", "batch"], rows
