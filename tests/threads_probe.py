"""torchrun's entry point for tests that check what a rank leaves alive when cifarbench returns.

    python -m torch.distributed.run ... tests/threads_probe.py train --runs 3 ...

Runs `cifarbench <args>` in this process, then writes the names of the native threads still
alive besides the main one to `rank-<RANK>.txt` in the folder named by $THREADS_PROBE_DIR, and
exits with cifarbench's exit code. A file per rank, not a line on the shared stderr: two ranks
writing to one pipe can glue one rank's line onto the other's output, and the line is lost.

A process group that destroy_process_group did not really end keeps Gloo's threads ("gloo_tcp_loop",
"pt_gloo_runloop") to interpreter shutdown, where they can abort the process; a test that reads
these files sees that every time, not only on the runs where the abort happens to strike.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cifarbench.cli import main

FOLDER_VARIABLE = "THREADS_PROBE_DIR"


def native_thread_names() -> list[str]:
    """Names of this process's threads other than the main one (Linux: /proc/self/task)."""
    main_tid = str(os.getpid())
    return sorted((task / "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()
                  if task.name != main_tid)


def gloo_threads_left(folder: Path) -> dict[int, list[str]]:
    """{rank: its Gloo threads still alive after cifarbench returned}, for every rank that
    reported into `folder`."""
    return {int(path.stem.removeprefix("rank-")): [n for n in path.read_text().split(",") if "gloo" in n]
            for path in sorted(folder.glob("rank-*.txt"))}


def reporting_into(folder: Path) -> dict[str, str]:
    """The environment that makes torchrun's ranks report into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return {**os.environ, FOLDER_VARIABLE: str(folder)}


if __name__ == "__main__":
    code = main(sys.argv[1:])
    report = Path(os.environ[FOLDER_VARIABLE]) / f"rank-{os.environ.get('RANK', '0')}.txt"
    report.write_text(",".join(native_thread_names()))
    sys.exit(code)
