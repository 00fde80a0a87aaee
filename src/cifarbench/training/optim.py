"""Optimizers and learning-rate schedules built from the config.

Every schedule but OneCycle is a pure function of the step (or epoch) count behind a
LambdaLR, so its state is one integer and a resumed run continues the same curve.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, cast

import torch
from torch import nn

from cifarbench.config import OptimConfig, ScheduleConfig


def is_norm_bias(module: nn.Module, param_name: str) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm) and param_name == "bias"


def param_groups(model: nn.Module, optim: OptimConfig, batch_size: int) -> list[dict]:
    """Split trainable parameters into BatchNorm biases and the rest, each with its lr and decay.

    In the decoupled form (airbench, after Page's "How to train your ResNet 5"), `lr` and
    `weight_decay` are given per 1024 examples and independent of the momentum: with
    Nesterov momentum m, steps are (1 + 1 / (1 - m)) times larger than the gradient, so the
    lr is divided by that factor; and decay is divided by the lr, since PyTorch's SGD
    multiplies the two.
    """
    norm_biases: list[nn.Parameter] = []
    others: list[nn.Parameter] = []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if p.requires_grad or _may_unfreeze(module, name):
                (norm_biases if is_norm_bias(module, name) else others).append(p)
    if optim.decoupled:
        kilostep_scale = 1024 * (1 + 1 / (1 - optim.momentum))
        lr = optim.lr / kilostep_scale
        decay = optim.weight_decay * batch_size / kilostep_scale
        bias_lr = lr * optim.bias_lr_scale
        return [
            g
            for g in (
                dict(params=norm_biases, lr=bias_lr, weight_decay=decay / bias_lr),
                dict(params=others, lr=lr, weight_decay=decay / lr),
            )
            if g["params"]
        ]
    return [
        g
        for g in (
            dict(params=norm_biases, lr=optim.lr * optim.bias_lr_scale, weight_decay=optim.weight_decay),
            dict(params=others, lr=optim.lr, weight_decay=optim.weight_decay),
        )
        if g["params"]
    ]


def _may_unfreeze(module: nn.Module, name: str) -> bool:
    # A whitening bias is frozen and unfrozen by the recipe during training: keep it in the optimizer.
    return name == "bias" and type(module).__name__ == "WhiteningConv"


def muon_param_groups(
    model: nn.Module, optim: OptimConfig, batch_size: int, whiten_bias_epochs: int | None = None
) -> list[dict]:
    """airbench94_muon.py's split: conv filter banks (4-D) to Muon; the whitening bias and the
    other 1-D parameters (BatchNorm biases) to SGD at bias_lr; the rest (the head) at head_lr.
    Decay is per example (x batch) and decoupled from the lr (divided by it, as PyTorch's SGD
    multiplies the two); Muon's groups are not decayed (their norm is reset every step).
    The whitening bias's group carries `schedule_epochs`: its lr decays to 0 over those epochs."""
    filters, whiten_bias, biases, rest = [], [], [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if _may_unfreeze(module, name):
                whiten_bias.append(p)
            elif not p.requires_grad:
                continue
            elif p.dim() == 4:
                filters.append(p)
            elif p.dim() == 1:
                biases.append(p)
            else:
                rest.append(p)
    bias_lr, head_lr = optim.bias_lr, optim.head_lr
    assert bias_lr is not None and head_lr is not None  # the config requires both with muon
    decay = optim.weight_decay * batch_size
    sgd: dict[str, Any] = dict(muon=False, momentum=optim.aux_momentum, nesterov=True, ns_steps=optim.ns_steps)
    groups: list[dict[str, Any]] = [
        dict(
            params=filters,
            lr=optim.lr,
            momentum=optim.momentum,
            nesterov=optim.nesterov,
            weight_decay=0.0,
            muon=True,
            ns_steps=optim.ns_steps,
        ),
        dict(
            params=whiten_bias,
            lr=bias_lr,
            weight_decay=decay / bias_lr,
            **sgd,
            **({"schedule_epochs": whiten_bias_epochs} if whiten_bias_epochs is not None else {}),
        ),
        dict(params=biases, lr=bias_lr, weight_decay=decay / bias_lr, **sgd),
        dict(params=rest, lr=head_lr, weight_decay=decay / head_lr, **sgd),
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(
    model: nn.Module, optim: OptimConfig, batch_size: int, whiten_bias_epochs: int | None = None
) -> torch.optim.Optimizer:
    if optim.name == "muon":
        from cifarbench.training.muon import Muon

        return Muon(muon_param_groups(model, optim, batch_size, whiten_bias_epochs))
    groups = param_groups(model, optim, batch_size)
    if optim.name == "sgd":
        return torch.optim.SGD(
            groups, lr=groups[-1]["lr"], momentum=optim.momentum, nesterov=optim.nesterov and optim.momentum > 0
        )
    if optim.name == "adam":
        return torch.optim.Adam(groups, lr=optim.lr, betas=optim.betas)
    if optim.name == "adamw":
        return torch.optim.AdamW(groups, lr=optim.lr, betas=optim.betas)
    if optim.name == "adadelta":
        return torch.optim.Adadelta(groups, lr=optim.lr, rho=optim.rho)
    raise AssertionError(optim.name)  # the config validated the name


def lr_factor(schedule: ScheduleConfig, unit: float, total_units: int, warmup_units: float) -> float:
    """The multiplier of the base lr after `unit` scheduler steps (batches or epochs)."""
    s = schedule
    if s.name == "linear_decay":
        return max(0.0, 1.0 - unit / max(1, total_units))
    if s.name == "triangle":
        # airbench: linear from start_factor up to 1 over pct_start of the run, then down to end_factor
        warm = int(total_units * s.pct_start)
        if unit < warm:
            frac = unit / warm
            return s.start_factor * (1 - frac) + frac
        frac = (unit - warm) / max(1, total_units - warm)
        return (1 - frac) + s.end_factor * frac
    if warmup_units and unit < warmup_units:
        return (unit + 1) / (warmup_units + 1)
    after = unit - warmup_units
    if s.name == "constant":
        return 1.0
    if s.name == "step":
        return s.gamma ** (after // s.step_size)
    if s.name == "multistep":
        return s.gamma ** sum(after >= m for m in s.milestones)
    if s.name == "cosine":
        span = max(1.0, total_units - warmup_units)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, after / span)))
    raise AssertionError(s.name)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    schedule: ScheduleConfig,
    optim: OptimConfig,
    steps_per_epoch: int,
    total_steps: int,
    position: Callable[[], float] | None = None,
):
    """The scheduler over `total_steps`. `position`: where a paced run is in its schedule, in steps
    (training/pace.py), read instead of the scheduler's own step count; only per-batch schedules of
    the lambda kind can follow it (the config refuses the others)."""
    per_batch = schedule.interval == "batch"
    if position is not None and (not per_batch or schedule.name == "onecycle"):
        raise ValueError(
            f"a paced run needs a per-batch schedule other than onecycle, not {schedule.name} every {schedule.interval}"
        )

    def unit_of(unit: int) -> float:
        return unit if position is None else position()

    total_units = total_steps if per_batch else math.ceil(total_steps / steps_per_epoch)
    if schedule.name == "onecycle":
        max_lr = [g["lr"] / optim.lr * (schedule.max_lr or optim.lr) for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=max_lr,
            total_steps=total_units,
            pct_start=schedule.pct_start,
            anneal_strategy=cast(Literal["cos", "linear"], schedule.anneal),  # the config's choices
        )
    warmup_units = schedule.warmup_epochs * (steps_per_epoch if per_batch else 1)
    if schedule.name == "linear_decay":
        # airbench94_muon.py: lr = initial * (1 - step / total), no warm-up; a group that carries
        # `schedule_epochs` (the whitening bias) decays to 0 over those epochs instead
        def decay_over(units: float):
            return lambda unit: max(0.0, 1.0 - unit_of(unit) / units)

        spans = [
            g["schedule_epochs"] * (steps_per_epoch if per_batch else 1) if "schedule_epochs" in g else total_units
            for g in optimizer.param_groups
        ]
        return torch.optim.lr_scheduler.LambdaLR(optimizer, [decay_over(max(1, span)) for span in spans])
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda unit: lr_factor(schedule, unit_of(unit), total_units, warmup_units)
    )
