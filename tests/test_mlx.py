"""The MLX backend against the PyTorch one, on MLX's CPU backend.

Tolerances: float32 on both sides, different kernels and summation orders. Logits from the
same weights agree to 1e-4 (absolute); after one optimizer step from the same weights and
batch the two losses agree to 1e-3 (relative).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import needs_extra

mx = needs_extra("mlx", "mlx.core")
import mlx.nn as mnn  # noqa: E402

from cifarbench.cli import main  # noqa: E402
from cifarbench.config import RunConfig  # noqa: E402
from cifarbench.data.synthetic import make_synthetic  # noqa: E402
from cifarbench.errors import ConfigError  # noqa: E402
from cifarbench.mlx.backend import build_optimizer, check_supported, set_hyper  # noqa: E402
from cifarbench.mlx.models import MLX_MODELS, build_mlx_model, count_mlx_parameters  # noqa: E402
from cifarbench.models import build_model, count_parameters  # noqa: E402
from cifarbench.models.mlx_layout import mlx_key, mlx_to_torch, torch_key, torch_to_mlx  # noqa: E402
from cifarbench.resolve import resolve_config  # noqa: E402

MODELS = sorted(MLX_MODELS)


def twins(name: str, size: int = 8, dropout_off: bool = True):
    """The PyTorch model and its MLX twin carrying the same weights."""
    torch.manual_seed(0)
    t = build_model(name, num_classes=10, in_channels=3, image_size=size)
    m = build_mlx_model(name, 10, 3)
    m.load_weights([(k, mx.array(v)) for k, v in torch_to_mlx(t.state_dict()).items()])
    if dropout_off:  # dropout draws differ between frameworks; everything else must agree
        for module in t.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        for _, module in m.named_modules():
            if isinstance(module, mnn.Dropout):
                module._p_1 = 1.0
    return t, m


def batch(n: int = 6, size: int = 8, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


def nhwc(x: torch.Tensor):
    return mx.array(x.permute(0, 2, 3, 1).contiguous().numpy())


@pytest.mark.parametrize("name", MODELS)
def test_same_parameter_count(name):
    t, m = twins(name)
    assert count_mlx_parameters(m) == count_parameters(t)


@pytest.mark.parametrize("name", MODELS)
def test_same_weights_same_logits(name):
    t, m = twins(name)
    t.eval()
    m.eval()
    x, _ = batch()
    with torch.no_grad():
        expected = t(x).numpy()
    got = np.array(m(nhwc(x)))
    assert np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("name, recipe", [("resnet18", "resnet18-onecycle"), ("small-resnet", "small-resnet-adamw")])
def test_one_training_step_moves_the_loss_the_same_way(name, recipe):
    """Train mode (batch statistics), one step of the recipe's optimizer at its first lr, then the
    loss on the same batch, in both frameworks."""
    config = resolve_config(recipe, {"model": {"name": name}})
    t, m = twins(name)
    x, y = batch(8)
    lr = config.optim.lr
    torch_opt = (torch.optim.SGD(t.parameters(), lr=lr, momentum=config.optim.momentum,
                                 weight_decay=config.optim.weight_decay) if config.optim.name == "sgd"
                 else torch.optim.AdamW(t.parameters(), lr=lr, weight_decay=config.optim.weight_decay))
    t.train()
    loss0_t = torch.nn.functional.cross_entropy(t(x), y)
    torch_opt.zero_grad()
    loss0_t.backward()
    torch_opt.step()
    with torch.no_grad():
        loss1_t = float(torch.nn.functional.cross_entropy(t(x), y))

    m.train()
    opt = build_optimizer(config)
    set_hyper(opt, lr, config.optim.momentum if config.optim.name == "sgd" else config.optim.betas[0])

    def loss_fn(model, xx, yy):
        return mnn.losses.cross_entropy(model(xx), yy, reduction="mean")

    xm, ym = nhwc(x), mx.array(y.numpy())
    loss0_m, grads = mnn.value_and_grad(m, loss_fn)(m, xm, ym)
    opt.update(m, grads)
    loss1_m = float(loss_fn(m, xm, ym).item())

    assert float(loss0_m.item()) == pytest.approx(loss0_t.item(), rel=1e-4)
    assert loss1_m == pytest.approx(loss1_t, rel=1e-3)
    assert (loss1_m - float(loss0_m.item())) * (loss1_t - loss0_t.item()) > 0  # the same direction


OPTIMIZER_CASES = {
    "sgd-nesterov": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
    "sgd-heavy-ball": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False, "weight_decay": 5e-4},
    "adamw": {"name": "adamw", "lr": 3e-3, "weight_decay": 0.01, "betas": [0.9, 0.999]},
}


@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))
def test_optimizer_matches_pytorch_over_several_steps(case):
    """Five steps on a small tensor whose gradient depends on the weights (a quadratic's), so a
    different momentum, Nesterov or decay convention compounds and shows: after every step the
    MLX weights equal PyTorch's within 1e-5 relative. The heavy-ball case is the control: it
    moves differently from Nesterov by more than the tolerance."""
    config = resolve_config("small-resnet-adamw", {"optim": OPTIMIZER_CASES[case]})
    o = config.optim
    rng = np.random.default_rng(0)
    start = rng.normal(size=(4, 3)).astype(np.float32)
    target = rng.normal(size=(4, 3)).astype(np.float32)

    def gradient(w):  # of 0.5 * |w - target|^2 * 2 + 0.1 * sum(w^3): depends on where w is
        return 2 * (w - target) + 0.3 * w * w

    w_t = torch.nn.Parameter(torch.from_numpy(start.copy()))
    torch_opt = (torch.optim.SGD([w_t], lr=o.lr, momentum=o.momentum, nesterov=o.nesterov,
                                 weight_decay=o.weight_decay) if o.name == "sgd"
                 else torch.optim.AdamW([w_t], lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay))
    opt = build_optimizer(config)
    set_hyper(opt, o.lr, o.momentum if o.name == "sgd" else o.betas[0])
    params = {"w": mx.array(start)}
    trajectory = []
    for _ in range(5):
        w_t.grad = torch.from_numpy(gradient(w_t.detach().numpy()))
        torch_opt.step()
        params = opt.apply_gradients({"w": mx.array(gradient(np.array(params["w"])))}, params)
        mx.eval(params)
        trajectory.append(np.array(params["w"]))
        np.testing.assert_allclose(trajectory[-1], w_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    if case == "sgd-nesterov":  # the conventions are told apart at this tolerance
        other = torch.nn.Parameter(torch.from_numpy(start.copy()))
        heavy = torch.optim.SGD([other], lr=o.lr, momentum=o.momentum, nesterov=False, weight_decay=o.weight_decay)
        for _ in range(5):
            other.grad = torch.from_numpy(gradient(other.detach().numpy()))
            heavy.step()
        assert np.abs(other.detach().numpy() - trajectory[-1]).max() > 1e-3


def test_key_and_layout_conversion_round_trips():
    t = build_model("small-resnet", num_classes=10, in_channels=3, image_size=8)
    state = t.state_dict()
    back = mlx_to_torch(torch_to_mlx(state), state)
    assert all(torch.equal(back[k], state[k]) for k in state if not k.endswith("num_batches_tracked"))
    assert mlx_key("stem.0.0.weight") == "stem.layers.0.layers.0.weight"
    assert torch_key("stem.layers.0.layers.0.weight") == "stem.0.0.weight"


def mlx_config(tmp_path, **train) -> RunConfig:
    return resolve_config("small-resnet-adamw", {
        "data": {"dataset": "synthetic", "synthetic_shape": [3, 8, 8], "synthetic_train_size": 96,
                 "synthetic_test_size": 48},
        "train": {"framework": "mlx", "epochs": 2, "batch_size": 32, "device": "cpu", "plots": False, **train},
        "runs_dir": str(tmp_path / "runs")})


def test_train_with_mlx_writes_the_same_run_directory_and_eval_reads_it(tmp_path, capsys):
    from cifarbench.api import train

    result = train(mlx_config(tmp_path), quiet=True)
    run = result.run.path
    for name in ("config.yaml", "run_log.json", "history.json", "metrics.json", "classification_report.txt",
                 "log.jsonl", "checkpoints/last.npz", "checkpoints/last.json"):
        assert (run / name).is_file(), name
    log = json.loads((run / "run_log.json").read_text())
    assert log["framework"] == "mlx" and log["mlx"] == mx.__version__ and log["device"] == "mlx:cpu"
    assert log["status"] == "completed" and log["parameters"] == 579_146
    history = json.loads((run / "history.json").read_text())
    assert [h["step"] for h in history] == [3, 6] and all("val_per_class_accuracy" in h for h in history)
    assert np.load(run / "checkpoints" / "last.npz").files  # MLX's format is numpy's .npz
    # cifarbench eval loads the MLX weights into the PyTorch twin and finds the same accuracy
    assert main(["eval", str(run), "--json", "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1 / 48 + 1e-9)


@pytest.mark.slow
def test_mlx_honours_tta_eval_every_checkpoint_every_and_a_summed_loss(tmp_path):
    """What the shared lifecycle gives MLX: the final test evaluation with TTA (the same views as
    the PyTorch twin of the weights sees), validation every N epochs, checkpoints every N epochs."""
    from cifarbench.api import train
    from cifarbench.checkpoints import load_checkpoint
    from cifarbench.eval.inference import evaluate_loaded, load_model

    config = mlx_config(tmp_path, epochs=3, tta=2, eval_every=2, checkpoint_every=0)
    config = RunConfig.from_dict({**config.to_dict(), "optim": {**config.to_dict()["optim"],
                                                                "loss_reduction": "sum"}})
    result = train(config, quiet=True)
    assert result.metrics["tta_level"] == 2
    assert ["val_accuracy" in h for h in result.history] == [False, True, True]  # epoch 2, and the last
    assert load_checkpoint(result.run.path)["epoch"] == 3  # checkpoint_every 0: saved at the end only
    assert all(0 < h["train_loss"] < 10 for h in result.history)  # per example, not per batch sum
    # the torch twin of the final weights, evaluated with the same TTA, gives the same test logits
    loaded = load_model(result.run.path, "cpu")
    dataset = make_synthetic((3, 8, 8), 10, 96, 48, seed=0)
    twin = evaluate_loaded(loaded, dataset.test.images, dataset.test.labels, tta=2)
    assert twin["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1 / 48 + 1e-9)
    assert twin["loss"] == pytest.approx(result.metrics["loss"], rel=1e-3)
    without = evaluate_loaded(loaded, dataset.test.images, dataset.test.labels, tta=0)
    assert without["loss"] != pytest.approx(result.metrics["loss"], rel=1e-6)  # TTA was really applied


def test_mlx_and_torch_start_from_the_same_weights_and_schedule(tmp_path, monkeypatch):
    """Same seed: the two frameworks' runs start from the same weights, to the bit, and follow the same
    learning-rate schedule, epoch for epoch; their first-epoch losses are then close (dropout masks
    and kernels differ, so only that)."""
    from mlx.utils import tree_flatten

    from cifarbench.api import train
    from cifarbench.contract.callbacks import Callback
    from cifarbench.mlx.backend import MlxBackend

    first = {}
    real_build = MlxBackend.build

    def build(self, data):
        real_build(self, data)
        first["mlx"] = {k: np.array(v) for k, v in tree_flatten(self.model.parameters())}
    monkeypatch.setattr(MlxBackend, "build", build)

    class FirstWeights(Callback):
        def on_fit_start(self, trainer):
            first["torch"] = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}

    config = mlx_config(tmp_path, epochs=3)
    config = RunConfig.from_dict({**config.to_dict(), "schedule": {**config.to_dict()["schedule"], "name": "cosine"}})
    mlx_run = train(config, quiet=True)
    torch_config = RunConfig.from_dict({**config.to_dict(), "train": {**config.to_dict()["train"],
                                                                     "framework": "torch"}})
    torch_run = train(torch_config, quiet=True, callbacks=[FirstWeights()])
    expected = torch_to_mlx(first["torch"])
    assert first["mlx"] and set(first["mlx"]) <= set(expected)
    for name, value in first["mlx"].items():
        assert np.array_equal(value, np.asarray(expected[name])), name
    lrs = [h["lr"] for h in mlx_run.history]
    assert len(set(lrs)) == 3 and lrs == pytest.approx([h["lr"] for h in torch_run.history], rel=1e-6)
    assert mlx_run.history[0]["train_loss"] == pytest.approx(torch_run.history[0]["train_loss"], rel=0.05)


def test_unsupported_recipes_and_models_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="optim.decoupled True .*optim.lookahead True"):
        check_supported(resolve_config("airbench94", {"model": {"name": "resnet18"}}))
    with pytest.raises(ConfigError, match="has no MLX version"):
        check_supported(resolve_config("lenet-small-onecycle", {}))


# one value per field the MLX loop does not implement, each different from what it needs
NOT_HONOURED = {
    "hardware.compile": True, "hardware.channels_last": True, "train.deterministic": True,
    "output.checkpoint_every_steps": 10, "train.nonfinite": "skip", "train.trainer": "hybrid",
    "optim.grad_clip": 1.0, "optim.decoupled": True, "optim.lookahead": True, "optim.bias_lr_scale": 2.0,
    "model.whiten_bias_epochs": 1, "hardware.precision": "bf16", "optim.name": "adadelta",
    "model.widths": "8,16", "schedule.pace": "[1.0]",
}


def test_the_refusal_list_covers_every_field_it_names():
    from cifarbench.mlx.backend import REQUIRED_VALUES

    assert set(REQUIRED_VALUES) <= set(NOT_HONOURED)


@pytest.mark.parametrize("field", sorted(NOT_HONOURED))
def test_every_value_mlx_does_not_honour_is_refused_in_one_line(field, tmp_path, capsys):
    """Through the CLI, before any data is read or folder written: one line naming the field, exit 2."""
    value = NOT_HONOURED[field]
    code = main(["train", "--framework", "mlx", "--recipe", "small-resnet-adamw", "--dataset", "synthetic",
                 "--runs-dir", str(tmp_path / "runs"), "--set", f"{field}={str(value).lower()}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and field in err, err
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_bench_frameworks_command(tmp_path, capsys):
    assert main(["bench", "frameworks", "--model", "small-resnet", "--epochs", "2", "--data.synthetic_train_size",
                 "256", "--data.synthetic_shape", "3,8,8", "--runs-dir", str(tmp_path)]) == 0
    (folder,) = tmp_path.glob("*bench-frameworks*")
    result = json.loads((folder / "bench.json").read_text())
    assert [r["framework"] for r in result["frameworks"]] == ["torch", "mlx"]
    assert all(r["images_per_second"] > 0 and 0 <= r["test_accuracy"] <= 1 for r in result["frameworks"])
    assert (folder / "frameworks.png").is_file() and "mlx" in capsys.readouterr().out
