"""The CPU fast path against a plain fp32 NCHW eager loop, in one run.

    python benchmarks/cpu_fast_path.py [--models airbench94,resnet18,lenet-large] [--accuracy-seeds 2]

Throughput: training images/s of each model at batch 64 on 3x32x32 (each setting in a fresh
process) for fp32 NCHW (the plain loop), fp32 channels_last, bf16 autocast channels_last, and
what `--precision auto` picks on this CPU. Accuracy: the same Fashion-MNIST recipe with the plain
settings and with the fast path, over a few seeds, to show the fast path does not cost accuracy.
Target (issue 5): >= 2.5x the plain loop's images/s. Results: benchmarks/results/cpu-fast-path.json.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from cifarbench.api import train
from cifarbench.bench.throughput import ThroughputSpec, measure_isolated
from cifarbench.devices import cpu_supports_fast_bf16
from cifarbench.resolve import resolve_config
from cifarbench.results import print_table, write_result

SETTINGS = {  # label: (precision, channels_last)
    "fp32 NCHW (plain)": ("fp32", False),
    "fp32 channels_last": ("fp32", True),
    "bf16 channels_last": ("bf16", True),
    "auto channels_last": ("auto", True),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="airbench94,resnet18,lenet-large")
    p.add_argument("--batch-size", type=int, default=64)
    # few steps: without native bf16, a bf16 step of resnet18 takes tens of seconds here
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--accuracy-model", default="airbench-tiny")
    p.add_argument("--accuracy-epochs", type=float, default=2)
    p.add_argument("--accuracy-seeds", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "cpu-fast-path.json"))
    args = p.parse_args()

    throughput, rows = {}, []
    for model in args.models.split(","):
        throughput[model] = {}
        for label, (precision, channels_last) in SETTINGS.items():
            r = measure_isolated(ThroughputSpec(model=model, batch_size=args.batch_size, precision=precision,
                                                channels_last=channels_last, device="cpu", steps=args.steps,
                                                warmup_steps=1))
            throughput[model][label] = r
        plain = throughput[model]["fp32 NCHW (plain)"]["train_images_per_second"]
        for label, r in throughput[model].items():
            ips = r["train_images_per_second"]
            rows.append([model, label, r["precision"], ips, f"{ips / plain:.2f}x"])
    print_table(f"CPU training throughput, batch {args.batch_size}, 3x32x32 (native bf16: {cpu_supports_fast_bf16()})",
                ["model", "setting", "precision used", "train img/s", "vs plain"], rows)

    accuracy, acc_rows = {}, []
    for label, (precision, channels_last) in (("plain: fp32 NCHW", ("fp32", False)),
                                              ("fast path: auto, channels_last", ("auto", True))):
        values, seconds = [], []
        for seed in range(args.accuracy_seeds):
            config = resolve_config("airbench94", {
                "data": {"dataset": "fashion-mnist"}, "model": {"name": args.accuracy_model},
                "train": {"epochs": args.accuracy_epochs, "device": "cpu", "precision": precision,
                          "channels_last": channels_last, "seed": seed, "eval_every": 10_000},
                "runs_dir": "runs/cpu-fast-path"})
            result = train(config, quiet=True)
            values.append(result.metrics["accuracy"])
            seconds.append(result.run_log["train_seconds"])
        accuracy[label] = {"test_accuracy": values, "train_seconds": seconds}
        acc_rows.append([label, f"{statistics.fmean(values):.2%}", " ".join(f"{v:.2%}" for v in values),
                         statistics.fmean(seconds)])
    print_table(f"Fashion-MNIST, {args.accuracy_model} x{args.accuracy_epochs:g} epochs (airbench94 recipe)",
                ["setting", "mean test acc", "per seed", "train s"], acc_rows)
    write_result(args.out, "cpu-fast-path", {"throughput": throughput, "accuracy": accuracy,
                                             "native_bf16": cpu_supports_fast_bf16(), "target_speedup": 2.5})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
