"""Time to accuracy on Fashion-MNIST, side by side in one sitting: the planner at each target
(`--target A`), the fixed CPU recipes, airbench94's recipe on airbench-tiny and the plain
`cnn-adam` baseline, each over N seeds, with each one's speed-up over the baseline.

    python benchmarks/time_to_accuracy.py [--seeds 3] [--evals-per-epoch 2]
                                          [--only plan,fashion-tiny-2.25ep,cnn-adam] [--targets 0.90,0.93]

Every contender trains on the same 90% of the training split and is checked on the same
validation 10% (`data.val_split`, as the frontier is measured), `--evals-per-epoch` times per
epoch whatever its batch, with the training clock paused: time to A is the training seconds
(data-dependent init included) when validation accuracy first reached A. These checks are without
TTA; after the last step a run with TTA is checked once more as its final evaluation scores it
(a planned run's target is planned that way), its seconds then including that evaluation's. The
test split is read
once per run, at its end (the final column). A planned run is planned for that same split; its
row also gives the whole run as a user pays for it (calibration + init + training + evaluation).
Speed-up: the baseline's mean time to A over the contender's, where both reached A in every seed.
Results: benchmarks/results/time-to-accuracy-fashion-mnist-<amx|avx512-bf16|avx2>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from cifarbench.api import train
from cifarbench.devices import cpu_class
from cifarbench.errors import ConfigError
from cifarbench.fingerprint import fingerprint
from cifarbench.planner.frontier import VAL_SPLIT
from cifarbench.planner.plan import make_plan, run_plan
from cifarbench.repeat import timed_seconds
from cifarbench.resolve import resolve_config
from cifarbench.results import print_table, write_result
from cifarbench.training.time_to_accuracy import PeriodicEval, first_reached

TARGETS = (0.90, 0.91, 0.92, 0.93, 0.94, 0.95)
DATASET = "fashion-mnist"
FASHION_TRAIN_IMAGES = 60_000
BASELINE = "cnn-adam"
FIXED = {  # label: (recipe, overrides)
    "fashion-tiny-2.25ep": ("fashion-tiny-2.25ep", {}),
    "fashion-tiny-8ep": ("fashion-tiny-8ep", {}),
    "airbench94 on airbench-tiny (8 epochs)": ("airbench94", {"model": {"name": "airbench-tiny"},
                                                             "train": {"epochs": 8}}),
    BASELINE: (BASELINE, {}),
}
PLANNED = "plan --target"  # one row a target: `--only plan` runs them all


def common_layer(seed: int, args) -> dict:
    return {"data": {"dataset": DATASET, "val_split": VAL_SPLIT, "train_subset": args.train_subset},
            "train": {"device": args.device, "seed": seed, "eval_every": 10_000, "plots": False},
            "runs_dir": args.runs_dir}


def probe_for(batch_size: int, args) -> PeriodicEval:
    """A check `--evals-per-epoch` times an epoch, whatever the batch size."""
    train_images = int((args.train_subset or FASHION_TRAIN_IMAGES) * (1 - VAL_SPLIT))
    return PeriodicEval(max(1, math.ceil(train_images / batch_size) // args.evals_per_epoch))


def seed_record(seed: int, probe: PeriodicEval, result, targets, **extra) -> dict:
    return {"seed": seed, "points": probe.points, "eval_seconds": probe.eval_seconds,
            "reached": first_reached(probe.points, targets), "test_accuracy": result.metrics["accuracy"],
            "whole_seconds": timed_seconds(result), "run": result.run.path.name, **extra}


def run_fixed(recipe: str, overrides: dict, seed: int, args, targets) -> dict:
    config = resolve_config(recipe, overrides, common_layer(seed, args))
    probe = probe_for(config.train.batch_size, args)
    return seed_record(seed, probe, train(config, quiet=True, callbacks=[probe]), targets)


def run_planned(target: float, seed: int, args, targets, ran: dict) -> dict:
    """A plan for `target` on the benchmark's split, then its run; the refusal line if none reaches
    it. Targets below the frontier's first point share its schedule: a schedule already run for this
    seed (`ran`, keyed by net, epochs and seed) is reported again, not trained twice."""
    try:
        plan = make_plan(common_layer(seed, args), target=target)
    except ConfigError as exc:
        return {"seed": seed, "refused": str(exc)}
    key = (plan.chosen.model, plan.chosen.epochs, seed)
    if key in ran:
        return {**ran[key], "same_run_as_target": ran[key]["planned_for"]}
    probe = probe_for(plan.config.train.batch_size, args)
    result = run_plan(plan, quiet=True, callbacks=[probe])
    record = seed_record(seed, probe, result, targets, model=plan.chosen.model, epochs=plan.chosen.epochs,
                       predicted_accuracy=plan.chosen.accuracy, calibration_seconds=plan.calibration_seconds,
                       whole_seconds_with_calibration=plan.calibration_seconds + timed_seconds(result),
                       planned_for=target)
    ran[key] = record
    return record


def time_to(seeds: list[dict], target: float) -> float | None:
    """Mean seconds to `target`, where every seed reached it (None otherwise)."""
    hit = [s["reached"][target] for s in seeds if "reached" in s]
    return statistics.fmean(hit) if hit and None not in hit and len(hit) == len(seeds) else None


def cell(seeds: list[dict], target: float, base_time: float | None) -> str:
    """`mean s (reached/seeds)`, and the speed-up over the baseline where both reached `target` in
    every seed. `seeds` as the JSON holds them: targets are keys written as text."""
    if any("refused" in s for s in seeds):
        return "refused"
    times = [s["reached"][repr(target)] for s in seeds]
    hit = [x for x in times if x is not None]
    if not hit:
        return f"never (0/{len(times)})"
    text = f"{statistics.fmean(hit):.1f} s ({len(hit)}/{len(times)})"
    if len(hit) == len(times) and base_time:
        text += f", {base_time / statistics.fmean(hit):.1f}x"
    return text


def table(data: dict) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the side-by-side table, from the result JSON (the README renders it too)."""
    targets, results = data["targets"], data["results"]
    base = results.get(data["baseline"], {}).get("time_to", {})
    rows = []
    for label, r in results.items():
        plan_of = ", ".join(sorted({f"{s['model']} {s['epochs']:g} ep" for s in r["seeds"] if "model" in s}))
        rows.append([label + (f" ({plan_of})" if plan_of else ""),
                     *(cell(r["seeds"], t, None if label == data["baseline"] else base.get(repr(t))) for t in targets),
                     f"{r['test_accuracy_mean']:.2%}" if r["test_accuracy_mean"] is not None else "",
                     f"{r['whole_seconds_mean']:.1f}" if r["whole_seconds_mean"] is not None else ""])
    return ["contender", *(f"{t:.0%}" for t in targets), "final test", "whole run s"], rows


