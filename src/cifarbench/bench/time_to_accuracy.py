"""Time to accuracy: evaluate every N steps with the training clock paused, and report when
each accuracy target was first reached."""

from __future__ import annotations

import time

from cifarbench.train.callbacks import Callback


class PeriodicEval(Callback):
    """Every `every` optimizer steps (and after the last one), the accuracy on the trainer's
    validation split, with the training time so far; the evaluation's own time is excluded from
    training time and kept apart."""

    def __init__(self, every: int):
        self.every = every
        self.points: list[dict] = []
        self.eval_seconds = 0.0

    def on_batch_end(self, trainer, batch_index):
        step = trainer.state.step
        if step % self.every and step < trainer.total_steps:
            return
        seconds = trainer.training_seconds_so_far()
        with trainer.paused_clock():
            start = time.perf_counter()
            accuracy = trainer.evaluate(trainer.val_loader).accuracy
            trainer.model.train()
            self.eval_seconds += time.perf_counter() - start
        self.points.append({"step": step, "train_seconds": seconds, "accuracy": accuracy})


def first_reached(points: list[dict], targets) -> dict:
    """{target: training seconds when accuracy first reached it, or None}."""
    return {t: next((p["train_seconds"] for p in points if p["accuracy"] >= t), None) for t in targets}
