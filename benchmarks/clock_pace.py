"""A planned budget on a machine that slows down part-way: the schedule annealed on the clock
(train/pace.py) against the planned steps cut by a time limit (what planned runs did before).

Each seed plans `--budget-s S` (calibration included), then trains it twice, once each way; after
`--slow-after` seconds of the run, `--competitors` busy processes start and share the CPU with it
until the run ends (a user's other work arriving). Both ways see the same plan and the same
slowdown; what differs is whether the schedule (learning rate decay, lookahead's last sync, the
whitening bias's freeze) completes.

    python benchmarks/clock_pace.py --dataset fashion-mnist --budget-s 60 --seeds 3 --slow-after 15

Results: benchmarks/results/clock-pace-<dataset>-<cpu class>.json, rewritten after every run.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import threading
from pathlib import Path

from cifarbench.bench.plan import make_plan, run_plan
from cifarbench.bench.results import print_table, summarise, write_result
from cifarbench.devices import cpu_class

MODES = ("clock", "cut")


class Competitors:
    """`n` busy processes, started `after` seconds from now and stopped on exit."""

    def __init__(self, n: int, after: float):
        self.procs: list[subprocess.Popen] = []
        self.timer = threading.Timer(after, self._start, args=(n,))

    def _start(self, n: int) -> None:
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        for proc in self.procs:
            proc.kill()
            proc.wait()


def one_run(args, seed: int, mode: str) -> dict:
    layers = {"data": {"dataset": args.dataset, "download": False}, "train": {"seed": seed, "plots": False},
              "runs_dir": args.runs_dir}
    plan = make_plan(layers, budget_s=args.budget_s)  # the clock starts here: data loaded, calibration counted
    with Competitors(args.competitors, args.slow_after):
        result = run_plan(plan, quiet=True, pace=mode == "clock")
    o = result.run_log["plan_outcome"]
    return {"seed": seed, "mode": mode, "model": plan.chosen.model, "planned_epochs": plan.chosen.epochs,
            "predicted_accuracy": plan.chosen.accuracy, "test_accuracy": result.metrics["accuracy"],
            "seconds": o["command_seconds"], "steps": result.run_log["steps"],
            "planned_steps": math.ceil(plan.chosen.epochs * (result.run_log["train_images"] // plan.config.train.batch_size)),
            "schedule_completed": o["schedule_completed"], "run": result.run.path.name}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--budget-s", type=float, default=60.0)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--slow-after", type=float, default=15.0, help="seconds into the run when the competitors start")
    p.add_argument("--competitors", type=int, default=2, help="busy processes (default 2: one per core here)")
    p.add_argument("--runs-dir", default="runs/clock-pace")
    p.add_argument("--out")
    args = p.parse_args()
    out = Path(args.out or f"benchmarks/results/clock-pace-{args.dataset}-{cpu_class()}.json")
    runs: list[dict] = []
    for seed in range(args.seeds):
        for mode in MODES:
            runs.append(one_run(args, seed, mode))
            write_result(out, "clock-pace", {"dataset": args.dataset, "budget_s": args.budget_s,
                                             "slow_after": args.slow_after, "competitors": args.competitors,
                                             "runs": runs, "summary": summary(runs)})
    rows = [[mode, f"{100 * s['test_accuracy']['mean']:.2f}% ({100 * s['test_accuracy']['min']:.2f}-"
                   f"{100 * s['test_accuracy']['max']:.2f})",
             f"{s['seconds']['mean']:.1f} ({s['seconds']['min']:.1f}-{s['seconds']['max']:.1f})",
             f"{s['steps']['mean']:.0f}", f"{s['completed']}/{s['runs']}"] for mode, s in summary(runs).items()]
    print_table(f"--budget-s {args.budget_s:g} slowed after {args.slow_after:g} s by {args.competitors} busy processes",
                ["schedule", "test accuracy (min-max)", "seconds (min-max)", "steps", "schedule completed"], rows)
    print(f"JSON: {out}")


def summary(runs: list[dict]) -> dict:
    out = {}
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode]
        if mine:
            out[mode] = {"test_accuracy": summarise([r["test_accuracy"] for r in mine]),
                         "seconds": summarise([r["seconds"] for r in mine]),
                         "steps": summarise([r["steps"] for r in mine]),
                         "completed": sum(r["schedule_completed"] for r in mine), "runs": len(mine)}
    return out


if __name__ == "__main__":
    main()
