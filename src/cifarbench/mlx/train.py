"""Training with MLX: the PyTorch loop's recipe, data and outputs, MLX's arrays and kernels.

What is shared with the PyTorch path, so a comparison measures the framework and nothing else:
the config and recipe, the splits and the device-resident loader (same batches, same
augmentation, drawn by the same seeded generators), the initial weights (the PyTorch model
built with the same seed, converted), the learning-rate and momentum schedule (read step by
step from the PyTorch scheduler driving a one-parameter shadow optimizer), the metrics code
and the run directory. What is MLX's own: the model (mlx/models.py, NHWC), the loss and its
gradient, the optimizer update, all inside one `mx.compile`d step.

Not supported with MLX (a clear error says so): airbench's recipes (their decoupled SGD,
lookahead and whitening are written for the PyTorch loop), --resume, torchrun.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from cifarbench.config import RunConfig
from cifarbench.errors import ConfigError, RunStopped
from cifarbench.eval.metrics import classification_metrics, classification_report, per_class_accuracy
from cifarbench.fingerprint import fingerprint
from cifarbench.mlx import require_mlx
from cifarbench.runs import RunDir, atomic_write_json, utc_now

MLX_CHECKPOINT = "checkpoints/last.npz"
MLX_META = "checkpoints/last.json"


def check_supported(config: RunConfig) -> None:
    from cifarbench.mlx.models import MLX_MODELS

    o = config.optim
    if config.model.name not in MLX_MODELS:
        raise ConfigError(f"model {config.model.name!r} has no MLX version; MLX models: {', '.join(MLX_MODELS)}")
    if o.name not in ("sgd", "adam", "adamw"):
        raise ConfigError(f"optim.name {o.name!r} is not available with --framework mlx (sgd, adam, adamw)")
    if o.decoupled or o.lookahead or o.bias_lr_scale != 1 or config.model.whiten_bias_epochs is not None:
        raise ConfigError(f"recipe {config.recipe!r} uses airbench's tricks, which only the PyTorch loop has; "
                          "with --framework mlx use small-resnet-adamw or resnet18-onecycle")
    if o.grad_clip is not None:
        raise ConfigError("optim.grad_clip is not available with --framework mlx")
    if config.train.precision not in ("auto", "fp32"):
        raise ConfigError(f"train.precision {config.train.precision!r}: the MLX backend trains in fp32")


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
        from cifarbench.train.optim import build_optimizer, build_scheduler

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

    if o.name == "sgd":
        opt = ScheduledSGD(learning_rate=o.lr, momentum=o.momentum, weight_decay=o.weight_decay,
                           nesterov=o.nesterov and o.momentum > 0)
        opt.state["momentum"] = mx.array(o.momentum)
    else:
        # torch's Adam puts L2 decay into the gradient; with adam and decay, use adamw (decoupled)
        if o.name == "adam" and o.weight_decay:
            raise ConfigError("optim.name adam with weight_decay: use adamw with --framework mlx")
        opt = ScheduledAdamW(learning_rate=o.lr, betas=list(o.betas), eps=1e-8,
                             weight_decay=o.weight_decay if o.name == "adamw" else 0.0, bias_correction=True)
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


def evaluate(model, loader) -> tuple[np.ndarray, np.ndarray, float]:
    import mlx.core as mx

    model.eval()
    logits, labels = [], []
    for x, y in loader.batches():
        out = model(to_mlx(x))
        mx.eval(out)
        logits.append(np.array(out, dtype=np.float32))
        labels.append(y.numpy())
    model.train()
    all_logits, all_labels = np.concatenate(logits), np.concatenate(labels)
    loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(all_logits), torch.from_numpy(all_labels)))
    return all_logits, all_labels, loss


def save_weights(model, run: RunDir, meta: dict) -> None:
    """checkpoints/last.npz (MLX's format: numpy .npz) and its metadata, each replaced atomically."""
    path = run.file(MLX_CHECKPOINT)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".last.", suffix=".npz")
    os.close(fd)
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    atomic_write_json(meta, run.file(MLX_META))


