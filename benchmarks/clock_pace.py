"""A planned budget on a machine that slows down part-way: the schedule annealed on the clock
(training/pace.py) against the planned steps cut by a time limit (what planned runs did before).

Each run plans `--budget-s S` from one calibration, made once on the quiet machine before the
first run and restored before every plan (a planned run writes what it measured into the cache,
and a slowed run's figures would make the next plan shorter); after `--slow-after` seconds of the
run, `--competitors` busy processes start and share the CPU with it until the run ends (a user's
other work arriving). Both ways see the same plan and the same slowdown; what differs is whether
the schedule (learning rate decay, lookahead's last sync, the whitening bias's freeze) completes,
and whether the run ends within its budget.

    python benchmarks/clock_pace.py --dataset fashion-mnist --budget-s 60 --seeds 3 --slow-after 15

Results: benchmarks/results/clock-pace-<dataset>-<cpu class>.json, rewritten after every run.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from cifarbench.devices import cpu_class
from cifarbench.planner.calibrate import cache_file
from cifarbench.planner.plan import make_plan, run_plan
from cifarbench.results import print_table, summarise, write_result

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


def one_run(args, seed: int, mode: str, calibration: bytes | None) -> tuple[dict, bytes]:
    """One planned run; the calibration cache it planned from (to restore before the next plan)."""
    if calibration is not None:
        cache_file().write_bytes(calibration)
    layers = {"data": {"dataset": args.dataset, "download": False}, "train": {"seed": seed, "plots": False},
              "runs_dir": args.runs_dir}
    plan = make_plan(layers, budget_s=args.budget_s)  # the clock starts here: data loaded, calibration counted
    calibration = cache_file().read_bytes()
    with Competitors(args.competitors, args.slow_after):
        result = run_plan(plan, quiet=True, pace=mode == "clock")
    o = result.run_log["plan_outcome"]
    return {"seed": seed, "mode": mode, "model": plan.chosen.model, "planned_epochs": plan.chosen.epochs,
            "predicted_accuracy": plan.chosen.accuracy, "test_accuracy": result.metrics["accuracy"],
            "seconds": o["command_seconds"], "steps": result.run_log["steps"],
            "planned_steps": math.ceil(plan.chosen.epochs
                                       * (result.run_log["train_images"] // plan.config.train.batch_size)),
            "schedule_completed": o["schedule_completed"], "run": result.run.path.name}, calibration


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
    os.environ["CIFARBENCH_DATA"] = tempfile.mkdtemp(prefix="cifarbench-calibration-")  # an empty cache
    runs: list[dict] = []
    calibration = None
    for seed in range(args.seeds):
        for mode in MODES:
            run, calibration = one_run(args, seed, mode, calibration)
            runs.append(run)
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
