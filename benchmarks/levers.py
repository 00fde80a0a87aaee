"""Accuracy-per-second levers on a validation split: each training variant trained over N seeds
(validation carved from the training split, the test split sealed), then each trained model
evaluated with no TTA, airbench's full TTA and selective TTA at several shares,
every evaluation timed in the same process.

    python benchmarks/levers.py [--dataset fashion-mnist] [--seeds 3] [--epochs 4]
                                [--variants base,label-smoothing-0.1] [--shares 0.25,0.5]

A variant is kept only if its mean validation accuracy beats the base's by more than the seeds'
spread, or matches it for less time; the table shows both. Results:
benchmarks/results/levers-<dataset>-<amx|avx512-bf16|avx2>.json (the machine's fingerprint inside).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from cifarbench.api import train
from cifarbench.data.prepare import prepare_data
from cifarbench.devices import cpu_class
from cifarbench.eval.inference import evaluate_loaded, load_model
from cifarbench.planner.frontier import VAL_SPLIT
from cifarbench.repeat import timed_seconds
from cifarbench.resolve import resolve_config
from cifarbench.results import print_table, summarise, write_result

BASE = "fashion-tiny-8ep"
VARIANTS = {  # label: (recipe, overrides over the recipe)
    "base": (BASE, {}),
    "label-smoothing-0.1": (BASE, {"optim": {"label_smoothing": 0.1}}),  # hiverge's lower smoothing
    "batch-128": (BASE, {"train": {"batch_size": 128}}),
    # the other end of a batch-size schedule: worth growing the batch over the run only if it pays here
    "batch-512": (BASE, {"train": {"batch_size": 512}}),
    "silu": (BASE, {"model": {"name": "airbench-tiny-silu"}}),  # hiverge's activation
    # hiverge trains the whitening bias for 0.19 epochs; airbench94 (and the base) for 3
    "whiten-bias-1": (BASE, {"model": {"whiten_bias_epochs": 1}}),
    # never trained: the backward pass then stops before the whitening layer, a cheaper step
    "whiten-bias-0": (BASE, {"model": {"whiten_bias_epochs": 0}}),
    # progressive resizing: epoch 0 at 20x20, epoch 1 at 24x24, full size from epoch 2 (each step of the
    # first two epochs is cheaper in proportion to the pixels)
    "progressive-20": (BASE, {"augment": {"progressive_from": 20, "progressive_epochs": 2}}),
    "progressive-24": (BASE, {"augment": {"progressive_from": 24, "progressive_epochs": 1}}),  # epoch 0 only
    # width and depth for 28x28x1: a fourth group (3x3 -> 1x1, few FLOPs), wider groups, wider late groups
    "widths-16-32-64-128": (BASE, {"model": {"widths": [16, 32, 64, 128]}}),
    "widths-24-48-96": (BASE, {"model": {"widths": [24, 48, 96]}}),
    "widths-16-48-128": (BASE, {"model": {"widths": [16, 48, 128]}}),
    # airbench94_muon's recipe (Muon on the filters) on tiny's widths with its head; at its batch of 2000
    # the tiny net does not learn on Fashion-MNIST (10% after 3 epochs), at 500 it does
    "muon": ("airbench94_muon", {"model": {"name": "airbench-tiny-muon"}, "train": {"batch_size": 500}}),
}
EVAL_REPEATS = 2  # each evaluation timed this many times, the median kept


def timed_evaluation(loaded, split, tta: int, share: float | None, batch_size: int) -> dict:
    seconds, metrics = [], None
    for _ in range(EVAL_REPEATS):
        started = time.perf_counter()
        metrics = evaluate_loaded(loaded, split.images, split.labels, tta=tta, batch_size=batch_size, tta_share=share)
        seconds.append(time.perf_counter() - started)
    return {"accuracy": metrics["accuracy"], "seconds": statistics.median(seconds),
            "extra_view_share": metrics.get("tta_extra_view_share", 1.0 if tta else 0.0)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=float, default=4.0)
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    p.add_argument("--shares", default="0.25,0.5", help="selective TTA shares (of each batch, least confident)")
    p.add_argument("--runs-dir", default="runs/levers")
    p.add_argument("--out", help="the result file (default: benchmarks/results/levers-<dataset>-<cpu class>.json)")
    args = p.parse_args()
    shares = [float(b) for b in args.shares.split(",") if b]
    evaluations = {"no TTA": (0, None), "full TTA": (2, None), **{f"selective {b:g}": (2, b) for b in shares}}
    results, rows = {}, []
    out = Path(args.out or Path(__file__).parent / "results" / f"levers-{args.dataset}-{cpu_class()}.json")
    for label in args.variants.split(","):
        recipe, overrides = VARIANTS[label]
        per_seed = []
        for seed in range(args.seeds):
            config = resolve_config(recipe, overrides, {
                "data": {"dataset": args.dataset, "val_split": VAL_SPLIT},
                "train": {"epochs": args.epochs, "seed": seed, "tta": 0, "plots": False},
                "runs_dir": args.runs_dir, "name": f"{label}-seed{seed}"})
            result = train(config, quiet=True, final="validation")
            loaded = load_model(result.run.path, "cpu")
            val = prepare_data(config, quiet=True, final="validation").val
            per_seed.append({"seed": seed, "run": result.run.path.name, "timed_seconds": timed_seconds(result),
                             "train_seconds": result.run_log["train_seconds"],
                             "evaluations": {name: timed_evaluation(loaded, val, tta, share,
                                                                    config.train.eval_batch_size)
                                             for name, (tta, share) in evaluations.items()}})
        summary = {name: {"accuracy": summarise([s["evaluations"][name]["accuracy"] for s in per_seed]),
                          "seconds": summarise([s["evaluations"][name]["seconds"] for s in per_seed]),
                          "extra_view_share": statistics.fmean(s["evaluations"][name]["extra_view_share"]
                                                               for s in per_seed)}
                   for name in evaluations}
        results[label] = {"recipe": recipe, "overrides": overrides, "seeds": per_seed, "summary": summary,
                          "train_seconds": summarise([s["train_seconds"] for s in per_seed])}
        write_result(out, "levers", {"dataset": args.dataset, "epochs": args.epochs, "val_split": VAL_SPLIT,
                                     "results": results})  # kept if interrupted
        for name, s in summary.items():
            rows.append([label, name, f"{100 * s['accuracy']['mean']:.2f}% ± {100 * s['accuracy']['std']:.2f}",
                         f"{s['seconds']['mean']:.2f}", f"{s['extra_view_share']:.1%}",
                         f"{results[label]['train_seconds']['mean']:.1f}"])
    print_table(f"{args.dataset}: validation accuracy of each variant ({args.epochs:g} epochs, {args.seeds} seeds) "
                f"and each evaluation's seconds", ["variant", "evaluation", "val accuracy (mean ± std)",
                                                   "eval s", "images given extra views", "train s"], rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
