"""No host-device synchronisation inside the step loop.

On a GPU every such sync goes through `aten._local_scalar_dense` (`.item()`, `bool()`, `float()`
or `int()` of a tensor). The CPU dispatches the same op, so counting it over a real training run
on the CPU proves the loop has none between two optimizer steps of an epoch: the loop may read
the device only at progress refreshes, epoch ends, checkpoints and evaluations.
"""

from __future__ import annotations

import pytest
import torch
from conftest import synthetic_config
from torch.utils._python_dispatch import TorchDispatchMode

from cifarbench.api import train
from cifarbench.train.callbacks import Callback
from cifarbench.train.recipes import resolve_config


class CountSyncs(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


class SyncsBetweenSteps(Callback):
    """The counter's value after each optimizer step; the differences within an epoch are the
    syncs the loop made between two steps."""

    def __init__(self, counter: CountSyncs):
        self.counter, self.per_epoch = counter, []

    def on_epoch_start(self, trainer, epoch):
        self.per_epoch.append([])

    def on_batch_end(self, trainer, batch_index):
        self.per_epoch[-1].append(self.counter.count)

    def between_steps(self) -> list[int]:
        return [b - a for counts in self.per_epoch for a, b in zip(counts, counts[1:])]


def airbench_tiny_config(tmp_path, precision: str):
    """airbench94's recipe (lookahead, whitening bias frozen after an epoch, alternating flip,
    translate, decoupled Nesterov SGD, summed label-smoothed loss) on a small net and data."""
    return resolve_config("airbench94", {
        "model": {"name": "airbench-tiny", "whiten_bias_epochs": 1},
        "data": {"dataset": "synthetic", "synthetic_shape": [3, 16, 16], "synthetic_train_size": 256,
                 "synthetic_test_size": 64},
        "train": {"epochs": 2, "batch_size": 32, "device": "cpu", "precision": precision, "plots": False,
                  "channels_last": False, "tta": 0},
        "runs_dir": str(tmp_path / "runs")})


def count_between_steps(config) -> tuple[list[int], int]:
    counter = CountSyncs()
    probe = SyncsBetweenSteps(counter)
    with counter:
        train(config, quiet=True, callbacks=[probe])
    return probe.between_steps(), counter.count


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16", "bf16-pure"])
def test_the_airbench_loop_never_syncs_between_two_steps(tmp_path, precision):
    between, total = count_between_steps(airbench_tiny_config(tmp_path, precision))
    assert len(between) == 2 * (256 // 32 - 1)  # every pair of consecutive steps in both epochs was seen
    assert between == [0] * len(between)
    assert total > 0  # the counter works: epoch ends and evaluations do sync


def test_the_counter_sees_a_sync_in_the_loop(tmp_path):
    """The probe can fail: a callback that reads a tensor after each step is seen."""

    class ReadsTheLoss(Callback):
        def on_batch_end(self, trainer, batch_index):
            trainer.peeked = float(next(trainer.model.parameters()).detach().sum())

    counter = CountSyncs()
    probe = SyncsBetweenSteps(counter)
    with counter:
        train(synthetic_config(tmp_path, epochs=1), quiet=True, callbacks=[ReadsTheLoss(), probe])
    assert probe.between_steps() and all(n >= 1 for n in probe.between_steps())


def test_the_onecycle_sgd_loop_never_syncs_between_two_steps(tmp_path):
    """SGD with momentum under OneCycle (lenet-small-onecycle). Adam is not checked this way: its
    step counters live on the host when not `capturable`, so their `.item()` shows up here although
    it makes no device wait on a GPU."""
    config = resolve_config("lenet-small-onecycle", {
        "data": {"dataset": "synthetic", "synthetic_shape": [1, 28, 28], "synthetic_train_size": 128,
                 "synthetic_test_size": 32},
        "train": {"epochs": 2, "batch_size": 32, "device": "cpu", "precision": "fp32", "plots": False},
        "runs_dir": str(tmp_path / "runs")})
    between, _ = count_between_steps(config)
    assert len(between) == 2 * 3 and between == [0] * 6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: torch.cuda.set_sync_debug_mode "
                                                          "checks syncs on CUDA only")
def test_on_cuda_the_loop_runs_under_sync_debug_mode_error(tmp_path):
    """On CUDA, a sync inside the loop raises under set_sync_debug_mode('error'), which the test turns on
    from the first step to the last (not around epoch ends and evaluations, where syncs are allowed)."""

    class ErrorOnSyncInsideEpoch(Callback):
        def on_epoch_start(self, trainer, epoch):
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("error")

        def on_batch_end(self, trainer, batch_index):
            if trainer.state.batch == trainer.steps_per_epoch or trainer.state.step >= trainer.total_steps:
                torch.cuda.set_sync_debug_mode("default")  # the epoch end may sync

    config = airbench_tiny_config(tmp_path, "fp16-pure")
    config = resolve_config("airbench94", {**config.to_dict(), "train": {**config.to_dict()["train"],
                                                                          "device": "cuda"}})
    try:
        result = train(config, quiet=True, callbacks=[ErrorOnSyncInsideEpoch()])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert result.run_log["status"] == "completed"
