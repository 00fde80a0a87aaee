"""torch.compile against eager on this machine: compile seconds, and steady-state training
images/s, for airbench's recipe at two widths, in one run.

    python benchmarks/compile_speed.py [--models airbench-tiny,airbench94] [--images 2048] [--epochs 3]

Each setting is a whole `cifarbench train` run (api.train) on CIFAR-shaped synthetic data, so
the figures include the real loop (loader, augmentation, lookahead). Compilation happens in the
warm-up before the clock (training/compiled.py) and is reported apart; steady-state images/s is the
median over the epochs after the first. Results: benchmarks/results/compile-cpu.json.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from cifarbench.api import train
from cifarbench.resolve import resolve_config
from cifarbench.results import print_table, write_result
from cifarbench.training import compiled


def run(model: str, compile_: bool, images: int, epochs: float, batch: int, precision: str) -> dict:
    compiled._LAST.clear()
    torch._dynamo.reset()  # each compiled setting pays its own compilation
    config = resolve_config("airbench94", {
        "model": {"name": model},
        "data": {"dataset": "synthetic", "synthetic_shape": [3, 32, 32], "synthetic_train_size": images,
                 "synthetic_test_size": 512},
        "train": {"epochs": epochs, "batch_size": batch, "device": "cpu", "precision": precision,
                  "compile": compile_, "plots": False, "eval_every": 1000},
        "runs_dir": "runs/compile-speed"})
    result = train(config, quiet=True)
    later = [h["images_per_second"] for h in result.history[1:]] or [result.history[0]["images_per_second"]]
    return {"model": model, "compiled": compile_, "precision": result.run_log["precision"],
            "compile_seconds": result.run_log.get("compile_seconds"), "train_seconds": result.run_log["train_seconds"],
            "images_per_second": statistics.median(later), "epoch_images_per_second": [h["images_per_second"]
                                                                                       for h in result.history],
            "test_accuracy": result.metrics["accuracy"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="airbench-tiny,airbench94")
    p.add_argument("--images", type=int, default=2048)
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--precision", default="auto")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "compile-cpu.json"))
    args = p.parse_args()
    results, rows = [], []
    for model in args.models.split(","):
        eager = run(model, False, args.images, args.epochs, args.batch_size, args.precision)
        built = run(model, True, args.images, args.epochs, args.batch_size, args.precision)
        results += [eager, built]
        for r in (eager, built):
            rows.append([model, "compiled (inductor)" if r["compiled"] else "eager", r["precision"],
                         "–" if r["compile_seconds"] is None else f"{r['compile_seconds']:.1f}",
                         r["images_per_second"], f"{r['images_per_second'] / eager['images_per_second']:.2f}x"])
    print_table(f"torch.compile on {torch.backends.cpu.get_cpu_capability()} CPU, batch {args.batch_size}, "
                f"{args.images} images x {args.epochs:g} epochs", ["model", "mode", "precision", "compile s",
                                                                    "img/s (epochs 2+)", "vs eager"], rows)
    write_result(args.out, "compile-speed", {"settings": vars(args), "runs": results})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
