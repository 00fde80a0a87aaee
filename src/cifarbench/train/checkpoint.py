"""Checkpoints: saved atomically from a callback, loaded with weights_only=True.

A checkpoint holds only tensors, numbers, strings and containers: the trainer state
(model, optimizer, scheduler, scaler, RNG states, history), the resolved config and what
inference needs (class names, normalisation statistics, input shape). Nothing in it is
code, so loading one never runs anything.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from cifarbench.errors import CheckpointError
from cifarbench.runs import RunDir, atomic_save_torch
from cifarbench.train.callbacks import Callback

CHECKPOINT_FORMAT = 1


class CheckpointSaver(Callback):
    """Writes checkpoints/last.pt every `every` epochs, every `every_steps` steps (mid-epoch
    too), and after the last epoch. A checkpoint replaces the previous one atomically, and
    `trainer.state_dict()` refuses to produce one from non-finite training, so last.pt is
    always the last good state."""

    def __init__(self, run: RunDir, every: int, extra: dict, every_steps: int = 0):
        self.run, self.every, self.every_steps, self.extra = run, every, every_steps, extra

    def save(self, trainer) -> None:
        # every rank of a distributed run builds the state (it sums the epoch's running totals over
        # the ranks, a collective); rank 0 writes it, the weights being the same on every rank
        state = trainer.state_dict()
        if self.run.writable:
            atomic_save_torch({"format": CHECKPOINT_FORMAT, **self.extra, **state}, self.run.checkpoint_path)

    def on_batch_end(self, trainer, batch_index):
        if self.every_steps and trainer.state.step % self.every_steps == 0:
            self.save(trainer)

    def on_epoch_end(self, trainer, record):
        last = trainer.state.epoch == trainer.num_epochs or trainer.should_stop
        if last or (self.every and trainer.state.epoch % self.every == 0):
            self.save(trainer)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run directory's checkpoints/last.pt."""
    path = Path(path)
    if path.is_dir():
        candidate = path / RunDir.CHECKPOINT
        if not candidate.is_file():
            raise CheckpointError(f"{path} has no checkpoint ({RunDir.CHECKPOINT} is missing)")
        return candidate
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    path = resolve_checkpoint(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any pickled global that is not a plain tensor or container
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} was refused: it holds pickled objects other than tensors and plain "
                              f"containers, which could run code when loaded ({first})") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({str(exc).splitlines()[0]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "model" not in ckpt:
        raise CheckpointError(f"{path} is not a cifarbench checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt
