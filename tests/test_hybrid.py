"""The hybrid predictive trainer: each mechanism does exactly what it claims, counted where it happens."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from cifarbench.api import train
from cifarbench.checkpoints import load_checkpoint
from cifarbench.config import HybridConfig, RunConfig
from cifarbench.data import prepare
from cifarbench.data.dataset import Split
from cifarbench.training import hybrid as hybrid_module
from cifarbench.training.hybrid import HybridPolicy, flat_parameters
from conftest import synthetic_config


def hybrid_config(tmp_path, epochs: int = 10, **knobs) -> RunConfig:
    """cnn-adam on synthetic data, 6 steps per epoch; short phases so a few epochs see them all."""
    config = synthetic_config(tmp_path, epochs=epochs, trainer="hybrid")
    settings = {"warmup": 6, "full": 6, "horizon": 12, "correct_every": 4, "monitor_every": 2, "detector_window": 2,
                **knobs}
    return dataclasses.replace(config, hybrid=HybridConfig(**settings))


def hybrid_log(result) -> dict:
    return result.run_log["hybrid"]


def test_presets_fill_the_knobs_and_overrides_win():
    c = HybridConfig("conservative").resolved()
    a = HybridConfig("aggressive", tau=0.7).resolved()
    assert (c["tau"], c["horizon"], c["correct_every"]) == (0.60, 50, 15)
    assert (a["tau"], a["horizon"], a["correct_every"]) == (0.7, 75, 10)


def test_one_predicted_step_adds_exactly_alpha_times_m(tmp_path):
    config = hybrid_config(tmp_path, epochs=1)
    captured = {}

    class Probe(HybridPolicy):
        def predicted_step(self, trainer, inputs, labels):
            if "before" not in captured:
                captured.update(before=flat_parameters(trainer.model), m=self.m.clone(), alpha=self.alpha)
                super().predicted_step(trainer, inputs, labels)
                captured["after"] = flat_parameters(trainer.model)
            else:
                super().predicted_step(trainer, inputs, labels)

    policy = Probe(dataclasses.replace(config.hybrid, warmup=2, full=2, tau=-1.0))
    _run_with_policy(config, policy)
    assert "after" in captured, "no step was predicted"
    expected = captured["before"] + captured["alpha"] * captured["m"]
    assert torch.equal(captured["after"], expected)
    assert captured["m"].abs().sum() > 0


def _run_with_policy(config: RunConfig, policy: HybridPolicy):
    """api.train with this policy object instead of the one the config would build."""
    original = hybrid_module.HybridPolicy
    hybrid_module.HybridPolicy = lambda _cfg: policy
    try:
        return train(config, quiet=True)
    finally:
        hybrid_module.HybridPolicy = original


def test_with_tau_above_one_the_hybrid_is_the_plain_trainer_bit_for_bit(tmp_path):
    plain = train(synthetic_config(tmp_path, epochs=4, seed=5), quiet=True)
    config = hybrid_config(tmp_path, epochs=4, tau=1.01)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=5))
    hybrid = train(config, quiet=True)
    assert hybrid_log(hybrid)["predicted_steps"] == 0
    assert [h["train_loss"] for h in hybrid.history] == [h["train_loss"] for h in plain.history]
    w1, w2 = load_checkpoint(plain.run.path)["model"], load_checkpoint(hybrid.run.path)["model"]
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_backward_calls_plus_predicted_steps_is_every_step(tmp_path):
    result = train(hybrid_config(tmp_path, tau=-1.0), quiet=True)  # tau -1: predict whenever allowed
    h = hybrid_log(result)
    assert h["predicted_steps"] > 0 and h["corrections"] > 0
    assert h["backward_calls"] + h["predicted_steps"] == result.run_log["steps"] == 60
    assert h["backward_calls"] == h["real_steps"]
    assert h["backward_reduction"] == pytest.approx(h["predicted_steps"] / 60)


def test_a_huge_alpha_is_detected_and_the_snapshot_restored_exactly(tmp_path):
    config = hybrid_config(tmp_path, tau=-1.0, alpha=1e4, backoff=1.0, monitor_every=1, detector_window=1)
    restored = []

    class Checked(HybridPolicy):
        def restore_snapshot(self, trainer):
            super().restore_snapshot(trainer)
            state = trainer.model.state_dict()
            restored.append(all(torch.equal(state[k], v) for k, v in self.snapshot["model"].items())
                            and torch.equal(self.m, self.snapshot["m"]))
            opt = trainer.optimizer.state_dict()["state"]
            snap = self.snapshot["optimizer"]["state"]
            restored[-1] &= all(torch.equal(opt[i][k], snap[i][k]) for i in snap for k in snap[i]
                                if isinstance(snap[i][k], torch.Tensor))

    policy = Checked(config.hybrid)
    result = _run_with_policy(config, policy)
    h = policy.summary()
    assert h["divergences"] >= 1 and restored and all(restored)
    weights = load_checkpoint(result.run.path)["model"]
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    assert result.run_log["status"] == "completed"


def test_a_frozen_predictor_changes_nothing_between_real_steps(tmp_path):
    """alpha = 0 (the `freeze` ablation): predicted steps leave the weights as they are."""
    config = hybrid_config(tmp_path, epochs=1, alpha=0.0, warmup=2, full=2, tau=-1.0)
    seen = []

    class Probe(HybridPolicy):
        def predicted_step(self, trainer, inputs, labels):
            before = flat_parameters(trainer.model)
            super().predicted_step(trainer, inputs, labels)
            seen.append(torch.equal(before, flat_parameters(trainer.model)))

    _run_with_policy(config, Probe(config.hybrid))
    assert seen and all(seen)


def test_passive_detector_counts_alarms_without_acting(tmp_path):
    plain = train(synthetic_config(tmp_path, epochs=6, seed=1), quiet=True)
    config = hybrid_config(tmp_path, epochs=6, passive=True, tau=-1.0)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=1))
    passive = train(config, quiet=True)
    h = hybrid_log(passive)
    assert h["predicted_steps"] == 0 and h["divergences"] == 0 and h["detector_windows"] > 0
    assert h["false_alarm_rate"] == h["detector_alarms"] / h["detector_windows"]
    assert [x["train_loss"] for x in passive.history] == [x["train_loss"] for x in plain.history]


def test_on_random_labels_both_trainers_stay_at_chance(tmp_path, monkeypatch):
    """Nothing to learn: loss near ln(10), accuracy near 10%, for the plain and the hybrid trainer."""
    real_load = prepare.load_dataset

    def random_labels(*args, **kwargs):
        ds = real_load(*args, **kwargs)
        g = torch.Generator().manual_seed(0)
        ds.train = Split(ds.train.images, torch.randint(0, 10, (len(ds.train),), generator=g))
        ds.test = Split(ds.test.images, torch.randint(0, 10, (len(ds.test),), generator=g))
        return ds

    monkeypatch.setattr(prepare, "load_dataset", random_labels)
    big = {"synthetic_train_size": 960, "synthetic_test_size": 960}
    for config in (synthetic_config(tmp_path, epochs=3), hybrid_config(tmp_path, epochs=3, tau=-1.0)):
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, **big),
                                     augment=dataclasses.replace(config.augment, flip="none", crop_padding=0))
        result = train(config, quiet=True)
        assert abs(result.metrics["loss"] - math.log(10)) < 0.15, result.metrics["loss"]
        assert abs(result.metrics["accuracy"] - 0.10) < 0.05, result.metrics["accuracy"]


def test_bad_hybrid_knobs_are_config_errors():
    from cifarbench.errors import ConfigError

    with pytest.raises(ConfigError, match="hybrid.preset 'reckless'"):
        HybridConfig("reckless")
    with pytest.raises(ConfigError, match="hybrid.warmup 0"):
        HybridConfig(warmup=0)


def test_a_hybrid_preset_on_the_command_line_selects_the_hybrid_trainer():
    from cifarbench.cli import build_parser
    from cifarbench.cli.options import config_layers

    asked = config_layers(build_parser().parse_args(["train", "--hybrid-preset", "aggressive"]))
    assert asked["train"]["trainer"] == "hybrid" and asked["hybrid"]["preset"] == "aggressive"
    plain = config_layers(build_parser().parse_args(["train", "--trainer", "plain", "--hybrid-preset", "aggressive"]))
    assert plain["train"]["trainer"] == "plain"
