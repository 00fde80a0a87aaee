"""The training loop: one for every model, recipe and device.

    fit:  on_fit_start
          for each epoch:  on_epoch_start
                           for each batch: forward (autocast) -> loss -> backward -> on_after_backward
                                           -> clip -> optimizer step -> scheduler step -> on_batch_end
                           validate -> on_eval_end -> history record -> on_epoch_end
          on_fit_end

The loop reads values only from the config and holds the state a checkpoint needs to
continue exactly where it stopped (see `state_dict`).
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cifarbench.config import RunConfig
from cifarbench.contract.callbacks import Callback, CallbackList
from cifarbench.contract.epoch_end import add_validation, epoch_record, validates
from cifarbench.contract.state import TrainState
from cifarbench.data.loader import DeviceLoader
from cifarbench.devices import Precision, Stopwatch
from cifarbench.eval.evaluate import Evaluation, evaluate
from cifarbench.models import untouched_buffers
from cifarbench.training.compiled import COMPILE_OPTIONS, compile_or_reuse, warm_up
from cifarbench.training.distributed import SINGLE, DistContext, all_reduce_sum
from cifarbench.training.optim import build_optimizer, build_scheduler
from cifarbench.training.pace import MAX_EPOCHS_FACTOR, ClockPace, Progress

STOP_CHECK_EVERY = 10  # steps between the ranks' agreement on a stop signal (distributed runs only)


class TrainingError(RuntimeError):
    """Training cannot go on (for example the loss stopped being finite)."""


class StopRequested(Exception):
    """A stop signal arrived; raised between two steps, so the trainer state is whole."""

    def __init__(self, signum: int):
        super().__init__(f"stop requested by signal {signum}")
        self.signum = signum


class StepPolicy(Protocol):
    """Decides per batch between a real and a predicted step (e.g. training/hybrid.py's HybridPolicy)."""

    def step(self, trainer: Trainer, inputs: torch.Tensor, labels: torch.Tensor) -> None: ...

    def summary(self) -> dict: ...


class Trainer:
    def __init__(
        self,
        config: RunConfig,
        model: nn.Module,
        train_loader: DeviceLoader,
        val_loader: DeviceLoader,
        device: torch.device,
        precision: Precision,
        classes: list[str],
        callbacks: Sequence[Callback] = (),
        dist: DistContext = SINGLE,
    ):
        self.config = config
        self.dist = dist
        self.device, self.precision = device, precision
        self.classes = classes
        self.train_loader, self.val_loader = train_loader, val_loader
        t, hw = config.train, config.hardware
        memory_format = torch.channels_last if hw.channels_last else torch.preserve_format
        # torch's stubs leave out Module.to(memory_format=...), which it documents and accepts
        self.model = model.to(device=device, memory_format=memory_format)  # type: ignore[call-overload]
        if precision.pure:  # weights in the low precision, BatchNorm (weights and statistics) in fp32
            self.model.to(precision.weights)
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.float()
        self.forward = self.model
        self.compile_reused = False  # --compile: this run reuses the last run's compiled graphs
        self.compile_seconds = 0.0  # --compile: the warm-up that compiled them, before the clock
        if hw.compile and not dist.enabled:
            self.model, self.forward, self.compile_reused = compile_or_reuse(self.model, device, hw.channels_last)
        if dist.enabled:  # gradients averaged across ranks during backward; the weights stay self.model's
            from torch.nn.parallel import DistributedDataParallel

            self.forward = DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None
            )
        if hw.compile and dist.enabled:
            self.forward = torch.compile(self.forward, **COMPILE_OPTIONS)
        # evaluation runs on each rank alone: no DDP wrapper, so no collective in it
        self.eval_forward = self.model if dist.enabled else self.forward
        self.steps_per_epoch = len(train_loader)
        self.total_steps = math.ceil(t.epochs * self.steps_per_epoch)  # the planned steps
        # where the run is in its schedule (training/pace.py): the step count, or a clock's or a record's pace
        paced = config.schedule.pace is not None or any(isinstance(cb, ClockPace) for cb in callbacks)
        self.progress = Progress(self.total_steps, config.schedule.pace, paced=paced)
        self.num_epochs = math.ceil(self.total_steps / self.steps_per_epoch)  # planned; a paced run may differ
        self.max_epochs = self.num_epochs * (MAX_EPOCHS_FACTOR if paced else 1)
        self.optimizer = build_optimizer(self.model, config.optim, t.batch_size, config.model.whiten_bias_epochs)
        self.scheduler = build_scheduler(
            self.optimizer,
            config.schedule,
            config.optim,
            self.steps_per_epoch,
            self.total_steps,
            position=(lambda: self.progress.position) if paced else None,
        )
        # fp16 needs loss scaling to keep small gradients representable; bf16 and fp32 do not
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision.loss_scaling)
        self.callbacks = CallbackList(list(callbacks))
        self.state = TrainState()
        self.stopwatch = Stopwatch(device)
        self.should_stop = False  # a callback may set it to end training after the current batch
        # e.g. the hybrid trainer: decides per batch between a real and a predicted step
        self.step_policy: StepPolicy | None = None
        self.stop_signal: int | None = None  # set by a signal handler: save and stop after this step
        # running sums of the current epoch, kept on the device to avoid a sync per batch
        self._loss_sum = torch.zeros((), device=device)
        self._correct = torch.zeros((), device=device, dtype=torch.long)
        self._seen = 0
        self._partial_epoch_seconds = 0.0  # the unfinished epoch's time before a mid-epoch resume
        # non-finite losses, counted on the device and checked at the loop's sync points
        self._bad_steps = torch.zeros((), device=device, dtype=torch.long)
        self._first_bad_step = torch.full((), -1, device=device, dtype=torch.long)

    # ------------------------------------------------------------------ the loop

    def fit(self) -> TrainState:
        try:
            if self.config.hardware.compile:
                self.compile_seconds = warm_up(self)  # compilation before the clock, as airbench times
            self.callbacks.on_fit_start(self)
            for epoch in range(self.state.epoch, self.max_epochs):
                self._check_stop_signal()
                self.train_epoch(epoch)
                record = self.end_epoch(epoch)
                self.callbacks.on_epoch_end(self, record)
                if self.should_stop or self.progress.done:
                    break
            self.callbacks.on_fit_end(self)
        except BaseException as exc:
            self.callbacks.on_exception(self, exc)
            raise
        return self.state

    def train_epoch(self, epoch: int) -> None:
        start = self.state.batch  # > 0 only when resuming mid-epoch; the running sums came with it
        if start == 0:
            self._loss_sum.zero_()
            self._correct.zero_()
            self._seen = 0
            self._partial_epoch_seconds = 0.0
        self.callbacks.on_epoch_start(self, epoch)
        self.model.train()
        self._epoch_clock_start = self.stopwatch.seconds - self._partial_epoch_seconds
        self.stopwatch.start()
        for batch_index, (inputs, labels) in enumerate(self.train_loader.epoch(epoch, start), start=start):
            if self.progress.done:
                break  # fractional epochs (and a paced schedule) end mid-epoch
            if self.step_policy is None:
                self.train_step(inputs, labels)
            else:
                self.step_policy.step(self, inputs, labels)
            self.state.batch = batch_index + 1
            self.callbacks.on_batch_end(self, batch_index)
            self._check_stop_signal()
            if self.should_stop:
                break
        self.state.batch = 0
        if self.config.schedule.interval == "epoch":
            self.scheduler.step()
        self.stopwatch.stop()
        self.epoch_seconds = self.stopwatch.seconds - self._epoch_clock_start  # without paused_clock() spans
        self.state.train_seconds += self.epoch_seconds

    def train_step(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One real step; returns the batch's mean loss (detached, on the device: no sync)."""
        o = self.config.optim
        with self.precision.context(self.device):
            outputs = self.forward(self.cast(inputs))
            loss = self.compute_loss(outputs, labels)
        self.optimizer.zero_grad(set_to_none=True)
        # DDP averages gradients over ranks: right for a mean loss; a summed loss must be summed over ranks
        scale = self.dist.world_size if self.dist.enabled and o.loss_reduction == "sum" else 1
        self.scaler.scale(loss * scale if scale != 1 else loss).backward()
        self.callbacks.on_after_backward(self)
        if o.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), o.grad_clip)
        skip = self.config.train.nonfinite == "skip" and not self._step_is_finite(loss)
        if skip:  # keep the weights and the optimizer state; the batch and the schedule move on
            self.optimizer.zero_grad(set_to_none=True)
            self.state.skipped_steps += 1
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()
            # counted on the device: no sync here; checked where the loop syncs anyway
            bad = ~torch.isfinite(loss.detach())
            self._first_bad_step = torch.where(bad & (self._first_bad_step < 0), self.state.step, self._first_bad_step)
            self._bad_steps += bad
        self.advance_step()
        n = len(labels)
        per_example = loss.detach() / n if o.loss_reduction == "sum" else loss.detach()
        if skip:
            return per_example
        self._loss_sum += per_example * n
        self._correct += (outputs.detach().argmax(1) == labels).sum()
        self._seen += n
        return per_example

    def compute_loss(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The training loss as the recipe defines it (label smoothing, mean or sum over the batch)."""
        o = self.config.optim
        return F.cross_entropy(outputs.float(), labels, label_smoothing=o.label_smoothing, reduction=o.loss_reduction)

    def advance_step(self) -> None:
        """A step was taken (real, skipped or predicted): the per-batch schedule and the counter move on."""
        self.progress.advance()
        if self.config.schedule.interval == "batch":
            self.scheduler.step()
        self.state.step += 1

    @torch.no_grad()
    def batch_loss(self, inputs: torch.Tensor, labels: torch.Tensor) -> float:
        """The per-example training loss of a batch at the current weights, measured as train_step
        measures it (train mode, label smoothing, autocast) but changing nothing: no gradient, and
        BatchNorm running statistics left as they were. A device sync."""
        was_training = self.model.training
        self.model.train()
        try:
            with untouched_buffers(self.model), self.precision.context(self.device):
                loss = self.compute_loss(self.forward(self.cast(inputs)), labels)
        finally:
            self.model.train(was_training)
        return float(loss) / (len(labels) if self.config.optim.loss_reduction == "sum" else 1)

    @property
    def images_seen(self) -> int:
        """Training images of the epoch under way that entered the running loss (this rank's)."""
        return self._seen

    def nonfinite_steps(self) -> int:
        """Steps whose loss was not finite since the start (a device sync)."""
        return int(self._bad_steps)

    def forget_nonfinite(self) -> None:
        """A step policy undid a broken step (restored its snapshot): forget its non-finite loss,
        which would otherwise stop the run at the next check and poison the epoch's mean loss."""
        self._bad_steps.zero_()
        self._first_bad_step.fill_(-1)
        self._loss_sum.copy_(torch.nan_to_num(self._loss_sum, nan=0.0, posinf=0.0, neginf=0.0))

    def _step_is_finite(self, loss: torch.Tensor) -> bool:
        """Loss and gradients finite (a device sync: only in train.nonfinite = "skip" mode).

        With fp16 loss scaling the scaler already skips steps whose scaled gradients overflow
        (and lowers the scale): an overflow there is routine, so only the loss is checked."""
        if not torch.isfinite(loss.detach()):
            return False
        if self.scaler.is_enabled():
            return True
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        return not grads or bool(torch.isfinite(nn.utils.get_total_norm(grads)))

    def check_finite(self) -> None:
        """Raise if any step since the start had a non-finite loss (a device sync).

        Called at the loop's sync points (progress refresh, epoch end, before every checkpoint)
        so a run with broken weights stops there and never overwrites the last good checkpoint."""
        bad = int(self._bad_steps)
        if bad:
            first = int(self._first_bad_step) + 1
            raise TrainingError(
                f"the training loss was not finite at step {first} ({bad} such step{'s' if bad > 1 else ''}); "
                "the last good checkpoint is kept. Lower the learning rate, use --precision fp32, "
                "or pass --nonfinite skip to skip such steps"
            )

    def _check_stop_signal(self) -> None:
        signum = self.stop_signal
        if self.dist.enabled:
            # every rank must stop after the same step, or the others would wait in the next all-reduce:
            # agree on it every STOP_CHECK_EVERY steps (a collective; alone no collective is needed)
            if self.state.step % STOP_CHECK_EVERY and self.state.batch:
                return
            signum = int(max(all_reduce_sum([signum or 0], self.device, self.dist))) or None
        if signum is not None:
            raise StopRequested(signum)

    @contextlib.contextmanager
    def paused_clock(self):
        """Work done inside (a callback's evaluation, say) is not counted as training time."""
        self.stopwatch.stop()
        try:
            yield
        finally:
            self.stopwatch.start()

    def training_seconds_so_far(self) -> float:
        """Synchronised training time up to now, the current epoch included (a device sync)."""
        self.stopwatch.stop()
        self.stopwatch.start()
        return self.state.train_seconds + self.stopwatch.seconds - self._epoch_clock_start

    def running_sums(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The epoch's summed loss and correct count so far, on the device (no sync), and the
        number of images they cover."""
        return self._loss_sum, self._correct, self._seen

    def running_metrics(self) -> tuple[float, float]:
        """Mean loss and accuracy of the epoch so far (a device sync: call it sparingly)."""
        self.check_finite()
        seen = max(1, self._seen)
        return float(self._loss_sum) / seen, float(self._correct) / seen

    def end_epoch(self, epoch: int) -> dict:
        train_loss, train_acc = self.running_metrics()
        seen = self._seen
        if self.dist.enabled:  # the whole global batch's loss and accuracy, not this rank's share
            loss_sum, correct, total = all_reduce_sum(
                [float(self._loss_sum), int(self._correct), self._seen], self.device, self.dist
            )
            seen = int(total)  # a count, summed exactly in float64
            train_loss, train_acc = loss_sum / max(1, seen), correct / max(1, seen)
        record = epoch_record(
            epoch,
            self.state.step,
            train_loss,
            train_acc,
            self.optimizer.param_groups[-1]["lr"],
            self.epoch_seconds,
            seen,
        )
        if self.config.train.nonfinite == "skip":
            record["skipped_steps"] = self.state.skipped_steps
        if validates(
            epoch, self.max_epochs, self.config.train.eval_every, stopping=self.should_stop or self.progress.done
        ):
            with Stopwatch(self.device).region() as watch:
                result = self.evaluate(self.val_loader)
            self.state.eval_seconds += watch.seconds
            add_validation(record, result, len(self.classes), self.state)
            self.callbacks.on_eval_end(self, record)
        self.state.history.append(record)
        self.state.epoch = epoch + 1
        return record

    def evaluate(self, loader: DeviceLoader, tta: int = 0, tta_share: float | None = None) -> Evaluation:
        """The model in eval mode on every batch of `loader` (left in eval mode)."""
        self.model.eval()
        return evaluate(
            lambda x: self.eval_forward(self.cast(x)),
            loader.batches(),
            tta,
            lambda: self.precision.context(self.device),
            tta_share,
        )

    def cast(self, inputs: torch.Tensor) -> torch.Tensor:
        """A normalised fp32 batch in the dtype the weights are kept in (a no-op but in pure modes)."""
        return inputs.to(self.precision.weights) if self.precision.pure else inputs

    # ------------------------------------------------------------------ checkpoint state

    def state_dict(self) -> dict:
        """Everything needed to continue bit for bit: only tensors, numbers, strings and containers,
        so it loads with torch.load(weights_only=True). Valid between two steps, mid-epoch too."""
        self.check_finite()
        partial = 0.0
        loss_sum: float = float(self._loss_sum)
        correct: float = int(self._correct)  # float once summed over the ranks
        seen: float = self._seen
        if self.state.batch:  # the unfinished epoch's sums (over every rank) and time so far
            partial = self.training_seconds_so_far() - self.state.train_seconds
            if self.dist.enabled:
                loss_sum, correct, seen = all_reduce_sum([loss_sum, correct, seen], self.device, self.dist)
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "callbacks": self.callbacks.state_dict(),
            "progress": self.progress.state_dict(),
            "trainer": {  # TrainState whole, and the unfinished epoch's running sums
                **self.state.to_dict(),
                "running": {"loss_sum": loss_sum, "correct": int(correct), "seen": int(seen), "seconds": partial},
            },
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "numpy": _numpy_rng_state(),
                "python": _python_rng_state(),
            },
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.callbacks.load_state_dict(state.get("callbacks", {}))
        t = state["trainer"]
        if "progress" in state:
            self.progress.load_state_dict(state["progress"])
        else:  # a checkpoint from before training/pace.py: its schedule ran on steps
            self.progress.steps, self.progress.position = t["step"], float(t["step"])
        self.state = TrainState.from_dict(t)
        if "running" in t:
            r = t["running"]
            # the saved sums cover every rank of the saving run: rank 0 carries them on, at any world size
            mine = self.dist.is_main
            self._loss_sum.fill_(float(r["loss_sum"]) if mine else 0.0)
            self._correct.fill_(int(r["correct"]) if mine else 0)
            self._seen = int(r["seen"]) if mine else 0
            self._partial_epoch_seconds = r["seconds"]
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        key, pos, has_gauss, gauss = rng["numpy"]
        np.random.set_state(("MT19937", np.asarray(key, dtype=np.uint32), pos, has_gauss, gauss))
        version, internal, gauss = rng["python"]
        random.setstate((version, tuple(internal), gauss))


def _numpy_rng_state() -> list:
    # plain lists, not arrays: numpy arrays are not on weights_only's list of safe types
    state = np.random.get_state(legacy=True)  # the default, spelled out: numpy's stubs type a bare call as a dict
    assert isinstance(state, tuple)  # the legacy form of the global MT19937 generator
    _, key, pos, has_gauss, gauss = state
    return [key.tolist(), int(pos), int(has_gauss), float(gauss)]


def _python_rng_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]
