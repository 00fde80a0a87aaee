"""Planned runs as a user starts them: `cifarbench train --budget-s S` and `--target A`, each a
fresh process, N seeds; what each plan chose, the test accuracy it reached, and whether the whole
run (calibration + everything after the data is in memory) kept within its budget and used at
least 85% of it.

    python benchmarks/budget.py --dataset fashion-mnist --budgets 60x10,30 --targets 0.93,0.94 --seeds 5 \\
        [--fresh-calibration]

A goal written VALUExN runs N seeds instead of --seeds.

--fresh-calibration empties the calibration cache before the first run of each goal, so that run
pays its calibration as a user's first run on a new machine does (the others read the cache).
Results: benchmarks/results/budget-<dataset>-<amx|avx512-bf16|avx2>.json (the machine's fingerprint inside).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cifarbench.bench.results import print_table, summarise, write_result
from cifarbench.devices import cpu_class

UTILISATION = 0.85  # the floor: a plan that leaves more unused has left accuracy on the table


def planned_run(goal: list[str], dataset: str, seed: int, runs_dir: Path, cache: Path) -> dict:
    """One `cifarbench train` with a goal, in its own process; the run_log it wrote, or its error."""
    before = set(runs_dir.glob("*")) if runs_dir.exists() else set()
    cmd = [sys.executable, "-m", "cifarbench", "train", *goal, "--dataset", dataset, "--seed", str(seed),
           "--quiet", "--no-plots", "--offline", "--runs-dir", str(runs_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CIFARBENCH_DATA": str(cache)})
    if done.returncode != 0:
        return {"seed": seed, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"}
    (new,) = set(runs_dir.glob("*")) - before
    log = json.loads((new / "run_log.json").read_text(encoding="utf-8"))
    plan = log["plan"]
    used = plan["calibration_seconds"] + log["run_seconds"]
    return {"seed": seed, "model": plan["chosen"]["model"], "epochs": plan["chosen"]["epochs"],
            "predicted_accuracy": plan["chosen"]["predicted_accuracy"], "test_accuracy": log["test_accuracy"],
            "calibration_seconds": plan["calibration_seconds"], "run_seconds": log["run_seconds"],
            "used_seconds": used, "steps": log["steps"], "run": new.name}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--budgets", default="", help="comma-separated budgets in seconds")
    p.add_argument("--targets", default="", help="comma-separated target accuracies")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--fresh-calibration", action="store_true")
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
    cache = Path(tempfile.mkdtemp(prefix="cifarbench-calibration-"))
    if args.data_dir:
        os.environ.setdefault("CIFARBENCH_DATA", args.data_dir)
    rows, results = [], []
    for kind, value, flags, seeds in goals:
        if args.fresh_calibration:
            for f in cache.glob("calibration.json*"):
                f.unlink()
        runs = [planned_run(flags, args.dataset, seed, Path(args.runs_dir) / f"{kind}-{value:g}", cache)
                for seed in range(seeds)]
        ok = [r for r in runs if "error" not in r]
        entry = {"goal": kind, "value": value, "runs": runs}
        if ok:
            used = [r["used_seconds"] for r in ok]
            entry |= {"test_accuracy": summarise([r["test_accuracy"] for r in ok]), "used_seconds": summarise(used)}
            if kind == "budget":
                entry |= {"within_budget": sum(u <= value for u in used), "at_least_85_percent":
                          sum(u >= UTILISATION * value for u in used)}
            rows.append([f"{kind} {value:g}", ", ".join(sorted({f"{r['model']} {r['epochs']:g} ep" for r in ok})),
                         f"{100 * entry['test_accuracy']['mean']:.2f}% ({100 * entry['test_accuracy']['min']:.2f}-"
                         f"{100 * entry['test_accuracy']['max']:.2f})",
                         f"{entry['used_seconds']['mean']:.1f} ({entry['used_seconds']['min']:.1f}-"
                         f"{entry['used_seconds']['max']:.1f})",
                         f"{entry['within_budget']}/{len(ok)}" if kind == "budget" else "",
                         f"{entry['at_least_85_percent']}/{len(ok)}" if kind == "budget" else "",
                         f"{ok[0]['calibration_seconds']:.1f}", len(ok)])
        else:
            rows.append([f"{kind} {value:g}", runs[0]["error"], "", "", "", "", "", 0])
        results.append(entry)
    print_table(f"planned runs on {args.dataset}", ["goal", "plan", "test accuracy (min-max)",
                                                    "used s (min-max)", "within budget", ">= 85% used",
                                                    "1st calibration s", "runs"], rows)
    path = write_result(Path(args.out or f"benchmarks/results/budget-{args.dataset}-{cpu_class()}.json"), "budget",
                        {"dataset": args.dataset, "seeds": args.seeds, "fresh_calibration": args.fresh_calibration,
                         "goals": results})
    print(f"JSON: {path}")


if __name__ == "__main__":
    main()
