"""MLX's backend: the PyTorch run's recipe, data and outputs; MLX's arrays and kernels.

The run lifecycle (api.py) owns what every run shares: the run directory, the splits, the
final test evaluation with TTA (eval/evaluate.py, through a converter), metrics and plots.
This module supplies the loop and the weights format (checkpoints/last.npz).

What else is shared with PyTorch, so a comparison measures the framework and nothing else: the
device-resident loader (same batches, same augmentation, drawn by the same seeded generators),
the initial weights (the PyTorch model built with the same seed, converted), the learning-rate
and momentum schedule (read step by step from the PyTorch scheduler driving a one-parameter
shadow optimizer). What is MLX's own: the model (mlx/models.py, NHWC), the loss and its
gradient, the optimizer update, all inside one `mx.compile`d step.

A config value this backend does not honour is refused (`check_supported`), never ignored.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import torch

from cifarbench.checkpoints import save_mlx_checkpoint
from cifarbench.config import RunConfig, schema_fields
from cifarbench.console import CONSOLE
from cifarbench.contract.backend import Backend
from cifarbench.contract.epoch_end import add_validation, epoch_line, epoch_record, validates
from cifarbench.contract.state import TrainState, seed_everything
from cifarbench.data.prepare import final_loader, make_loaders
from cifarbench.errors import ConfigError, RunStopped
from cifarbench.eval.evaluate import evaluate
from cifarbench.files import utc_now
from cifarbench.fingerprint import fingerprint
from cifarbench.mlx import require_mlx
from cifarbench.models.configured import build_configured_model
from cifarbench.models.mlx_layout import torch_to_mlx
from cifarbench.runs import RunDir
from cifarbench.training import distributed

# Fields the MLX loop does not implement, with the one value it accepts (the default, or what
# the value means in MLX anyway). Anything else is refused with the field and the value.
# What MLX cannot honour: every config field whose metadata says why (config/sections.py `torch_only`);
# an MLX run needs the field's default.
REQUIRED_VALUES = {
    path: (f.default, f.metadata["torch_only"]) for path, f, _ in schema_fields() if f.metadata["torch_only"]
}
MLX_OPTIMIZERS = ("sgd", "adam", "adamw")
MLX_PRECISIONS = ("auto", "fp32")


def check_supported(config: RunConfig) -> None:
    """One line naming the first field whose value MLX would not honour."""
    from cifarbench.mlx.models import MLX_MODELS

    if config.model.name not in MLX_MODELS:
        raise ConfigError(f"model.name {config.model.name!r} has no MLX version; MLX models: {', '.join(MLX_MODELS)}")
    if config.optim.name not in MLX_OPTIMIZERS:
        raise ConfigError(
            f"optim.name {config.optim.name!r} is not available with --framework mlx ({', '.join(MLX_OPTIMIZERS)})"
        )
    if config.optim.name == "adam" and config.optim.weight_decay:
        # torch's Adam adds L2 decay to the gradient; MLX's Adam has none: adamw decouples it
        raise ConfigError(
            f"optim.weight_decay {config.optim.weight_decay} with optim.name 'adam' is not available "
            "with --framework mlx; use optim.name adamw"
        )
    if config.hardware.precision not in MLX_PRECISIONS:
        raise ConfigError(
            f"hardware.precision {config.hardware.precision!r} is not available with --framework mlx, "
            "which trains in fp32"
        )
    values = config.to_dict()
    refused = []
    for field, (required, why) in REQUIRED_VALUES.items():
        section, key = field.split(".")
        if values[section][key] != required:
            refused.append(f"{field} {values[section][key]!r} ({why}; it needs {required!r})")
    if refused:
        raise ConfigError(f"not available with --framework mlx: {'; '.join(refused)}")


def mlx_device(name: str):
    mx = require_mlx()
    base = name.split(":")[0]
    if base == "cpu":
        return mx.cpu
    if base in ("cuda", "mps"):
        if not mx.metal.is_available() and not _mlx_cuda():
            raise ConfigError(f"device {name!r}: this MLX build has no GPU backend; use --device cpu or auto")
        return mx.gpu
    return mx.default_device()  # auto: MLX's own choice (the GPU where its build has one)


def _mlx_cuda() -> bool:
    mx = require_mlx()
    return bool(getattr(getattr(mx, "cuda", None), "is_available", lambda: False)())


class ScheduleShadow:
    """The PyTorch scheduler of this config driving a one-parameter optimizer: after each step,
    its lr and momentum (beta1 for Adam) are what the MLX optimizer uses. One implementation
    of every schedule, for both frameworks."""

    def __init__(self, config: RunConfig, steps_per_epoch: int, total_steps: int):
        from cifarbench.training.optim import build_optimizer, build_scheduler

        self.per_batch = config.schedule.interval == "batch"
        self.optimizer = build_optimizer(torch.nn.Linear(1, 1, bias=False), config.optim, config.train.batch_size)
        self.scheduler = build_scheduler(self.optimizer, config.schedule, config.optim, steps_per_epoch, total_steps)

    def values(self) -> tuple[float, float | None]:
        group = self.optimizer.param_groups[0]
        momentum = group.get("momentum", group["betas"][0] if "betas" in group else None)
        return float(group["lr"]), momentum

    def after_step(self):
        if self.per_batch:
            self._advance()

    def after_epoch(self):
        if not self.per_batch:
            self._advance()

    def _advance(self):
        self.optimizer.step()  # no gradients: changes nothing, keeps PyTorch's step order
        self.scheduler.step()


def build_optimizer(config: RunConfig):
    """MLX's SGD / Adam / AdamW with PyTorch's semantics (bias-corrected Adam, L2 decay in SGD),
    the momentum (beta1) kept in the optimizer state so the compiled step sees its schedule."""
    import mlx.core as mx
    import mlx.optimizers as optim

    o = config.optim

    class ScheduledSGD(optim.SGD):
        """PyTorch's SGD (L2 decay added to the gradient, dampening 0), momentum read from the state."""

        def apply_single(self, gradient, parameter, state):
            if self.weight_decay != 0:
                gradient = gradient + self.weight_decay * parameter
            momentum = self.state["momentum"]
            v = momentum * state["v"] + gradient
            state["v"] = v
            update = gradient + momentum * v if self.nesterov else v
            return parameter - self.learning_rate.astype(gradient.dtype) * update

    class ScheduledAdamW(optim.AdamW):
        def apply_single(self, gradient, parameter, state):
            self.betas = [self.state["beta1"], self.betas[1]]
            return super().apply_single(gradient, parameter, state)

    opt: optim.Optimizer
    if o.name == "sgd":
        opt = ScheduledSGD(
            learning_rate=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, nesterov=o.nesterov and o.momentum > 0
        )
        opt.state["momentum"] = mx.array(o.momentum)
    else:
        opt = ScheduledAdamW(
            learning_rate=o.lr,
            betas=list(o.betas),
            eps=1e-8,
            weight_decay=o.weight_decay if o.name == "adamw" else 0.0,
            bias_correction=True,
        )
        opt.state["beta1"] = mx.array(o.betas[0])
    return opt


