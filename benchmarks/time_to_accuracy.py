"""Time to accuracy on Fashion-MNIST (real data): when test accuracy first reaches 90, 91, 92,
93 and 94%, for the CPU recipes (fashion-avx2-50s, -160s), airbench94's recipe on airbench-tiny
and the plain `cnn-adam` baseline, measured side by side in one run.

    python benchmarks/time_to_accuracy.py [--seeds 3] [--evals-per-epoch 4] [--device cpu]
                                          [--only fashion-avx2-50s,cnn-adam]

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
from cifarbench.bench.repeat import timed_seconds
from cifarbench.bench.results import print_table, write_result
from cifarbench.bench.time_to_accuracy import PeriodicEval, first_reached
from cifarbench.train.recipes import resolve_config

TARGETS = (0.90, 0.91, 0.92, 0.93, 0.94)
FASHION_TRAIN_IMAGES = 60_000
BASELINE = "cnn-adam"
CONTENDERS = {  # label: (recipe, overrides)
    "fashion-avx2-50s": ("fashion-avx2-50s", {}),
    "fashion-avx2-160s": ("fashion-avx2-160s", {}),
    "airbench94 on airbench-tiny, 8 epochs": ("airbench94", {"model": {"name": "airbench-tiny"},
                                                             "train": {"epochs": 8}}),
    BASELINE: (BASELINE, {}),
}


def mean_reached(per_seed: list[dict], target: float) -> float | None:
    """Mean seconds to `target` over the seeds that reached it (None if none did)."""
    hit = [s["reached"][target] for s in per_seed if s["reached"][target] is not None]
    return statistics.fmean(hit) if hit else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--evals-per-epoch", type=int, default=4, help="evaluations per epoch (default 4)")
    p.add_argument("--every", type=int, help="evaluate every N optimizer steps instead")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs-dir", default="runs/time-to-accuracy")
    p.add_argument("--only", help="comma-separated contender labels (default: all)")
    p.add_argument("--out")
    args = p.parse_args()
    results, rows = {}, []
    chosen = args.only.split(",") if args.only else list(CONTENDERS)
    out = args.out or Path(__file__).parent / "results" / f"time-to-accuracy-{args.device}.json"
    for label in chosen:
        recipe, overrides = CONTENDERS[label]
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
                             "final_accuracy": result.metrics["accuracy"], "timed_seconds": timed_seconds(result),
                             "run": result.run.path.name})
        results[label] = {"recipe": recipe, "overrides": overrides, "seeds": per_seed,
                          "mean_time": {t: mean_reached(per_seed, t) for t in TARGETS},
                          "final_accuracy_mean": statistics.fmean(s["final_accuracy"] for s in per_seed),
                          "timed_seconds_mean": statistics.fmean(s["timed_seconds"] for s in per_seed)}
        write_result(out, "time-to-accuracy", {"targets": TARGETS, "every_steps": args.every,  # kept if interrupted
                                               "evals_per_epoch": args.evals_per_epoch, "results": results})
    base = results.get(BASELINE)
    for label, r in results.items():
        row = [label]
        for t in TARGETS:
            times = [s["reached"][t] for s in r["seeds"]]
            hit = [x for x in times if x is not None]
            cell = f"{statistics.fmean(hit):.1f} s ({len(hit)}/{len(times)})" if hit else f"never (0/{len(times)})"
            if hit and base and base["mean_time"][t] and label != BASELINE:
                cell += f", {base['mean_time'][t] / statistics.fmean(hit):.1f}x"
            row.append(cell)
        row += [f"{r['final_accuracy_mean']:.2%}", f"{r['timed_seconds_mean']:.1f}"]
        rows.append(row)
    print_table(f"Fashion-MNIST time to accuracy on {args.device} (mean over the seeds that reached it; "
                f"x: speed-up over {BASELINE})",
                ["recipe", *(f"{t:.0%}" for t in TARGETS), "final (TTA)", "whole run s"], rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
