"""The airbench recipes as recipes of the one loop: schedules, tricks, TTA, multi-run statistics."""

import math

import pytest
import torch

from cifarbench.api import resume, train
from cifarbench.eval.tta import tta_logits
from cifarbench.resolve import resolve_config
from cifarbench.training.pace import Progress
from cifarbench.training.tricks import FreezeWhiteningBias, Lookahead


def tiny_airbench(tmp_path, recipe="airbench94", **train_overrides):
    return resolve_config(recipe, {
        "data": {"dataset": "synthetic", "synthetic_shape": [1, 16, 16], "synthetic_train_size": 256,
                 "synthetic_test_size": 64},
        "train": {"batch_size": 64, "device": "cpu", "precision": "fp32", "epochs": 4, "plots": False,
                  **train_overrides},
        "runs_dir": str(tmp_path / "runs")})


class Recorder:
    """Records the lr and the whitening bias at every step (a callback)."""

    def __init__(self):
        self.lrs, self.bias, self.decays = [], [], []

    def __getattr__(self, name):  # every other hook: nothing
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def state_dict(self):
        return None

    def on_batch_end(self, trainer, batch_index):
        self.lrs.append(trainer.optimizer.param_groups[-1]["lr"])
        self.bias.append(trainer.model.whiten.bias.detach().clone())


def test_lookahead_decay_matches_the_reference_formula():
    la = Lookahead(every=5, base=0.95)
    total = 476  # ceil(48 batches * 9.9 epochs), CIFAR-10 at batch 1024
    for step in (5, 100, 240, 475):
        assert la.decay(step / total) == pytest.approx(0.95**5 * (step / total) ** 3)


def test_lookahead_update_moves_weights_to_the_ema():
    model = torch.nn.Linear(2, 1, bias=False)
    la = Lookahead()
    la.ema = {"weight": torch.zeros(1, 2)}
    with torch.no_grad():
        model.weight.fill_(1.0)
    la.update(model, decay=0.75)
    assert torch.allclose(model.weight, torch.full((1, 2), 0.25))  # 0 * 0.75 + 1 * 0.25
    assert torch.equal(la.ema["weight"], model.weight)


def test_airbench_recipe_runs_its_schedule_tricks_and_tta(tmp_path):
    config = tiny_airbench(tmp_path, epochs=3.5)
    rec = Recorder()
    result = train(config, quiet=True, callbacks=[rec])
    steps_per_epoch = 256 // 64  # drop_last
    total = math.ceil(3.5 * steps_per_epoch)
    assert len(rec.lrs) == total
    # the triangle, after `step` scheduler steps: 0.2 -> 1 over 23% of the run, then -> 0.07
    warm = int(total * 0.23)
    base = 11.5 / (1024 * (1 + 1 / (1 - 0.85)))  # decoupled lr per example
    for step in (1, warm, total - 1):
        frac = step / warm if step < warm else (step - warm) / (total - warm)
        factor = 0.2 * (1 - frac) + frac if step < warm else (1 - frac) + 0.07 * frac
        assert rec.lrs[step - 1] == pytest.approx(base * factor)
    # the whitening bias moves during the first 3 epochs, then is frozen
    after_three = 3 * steps_per_epoch
    assert not torch.equal(rec.bias[0], rec.bias[after_three - 1])
    assert all(torch.equal(rec.bias[after_three - 1], b) for b in rec.bias[after_three:-1])
    assert result.metrics["tta_level"] == 2
    assert result.run_log["final_eval_seconds"] > 0


def test_freeze_whitening_bias_toggles_requires_grad():
    from cifarbench.models import build_model

    model = build_model("airbench94", 10, 1, 28)
    progress = Progress(total=100)
    trainer = type("T", (), {"model": model, "steps_per_epoch": 10, "progress": progress})()
    cb = FreezeWhiteningBias(3)
    for _ in range(29):
        progress.advance()
    cb.on_batch_end(trainer, 8)
    assert model.whiten.bias.requires_grad  # step 30, the third epoch's last, still trains it
    progress.advance()
    cb.on_batch_end(trainer, 9)
    assert not model.whiten.bias.requires_grad
    # on the clock, the same share of the schedule: 30 of 100 planned steps, whatever steps it took
    paced = Progress(total=100, rates=[2.5])
    trainer.progress = paced
    for _ in range(11):
        paced.advance()
    cb.on_epoch_start(trainer, 1)
    assert paced.position == 27.5 and model.whiten.bias.requires_grad
    paced.advance()
    cb.on_batch_end(trainer, 2)
    assert not model.whiten.bias.requires_grad


