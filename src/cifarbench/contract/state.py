"""Where a run stands, in either framework: what the loop has done (TrainState, saved whole in a
checkpoint and restored whole on resume) and the seeding both frameworks start from."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken (skipped non-finite steps included: they used a batch)
    batch: int = 0  # batches done in the epoch under way (0 between epochs); a resume starts there
    skipped_steps: int = 0  # non-finite steps skipped (train.nonfinite = "skip")
    history: list[dict] = field(default_factory=list)
    best_val_accuracy: float = -1.0
    best_epoch: int = -1
    train_seconds: float = 0.0  # synchronised time spent in training batches, evaluation excluded
    eval_seconds: float = 0.0

    def to_dict(self) -> dict:
        """Every field, as a checkpoint keeps it (plain numbers, strings and lists)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> TrainState:
        """The state a checkpoint kept, whole: a field an older checkpoint lacks keeps its default,
        and keys that are not fields (the loop's own extras) are left to the loop."""
        names = {f.name for f in dataclasses.fields(cls)}
        state = cls(**{k: v for k, v in saved.items() if k in names})
        state.history = list(state.history)
        return state


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=False)
        torch.backends.cudnn.benchmark = False
