"""Time to accuracy: evaluate every N steps with the training clock paused, and report when
each accuracy target was first reached."""

from __future__ import annotations

import time

from cifarbench.contract.callbacks import Callback
from cifarbench.eval.evaluate import Evaluation


class PeriodicEval(Callback):
    """Every `every` optimizer steps (and after the last one), the accuracy on the trainer's
    validation split, with the training time so far; the evaluation's own time is excluded from
    training time and kept apart.

    After the last step a run with test-time augmentation is also checked as its final
    evaluation scores it (the run's `train.tta` and `train.tta_share`), and that point's seconds
    include the evaluation's own: TTA is what a planned run is planned with, and it is not free."""

    def __init__(self, every: int):
        self.every = every
        self.points: list[dict] = []
        self.eval_seconds = 0.0

    def on_batch_end(self, trainer, batch_index):
        step = trainer.state.step
        if step % self.every and not trainer.progress.done:
            return
        seconds = trainer.training_seconds_so_far()
        plain, _ = self.check(trainer)
        self.points.append({"step": step, "train_seconds": seconds, "accuracy": plain.accuracy, "loss": plain.loss})
        tta, share = trainer.config.train.tta, trainer.config.train.tta_share
        if trainer.progress.done and tta:
            final, eval_seconds = self.check(trainer, tta, share)
            self.points.append(
                {
                    "step": step,
                    "train_seconds": seconds + eval_seconds,
                    "accuracy": final.accuracy,
                    "loss": final.loss,
                    "tta": tta,
                    "tta_share": share,
                    "tta_seconds": eval_seconds,
                }
            )

    def check(self, trainer, tta: int = 0, share: float | None = None) -> tuple[Evaluation, float]:
        """The validation split's evaluation and the seconds it took, off the training clock."""
        with trainer.paused_clock():
            start = time.perf_counter()
            evaluation = trainer.evaluate(trainer.val_loader, tta, share)
            trainer.model.train()
            seconds = time.perf_counter() - start
        self.eval_seconds += seconds
        return evaluation, seconds


def first_reached(points: list[dict], targets) -> dict:
    """{target: seconds when accuracy first reached it, or None}; a TTA point's seconds include
    its evaluation."""
    return {t: next((p["train_seconds"] for p in points if p["accuracy"] >= t), None) for t in targets}
