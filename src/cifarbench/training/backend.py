"""PyTorch's Backend (the interface, and the order api.py calls it in, is contract/backend.py):
its loop is the one Trainer (training/trainer.py); mlx/backend.py is MLX's."""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

from cifarbench.contract.backend import Backend
from cifarbench.contract.state import TrainState, seed_everything
from cifarbench.data.prepare import final_loader, make_loaders
from cifarbench.devices import configure_threads, resolve_device, resolve_precision, synchronize
from cifarbench.errors import ConfigError, RunStopped
from cifarbench.fingerprint import fingerprint
from cifarbench.models import count_parameters
from cifarbench.models.configured import build_configured_model, fits
from cifarbench.runs import RunDir
from cifarbench.training import distributed
from cifarbench.training.checkpoint import CheckpointSaver
from cifarbench.training.pace import ClockPace
from cifarbench.training.progress import JsonlLog, LogEpochs, ProgressBar
from cifarbench.training.signals import exit_code, signal_name, stop_after_step_on_signal
from cifarbench.training.trainer import StopRequested, Trainer, TrainingError
from cifarbench.training.tricks import tricks_for

log = logging.getLogger(__name__)


class TorchBackend(Backend):
    framework = "torch"

    def setup(self, held):
        self.ctx, self.device = distributed.setup(
            resolve_device(self.config.hardware.device), self.config.hardware.dist_timeout
        )
        held.callback(distributed.teardown, self.ctx)
        self.threads = configure_threads(
            processes_per_node=self.ctx.local_world_size, requested=self.config.hardware.threads
        )
        seed_everything(self.config.train.seed, self.config.train.deterministic)
        self.precision = resolve_precision(
            self.config.hardware.precision, self.device, summed_loss=self.config.optim.loss_reduction == "sum"
        )

    @property
    def is_main(self) -> bool:
        return self.ctx.is_main

    def share(self, value):
        return distributed.broadcast_object(value, self.ctx)

    def build(self, data):
        self.data = data
        self.model = build_configured_model(self.config.model, data.dataset.shape, data.dataset.num_classes)
        self.train_loader, self.val_loader = make_loaders(
            self.config, data, self.device, self.ctx.rank, self.ctx.world_size
        )
        if self.config.augment.progressive_from:
            self.check_progressive(data.dataset.shape)

    def check_progressive(self, shape: tuple[int, int, int]) -> None:
        """Progressive resizing: the net takes the smallest training size (a fixed-size head does not), and
        the run reaches full size before it ends (it is evaluated at full size)."""
        aug, epochs = self.config.augment, math.ceil(self.config.train.epochs)
        if aug.progressive_epochs >= epochs:
            raise ConfigError(
                f"augment.progressive_epochs {aug.progressive_epochs} must be below the run's {epochs} "
                "epochs: the net would never train at the full size it is evaluated at"
            )
        fits(
            self.model,
            self.config.model.name,
            (shape[0], *self.train_loader.training_size(0)),
            remedy=f"augment.progressive_from {aug.progressive_from} is the first epoch's height: choose a "
            "larger one, a net that takes that size, or 0 (off)",
        )

    def make_trainer(self, run: RunDir, meta: dict) -> Trainer:
        config = self.config
        self.saver = CheckpointSaver(run, config.output.checkpoint_every, meta, config.output.checkpoint_every_steps)
        quiet = self.quiet or not self.is_main  # one progress bar: rank 0's
        # tricks first: they change the weights, which the log and the checkpoint then record
        callbacks = [
            *tricks_for(config),
            JsonlLog(run),
            self.saver,
            LogEpochs() if quiet else ProgressBar(),
            *self.callbacks,
        ]
        trainer = Trainer(
            config,
            self.model,
            self.train_loader,
            self.val_loader,
            self.device,
            self.precision,
            self.data.dataset.classes,
            callbacks,
            dist=self.ctx,
        )
        if config.train.trainer == "hybrid":
            from cifarbench.training import hybrid  # looked up at run time: tests substitute the policy

            trainer.step_policy = hybrid.HybridPolicy(config.hybrid)
        return trainer

    def restore(self, checkpoint):
        self.checkpoint = checkpoint

    def describe(self) -> dict:
        return {
            **fingerprint(self.device),
            "device": str(self.device),
            "precision": self.precision.name,
            "threads": self.threads,
            "parameters": count_parameters(self.model),
            "world_size": self.ctx.world_size,
            # a collective: every rank takes part
            "ranks": distributed.ranks_description(self.device, self.ctx),
        }

    @property
    def num_epochs(self) -> int:
        return self.trainer.num_epochs

    def prepare(self, run: RunDir, meta: dict) -> None:
        """The trainer (and a resumed state), before describe() counts the model's parameters."""
        self.trainer = self.make_trainer(run, meta)
        if getattr(self, "checkpoint", None) is not None:
            self.trainer.load_state_dict(self.checkpoint)
            log.info("resuming %s at epoch %d (step %d)", run.path, self.trainer.state.epoch, self.trainer.state.step)

    def fit(self, run, meta) -> TrainState:
        trainer = self.trainer
        try:
            with stop_after_step_on_signal(trainer):
                self._data_init()
                return trainer.fit()
        except StopRequested as stop:
            self.saver.save(trainer)  # between two steps: a whole state, mid-epoch or not
            name = signal_name(stop.signum)
            raise RunStopped(
                f"interrupted by {name} after step {trainer.state.step} (epoch {trainer.state.epoch + 1}, "
                f"batch {trainer.state.batch}); checkpoint saved. Resume with: cifarbench train --resume {run.path}",
                exit_code(stop.signum),
                "interrupted",
                {"interrupted_by": name, "epochs_completed": trainer.state.epoch, "steps": trainer.state.step},
            ) from None
        except TrainingError as exc:
            raise RunStopped(
                f"run failed: {exc}",
                1,
                record={
                    "failure": str(exc),
                    "nonfinite_steps": trainer.nonfinite_steps(),
                    "steps": trainer.state.step,
                },
            ) from None
        except torch.OutOfMemoryError as exc:
            batch = self.config.train.batch_size
            raise RunStopped(
                f"run failed: {self.device} ran out of memory at batch size {batch}; try a smaller --batch-size "
                f"(half: {max(1, batch // 2)}) or --precision bf16",
                1,
                record={"failure": f"out of memory: {str(exc).splitlines()[0] if str(exc) else ''}"},
            ) from None
        except RuntimeError as exc:
            if not (self.ctx.enabled and distributed.is_peer_failure(exc)):
                raise
            reason = (
                f"rank {self.ctx.rank} lost its peers: another process of the distributed run stopped or did "
                f"not answer within {self.config.hardware.dist_timeout:g} s ({str(exc).splitlines()[0][:160]})"
            )
            raise RunStopped(f"run failed: {reason}", 1, record={"failure": reason}) from None

    def _data_init(self, count: int = 5000) -> None:
        """Data-dependent initialisation (airbench's whitening), timed as training, done once."""
        trainer, model = self.trainer, self.trainer.model
        if trainer.state.step or not hasattr(model, "init_from_data") or not self.config.model.data_init:
            return
        loader = trainer.train_loader
        trainer.stopwatch.start()
        model.init_from_data(loader.normalise(loader.images[:count]))
        synchronize(trainer.device)
        trainer.state.train_seconds += trainer.stopwatch.stop()

    def evaluate_final(self, data):
        t = self.config.train
        return self.trainer.evaluate(final_loader(self.config, data, self.device), tta=t.tta, tta_share=t.tta_share)

    def synchronize(self):
        synchronize(self.device)

    def summary(self) -> dict:
        out: dict[str, Any] = {}
        if self.config.hardware.compile:  # compile time is reported apart, never counted as training time
            out.update(compile_seconds=self.trainer.compile_seconds, compiled_model_reused=self.trainer.compile_reused)
        if self.trainer.step_policy is not None:
            out["hybrid"] = self.trainer.step_policy.summary()
        progress = self.trainer.progress
        if progress.paced:
            out["pace"] = {
                "clock": self._clocked(),
                "planned_steps": progress.total,
                "steps": progress.steps,
                "steps_per_epoch": self.trainer.steps_per_epoch,
                "position": progress.position,
                "schedule_completed": progress.done,
                "rates": len(progress.rates),
            }
        return out

    def _clocked(self) -> bool:
        return any(isinstance(cb, ClockPace) for cb in self.callbacks)

    def replay_layer(self) -> dict:
        if not self._clocked():
            return {}
        return {"schedule": {"pace": list(self.trainer.progress.rates)}}