def set_hyper(opt, lr: float, momentum: float | None) -> None:
    import mlx.core as mx

    opt.learning_rate = mx.array(lr)
    if momentum is not None:
        opt.state["momentum" if "momentum" in opt.state else "beta1"] = mx.array(momentum)


def to_mlx(x: torch.Tensor):
    """A normalised NCHW torch batch as an NHWC MLX array."""
    import mlx.core as mx

    return mx.array(x.permute(0, 2, 3, 1).contiguous().numpy())


class MlxBackend(Backend):
    framework = "mlx"

    def __init__(self, config, quiet=False, callbacks=()):
        super().__init__(config, quiet, callbacks)
        if distributed.launched_by_torchrun() or self.callbacks:
            raise ConfigError("--framework mlx trains in one process without callbacks (no torchrun)")
        check_supported(config)

    def setup(self, held):
        self.mx = require_mlx()
        self.device = mlx_device(self.config.hardware.device)
        self.mx.set_default_device(self.device)
        seed_everything(self.config.train.seed)
        self.mx.random.seed(self.config.train.seed)

    def build(self, data):
        from cifarbench.mlx.models import build_mlx_model

        mx, t = self.mx, self.config.train
        self.data = data
        self.train_loader, self.val_loader = make_loaders(self.config, data, torch.device("cpu"))
        self.model = build_mlx_model(self.config.model.name, data.dataset.num_classes, data.dataset.shape[0])
        # the same initial weights as the PyTorch run with this seed
        reference = build_configured_model(self.config.model, data.dataset.shape, data.dataset.num_classes)
        self.model.load_weights([(k, mx.array(v)) for k, v in torch_to_mlx(reference.state_dict()).items()])
        self.model.train()
        mx.eval(self.model.parameters())
        self.steps_per_epoch = len(self.train_loader)
        self.total_steps = int(np.ceil(t.epochs * self.steps_per_epoch))

    def describe(self) -> dict:
        from cifarbench.mlx.models import count_mlx_parameters

        return {
            **fingerprint(),
            "mlx_device": str(self.device),
            "device": f"mlx:{'cpu' if self.device == self.mx.cpu else 'gpu'}",
            "precision": "fp32",
            "parameters": count_mlx_parameters(self.model),
        }

    @property
    def num_epochs(self) -> int:
        return int(np.ceil(self.total_steps / self.steps_per_epoch))

    def _compiled_step(self):
        import mlx.nn as nn

        mx, model, o = self.mx, self.model, self.config.optim
        self.optimizer = build_optimizer(self.config)
        optimizer = self.optimizer

        def loss_fn(m, x, y):
            logits = m(x)
            loss = nn.losses.cross_entropy(logits, y, label_smoothing=o.label_smoothing, reduction=o.loss_reduction)
            return loss, (mx.argmax(logits, axis=1) == y).sum()

        loss_and_grad = nn.value_and_grad(model, loss_fn)
        state = [model.state, optimizer.state, mx.random.state]

        @partial(mx.compile, inputs=state, outputs=state)
        def step(x, y):
            (loss, correct), grads = loss_and_grad(model, x, y)
            optimizer.update(model, grads)
            return loss, correct

        return step

    def fit(self, run: RunDir, meta: dict) -> TrainState:
        mx, t = self.mx, self.config.train
        step = self._compiled_step()
        shadow = ScheduleShadow(self.config, self.steps_per_epoch, self.total_steps)
        # the epoch's loss is summed per example: a summed batch loss already is, a mean one is scaled up
        summed = self.config.optim.loss_reduction == "sum"
        state = TrainState()
        classes = self.data.dataset.classes
        for epoch in range(self.num_epochs):
            loss_sum, correct, seen = mx.array(0.0), mx.array(0), 0
            started = time.perf_counter()
            for x, y in self.train_loader.epoch(epoch):
                if state.step >= self.total_steps:
                    break
                set_hyper(self.optimizer, *shadow.values())
                loss, right = step(to_mlx(x), mx.array(y.numpy()))
                loss_sum, correct = loss_sum + (loss if summed else loss * len(y)), correct + right
                seen += len(y)
                state.step += 1
                shadow.after_step()
                mx.async_eval(loss_sum, correct)
            mx.eval(loss_sum, correct, self.model.parameters())  # the epoch's work is done: a sync point
            seconds = time.perf_counter() - started
            shadow.after_epoch()
            state.train_seconds += seconds
            train_loss = float(loss_sum.item()) / max(1, seen)
            if not np.isfinite(train_loss):
                reason = f"the training loss became {train_loss} in epoch {epoch + 1}; lower the learning rate"
                raise RunStopped(f"run failed: {reason}", 1, record={"failure": reason})
            record = epoch_record(
                epoch, state.step, train_loss, float(correct.item()) / max(1, seen), shadow.values()[0], seconds, seen
            )
            last = epoch + 1 == self.num_epochs
            if validates(epoch, self.num_epochs, t.eval_every):
                started = time.perf_counter()
                result = self.evaluate(self.val_loader)
                state.eval_seconds += time.perf_counter() - started
                add_validation(record, result, len(classes), state)
            state.history.append(record)
            state.epoch = epoch + 1
            run.append_log({"event": "epoch", "time": utc_now(), **record})
            if last or (self.config.output.checkpoint_every and state.epoch % self.config.output.checkpoint_every == 0):
                save_mlx_checkpoint(run, self.model.save_weights, {**meta, "epoch": state.epoch, "step": state.step})
            if not self.quiet:
                CONSOLE.print(epoch_line(record, self.num_epochs), highlight=False)
        return state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The MLX model as a function from a torch NCHW batch to torch logits (for the shared
        evaluation loop and its test-time augmentation)."""
        out = self.model(to_mlx(x))
        self.mx.eval(out)
        return torch.from_numpy(np.array(out, dtype=np.float32))

    def evaluate(self, loader, tta: int = 0, tta_share: float | None = None):
        self.model.eval()
        try:
            return evaluate(self.forward, loader.batches(), tta, tta_share=tta_share)
        finally:
            self.model.train()

    def evaluate_final(self, data):
        t = self.config.train
        return self.evaluate(final_loader(self.config, data, torch.device("cpu")), t.tta, t.tta_share)
