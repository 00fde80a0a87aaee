"""`cifarbench bench frameworks --model M`: PyTorch and MLX on the same device class and data.

Both runs share the recipe, seed, splits, batches, augmentation, initial weights and schedule
(mlx/backend.py), so what differs is the framework. Reported per framework: the first epoch apart
(MLX compiles its step then; PyTorch warms its allocator), the median time of the later
epochs, images/s over them, final training loss and test accuracy.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from cifarbench.api import train
from cifarbench.bench.results import publish, table_report
from cifarbench.config import merge
from cifarbench.files import new_folder
from cifarbench.tables import percent
from cifarbench.train.recipes import resolve_config

FRAMEWORKS = ("torch", "mlx")
# small enough for MLX's CPU backend on Linux, whose convolutions are far slower than PyTorch's
SYNTHETIC_SMALL = {"dataset": "synthetic", "synthetic_shape": [3, 32, 32], "synthetic_train_size": 512,
                   "synthetic_test_size": 256}


def bench_frameworks(model: str = "small-resnet", recipe: str | None = None, dataset: str | None = None,
                     epochs: float = 2.0, device: str = "cpu", seed: int = 0, runs_dir: str = "runs",
                     train_images: int = 512, image_size: int = 32, extra: dict | None = None,
                     quiet: bool = True) -> dict:
    folder = new_folder(Path(runs_dir), "bench-frameworks")
    data = {"dataset": dataset} if dataset else {**SYNTHETIC_SMALL, "synthetic_train_size": train_images,
                                                 "synthetic_shape": [3, image_size, image_size]}
    rows = []
    for framework in FRAMEWORKS:
        layer = {"data": data, "model": {"name": model}, "runs_dir": str(folder / framework),
                 "train": {"framework": framework, "device": device, "epochs": epochs, "seed": seed, "plots": False,
                           "precision": "fp32"}}
        config = resolve_config(recipe, merge(layer, extra or {}))
        result = train(config, quiet=quiet)
        history = result.history
        later = history[1:] or history  # the first epoch apart: it carries MLX's compilation
        seconds = [h["epoch_seconds"] for h in later]
        images = sum(h["images_per_second"] * h["epoch_seconds"] for h in later)
        rows.append({"framework": framework, "version": result.run_log.get("mlx" if framework == "mlx" else "torch"),
                     "device": result.run_log["device"], "first_epoch_seconds": history[0]["epoch_seconds"],
                     "epoch_seconds": statistics.median(seconds), "images_per_second": images / sum(seconds),
                     "final_train_loss": history[-1]["train_loss"], "test_accuracy": result.metrics["accuracy"],
                     "test_loss": result.metrics["loss"], "run": result.run.path.name})
    result = {"model": model, "recipe": config.recipe, "dataset": data["dataset"], "epochs": epochs, "seed": seed,
              "frameworks": rows}
    return publish(folder, "frameworks", result, frameworks_report(result), dict(
        labels=[f"{r['framework']} {r['version']}\n{r['device']}" for r in rows],
        values=[r["images_per_second"] for r in rows], title=f"{model} on {result['dataset']}: training images/s",
        ylabel="images/s", file="frameworks", annotate="{:,.0f}"))


def frameworks_report(result: dict) -> str:
    rows = [[r["framework"], str(r["version"]), r["device"], f"{r['first_epoch_seconds']:.2f}", f"{r['epoch_seconds']:.2f}",
             f"{r['images_per_second']:,.1f}", f"{r['final_train_loss']:.4f}", percent(r["test_accuracy"])]
            for r in result["frameworks"]]
    return table_report(f"{result['model']} ({result['recipe']}) on {result['dataset']}, {result['epochs']:g} epoch(s), "
                        f"seed {result['seed']}; the first epoch (compilation, warm-up) is shown apart",
                        ["framework", "version", "device", "1st epoch s", "s/epoch", "img/s", "train loss", "accuracy"],
                        rows, align="lllrrrrr")
