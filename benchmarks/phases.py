"""Where the seconds of a planned run go, as a user counts them: `cifarbench train --budget-s S` in
fresh processes, each timed from outside (start to exit, as `/usr/bin/time` does), its wall clock
split into phases from its own run_log.json:

    before the plan    interpreter start, imports, the data loaded, the calibration read or made
                       (the plan's spent_seconds), of which the imports alone are measured apart:
                       a fresh interpreter importing what a planned run imports before its data
    training           the loop's steps (run_log train_seconds: the data-dependent init included)
    loop validations   validations inside the loop (eval_seconds; none in a planned run)
    final evaluation   the test split with its TTA (final_eval_seconds)
    run, other         the rest of the run: the run folder, model, loaders (run_seconds less the above)
    files and plots    after the final evaluation (end_seconds)
    exit               from the run's last record to the process's end (wall less command_seconds)

    python benchmarks/phases.py [--budget-s 30] [--runs 5] [--no-plots]

Results: benchmarks/results/phases-<amx|avx512-bf16|avx2>.json (the machine's fingerprint inside).
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
from cifarbench.results import print_table, summarise, write_result

# what a planned run imports before it reads its data, step by step (torch._dynamo: torch.optim's first
# use imports it); each probe ends with os._exit, so the interpreter's teardown is not counted
IMPORT_STEPS = {
    "python alone": "pass",
    "torch": "import torch",
    "torch and torch._dynamo": "import torch, torch._dynamo",
    "all a planned run imports": "import torch, torch._dynamo, cifarbench.api, cifarbench.cli, cifarbench.planner.plan",
}


def imports_seconds(code: str) -> float:
    """A fresh interpreter that only imports, timed from outside, its teardown skipped."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"{code}; import os; os._exit(0)"], check=True)
    return time.perf_counter() - started


def planned_run(budget: float, runs_dir: Path, seed: int, plots: bool) -> dict:
    before = set(runs_dir.glob("*")) if runs_dir.exists() else set()
    cmd = [sys.executable, "-m", "cifarbench", "train", "--dataset", "fashion-mnist", "--budget-s", f"{budget:g}",
           "--seed", str(seed), "--quiet", "--offline", "--runs-dir", str(runs_dir), *([] if plots else ["--no-plots"])]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the planned run failed: {done.stderr.strip()[-800:]}")
    (new,) = set(runs_dir.glob("*")) - before
    log = json.loads((new / "run_log.json").read_text(encoding="utf-8"))
    run_other = log["run_seconds"] - log["train_seconds"] - log["eval_seconds"] - log["final_eval_seconds"]
    return {
        "seed": seed, "wall_seconds": wall, "test_accuracy": log["test_accuracy"],
        "calibration_seconds": log["plan"]["calibration_seconds"],  # part of "before the plan" (0: cached)
        "phases": {
            "before the plan": log["plan"]["spent_seconds"],
            "training": log["train_seconds"],
            "loop validations": log["eval_seconds"],
            "final evaluation": log["final_eval_seconds"],
            "run, other": run_other,
            "files and plots": log["end_seconds"],
            "exit": wall - log["plan_outcome"]["command_seconds"],
        },
        "unaccounted": wall - log["plan"]["spent_seconds"] - log["run_seconds"] - log["end_seconds"]
        - (wall - log["plan_outcome"]["command_seconds"]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-s", type=float, default=30.0)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / f"phases-{cpu_class()}.json")
    args = p.parse_args()
    imports = {name: [imports_seconds(code) for _ in range(3)] for name, code in IMPORT_STEPS.items()}
    with tempfile.TemporaryDirectory() as runs:
        measured = [planned_run(args.budget_s, Path(runs), seed, not args.no_plots) for seed in range(args.runs)]
    names = list(measured[0]["phases"])
    summary = {name: summarise([m["phases"][name] for m in measured]) for name in names}
    summary["unaccounted"] = summarise([m["unaccounted"] for m in measured])
    summary["whole command (wall)"] = summarise([m["wall_seconds"] for m in measured])
    for name, seconds in imports.items():
        summary[f"imports: {name}"] = summarise(seconds)
    outside = summarise([m["wall_seconds"] - m["phases"]["training"] for m in measured])
    summary["outside training"] = outside
    print_table(f"--budget-s {args.budget_s:g} on fashion-mnist, {args.runs} fresh processes (seconds)",
                ["phase", "mean", "min", "max"],
                [[k, f"{v['mean']:.2f}", f"{v['min']:.2f}", f"{v['max']:.2f}"] for k, v in summary.items()])
    write_result(args.out, "phases", {"budget_s": args.budget_s, "plots": not args.no_plots,
                                      "import_steps": IMPORT_STEPS, "runs": measured, "summary": summary})
    print(f"JSON in {args.out}")


if __name__ == "__main__":
    main()