def train_mlx(config: RunConfig, quiet: bool = False, argv: list[str] | None = None):
    mx = require_mlx()
    import mlx.nn as nn
    from cifarbench.mlx.convert import torch_to_mlx
    from cifarbench.mlx.models import build_mlx_model, count_mlx_parameters
    from cifarbench.train.progress import CONSOLE
    from cifarbench.train.session import RunResult, make_loaders, model_for, prepare_data
    from cifarbench.train.trainer import seed_everything

    check_supported(config)
    device = mlx_device(config.train.device)
    mx.set_default_device(device)
    t = config.train
    seed_everything(t.seed)
    mx.random.seed(t.seed)
    data = prepare_data(config, quiet)
    train_loader, val_loader = make_loaders(config, data, torch.device("cpu"))
    c = data.dataset.shape[0]
    model = build_mlx_model(config.model.name, data.dataset.num_classes, c)
    # the same initial weights as the PyTorch run with this seed
    reference = model_for(config, data.dataset)
    model.load_weights([(k, mx.array(v)) for k, v in torch_to_mlx(reference.state_dict()).items()])
    model.train()
    mx.eval(model.parameters())

    steps_per_epoch = len(train_loader)
    total_steps = int(np.ceil(t.epochs * steps_per_epoch))
    num_epochs = int(np.ceil(total_steps / steps_per_epoch))
    optimizer = build_optimizer(config)
    shadow = ScheduleShadow(config, steps_per_epoch, total_steps)
    smoothing = config.optim.label_smoothing

    def loss_fn(m, x, y):
        logits = m(x)
        loss = nn.losses.cross_entropy(logits, y, label_smoothing=smoothing, reduction="mean")
        return loss, (mx.argmax(logits, axis=1) == y).sum()

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x, y):
        (loss, correct), grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        return loss, correct

    run = RunDir.create(Path(config.runs_dir), data.dataset.name, config.model.name, config.name)
    run.write_config(config.to_dict())
    params = count_mlx_parameters(model)
    run.update_run_log(**fingerprint(torch.device("cpu")), framework="mlx", mlx_device=str(device),
                       command=argv if argv is not None else sys.argv, start_time=utc_now(),
                       dataset=data.dataset.name, data_location=data.dataset.location,
                       train_images=len(data.train), val_images=len(data.val), test_images=len(data.test),
                       validation_split=data.val_name, model=config.model.name, parameters=params,
                       recipe=config.recipe, device=f"mlx:{'cpu' if device == mx.cpu else 'gpu'}", precision="fp32",
                       seed=t.seed,
                       status="running")
    meta = {"format": 1, "framework": "mlx", "model_name": config.model.name, "config": config.to_dict(),
            "data": {"dataset": data.dataset.name, "classes": data.dataset.classes, "mean": list(data.dataset.mean),
                     "std": list(data.dataset.std), "shape": list(data.dataset.shape)}}
    if not quiet:
        CONSOLE.print(f"[bold]{config.recipe}[/] (MLX {mx.__version__}, {device}): {config.model.name} "
                      f"({params:,} parameters) on {data.dataset.name}, {num_epochs} epochs -> {run.path}",
                      highlight=False)
    history, done, train_seconds, eval_seconds = [], 0, 0.0, 0.0
    best = (-1.0, -1)
    try:
        for epoch in range(num_epochs):
            loss_sum, correct, seen = mx.array(0.0), mx.array(0), 0
            started = time.perf_counter()
            for x, y in train_loader.epoch(epoch):
                if done >= total_steps:
                    break
                set_hyper(optimizer, *shadow.values())
                loss, right = step(to_mlx(x), mx.array(y.numpy()))
                loss_sum, correct = loss_sum + loss * len(y), correct + right
                seen += len(y)
                done += 1
                shadow.after_step()
                mx.async_eval(loss_sum, correct)
            mx.eval(loss_sum, correct, model.parameters())  # the epoch's work is done: a sync point
            seconds = time.perf_counter() - started
            shadow.after_epoch()
            train_seconds += seconds
            train_loss = float(loss_sum.item()) / max(1, seen)
            if not np.isfinite(train_loss):
                raise RunStopped(f"run failed: the training loss became {train_loss} in epoch {epoch + 1}; "
                                 "lower the learning rate", 1)
            started = time.perf_counter()
            logits, labels, val_loss = evaluate(model, val_loader)
            eval_seconds += time.perf_counter() - started
            val_acc = float((logits.argmax(1) == labels).mean())
            best = max(best, (val_acc, epoch + 1))
            record = {"epoch": epoch + 1, "step": done, "train_loss": train_loss,
                      "train_accuracy": float(correct.item()) / max(1, seen), "lr": shadow.values()[0],
                      "epoch_seconds": seconds, "images_per_second": seen / seconds if seconds > 0 else None,
                      "val_loss": val_loss, "val_accuracy": val_acc,
                      "val_per_class_accuracy": per_class_accuracy(logits.argmax(1), labels, len(data.dataset.classes))}
            history.append(record)
            run.append_log({"event": "epoch", "time": utc_now(), **record})
            save_weights(model, run, {**meta, "epoch": epoch + 1, "step": done})
            if not quiet:
                CONSOLE.print(f"epoch {epoch + 1}/{num_epochs} | train {train_loss:.4f} {record['train_accuracy']:.2%} "
                              f"| val {val_loss:.4f} {val_acc:.2%} | {seconds:.1f}s "
                              f"{record['images_per_second'] or 0:,.0f} img/s", highlight=False)
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        run.update_run_log(status=status, failure=f"{type(exc).__name__}: {exc}", end_time=utc_now())
        raise

    from cifarbench.data.loader import DeviceLoader

    test_loader = DeviceLoader(data.test, data.dataset.mean, data.dataset.std, t.eval_batch_size, "cpu", shuffle=False)
    started = time.perf_counter()
    logits, labels, test_loss = evaluate(model, test_loader)
    final_seconds = time.perf_counter() - started
    metrics = classification_metrics(logits, labels, data.dataset.classes)
    metrics.update(split="test", loss=test_loss, tta_level=0)
    run.write_json(RunDir.METRICS, metrics)
    run.write_json(RunDir.HISTORY, history)
    run.write_text(RunDir.REPORT, classification_report(metrics))
    if t.plots:
        from cifarbench.train.session import _make_plots

        _make_plots(run)
    run_log = run.update_run_log(
        status="completed", end_time=utc_now(), epochs_completed=len(history), steps=done,
        train_seconds=train_seconds, eval_seconds=eval_seconds, final_eval_seconds=final_seconds,
        best_val_accuracy=best[0], best_epoch=best[1], test_accuracy=metrics["accuracy"], test_loss=test_loss,
        per_class_accuracy={k: v["accuracy"] for k, v in metrics["per_class"].items()},
)
    return RunResult(run, metrics, history, run_log)
