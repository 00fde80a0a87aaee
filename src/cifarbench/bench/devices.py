"""The CPU-versus-accelerator comparison: the same recipe, model, data, seed and
hyper-parameters on every available device.

Per device: one warm-up run (its time reported apart: kernel selection, allocator growth,
compilation), then `repeats` timed runs; min / median / max of the total training time,
per-epoch time, images/s, final accuracy; speedup = CPU median time / device median time.
"""

from __future__ import annotations

from pathlib import Path

from cifarbench.api import train
from cifarbench.config import get_path
from cifarbench.devices import mps_available
from cifarbench.files import new_folder
from cifarbench.resolve import resolve_config
from cifarbench.results import publish, summarise, table_report
from cifarbench.tables import percent

# With no --dataset: CIFAR-shaped synthetic data, so the benchmark needs no download.
SYNTHETIC_DEFAULT = {
    "dataset": "synthetic",
    "synthetic_shape": [3, 32, 32],
    "synthetic_train_size": 2048,
    "synthetic_test_size": 512,
}


def available_devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if mps_available() else [])


# The benchmark's own defaults, above the recipe and below what the user gives.
DEFAULTS = {"recipe": "airbench94", "data": SYNTHETIC_DEFAULT, "train": {"epochs": 1.0}}


def bench_devices(
    devices: list[str] | None = None, layers: dict | None = None, repeats: int = 3, quiet: bool = True
) -> dict:
    """`layers`: config values asked for (cli/options.py), over DEFAULTS; hardware.device alone,
    without `devices`, benchmarks that one device."""
    layers = layers or {}
    asked = get_path(layers, "hardware.device")
    devices = devices or ([asked] if asked else available_devices())
    base = resolve_config(None, DEFAULTS, layers)
    folder = new_folder(Path(base.runs_dir), "bench-devices")
    rows = []
    for device in devices:
        config = resolve_config(
            None, DEFAULTS, layers, {"hardware": {"device": device}, "runs_dir": str(folder / device)}
        )
        warmup = train(config, quiet=quiet)
        timed = [train(config, quiet=quiet) for _ in range(repeats)]
        total = summarise([r.run_log["train_seconds"] for r in timed])
        per_epoch = summarise([h["epoch_seconds"] for r in timed for h in r.history])
        images = timed[0].run_log["train_images"]
        rows.append(
            {
                "device": device,
                "precision": timed[0].run_log["precision"],
                "model": config.model.name,
                "warmup_seconds": warmup.run_log["train_seconds"],
                "train_seconds": total,
                "epoch_seconds": per_epoch,
                "images_per_second": images * config.train.epochs / total["median"],
                "test_accuracy": summarise([r.metrics["accuracy"] for r in timed]),
                "gpu_name": timed[0].run_log.get("gpu_name"),
                "cpu_model": timed[0].run_log.get("cpu_model"),
            }
        )
    cpu = next((r for r in rows if r["device"] == "cpu"), None)
    for r in rows:
        r["speedup_vs_cpu"] = cpu["train_seconds"]["median"] / r["train_seconds"]["median"] if cpu else None
    result = {
        "recipe": base.recipe,
        "model": rows[0]["model"],
        "dataset": base.data.dataset,
        "epochs": base.train.epochs,
        "repeats": repeats,
        "seed": base.train.seed,
        "devices": rows,
    }
    chart = None
    if cpu:
        chart = dict(
            labels=[r["device"] for r in rows],
            values=[r["speedup_vs_cpu"] for r in rows],
            title=f"{result['model']} ({base.recipe}) on {result['dataset']}: speedup over CPU",
            ylabel="x CPU",
            file="speedup",
            annotate="{:.2f}x",
        )
    return publish(folder, "devices", result, devices_report(result), chart)


def devices_report(result: dict) -> str:
    rows = [
        [
            r["device"],
            r["precision"],
            f"{r['warmup_seconds']:.2f}",
            *(f"{r['train_seconds'][k]:.2f}" for k in ("min", "median", "max")),
            f"{r['epoch_seconds']['median']:.2f}",
            f"{r['images_per_second']:,.0f}",
            percent(r["test_accuracy"]["mean"]),
            f"{r['speedup_vs_cpu']:.2f}x" if r["speedup_vs_cpu"] is not None else None,
        ]
        for r in result["devices"]
    ]
    return table_report(
        f"{result['model']} ({result['recipe']}) on {result['dataset']}, {result['epochs']:g} epoch(s), "
        f"{result['repeats']} timed repeats after one warm-up run, seed {result['seed']}",
        ["device", "precision", "warm-up s", "min s", "median s", "max s", "s/epoch", "img/s", "accuracy", "speedup"],
        rows,
        align="llrrrrrrrr",
    )


def run(args, layers: dict) -> dict:
    """`cifarbench bench devices` (bench/__init__.py registers it)."""
    return bench_devices(args.devices, layers, repeats=args.repeats, quiet=True)
