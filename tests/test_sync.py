"""No host-device synchronisation inside the step loop, in a default run.

A host waits for a device in a few ways: a scalar read (`aten._local_scalar_dense`: `.item()`,
`bool()`, `float()`, `int()` of a tensor), a copy to host memory that is not an asynchronous copy
into pinned memory, an op whose output size depends on the data (`nonzero`, `masked_select`,
`unique`, ...), `.tolist()` / `.numpy()` of a tensor, and an explicit synchronize. The CPU
dispatches the same ops, so counting them over real training runs on the CPU proves the loop has
none between two optimizer steps of an epoch, with the progress bar and the loggers on: the loop
may read the device only at epoch ends, checkpoints and evaluations. Two of them are free on the
CPU and would pass unseen in its dispatch: a copy to the host (`.cpu()`, `.to("cpu")` of a CPU
tensor is the tensor itself) and a synchronize (devices.synchronize calls torch.cpu.synchronize,
which returns at once); they are counted where they are called, as on a GPU they would wait. The
progress bar's copies (devices.HostCopy) are host buffers filled asynchronously; reading those is
no device read.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from cifarbench.api import train
from cifarbench.contract.callbacks import Callback
from cifarbench.devices import HostCopy, synchronize
from cifarbench.resolve import resolve_config
from conftest import needs_hardware, synthetic_config

aten = torch.ops.aten
DATA_DEPENDENT_SIZE = {aten.nonzero.default, aten.masked_select.default, aten._unique2.default, aten._unique.default,
                       aten.unique_dim.default, aten.unique_consecutive.default, aten.argwhere.default,
                       aten.nonzero_static.default}
BOOLEAN_INDEXING = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default}
HOST_READS = {torch.Tensor.tolist, torch.Tensor.numpy, torch.Tensor.item, torch.Tensor.cpu}
SYNCHRONIZE = ((torch.cuda, "synchronize"), (torch.mps, "synchronize"), (torch.cpu, "synchronize"))


def _to_host(args, kwargs) -> bool:
    """Tensor.to(...) with the host as its target device (a copy there on any device)."""
    targets = [*args[1:], kwargs.get("device")]
    return any(isinstance(t, (str, torch.device)) and torch.device(t).type == "cpu" for t in targets if t is not None)


def _device_tensor(t) -> bool:
    return isinstance(t, torch.Tensor) and not getattr(t, HostCopy.MARK, False)


class _CountHostReads(TorchFunctionMode):
    def __init__(self, owner):
        super().__init__()
        self.owner = owner

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if args and _device_tensor(args[0]) and (func in HOST_READS or (func is torch.Tensor.to
                                                                        and _to_host(args, kwargs))):
            self.owner.seen.append(func.__name__)
        return func(*args, **kwargs)


class CountSyncs(TorchDispatchMode):
    """Every way the host waits for the device, as ops: `count` and what they were (`seen`)."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []
        self._reads = _CountHostReads(self)

    @property
    def count(self) -> int:
        return len(self.seen)

    def __enter__(self):
        self._patched = [(module, name, getattr(module, name)) for module, name in SYNCHRONIZE]
        for module, name, real in self._patched:
            setattr(module, name, self._counting(f"{module.__name__}.{name}", real))
        self._reads.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        for module, name, real in self._patched:
            setattr(module, name, real)
        return self._reads.__exit__(*exc)

    def _counting(self, label: str, real):
        def synchronize(*args, **kwargs):
            self.seen.append(label)
            return real(*args, **kwargs)
        return synchronize

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is aten._local_scalar_dense.default or func in DATA_DEPENDENT_SIZE:
            self.seen.append(str(func))
        elif func in BOOLEAN_INDEXING and any(i is not None and i.dtype == torch.bool for i in args[1]):
            self.seen.append(f"{func} with a boolean mask")  # it finds the mask's true places first
        elif func in (aten.copy_.default, aten._to_copy.default) and self._to_host_blocking(func, args, kwargs):
            self.seen.append(str(func))
        return func(*args, **kwargs)

    @staticmethod
    def _to_host_blocking(func, args, kwargs) -> bool:
        """A copy from a device to host memory that makes the host wait (all but non_blocking into
        pinned memory)."""
        if func is aten.copy_.default:
            dst, src = args[0], args[1]
            to_host, pinned = dst.device.type == "cpu", dst.is_pinned() if dst.device.type == "cpu" else False
        else:
            src, dst_device = args[0], kwargs.get("device")
            to_host, pinned = dst_device is not None and torch.device(dst_device).type == "cpu", False
        non_blocking = (args[2] if len(args) > 2 else kwargs.get("non_blocking", False))
        return src.device.type != "cpu" and to_host and not (non_blocking and pinned)


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


