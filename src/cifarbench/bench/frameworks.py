"""`cifarbench bench frameworks --model M`: PyTorch and MLX on the same device class and data.

Both runs share the recipe, seed, splits, batches, augmentation, initial weights and schedule
(mlx/backend.py), so what differs is the framework. Reported per framework: the first epoch apart
(MLX compiles its step then; PyTorch warms its allocator), the median time of the later
epochs, images/s over them, final training loss and test accuracy.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from cifarbench.api import train
from cifarbench.config import get_path
from cifarbench.errors import UserError
from cifarbench.files import new_folder
from cifarbench.resolve import resolve_config
from cifarbench.results import publish, table_report
from cifarbench.tables import percent

FRAMEWORKS = ("torch", "mlx")
# small enough for MLX's CPU backend on Linux, whose convolutions are far slower than PyTorch's
SYNTHETIC_SMALL = {
    "dataset": "synthetic",
    "synthetic_shape": [3, 32, 32],
    "synthetic_train_size": 512,
    "synthetic_test_size": 256,
}


# The benchmark's own defaults, above the recipe and below what the user gives.
DEFAULTS = {
    "model": {"name": "small-resnet"},
    "data": SYNTHETIC_SMALL,
    "train": {"epochs": 2.0},
    "hardware": {"device": "cpu", "precision": "fp32"},
    "output": {"plots": False},
}


def bench_frameworks(layers: dict | None = None, quiet: bool = True) -> dict:
    """`layers`: config values asked for (cli/options.py), over DEFAULTS; the benchmark sets
    train.framework itself."""
    layers = layers or {}
    if get_path(layers, "train.framework") is not None:
        raise UserError("bench frameworks trains with each framework in turn; train.framework cannot be set")
    base = resolve_config(None, DEFAULTS, layers)
    folder = new_folder(Path(base.runs_dir), "bench-frameworks")
    rows = []
    for framework in FRAMEWORKS:
        config = resolve_config(
            None, DEFAULTS, layers, {"train": {"framework": framework}, "runs_dir": str(folder / framework)}
        )
        run = train(config, quiet=quiet)
        history = run.history
        later = history[1:] or history  # the first epoch apart: it carries MLX's compilation
        seconds = [h["epoch_seconds"] for h in later]
        images = sum(h["images_per_second"] * h["epoch_seconds"] for h in later)
        rows.append(
            {
                "framework": framework,
                "version": run.run_log.get("mlx" if framework == "mlx" else "torch"),
                "device": run.run_log["device"],
                "first_epoch_seconds": history[0]["epoch_seconds"],
                "epoch_seconds": statistics.median(seconds),
                "images_per_second": images / sum(seconds),
                "final_train_loss": history[-1]["train_loss"],
                "test_accuracy": run.metrics["accuracy"],
                "test_loss": run.metrics["loss"],
                "run": run.run.path.name,
            }
        )
    result: dict[str, Any] = {
        "model": base.model.name,
        "recipe": base.recipe,
        "dataset": base.data.dataset,
        "epochs": base.train.epochs,
        "seed": base.train.seed,
        "frameworks": rows,
    }
    return publish(
        folder,
        "frameworks",
        result,
        frameworks_report(result),
        dict(
            labels=[f"{r['framework']} {r['version']}\n{r['device']}" for r in rows],
            values=[r["images_per_second"] for r in rows],
            title=f"{base.model.name} on {result['dataset']}: training images/s",
            ylabel="images/s",
            file="frameworks",
            annotate="{:,.0f}",
        ),
    )


def frameworks_report(result: dict) -> str:
    rows = [
        [
            r["framework"],
            str(r["version"]),
            r["device"],
            f"{r['first_epoch_seconds']:.2f}",
            f"{r['epoch_seconds']:.2f}",
            f"{r['images_per_second']:,.1f}",
            f"{r['final_train_loss']:.4f}",
            percent(r["test_accuracy"]),
        ]
        for r in result["frameworks"]
    ]
    return table_report(
        f"{result['model']} ({result['recipe']}) on {result['dataset']}, {result['epochs']:g} epoch(s), "
        f"seed {result['seed']}; the first epoch (compilation, warm-up) is shown apart",
        ["framework", "version", "device", "1st epoch s", "s/epoch", "img/s", "train loss", "accuracy"],
        rows,
        align="lllrrrrr",
    )


def run(args, layers: dict) -> dict:
    """`cifarbench bench frameworks` (bench/__init__.py registers it)."""
    return bench_frameworks(layers)
