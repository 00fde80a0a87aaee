"""Time to accuracy on Fashion-MNIST (real data): when test accuracy first reaches 90, 92, 93
and 94%, for a fast recipe beside the plain `cnn-adam` baseline, measured in the same run.

    python benchmarks/time_to_accuracy.py [--seeds 3] [--evals-per-epoch 4] [--device cpu]

Accuracy is evaluated at the same resolution for every recipe, `--evals-per-epoch` times per
epoch whatever its batch size (or every `--every` steps), with the training clock paused (the
evaluation time is reported apart). Time is synchronised training time, whitening init included.
Results: benchmarks/results/time-to-accuracy-<device>.json.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from cifarbench.api import train
from cifarbench.bench.results import print_table, write_result
from cifarbench.bench.time_to_accuracy import PeriodicEval, first_reached
from cifarbench.train.recipes import resolve_config

TARGETS = (0.90, 0.92, 0.93, 0.94)
FASHION_TRAIN_IMAGES = 60_000
CONTENDERS = {  # label: (recipe, overrides)
    "airbench-tiny (airbench94 recipe, 8 epochs)": ("airbench94", {"model": {"name": "airbench-tiny"},
                                                                    "train": {"epochs": 8}}),
    "cnn-adam (baseline)": ("cnn-adam", {}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--evals-per-epoch", type=int, default=4, help="evaluations per epoch (default 4)")
    p.add_argument("--every", type=int, help="evaluate every N optimizer steps instead")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs-dir", default="runs/time-to-accuracy")
    p.add_argument("--out")
    args = p.parse_args()
    results, rows = {}, []
    for label, (recipe, overrides) in CONTENDERS.items():
        per_seed = []
        for seed in range(args.seeds):
            config = resolve_config(recipe, overrides, {"data": {"dataset": "fashion-mnist"},
                                                        "train": {"device": args.device, "seed": seed,
                                                                  "eval_every": 10_000},
                                                        "runs_dir": args.runs_dir})
            steps_per_epoch = -(-FASHION_TRAIN_IMAGES // config.train.batch_size)
            probe = PeriodicEval(args.every or max(1, steps_per_epoch // args.evals_per_epoch))
            result = train(config, quiet=True, callbacks=[probe])
            per_seed.append({"seed": seed, "points": probe.points, "eval_seconds": probe.eval_seconds,
                             "reached": first_reached(probe.points, TARGETS),
                             "final_accuracy": result.metrics["accuracy"], "run": result.run.path.name})
        results[label] = {"recipe": recipe, "overrides": overrides, "seeds": per_seed}
        row = [label]
        for t in TARGETS:
            times = [s["reached"][t] for s in per_seed]
            hit = [x for x in times if x is not None]
            row.append(f"{statistics.fmean(hit):.1f} s ({len(hit)}/{len(times)})" if hit else f"never (0/{len(times)})")
        row.append(f"{statistics.fmean(s['final_accuracy'] for s in per_seed):.2%}")
        rows.append(row)
    print_table(f"Fashion-MNIST time to accuracy on {args.device} (mean over seeds that reached it)",
                ["recipe", *(f"{t:.0%}" for t in TARGETS), "final (TTA)"], rows)
    out = args.out or Path(__file__).parent / "results" / f"time-to-accuracy-{args.device}.json"
    write_result(out, "time-to-accuracy", {"targets": TARGETS, "every_steps": args.every,
                                           "evals_per_epoch": args.evals_per_epoch, "results": results})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