def count_between_steps(config, quiet: bool = True) -> tuple[list[int], int]:
    counter = CountSyncs()
    probe = SyncsBetweenSteps(counter)
    with counter:
        train(config, quiet=quiet, callbacks=[probe])
    return probe.between_steps(), counter.count


@pytest.mark.slow
@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "plain-lines"])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "bf16-pure"])
def test_a_default_airbench_run_never_syncs_between_two_steps(tmp_path, monkeypatch, precision, terminal):
    """Progress bar on (a terminal's or plain lines), the csv and tensorboard loggers on, lookahead
    and the whitening-bias freeze active."""
    from rich.console import Console

    from cifarbench.training import progress

    screen = io.StringIO()
    monkeypatch.setattr(progress, "CONSOLE", Console(file=screen, force_terminal=terminal, width=120))
    loggers = ["csv", "tensorboard"] if importlib.util.find_spec("tensorboard") else ["csv"]
    config = airbench_tiny_config(tmp_path, precision)
    config = dataclasses.replace(config, output=dataclasses.replace(config.output, loggers=tuple(loggers)))
    between, total = count_between_steps(config, quiet=False)
    assert len(between) == 2 * (256 // 32 - 1)  # every pair of consecutive steps in both epochs was seen
    assert between == [0] * len(between)
    assert total > 0  # the counter works: epoch ends and evaluations do sync
    assert "epoch 2/2 | train" in screen.getvalue()  # the bar and its epoch lines were really drawn


def test_a_run_annealed_on_the_clock_never_syncs_between_two_steps(tmp_path):
    """A budget's schedule reads the host's clock every few steps (training/pace.py), never the device."""
    import time

    from cifarbench.training.pace import ClockPace

    counter = CountSyncs()
    probe = SyncsBetweenSteps(counter)
    with counter:
        train(airbench_tiny_config(tmp_path, "fp32"), quiet=True,
              callbacks=[ClockPace(time.perf_counter() + 600), probe])
    between = probe.between_steps()
    assert between and between == [0] * len(between)


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


@pytest.mark.parametrize("read, op", [
    (lambda t: t.tolist(), "tolist"),
    (lambda t: t.numpy(), "numpy"),
    (lambda t: t.nonzero(), "nonzero"),
    (lambda t: t[t > 0], "index"),  # boolean masking: an output size that depends on the data
    (lambda t: t.index_put_((t > 0,), torch.tensor(0.0)), "index_put_"),
    (lambda t: t.unique(), "unique"),
    (lambda t: float(t.sum()), "_local_scalar_dense"),
    (lambda t: t.cpu(), "cpu"),  # free on the CPU, a wait on a GPU
    (lambda t: t.to("cpu"), "to"),
    (lambda t: t.to(device=torch.device("cpu"), dtype=torch.float64), "to"),
    (lambda t: synchronize(t.device), "torch.cpu.synchronize"),  # the one path every device's sync takes
])
def test_the_counter_sees_every_kind_of_host_read(read, op):
    counter = CountSyncs()
    with counter:
        read(torch.arange(4.0) - 1)
    assert counter.count >= 1 and any(op in seen for seen in counter.seen), counter.seen
    unmarked = HostCopy(torch.device("cpu"))
    unmarked.request([torch.ones(())])
    with counter:
        before = counter.count
        unmarked.latest()  # a host buffer: reading it is no device read
    assert counter.count == before


def test_a_host_copy_is_one_request_late_only_where_the_device_is_asynchronous():
    copy = HostCopy(torch.device("cpu"))
    assert copy.latest() is None
    copy.request([torch.tensor(3.0), torch.tensor(4, dtype=torch.long)], note=7)
    assert copy.latest() == ([3.0, 4.0], 7)  # on the CPU the values exist when requested


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


@needs_hardware(not torch.cuda.is_available(), "needs a CUDA device: torch.cuda.set_sync_debug_mode checks syncs "
                                               "on CUDA only")
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
                                                                          "device": "cuda", "loggers": ["csv"]}})
    try:  # a default run: the progress bar and the csv logger on
        result = train(config, quiet=False, callbacks=[ErrorOnSyncInsideEpoch()])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert result.run_log["status"] == "completed"
