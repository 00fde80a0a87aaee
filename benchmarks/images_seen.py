"""Does a schedule's accuracy follow the images it saw, whatever the size of the split they came
from? The planner rests on it: a frontier point measured on 54,000 training images an epoch plans a
user's run on 60,000 by images seen (fewer epochs), not by epochs.

On the validation side only (the test split sealed), N seeds each:

    base        the frontier's way: 10% held out, E epochs of the other 54,000 images
    same images 19% held out, E x 54,000 / 48,600 epochs of the other 48,600: the images base saw
    same epochs 19% held out, E epochs of 48,600: what planning by epochs would assume equal to base

If "same images" agrees with "base" within the seeds' spread and "same epochs" does not reach
them, images seen is the right unit. The held-out parts differ (each is a seeded random sample of
the same training split), which adds the sampling noise of a 6,000-image accuracy (about 0.3 points).

    python benchmarks/images_seen.py --epochs 4 --seeds 3

Results: benchmarks/results/images-seen-fashion-mnist-<cpu class>.json, rewritten after every run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cifarbench.api import train
from cifarbench.devices import cpu_class
from cifarbench.resolve import resolve_config
from cifarbench.results import print_table, summarise, write_result

RECIPE, MODEL = "fashion-tiny-8ep", "airbench-tiny"


def variants(epochs: float) -> dict[str, tuple[float, float]]:
    """name: (validation share, epochs)."""
    return {"base": (0.1, epochs), "same images": (0.19, epochs * 54_000 / 48_600), "same epochs": (0.19, epochs)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=float, default=4.0)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--runs-dir", default="runs/images-seen")
    p.add_argument("--out")
    args = p.parse_args()
    out = Path(args.out or f"benchmarks/results/images-seen-fashion-mnist-{cpu_class()}.json")
    runs: list[dict] = []
    for seed in range(args.seeds):
        for name, (share, epochs) in variants(args.epochs).items():
            data = {"dataset": "fashion-mnist", "val_split": share, "download": False}
            config = resolve_config(RECIPE, {"model": {"name": MODEL}, "runs_dir": args.runs_dir, "data": data,
                                             "train": {"epochs": round(epochs, 4), "seed": seed, "plots": False}})
            result = train(config, quiet=True, final="validation")
            runs.append({"variant": name, "seed": seed, "val_split": share, "epochs": config.train.epochs,
                         "train_images": result.run_log["train_images"], "steps": result.run_log["steps"],
                         "images_seen": result.run_log["steps"] * config.train.batch_size,
                         "validation_accuracy": result.metrics["accuracy"], "run": result.run.path.name})
            write_result(out, "images-seen", {"recipe": RECIPE, "model": MODEL, "epochs": args.epochs,
                                              "runs": runs, "summary": summary(runs)})
    rows = [[name, f"{s['epochs']:g}", f"{s['images_seen']:,}",
             f"{100 * s['accuracy']['mean']:.2f}% ± {100 * s['accuracy']['std']:.2f}",
             " ".join(f"{100 * v:.2f}" for v in s["accuracy"]["values"])] for name, s in summary(runs).items()]
    print_table(f"{MODEL} over {RECIPE}: validation accuracy by images seen", ["variant", "epochs", "images seen",
                                                                               "accuracy (mean ± std)", "seeds"], rows)
    print(f"JSON: {out}")


def summary(runs: list[dict]) -> dict:
    out = {}
    for name in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == name]
        out[name] = {"epochs": mine[0]["epochs"], "images_seen": mine[0]["images_seen"],
                     "accuracy": summarise([r["validation_accuracy"] for r in mine])}
    return out


if __name__ == "__main__":
    main()
