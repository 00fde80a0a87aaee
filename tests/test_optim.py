import io
import math

import pytest
import torch

from cifarbench.config import OptimConfig, ScheduleConfig
from cifarbench.models import build_model
from cifarbench.training.optim import build_optimizer, build_scheduler, lr_factor, param_groups


def test_triangle_matches_airbench_formula():
    s = ScheduleConfig(name="triangle", pct_start=0.23, start_factor=0.2, end_factor=0.07)
    total = 100  # warm-up = int(100 * 0.23) = 23 steps
    assert lr_factor(s, 0, total, 0) == pytest.approx(0.2)
    assert lr_factor(s, 10, total, 0) == pytest.approx(0.2 * (1 - 10 / 23) + 10 / 23)
    assert lr_factor(s, 23, total, 0) == pytest.approx(1.0)
    assert lr_factor(s, 100, total, 0) == pytest.approx(0.07)
    assert lr_factor(s, 60, total, 0) == pytest.approx((1 - 37 / 77) + 0.07 * 37 / 77)


def test_step_multistep_cosine_and_warmup():
    assert lr_factor(ScheduleConfig(name="step", step_size=5, gamma=0.1), 12, 20, 0) == pytest.approx(0.01)
    ms = ScheduleConfig(name="multistep", milestones=(5, 8), gamma=0.1)
    assert [round(lr_factor(ms, e, 10, 0), 6) for e in (4, 5, 7, 8, 9)] == [1.0, 0.1, 0.1, 0.01, 0.01]
    cos = ScheduleConfig(name="cosine")
    assert lr_factor(cos, 50, 100, 0) == pytest.approx(0.5)
    assert lr_factor(cos, 100, 100, 0) == pytest.approx(0.0, abs=1e-12)
    warm = ScheduleConfig(name="constant", warmup_epochs=1)
    assert lr_factor(warm, 0, 100, 4) == pytest.approx(0.2) and lr_factor(warm, 4, 100, 4) == 1.0


def test_decoupled_sgd_matches_airbench_units():
    model = build_model("airbench94")
    o = OptimConfig(name="sgd", lr=11.5, momentum=0.85, nesterov=True, weight_decay=0.0153, decoupled=True,
                    bias_lr_scale=64.0)
    groups = param_groups(model, o, batch_size=1024)
    kilostep = 1024 * (1 + 1 / (1 - 0.85))
    bias, rest = groups
    assert rest["lr"] == pytest.approx(11.5 / kilostep)
    assert bias["lr"] == pytest.approx(64 * 11.5 / kilostep)
    # decay * lr (what SGD applies) is the same for both groups: the bias lr scale leaves decay alone
    assert bias["lr"] * bias["weight_decay"] == pytest.approx(rest["lr"] * rest["weight_decay"])
    assert rest["lr"] * rest["weight_decay"] == pytest.approx(0.0153 * 1024 / kilostep)
    n_norm_biases = sum(1 for n, p in model.named_parameters() if "norm" in n and n.endswith("bias"))
    assert len(bias["params"]) == n_norm_biases
    assert any(p is model.whiten.bias for p in rest["params"])  # trained for the first epochs
    assert not any(p is model.whiten.weight for g in groups for p in g["params"])  # frozen


def test_onecycle_state_survives_weights_only_round_trip():
    model = torch.nn.Linear(3, 2)
    opt = build_optimizer(model, OptimConfig(), batch_size=8)
    sched = build_scheduler(opt, ScheduleConfig(name="onecycle", max_lr=0.1), OptimConfig(), 10, 100)
    for _ in range(7):
        opt.step()
        sched.step()
    buffer = io.BytesIO()
    torch.save({"s": sched.state_dict(), "o": opt.state_dict()}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    opt2 = build_optimizer(model, OptimConfig(), batch_size=8)
    sched2 = build_scheduler(opt2, ScheduleConfig(name="onecycle", max_lr=0.1), OptimConfig(), 10, 100)
    opt2.load_state_dict(loaded["o"])
    sched2.load_state_dict(loaded["s"])
    opt.step(); sched.step(); opt2.step(); sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
    assert not math.isclose(opt.param_groups[0]["lr"], 0.1 / 25)  # it moved off the start value
