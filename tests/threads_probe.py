"""torchrun's entry point for tests that check what a rank leaves alive when cifarbench returns.

    python -m torch.distributed.run ... tests/threads_probe.py train --runs 3 ...

Runs `cifarbench <args>` in this process, then prints one line to stderr naming the native
threads still alive besides the main one, and exits with cifarbench's exit code. A process group
that destroy_process_group did not really end keeps Gloo's threads ("gloo_tcp_loop",
"pt_gloo_runloop") to interpreter shutdown, where they can abort the process; a test that reads
this line sees that every time, not only on the runs where the abort happens to strike.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cifarbench.cli import main

PREFIX = "threads left:"


def native_thread_names() -> list[str]:
    """Names of this process's threads other than the main one (Linux: /proc/self/task)."""
    main_tid = str(os.getpid())
    return sorted((task / "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()
                  if task.name != main_tid)


def gloo_threads_left(stderr: str) -> dict[int, list[str]]:
    """{rank: its Gloo threads still alive after cifarbench returned}, for every rank that
    reported, read from the probe's lines in a torchrun's stderr."""
    found = {}
    for line in stderr.splitlines():
        if line.startswith(PREFIX):
            rank, names = line.removeprefix(PREFIX).split(":", 1)
            found[int(rank.split()[1])] = [n for n in names.strip().split(",") if "gloo" in n]
    return found


if __name__ == "__main__":
    code = main(sys.argv[1:])
    print(f"{PREFIX} rank {os.environ.get('RANK', '0')}: {','.join(native_thread_names())}", file=sys.stderr,
          flush=True)
    sys.exit(code)
