"""The command's own clock: seconds since this process started, as a user's `time` counts them.

A budget (`--budget-s`) is the whole command: the interpreter starting, the imports, loading the
data, planning, training, the final evaluation, the plots and every file. On Linux the kernel
knows when the process started (/proc/self/stat, in clock ticks since boot, against /proc/uptime);
elsewhere the clock starts when cifarbench is first imported, the earliest moment it can see.
A command run inside a longer-lived process (`cifarbench.cli.main(argv)` from Python or a test)
starts its clock when it is called (`begin_command`): the process's age is not the command's.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from typing import NoReturn

_IMPORTED = time.time()


def _started_on_linux() -> float | None:
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            # the command name (field 2) may hold spaces: the fields after its ")" are fixed
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        now = time.time()
        started_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return None
    return now - (uptime - started_after_boot)


_STARTED = _started_on_linux()
# a clock that disagrees with the import's (a container's odd /proc) is not trusted
STARTED = _STARTED if _STARTED is not None and 0 <= _IMPORTED - _STARTED < 600 else _IMPORTED


def begin_command() -> None:
    """The command starts now (a command run in-process, not as a process of its own)."""
    global STARTED
    STARTED = time.time()


def command_seconds() -> float:
    """Seconds since the command started: the process's start, or begin_command's call."""
    return time.time() - STARTED


def exit_now(code: int) -> NoReturn:
    """End the process at once, without the interpreter's own finalisation: with torch loaded it
    tears down 1,100-2,100 modules and their native state, 0.5-1.1 s after the last line on a 2-core
    Zen 4 (benchmarks/exit_seconds.py), which a user's `time` and a budget count. What finalisation
    would do that matters runs first: the atexit handlers (logging's flush, the loggers' finishers,
    multiprocessing's clean-up) and the standard streams' flush. A process with another thread still
    running exits the ordinary way, which waits for it."""
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing more can be said
            pass
    os._exit(code)
