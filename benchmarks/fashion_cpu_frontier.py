"""Fashion-MNIST on this CPU: the accuracy reached for a given training-time budget.

    python benchmarks/fashion_cpu_frontier.py [--seeds 1] [--grid airbench-tiny:4,8 airbench-small:2,4]

Each point is a separate run of the airbench94 recipe (every trick) with a model and an epoch
budget: the schedule is laid over the whole budget, so the accuracy at the end of a short run is
what that budget buys (intermediate epochs of a long run would understate it). Time is
`train_seconds`: whitening init + training batches, device-synchronised; the final TTA
evaluation is reported apart. Targets (issue 4): >= 93% within 60 s and >= 94% within 180 s.
Results: benchmarks/results/fashion-cpu-frontier.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cifarbench.api import train
from cifarbench.resolve import resolve_config
from cifarbench.results import print_table, summarise, write_result

TARGETS = ((0.93, 60.0), (0.94, 180.0))  # (accuracy, seconds of training)


def parse_grid(items: list[str]) -> list[tuple[str, float]]:
    points = []
    for item in items:
        model, epochs = item.split(":")
        points += [(model, float(e)) for e in epochs.split(",")]
    return points


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", nargs="+", default=["airbench-tiny:4,8", "airbench-small:2,4"],
                   help="MODEL:EPOCHS[,EPOCHS...] points of the frontier")
    p.add_argument("--recipe", default="airbench94")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs-dir", default="runs/frontier")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fashion-cpu-frontier.json"))
    p.add_argument("--replot", action="store_true", help="only redraw the chart from the --out JSON")
    args = p.parse_args()
    if args.replot:
        print(plot(json.loads(Path(args.out).read_text())["points"], Path(args.out)))
        return

    points, rows = [], []
    for model, epochs in parse_grid(args.grid):
        results = []
        for seed in range(args.seeds):
            config = resolve_config(args.recipe, {
                "data": {"dataset": "fashion-mnist"}, "model": {"name": model},
                "train": {"epochs": epochs, "device": args.device, "seed": seed, "eval_every": 10_000},
                "runs_dir": args.runs_dir})
            results.append(train(config, quiet=True))
        acc = summarise([r.metrics["accuracy"] for r in results])
        secs = summarise([r.run_log["train_seconds"] for r in results])
        tta = summarise([r.run_log["final_eval_seconds"] for r in results])
        point = {"model": model, "epochs": epochs, "recipe": args.recipe, "test_accuracy": acc,
                 "train_seconds": secs, "final_eval_seconds": tta, "precision": results[0].run_log["precision"],
                 "parameters": results[0].run_log["parameters"], "runs": [r.run.path.name for r in results]}
        points.append(point)
        rows.append([f"{model} x{epochs:g} ep", f"{acc['mean']:.2%}", f"{acc['std']:.2%}", secs["mean"],
                     tta["mean"], args.seeds])
        print_table("Fashion-MNIST time-to-accuracy frontier so far", ["point", "test acc (mean)", "std",
                                                                      "train s", "TTA eval s", "seeds"], rows)
    verdicts = []
    for target, budget in TARGETS:
        within = [pt for pt in points if pt["train_seconds"]["mean"] <= budget]
        best = max(within, key=lambda pt: pt["test_accuracy"]["mean"], default=None)
        met = best is not None and best["test_accuracy"]["mean"] >= target
        verdicts.append({"target_accuracy": target, "budget_seconds": budget, "met": met,
                         "best_within_budget": None if best is None else
                         {"model": best["model"], "epochs": best["epochs"],
                          "test_accuracy": best["test_accuracy"]["mean"],
                          "train_seconds": best["train_seconds"]["mean"]}})
        print(f"target {target:.0%} within {budget:.0f} s: {'MET' if met else 'not met'}"
              + (f" (best within budget: {best['model']} x{best['epochs']:g} ep, "
                 f"{best['test_accuracy']['mean']:.2%} in {best['train_seconds']['mean']:.1f} s)" if best else ""))
    write_result(args.out, "fashion-cpu-frontier", {"points": points, "targets": verdicts, "seeds": args.seeds})
    print(f"wrote {args.out} and {plot(points, Path(args.out))}")


def plot(points: list[dict], out: Path) -> Path:
    """The accuracy-versus-time chart beside the JSON, the targets drawn as crosses."""
    from cifarbench.plots.charts import accuracy_time_frontier, plt

    chart = [{"label": pt["model"], "seconds": pt["train_seconds"]["mean"], "accuracy": pt["test_accuracy"]["mean"]}
             for pt in points]

    def mark_targets(ax):
        for accuracy, seconds in TARGETS:
            ax.scatter([seconds], [accuracy], marker="x", color="black", s=60, zorder=4)
            ax.annotate(f"target {accuracy:.0%} in {seconds:.0f} s", (seconds, accuracy), fontsize=8,
                        xytext=(4, 4), textcoords="offset points")

    path = out.with_suffix("")
    accuracy_time_frontier(chart, path, "Fashion-MNIST on this CPU: test accuracy against training time",
                           decorate=mark_targets, formats=("png",))
    plt.close("all")
    return path.with_suffix(".png")


if __name__ == "__main__":
    main()
