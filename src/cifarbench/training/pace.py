"""Where a run is in its schedule, and what moves it there: the step count, or the clock.

Everything that runs on training progress (the learning rate, lookahead's weight, the whitening
bias's freeze, the end of training) reads `Progress.position`, counted in planned steps (0 up to
`total`, the steps train.epochs asks for). What moves it:

    the steps (every run by default)   each step moves it by 1: position == step, the ordinary schedule
    the clock (ClockPace)              a planned --budget-s run: every PACE_EVERY steps the clock sets how
                                       far each of the next steps moves it, so that it reaches `total`
                                       at the deadline: a machine slower or faster than calibrated still
                                       runs its whole schedule (lr decay, lookahead's last sync) and uses
                                       its time, instead of being cut mid-schedule or ending early
    recorded rates (schedule.pace)     the rates a clocked run took, one per PACE_EVERY steps, which it
                                       writes into its config.yaml: replaying that file takes the same
                                       steps with the same schedule, no clock read, the same losses

Only the host's clock is read, every PACE_EVERY steps and never with a device sync: on a GPU the
host runs at most a bounded queue of work ahead of the device, which the next reading absorbs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cifarbench.contract.callbacks import Callback
from cifarbench.training.distributed import all_reduce_sum

PACE_EVERY = 8  # steps between two readings of the clock (and so per recorded rate)
SMOOTHING = 0.5  # weight of the previous estimate of a step's seconds against the latest reading
MAX_EPOCHS_FACTOR = 10  # a clocked run may take this many times its planned epochs (a far faster machine)
MAX_SLOWDOWN = 5.0  # the most a slowdown seen in training stretches the time kept for the work after it


class Progress:
    """The schedule's position after each step; paced when `rates` (or a ClockPace) move it."""

    def __init__(self, total: int, rates: tuple[float, ...] | list[float] | None = None, paced: bool = False):
        self.total = total
        self.rates = [float(r) for r in rates or ()]
        self.paced = paced or bool(self.rates)
        self.position = 0.0
        self.steps = 0

    def rate(self) -> float:
        """How far the step under way moves the schedule: its block's rate (the last one past the end
        of a recorded list)."""
        if not self.paced:
            return 1.0
        block = self.steps // PACE_EVERY
        return self.rates[min(block, len(self.rates) - 1)] if self.rates else 1.0

    def advance(self) -> None:
        if self.paced:
            self.position += self.rate()
        else:
            self.position = float(self.steps + 1)
        self.steps += 1

    @property
    def done(self) -> bool:
        return self.position >= self.total

    @property
    def fraction(self) -> float:
        return min(1.0, self.position / max(1, self.total))

    def state_dict(self) -> dict:
        return {"position": self.position, "steps": self.steps, "rates": list(self.rates), "paced": self.paced}

    def load_state_dict(self, state: dict) -> None:
        self.position, self.steps = float(state["position"]), int(state["steps"])
        self.rates, self.paced = [float(r) for r in state["rates"]], bool(state["paced"])


class ClockPace(Callback):
    """Anneals a run's schedule on the clock: training ends in time for the work after it (`after`
    seconds at the calibrated speed: the final evaluation, the files) to end by `end` (a `clock()`
    reading), with its schedule complete. Every PACE_EVERY steps it reads the clock, updates its
    estimate of a step's seconds (smoothed, so one slow block does not swing the rate) and sets the
    next block's rate to what is left of the schedule over the steps that fit in the time left. A
    machine slower than its calibration (`step_seconds`) is slower after training too: the time
    kept for that work grows by the same factor."""

    def __init__(
        self,
        end: float,
        clock: Callable[[], float] = time.perf_counter,
        *,
        after: float = 0.0,
        step_seconds: float | None = None,
    ):
        self.end, self.clock, self.after, self.calibrated = end, clock, after, step_seconds
        self.step_seconds: float | None = None

    def deadline(self) -> float:
        """When training must end, for the work after it to end by `end` at the speed seen now."""
        slowdown = 1.0
        if self.calibrated and self.step_seconds:
            slowdown = min(MAX_SLOWDOWN, max(1.0, self.step_seconds / self.calibrated))
        return self.end - self.after * slowdown

    def on_fit_start(self, trainer):
        progress = trainer.progress
        if not progress.paced:
            raise RuntimeError("ClockPace needs a trainer built for a paced schedule (Trainer(paced=True))")
        if not progress.rates:
            progress.rates.append(1.0)  # the plan's own rate until the clock has been read
        self._last = (progress.steps, self.clock())

    def on_batch_end(self, trainer, batch_index):
        progress = trainer.progress
        if progress.steps % PACE_EVERY or progress.done:
            return
        now = self.clock()
        steps, then = self._last
        self._last = (progress.steps, now)
        latest = (now - then) / max(1, progress.steps - steps)
        self.step_seconds = (
            latest if self.step_seconds is None else (SMOOTHING * self.step_seconds + (1 - SMOOTHING) * latest)
        )
        left = progress.total - progress.position
        steps_left = (self.deadline() - now) / self.step_seconds if self.step_seconds > 0 else float("inf")
        # under one step left: the next step ends the schedule (its last lr, lookahead's last sync)
        rate = left if steps_left <= 1 else left / steps_left
        if trainer.dist.enabled:  # every rank takes rank 0's rate, or their schedules would part
            rate = all_reduce_sum([rate if trainer.dist.is_main else 0.0], trainer.device, trainer.dist)[0]
        block = progress.steps // PACE_EVERY  # the block the rate is for (a resumed run may have more)
        del progress.rates[block:]
        progress.rates += progress.rates[-1:] * (block - len(progress.rates))
        progress.rates.append(rate)
