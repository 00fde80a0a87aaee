"""Saving the training state from the loop: a callback at epoch ends and every N steps."""

from __future__ import annotations

from cifarbench.checkpoints import save_torch_checkpoint
from cifarbench.contract.callbacks import Callback
from cifarbench.runs import RunDir


class CheckpointSaver(Callback):
    """Writes checkpoints/last.pt every `every` epochs, every `every_steps` steps (mid-epoch
    too), and after the last epoch. A checkpoint replaces the previous one atomically, and
    `trainer.state_dict()` refuses to produce one from non-finite training, so last.pt is
    always the last good state."""

    def __init__(self, run: RunDir, every: int, meta: dict, every_steps: int = 0):
        self.run, self.every, self.every_steps, self.meta = run, every, every_steps, meta

    def save(self, trainer) -> None:
        # every rank of a distributed run builds the state (it sums the epoch's running totals over
        # the ranks, a collective); rank 0 writes it, the weights being the same on every rank
        save_torch_checkpoint(self.run, trainer.state_dict(), self.meta)

    def on_batch_end(self, trainer, batch_index):
        if self.every_steps and trainer.state.step % self.every_steps == 0:
            self.save(trainer)

    def on_epoch_end(self, trainer, record):
        last = trainer.state.epoch == trainer.num_epochs or trainer.should_stop or trainer.progress.done
        if last or (self.every and trainer.state.epoch % self.every == 0):
            self.save(trainer)
