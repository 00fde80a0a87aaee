"""SIGINT and SIGTERM during training: finish the step, save a checkpoint, exit 130 or 143.

The handler only records the signal; the trainer looks at it between two steps (where its
state is whole) and raises `StopRequested`, and the session saves a checkpoint and says how to
resume. A second signal stops at once (KeyboardInterrupt), for a user who will not wait.
"""

from __future__ import annotations

import contextlib
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signum


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


@contextlib.contextmanager
def stop_after_step_on_signal(trainer):
    """Within the block, SIGINT/SIGTERM ask `trainer` to stop after its current step."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handler(signum, frame):
        if trainer.stop_signal is not None:
            raise KeyboardInterrupt  # the second signal: stop now, without a checkpoint
        trainer.stop_signal = signum

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
