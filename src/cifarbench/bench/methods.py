"""The method comparison: a baseline ResNet-18 against the airbench recipes, same data, same
device, each at its own recipe's epochs (the point is accuracy per unit of time).

    cifarbench compare-methods [--dataset D] [--quick]

Writes comparison.md and comparison.json beside the run directories, in one folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from cifarbench.api import train
from cifarbench.config import get_path, merge
from cifarbench.errors import UserError
from cifarbench.files import atomic_write_json, atomic_write_text, new_folder
from cifarbench.fingerprint import fingerprint
from cifarbench.repeat import timed_seconds
from cifarbench.resolve import resolve_config
from cifarbench.tables import markdown_table, percent

BASELINE = "resnet18-onecycle"
METHODS = (BASELINE, "airbench94", "airbench95", "airbench96")
# The comparison's own default: CIFAR-10, whatever each recipe's dataset (airbench's are CIFAR-10 too).
DEFAULTS = {"data": {"dataset": "cifar10"}}


@dataclass(frozen=True)
class Quick:
    """--quick: a pipeline check on a slice of the data, not a result to quote."""

    train_images: int = 2000
    test_images: int = 1000
    epoch_fraction: float = 0.25  # of each recipe's epochs, at least 1


def compare_methods(methods=METHODS, layers: dict | None = None, *, quick: bool = False, quiet: bool = False) -> dict:
    """Train each recipe in `methods` (the first is the baseline); `layers` are config values
    applied to every method (cli/options.py: the dataset, device, seed, ...)."""
    layers = layers or {}
    if get_path(layers, "recipe") is not None:
        raise UserError("compare-methods trains each of --methods in turn; give the recipes there, not as --recipe")
    base = resolve_config(methods[0], DEFAULTS, layers)
    dataset = base.data.dataset
    folder = new_folder(Path(base.runs_dir), f"compare-methods-{dataset}" + ("-quick" if quick else ""))
    rows = []
    for recipe in methods:
        overrides = merge(layers, {"runs_dir": str(folder), "name": recipe})
        config = resolve_config(recipe, DEFAULTS, overrides)
        if quick:
            q = Quick()
            epochs = max(1.0, math.ceil(config.train.epochs * q.epoch_fraction))
            config = resolve_config(
                recipe,
                DEFAULTS,
                overrides,
                {
                    "data": {"train_subset": q.train_images, "test_subset": q.test_images},
                    "train": {"epochs": epochs, "batch_size": min(config.train.batch_size, q.train_images // 4)},
                },
            )
        result = train(config, quiet=quiet)
        log = result.run_log
        rows.append(
            {
                "method": recipe,
                "model": config.model.name,
                "epochs": config.train.epochs,
                "parameters": log["parameters"],
                "test_accuracy": result.metrics["accuracy"],
                "train_seconds": log["train_seconds"],
                "timed_seconds": timed_seconds(result),
                "seconds_per_epoch": log["train_seconds"] / config.train.epochs,
                "run_dir": result.run.path.name,
            }
        )
    baseline = next(r for r in rows if r["method"] == methods[0])
    for r in rows:
        r["speedup"] = baseline["timed_seconds"] / r["timed_seconds"]
    summary = {
        "dataset": dataset,
        "quick": quick,
        "device": result.run_log["device"],
        "precision": result.run_log["precision"],
        "machine": fingerprint(torch.device(result.run_log["device"])),  # as every results file records it
        "baseline": methods[0],
        "methods": rows,
    }
    atomic_write_json(summary, folder / "comparison.json")
    atomic_write_text(comparison_markdown(summary), folder / "comparison.md")
    summary["folder"] = str(folder)
    return summary


def comparison_markdown(s: dict) -> str:
    lines = [
        f"# Methods on {s['dataset']} ({s['device']}, {s['precision']})"
        + (" — quick check, not a result" if s["quick"] else ""),
        "",
        markdown_table(
            [
                "method",
                "model",
                "parameters",
                "epochs",
                "test accuracy",
                "time s",
                "s / epoch",
                f"speedup vs {s['baseline']}",
            ],
            [
                [
                    r["method"],
                    r["model"],
                    f"{r['parameters']:,}",
                    f"{r['epochs']:g}",
                    percent(r["test_accuracy"]),
                    f"{r['timed_seconds']:.1f}",
                    f"{r['seconds_per_epoch']:.1f}",
                    f"{r['speedup']:.2f}x",
                ]
                for r in s["methods"]
            ],
            align="llrrrrrr",
        ).rstrip(),
    ]
    lines += [
        "",
        "Time counts data-dependent initialisation, training and the final evaluation (with each "
        "recipe's test-time augmentation), as airbench times itself; per-epoch validation is excluded.",
        "",
    ]
    return "\n".join(lines)
