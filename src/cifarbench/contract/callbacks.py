"""The moments of the training loop that extensions hook into (Lightning's naming, 8 hooks).

The loop owns the order of events; progress bars, logs, checkpoints and recipe tricks
(lookahead, frozen whitening bias) override only the hooks they need. Each hook is given the
loop itself (training.trainer.Trainer); this module stays below the trainer, which imports it, so
the parameter is not annotated with that type.
"""

from __future__ import annotations


class Callback:
    def on_fit_start(self, trainer) -> None:
        """Called once before the first epoch (after a resume has restored the state)."""

    def on_epoch_start(self, trainer, epoch: int) -> None:
        """Called before the first batch of each epoch."""

    def on_after_backward(self, trainer) -> None:
        """Called when gradients exist, before clipping and the optimizer step."""

    def on_batch_end(self, trainer, batch_index: int) -> None:
        """Called after each optimizer (and scheduler) step."""

    def on_eval_end(self, trainer, record: dict) -> None:
        """Called after validation, with the epoch's history record so far."""

    def on_epoch_end(self, trainer, record: dict) -> None:
        """Called when the epoch's record is complete and appended to the history."""

    def on_fit_end(self, trainer) -> None:
        """Called once after the last epoch."""

    def on_exception(self, trainer, exc: BaseException) -> None:
        """Called when training stops with an exception (including KeyboardInterrupt)."""

    def state_dict(self) -> dict | None:
        """State to keep in checkpoints (tensors and plain values only), or None if stateless."""
        return None

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""


class TimeLimit(Callback):
    """Ends training once its clock (data-dependent init included) passes `seconds`: after the
    current batch, with the loop's last validation. The clock is read every `every` steps, since
    reading it waits for the device. A `tune --budget-s` trial's limit, and a planned run's guard."""

    def __init__(self, seconds: float | None, every: int = 4):
        self.seconds, self.every = seconds, every
        self.stopped = False

    def on_batch_end(self, trainer, batch_index):
        if self.seconds is None or trainer.state.step % self.every:
            return
        if trainer.training_seconds_so_far() > self.seconds:
            trainer.should_stop = self.stopped = True


class CallbackList(Callback):
    """Calls each callback in order for every hook."""

    def __init__(self, callbacks: list[Callback]):
        self.callbacks = list(callbacks)

    def __getattribute__(self, name: str):
        if name.startswith("on_"):

            def call_all(*args, **kwargs):
                for cb in object.__getattribute__(self, "callbacks"):
                    getattr(cb, name)(*args, **kwargs)

            return call_all
        return object.__getattribute__(self, name)

    def state_dict(self) -> dict:
        """{callback class name: state} for the callbacks that have state."""
        states = {}
        for cb in object.__getattribute__(self, "callbacks"):
            state = cb.state_dict()
            if state is not None:
                states[type(cb).__name__] = state
        return states

    def load_state_dict(self, states: dict) -> None:
        for cb in object.__getattribute__(self, "callbacks"):
            if type(cb).__name__ in states:
                cb.load_state_dict(states[type(cb).__name__])
