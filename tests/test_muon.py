"""Muon and the airbench94_muon recipe (KellerJordan/cifar10-airbench airbench94_muon.py)."""

from __future__ import annotations

import pytest
import torch

from cifarbench.api import train
from cifarbench.config import OptimConfig
from cifarbench.errors import ConfigError
from cifarbench.models import build_model
from cifarbench.resolve import resolve_config
from cifarbench.training.muon import Muon, newton_schulz
from cifarbench.training.optim import build_optimizer, build_scheduler


def by_hand_newton_schulz(g: torch.Tensor, steps: int) -> torch.Tensor:
    """The formula, written out: X = G / ||G||_F on its wide side, then X <- aX + bAX + cA^2X with
    A = X X^T, (a, b, c) = (3.4445, -4.7750, 2.0315), in fp32 (double checks the rounding)."""
    x = g.double() / (g.double().norm() + 1e-7)
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    for _ in range(steps):
        a_mat = x @ x.T
        x = 3.4445 * x + (-4.7750) * (a_mat @ x) + 2.0315 * (a_mat @ a_mat @ x)
    return (x.T if tall else x).float()


@pytest.mark.parametrize("shape", [(4, 6), (6, 4)])
def test_newton_schulz_follows_the_formula(shape):
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    got = newton_schulz(g, steps=3, dtype=torch.float32)
    assert torch.allclose(got, by_hand_newton_schulz(g, 3), atol=1e-5)
    # and it orthogonalises: every singular value near 1 (the quintic stops short of exactly 1)
    s = torch.linalg.svdvals(newton_schulz(g, steps=5, dtype=torch.float32))
    assert bool(((s > 0.6) & (s < 1.3)).all()), s


def test_one_muon_step_equals_the_update_computed_by_hand(monkeypatch):
    gen = torch.Generator().manual_seed(1)
    w0 = torch.randn(3, 2, 2, 2, generator=gen)  # a small conv filter bank: 3 filters of 2x2x2
    grads = [torch.randn(3, 2, 2, 2, generator=gen) for _ in range(2)]
    import cifarbench.training.muon as muon

    monkeypatch.setattr(muon, "iteration_dtype", lambda device: torch.float32)  # compare at the formula's precision
    w = torch.nn.Parameter(w0.clone())
    lr, m = 0.24, 0.6
    opt = Muon([dict(params=[w], lr=lr, momentum=m, nesterov=True, muon=True, ns_steps=3)])
    expected, buf = w0.clone().double(), torch.zeros_like(w0).double()
    for g in grads:  # two steps, so the Nesterov momentum term takes part
        w.grad = g.clone()
        opt.step()
        buf = m * buf + g.double()
        update = g.double() + m * buf  # Nesterov
        expected = expected * (3 ** 0.5 / expected.norm())  # norm reset: ||W||_F = sqrt(out channels)
        expected = expected - lr * by_hand_newton_schulz(update.reshape(3, -1).float(), 3).double().view(3, 2, 2, 2)
    assert torch.allclose(w.detach().double(), expected, atol=1e-5)


def test_the_sgd_side_is_pytorch_sgd():
    gen = torch.Generator().manual_seed(2)
    start = torch.randn(5, generator=gen)
    mine, ref = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    opt = Muon([dict(params=[mine], lr=0.05, momentum=0.85, nesterov=True, weight_decay=0.1, muon=False, ns_steps=3)])
    torch_opt = torch.optim.SGD([ref], lr=0.05, momentum=0.85, nesterov=True, weight_decay=0.1)
    for _ in range(4):
        g = torch.randn(5, generator=gen)
        mine.grad, ref.grad = g.clone(), g.clone()
        opt.step()
        torch_opt.step()
    assert torch.allclose(mine, ref, atol=1e-7)


def test_the_recipe_splits_parameters_and_schedules_as_the_reference():
    config = resolve_config("airbench94_muon")
    model = build_model("airbench94-muon")
    opt = build_optimizer(model, config.optim, config.train.batch_size, config.model.whiten_bias_epochs)
    muon_group, whiten, biases, head = opt.param_groups
    assert muon_group["muon"] and all(p.dim() == 4 for p in muon_group["params"]) and muon_group["lr"] == 0.24
    assert len(muon_group["params"]) == 6  # two convs per group, three groups; the whitening filters stay frozen
    assert whiten["params"] == [model.whiten.bias] and whiten["lr"] == 0.053 and whiten["schedule_epochs"] == 3
    assert all(p.dim() == 1 for p in biases["params"]) and biases["lr"] == 0.053
    assert head["params"] == [model.head.weight] and head["lr"] == 0.67
    wd = 2e-6 * 2000
    assert whiten["weight_decay"] == pytest.approx(wd / 0.053) and head["weight_decay"] == pytest.approx(wd / 0.67)
    assert not any(g["muon"] for g in (whiten, biases, head)) and muon_group["weight_decay"] == 0
    steps_per_epoch, total = 25, 200  # 50,000 images at batch 2000, 8 epochs
    scheduler = build_scheduler(opt, config.schedule, config.optim, steps_per_epoch, total)
    lrs = []
    for _ in range(total):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        scheduler.step()
    assert lrs[0] == [0.24, 0.053, 0.053, 0.67]  # no warm-up
    assert lrs[100][0] == pytest.approx(0.24 * (1 - 100 / 200)) and lrs[100][3] == pytest.approx(0.67 * 0.5)
    assert lrs[50][1] == pytest.approx(0.053 * (1 - 50 / 75)) and lrs[80][1] == 0.0  # whitening bias: 3 epochs
    assert model.scale == 1 / 256 and float(model.head.weight.detach().std()) == pytest.approx(1.0, rel=1e-5)


def test_muon_needs_its_sgd_learning_rates():
    with pytest.raises(ConfigError, match="optim.bias_lr and optim.head_lr"):
        OptimConfig(name="muon")


def test_the_recipe_trains_on_synthetic_data(tmp_path):
    """Four epochs of 512 CIFAR-shaped images (16x16) at batch 128: the loss falls each epoch and
    the test accuracy is far above chance (10%), as a short run of this recipe should."""
    config = resolve_config("airbench94_muon", {
        "data": {"dataset": "synthetic", "synthetic_shape": [3, 16, 16], "synthetic_train_size": 512,
                 "synthetic_test_size": 256},
        "train": {"epochs": 4, "batch_size": 128, "eval_batch_size": 256, "device": "cpu", "plots": False},
        "runs_dir": str(tmp_path / "runs")})
    result = train(config, quiet=True)
    losses = [h["train_loss"] for h in result.history]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert result.metrics["accuracy"] > 0.6, result.metrics["accuracy"]
    assert result.run_log["recipe"] == "airbench94_muon" and result.metrics["tta_level"] == 2