def test_tta_level_2_averages_six_views():
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(x.clone())
            return x.mean(dim=(2, 3))  # (B, C): a linear function of the image

    x = torch.randn(2, 3, 8, 8)
    out = tta_logits(Probe(), x, 2)
    assert len(seen) == 6
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    views = [x, x.flip(-1), padded[..., :8, :8], padded[..., :8, :8].flip(-1), padded[..., 2:, 2:],
             padded[..., 2:, 2:].flip(-1)]
    assert all(any(torch.equal(v, s) for s in seen) for v in views)
    f = lambda v: v.mean(dim=(2, 3))  # noqa: E731
    expected = 0.5 * (0.5 * f(x) + 0.5 * f(x.flip(-1))) + 0.5 * 0.5 * (
        0.5 * f(views[2]) + 0.5 * f(views[3]) + 0.5 * f(views[4]) + 0.5 * f(views[5]))
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(tta_logits(Probe(), x, 1), 0.5 * f(x) + 0.5 * f(x.flip(-1)))


def test_selective_tta_gives_the_extra_views_only_to_the_least_confident_share():
    from cifarbench.eval.tta import tta_views, views_per_image

    class Probe(torch.nn.Module):
        """Logits from the image's mean and its top-left pixel: confident for images 0 and 2, a
        near tie for images 1 and 3, and changed by a shift, so the views change an image's logits."""
        def __init__(self):
            super().__init__()
            self.batches = []

        def forward(self, x):
            self.batches.append(len(x))
            m = x[:, 0].mean(dim=(1, 2)) + x[:, 0, 0, 0]
            return torch.stack([m, -m], 1)

    x = torch.zeros(4, 1, 4, 4)
    x[0] += 5.0
    x[2] -= 4.0
    x[1, 0, 0, 0], x[3, 0, 0, 0] = 0.01, -0.02
    full, given = tta_views(Probe(), x, 2)
    assert given == 4
    probe = Probe()
    selective, given = tta_views(probe, x, 2, share=0.5)
    assert given == 2 and probe.batches == [4, 2, 2, 2, 2, 2]  # the plain view of all, five more of two
    plain = Probe()(x)
    assert torch.equal(selective[[0, 2]], plain[[0, 2]])  # the confident images keep their plain logits
    assert torch.allclose(selective[[1, 3]], full[[1, 3]])  # the unsure ones get exactly the full TTA's
    assert not torch.allclose(full[[1, 3]], plain[[1, 3]])  # (which differs from their plain view)
    assert torch.equal(tta_views(Probe(), x, 2, share=1.0)[0], full)
    assert views_per_image(2, 0.5) == 3.5 and views_per_image(2) == 6 and views_per_image(0, 0.5) == 1


def test_lookahead_state_survives_resume(tmp_path):
    from cifarbench.contract.callbacks import Callback

    class StopAfter(Callback):
        def on_epoch_end(self, trainer, record):
            if record["epoch"] == 2:
                raise KeyboardInterrupt

    whole = train(tiny_airbench(tmp_path, seed=1), quiet=True)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_airbench(tmp_path, seed=1), quiet=True, callbacks=[StopAfter()])
    (cut,) = [p for p in (tmp_path / "runs").iterdir() if p != whole.run.path]
    resumed = resume(cut, quiet=True)
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in whole.history]
    assert resumed.metrics["accuracy"] == whole.metrics["accuracy"]


def test_repeated_runs_report_mean_std_and_ci(tmp_path):
    from cifarbench.repeat import train_repeated

    out = train_repeated(tiny_airbench(tmp_path, epochs=1), 3, quiet=True)
    acc = out.summary["test_accuracy"]
    values = [r.metrics["accuracy"] for r in out.runs]
    assert out.summary["seeds"] == [0, 1, 2] and acc["values"] == values
    assert acc["mean"] == pytest.approx(sum(values) / 3)
    half = 4.303 * acc["std"] / 3**0.5  # t(0.975, df=2)
    assert acc["ci95"] == pytest.approx([acc["mean"] - half, acc["mean"] + half])
    assert (out.folder / "summary.md").read_text().count("|") > 10
    assert len([p for p in out.folder.iterdir() if p.is_dir()]) == 3


@pytest.mark.slow
def test_compare_methods_writes_markdown_and_json(tmp_path):
    import json

    from cifarbench.bench.methods import compare_methods

    summary = compare_methods(("lenet-small-onecycle", "airbench94"), {
        "data": {"dataset": "synthetic", "synthetic_shape": [1, 16, 16], "synthetic_train_size": 600,
                 "synthetic_test_size": 200},
        "train": {"plots": False, "device": "cpu"}, "runs_dir": str(tmp_path)}, quick=True, quiet=True)
    table = json.loads((tmp_path / summary["folder"] / "comparison.json").read_text())
    assert [m["method"] for m in table["methods"]] == ["lenet-small-onecycle", "airbench94"]
    assert table["methods"][0]["speedup"] == pytest.approx(1.0)
    b = table["methods"][1]
    assert b["speedup"] == pytest.approx(table["methods"][0]["timed_seconds"] / b["timed_seconds"])
    assert "| airbench94 |" in (tmp_path / summary["folder"] / "comparison.md").read_text()
