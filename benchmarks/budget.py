"""Planned runs as a user starts them: `cifarbench train --budget-s S` and `--target A`, each a
fresh process, N seeds. For each: what the plan chose and predicted, the test accuracy it reached,
and the seconds as the user counts them, the process's wall clock from outside (start to exit of
the child), beside the run's own clock (run_log's command_seconds) and the plan's prediction. A
budget is kept when the wall clock is within it, and used when it is at least 90% of it.

    python benchmarks/budget.py --dataset fashion-mnist --budgets 60x10 --targets 0.93x5 [--fresh-calibration]
        [--no-plots] [--keep]

A goal written VALUExN runs N seeds instead of --seeds. Runs are as a user types them (progress
bar off with --quiet, plots on); --no-plots adds --no-plots to every run.

--fresh-calibration empties the calibration cache before the first run of each goal, so that run
pays its calibration as a user's first run on a new machine does (the others read the cache).
The JSON is rewritten after every run (a killed sitting keeps what it measured); --keep adds goals
to an existing file of the same machine instead of starting a new one.
Results: benchmarks/results/budget-<dataset>-<amx|avx512-bf16|avx2>.json (the machine's fingerprint inside).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cifarbench.devices import cpu_class
from cifarbench.fingerprint import fingerprint
from cifarbench.results import print_table, summarise, write_result

USED = 0.90  # a plan that leaves more of its budget unused has left accuracy on the table


def planned_run(goal: list[str], dataset: str, seed: int, runs_dir: Path, cache: Path, plots: bool) -> dict:
    """One `cifarbench train` with a goal, in its own process, timed from outside; what its
    run_log says of the plan and its outcome, or its error."""
    before = set(runs_dir.glob("*")) if runs_dir.exists() else set()
    cmd = [sys.executable, "-m", "cifarbench", "train", *goal, "--dataset", dataset, "--seed", str(seed),
           "--quiet", "--offline", "--runs-dir", str(runs_dir), *([] if plots else ["--no-plots"])]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CIFARBENCH_DATA": str(cache)})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return {"seed": seed, "wall_seconds": wall,
                "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"}
    (new,) = set(runs_dir.glob("*")) - before
    log = json.loads((new / "run_log.json").read_text(encoding="utf-8"))
    plan, outcome = log["plan"], log["plan_outcome"]
    return {"seed": seed, "model": plan["chosen"]["model"], "epochs": plan["chosen"]["epochs"],
            "accuracy_split": plan["accuracy_split"], "predicted_accuracy": plan["chosen"]["predicted_accuracy"],
            "test_accuracy": log["test_accuracy"], "wall_seconds": wall, "command_seconds": outcome["command_seconds"],
            "predicted_command_seconds": plan["predicted_command_seconds"], "spent_seconds": plan["spent_seconds"],
            "calibration_seconds": plan["calibration_seconds"], "run_seconds": log["run_seconds"],
            "end_seconds": log["end_seconds"], "steps": log["steps"], "planned_steps": outcome["planned_steps"],
            "schedule_completed": outcome["schedule_completed"], "run": new.name}


def summary_of(kind: str, value: float, runs: list[dict]) -> tuple[dict, list]:
    ok = [r for r in runs if "error" not in r]
    entry = {"goal": kind, "value": value, "runs": runs}
    if not ok:
        return entry, [f"{kind} {value:g}", runs[0]["error"], "", "", "", "", "", "", 0]
    wall = [r["wall_seconds"] for r in ok]
    entry |= {"test_accuracy": summarise([r["test_accuracy"] for r in ok]), "wall_seconds": summarise(wall),
              "command_seconds": summarise([r["command_seconds"] for r in ok]),
              "predicted_accuracy": summarise([r["predicted_accuracy"] for r in ok if r["predicted_accuracy"]])
              if any(r["predicted_accuracy"] for r in ok) else None,
              "schedules_completed": sum(r["schedule_completed"] for r in ok)}
    if kind == "budget":
        entry |= {"within_budget": sum(w <= value for w in wall),
                  "at_least_90_percent": sum(w >= USED * value for w in wall)}
    predicted = entry["predicted_accuracy"]
    row = [f"{kind} {value:g}", ", ".join(sorted({f"{r['model']} {r['epochs']:g} ep" for r in ok})),
           f"{100 * predicted['mean']:.2f}%" if predicted else "",
           f"{100 * entry['test_accuracy']['mean']:.2f}% ({100 * entry['test_accuracy']['min']:.2f}-"
           f"{100 * entry['test_accuracy']['max']:.2f})",
           "{mean:.1f} ({min:.1f}-{max:.1f})".format(**entry["wall_seconds"]),
           f"{entry['command_seconds']['mean']:.1f}",
           f"{entry['within_budget']}/{len(ok)}" if kind == "budget" else "",
           f"{entry['at_least_90_percent']}/{len(ok)}" if kind == "budget" else "", len(ok)]
    return entry, row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--budgets", default="", help="comma-separated budgets in seconds (VALUExN: N seeds)")
    p.add_argument("--targets", default="", help="comma-separated target test accuracies (VALUExN: N seeds)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--fresh-calibration", action="store_true")
    p.add_argument("--no-plots", action="store_true", help="runs without their plots (a user's default draws them)")
    p.add_argument("--keep", action="store_true", help="add to the result file's goals (the same machine only)")
    p.add_argument("--runs-dir", default="runs/budget")
    p.add_argument("--out", help="the result file (default: benchmarks/results/budget-<dataset>-<cpu class>.json; "
                                 "name another for a second machine of one class)")
    p.add_argument("--data-dir", help="where the dataset is (default: the usual search); the cache is apart")
    args = p.parse_args()

    def goals_of(text: str, kind: str, flag: str):
        for item in filter(None, text.split(",")):
            value, _, n = item.partition("x")
            yield kind, float(value), [flag, value], int(n) if n else args.seeds

    goals = [*goals_of(args.budgets, "budget", "--budget-s"), *goals_of(args.targets, "target", "--target")]
    out = Path(args.out or f"benchmarks/results/budget-{args.dataset}-{cpu_class()}.json")
    kept: list[dict] = []
    if args.keep and out.is_file():
        old = json.loads(out.read_text(encoding="utf-8"))
        if old["machine"].get("cpu_id") != fingerprint().get("cpu_id"):
            raise SystemExit(f"--keep: {out} was measured on another CPU ({old['machine'].get('cpu_id')})")
        kept = old["goals"]
    cache = Path(tempfile.mkdtemp(prefix="cifarbench-calibration-"))
    if args.data_dir:
        os.environ.setdefault("CIFARBENCH_DATA", args.data_dir)
    rows, results = [], []
    for kind, value, flags, seeds in goals:
        if args.fresh_calibration:
            for f in cache.glob("calibration.json*"):
                f.unlink()
        runs: list[dict] = []
        for seed in range(seeds):
            runs.append(planned_run(flags, args.dataset, seed, Path(args.runs_dir) / f"{kind}-{value:g}", cache,
                                    not args.no_plots))
            entry, row = summary_of(kind, value, runs)
            write_result(out, "budget", {"dataset": args.dataset, "fresh_calibration": args.fresh_calibration,
                                         "plots": not args.no_plots, "goals": [*kept, *results, entry]})
        results.append(entry)
        rows.append(row)
    print_table(f"planned runs on {args.dataset}: seconds are the whole command's (wall: the process from outside)",
                ["goal", "plan", "predicted", "test accuracy (min-max)", "wall s (min-max)", "run's own s",
                 "within budget", ">= 90% used", "runs"], rows)
    print(f"JSON: {out}")


if __name__ == "__main__":
    main()