def kept_rows(out: Path, targets) -> tuple[dict, list[dict]]:
    """The rows of an earlier sitting's JSON to be joined by this run's, and the sittings that made
    them (time and command); refused where the two would not be comparable."""
    if not out.exists():
        return {}, []
    earlier = json.loads(out.read_text())
    here = fingerprint()
    for field in ("cpu_model", "cpu_id", "cpu_capability", "cpu_cores", "torch"):
        if earlier["machine"].get(field) != here.get(field):
            raise SystemExit(f"--keep: {out} was measured with {field} {earlier['machine'].get(field)!r}, this machine "
                             f"has {here.get(field)!r}; write to another file with --out")
    if tuple(earlier["targets"]) != tuple(targets):
        raise SystemExit(f"--keep: {out} times targets {earlier['targets']}, this run {list(targets)}")
    sittings = earlier.get("earlier_sittings", []) + [{"time": earlier["time"], "command": earlier["command"],
                                                       "rows": list(earlier["results"])}]
    return earlier["results"], sittings


def in_table_order(results: dict) -> dict:
    """Planned rows first (by target), then the fixed contenders in FIXED's order."""
    order = list(FIXED)
    return dict(sorted(results.items(), key=lambda item: (item[0] in FIXED, order.index(item[0])
                                                          if item[0] in FIXED else item[1]["value"])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--evals-per-epoch", type=int, default=2)
    p.add_argument("--targets", default=",".join(f"{t:g}" for t in TARGETS), help="accuracies to time")
    p.add_argument("--plan-targets", help="the targets the planner plans for (default: --targets)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--train-subset", type=int, help="train on the first N training images (a quick check of the "
                                                     "script, not a result: the frontier is for the whole split)")
    p.add_argument("--runs-dir", default="runs/time-to-accuracy")
    p.add_argument("--only", help=f"comma-separated, of: plan, {', '.join(FIXED)} (default: all)")
    p.add_argument("--out")
    p.add_argument("--keep", action="store_true", help="keep the rows of the JSON already at --out that this run "
                                                       "does not run (to add a contender to a finished sitting)")
    args = p.parse_args()
    targets = tuple(float(t) for t in args.targets.split(","))
    plan_targets = tuple(float(t) for t in (args.plan_targets or args.targets).split(","))
    chosen = args.only.split(",") if args.only else ["plan", *FIXED]
    contenders = [(f"{PLANNED} {t:g}", ("plan", t)) for t in plan_targets if "plan" in chosen]
    contenders += [(label, FIXED[label]) for label in FIXED if label in chosen]
    out = Path(args.out or Path(__file__).parent / "results" / f"time-to-accuracy-{DATASET}-{cpu_class()}.json")
    results, sittings = kept_rows(out, targets) if args.keep else ({}, [])
    ran = {}
    for label, (what, value) in contenders:
        seeds = [run_planned(value, seed, args, targets, ran) if what == "plan"
                 else run_fixed(what, value, seed, args, targets) for seed in range(args.seeds)]
        done = [s for s in seeds if "refused" not in s]
        results[label] = {"contender": what, "value": value, "seeds": seeds,
                          "time_to": {t: time_to(seeds, t) for t in targets},
                          "test_accuracy_mean": statistics.fmean(s["test_accuracy"] for s in done) if done else None,
                          "whole_seconds_mean": statistics.fmean(
                              s.get("whole_seconds_with_calibration", s["whole_seconds"]) for s in done) if done
                          else None}
        write_result(out, "time-to-accuracy", {"dataset": DATASET, "targets": targets, "val_split": VAL_SPLIT,
                                               "evals_per_epoch": args.evals_per_epoch, "baseline": BASELINE,
                                               "results": in_table_order(results),
                                               **({"earlier_sittings": sittings} if sittings else {})})
    columns, rows = table(json.loads(out.read_text()))
    print_table(f"{DATASET} time to validation accuracy on {args.device}, {cpu_class()} ({args.seeds} seeds; "
                f"mean over the seeds that reached it; x: speed-up over {BASELINE})", columns, rows)
    print(f"JSON: {out}")


if __name__ == "__main__":
    main()
