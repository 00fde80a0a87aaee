"""The seconds a command spends after its last line, until the process has ended: what a user's
`time` counts and the tool's own clock cannot see. Each repeat runs the same short training command
twice in fresh processes, one after the other: once ending as `cifarbench` does
(process_clock.exit_now: the atexit handlers, the streams flushed, then the process ends) and once
through the interpreter's ordinary finalisation (`sys.exit`, which tears down every module torch
loaded). The child writes the wall-clock time when the command returned; the parent takes the time
when the child has ended.

    python benchmarks/exit_seconds.py [--repeats 5] [--dataset fashion-mnist]

Results: benchmarks/results/exit-seconds-<amx|avx512-bf16|avx2>.json (the machine's fingerprint inside).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cifarbench.devices import cpu_class
from cifarbench.results import print_table, summarise, write_result

CHILD = """
import sys, time
from cifarbench import process_clock
from cifarbench.cli import run_command
code = run_command({argv!r})
sys.stderr.write("RETURNED %r\\n" % time.time())
{ending}
"""
ENDINGS = {"exit_now": "process_clock.exit_now(code)", "interpreter": "sys.exit(code)"}


def one(ending: str, argv: list[str]) -> dict:
    """One command in a fresh process: its whole wall clock, and the seconds from its return to its end."""
    started = time.time()
    done = subprocess.run([sys.executable, "-c", CHILD.format(argv=argv, ending=ENDINGS[ending])],
                          capture_output=True, text=True)
    ended = time.time()
    if done.returncode != 0:
        raise SystemExit(f"the command failed ({ending}): {done.stderr.strip()[-500:]}")
    returned = float(next(line for line in done.stderr.splitlines() if line.startswith("RETURNED")).split()[1])
    return {"wall_seconds": ended - started, "exit_seconds": ended - returned}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / f"exit-seconds-{cpu_class()}.json")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        argv = ["train", "--dataset", args.dataset, "--model", "airbench-tiny", "--recipe", "fashion-tiny-8ep",
                "--epochs", "1", "--train-subset", "2000", "--quiet", "--runs-dir", runs]
        measured: dict[str, list[dict]] = {ending: [] for ending in ENDINGS}
        for _ in range(args.repeats):  # alternated, so a change in the machine's pace falls on both
            for ending in ENDINGS:
                measured[ending].append(one(ending, argv))
    def median(runs: list[dict], key: str) -> str:
        return f"{summarise([m[key] for m in runs])['median']:.3f}"

    rows = [[ending, median(runs, "exit_seconds"), median(runs, "wall_seconds"),
             f"{max(m['exit_seconds'] for m in runs):.3f}"] for ending, runs in measured.items()]
    print_table(f"after the last line, {args.repeats} fresh processes each (median s)",
                ["ending", "exit s", "whole command s", "exit s (max)"], rows)
    write_result(args.out, "exit_seconds", {"measured_command": ["cifarbench", *argv[:-2]], "repeats": args.repeats,
                                            "runs": measured,
                                            "summary": {e: {k: summarise([m[k] for m in r]) for k in r[0]}
                                                        for e, r in measured.items()}})
    print(f"JSON in {args.out}")


if __name__ == "__main__":
    main()
