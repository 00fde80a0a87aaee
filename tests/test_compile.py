"""--compile: the warm-up that compiles runs before the clock and leaves no trace, and the next
run of the same structure reuses the compiled graphs with its own initial weights.

torch.compile's "eager" backend is used here: it captures the same graphs (so guards, shapes and
reuse are exercised) without inductor's C++ build, which takes minutes on two cores."""

from __future__ import annotations

import dataclasses

import pytest

from cifarbench.api import train
from cifarbench.repeat import train_repeated
from cifarbench.training import compiled
from conftest import synthetic_config
from test_sync import airbench_tiny_config


@pytest.fixture(autouse=True)
def eager_compile(monkeypatch):
    monkeypatch.setitem(compiled.COMPILE_OPTIONS, "backend", "eager")
    compiled._LAST.clear()
    yield
    compiled._LAST.clear()


def with_compile(config, seed=None):
    train_cfg = dataclasses.replace(config.train, **({} if seed is None else {"seed": seed}))
    return dataclasses.replace(config, train=train_cfg, hardware=dataclasses.replace(config.hardware, compile=True))


@pytest.mark.parametrize("make", [synthetic_config, lambda p: airbench_tiny_config(p, "fp32")],
                         ids=["cnn-dropout", "airbench-tiny-batchnorm"])
def test_the_warm_up_leaves_no_trace(tmp_path, make):
    """Same seed, compiled or not: the same losses and accuracy, so the warm-up took no optimizer
    step and gave back the BatchNorm statistics and the random state it used."""
    plain = train(make(tmp_path), quiet=True)
    built = train(with_compile(make(tmp_path)), quiet=True)
    assert [h["train_loss"] for h in built.history] == pytest.approx([h["train_loss"] for h in plain.history],
                                                                     rel=1e-5)
    assert built.metrics["accuracy"] == pytest.approx(plain.metrics["accuracy"], abs=1e-9)
    assert built.run_log["compile_seconds"] > 0 and built.run_log["compiled_model_reused"] is False
    assert "compile_seconds" not in plain.run_log


def test_runs_reuse_the_compiled_model_with_their_own_weights(tmp_path):
    config = with_compile(airbench_tiny_config(tmp_path, "fp32"))
    repeated = train_repeated(config, 2, quiet=True)
    first, second = repeated.runs
    assert first.run_log["compiled_model_reused"] is False and second.run_log["compiled_model_reused"] is True
    compiled._LAST.clear()  # a fresh process would compile for seed 1 from scratch
    alone = train(with_compile(airbench_tiny_config(tmp_path, "fp32"), seed=1), quiet=True)
    assert [h["train_loss"] for h in second.history] == pytest.approx([h["train_loss"] for h in alone.history],
                                                                      rel=1e-5)
    assert [h["train_loss"] for h in second.history] != pytest.approx([h["train_loss"] for h in first.history])


def test_another_structure_compiles_anew(tmp_path):
    train(with_compile(airbench_tiny_config(tmp_path, "fp32")), quiet=True)
    other = train(with_compile(synthetic_config(tmp_path)), quiet=True)
    assert other.run_log["compiled_model_reused"] is False


def test_the_warm_up_runs_every_training_size_progressive_resizing_will_use(tmp_path, monkeypatch):
    """Each size is a graph of its own: compiled in the warm-up, before the clock, not inside the loop."""
    from cifarbench.training import trainer as trainer_module

    seen = set()

    def recording(trainer):
        original = trainer.cast
        trainer.cast = lambda x: (seen.add(tuple(x.shape[-2:])), original(x))[1]
        try:
            return compiled.warm_up(trainer)
        finally:
            trainer.cast = original

    monkeypatch.setattr(trainer_module, "warm_up", recording)
    config = airbench_tiny_config(tmp_path, "fp32")
    config = dataclasses.replace(config, augment=dataclasses.replace(config.augment, progressive_from=10,
                                                                     progressive_epochs=2),
                                 train=dataclasses.replace(config.train, epochs=3))
    train(with_compile(config), quiet=True)
    assert seen == {(10, 10), (13, 13), (16, 16)}  # epochs 0, 1, 2 (evaluation: full size)
