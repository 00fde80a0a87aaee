"""What a framework supplies to a run: its loop and its weights format. Everything else a run
does (the run directory, its lock and log, the splits, the final test evaluation, metrics,
plots, status) is the run lifecycle's, in api.py, the same for every framework.

    api.train ──> Backend(config)       refuse what the framework cannot honour
                  .setup(held)          device, processes, threads, seeds
                  .build(data)          model and loaders
                  .restore(checkpoint)  (resume only)
                  .prepare(run, meta)   the loop's objects, now that the run directory exists
                  .describe()           run_log fields: device, precision, parameters, ...
                  .fit(run, meta)       the loop; checkpoints in the framework's format
                  .evaluate_final(data) logits of the final split, test unless sealed (TTA included)

training/backend.py `TorchBackend` is PyTorch's (the one loop, training/trainer.py); mlx/backend.py is MLX's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from cifarbench.config import RunConfig
from cifarbench.contract.callbacks import Callback
from cifarbench.contract.state import TrainState
from cifarbench.data.prepare import PreparedData
from cifarbench.errors import CheckpointError
from cifarbench.eval.evaluate import Evaluation
from cifarbench.runs import RunDir


class Backend:
    """The interface the run lifecycle drives (see the module docstring)."""

    framework = "?"

    def __init__(self, config: RunConfig, quiet: bool = False, callbacks: Sequence[Callback] = ()):
        self.config, self.quiet, self.callbacks = config, quiet, list(callbacks)

    @property
    def is_main(self) -> bool:
        """True on the process that writes the run directory (rank 0 of a distributed run)."""
        return True

    def share(self, value):
        """The main process's `value`, on every process."""
        return value

    def setup(self, held: contextlib.ExitStack) -> None: ...

    def build(self, data: PreparedData) -> None: ...

    def restore(self, checkpoint: dict) -> None:
        raise CheckpointError(f"--resume is not available with --framework {self.framework}")

    def prepare(self, run: RunDir, meta: dict) -> None: ...

    def describe(self) -> dict:
        """run_log fields: the machine's fingerprint, device, precision, parameters, ..."""
        raise NotImplementedError

    @property
    def num_epochs(self) -> int:
        raise NotImplementedError

    def fit(self, run: RunDir, meta: dict) -> TrainState:
        raise NotImplementedError

    def evaluate_final(self, data: PreparedData) -> Evaluation:
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued work, so a clock read next measures finished work."""

    def summary(self) -> dict:
        """run_log fields known only after training (e.g. the hybrid trainer's counters)."""
        return {}

    def replay_layer(self) -> dict:
        """What config.yaml must add to replay the run as it went (a clocked schedule's rates), or {}."""
        return {}
