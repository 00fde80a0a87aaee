"""The README's console transcripts, made by running each command as a user types it (a fresh
process in a fresh folder, Fashion-MNIST from Debian's package) and saved with the machine's
fingerprint and each run's run_log.json, so that the page quotes a recorded run.

    python benchmarks/transcripts.py

Results: benchmarks/results/transcripts/bench.json (commands, their output as printed, the run logs).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cifarbench.results import write_result

COMMANDS = {
    "a run": "cifarbench train --dataset fashion-mnist --model lenet-small --epochs 1",
    "a planned run": "cifarbench train --dataset fashion-mnist --budget-s 60",
}


def main() -> None:
    out = Path(__file__).parent / "results" / "transcripts" / "bench.json"
    made = {}
    for name, command in COMMANDS.items():
        with tempfile.TemporaryDirectory() as folder:
            argv = shlex.split(command)
            started = time.perf_counter()
            # stdout and stderr in one pipe, in the order they were written: what a terminal shows
            done = subprocess.run([sys.executable, "-m", "cifarbench", *argv[1:]], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, cwd=folder)
            wall = time.perf_counter() - started
            (run,) = (Path(folder) / "runs").iterdir()
            made[name] = {"command": command, "exit_code": done.returncode, "wall_seconds": wall,
                          "output": done.stdout, "run_log": json.loads((run / "run_log.json").read_text())}
        print(f"$ {command}\n{done.stdout}(wall {wall:.1f} s from outside)\n")
    write_result(out, "transcripts", {"transcripts": made})
    print(f"JSON in {out}")


if __name__ == "__main__":
    main()
