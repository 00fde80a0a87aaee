"""Precision modes: autocast (bf16, fp16) and pure (bf16-pure, fp16-pure: weights, activations and
gradients in the low precision, BatchNorm in fp32, no loss scaling), and what `auto` picks."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cifarbench.api import train
from cifarbench.checkpoints import load_checkpoint
from cifarbench.devices import resolve_precision
from cifarbench.errors import ConfigError
from test_sync import airbench_tiny_config


def four_epochs(config):
    return dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=4),
                               data=dataclasses.replace(config.data, synthetic_train_size=512))


def test_bf16_pure_tracks_the_fp32_losses(tmp_path):
    """airbench's recipe on airbench-tiny: the per-epoch training losses of the pure bf16 run stay
    within 1% (relative) of the fp32 run's, and fall as they do."""
    fp32 = train(four_epochs(airbench_tiny_config(tmp_path, "fp32")), quiet=True)
    pure = train(four_epochs(airbench_tiny_config(tmp_path, "bf16-pure")), quiet=True)
    a = [h["train_loss"] for h in fp32.history]
    b = [h["train_loss"] for h in pure.history]
    assert all(abs(x - y) / x < 0.01 for x, y in zip(a, b)), (a, b)
    assert b[-1] < b[0] and a[-1] < a[0]
    assert pure.run_log["precision"] == "bf16-pure"


def test_pure_mode_keeps_weights_low_and_batchnorm_fp32(tmp_path):
    result = train(airbench_tiny_config(tmp_path, "bf16-pure"), quiet=True)
    weights = load_checkpoint(result.run.path)["model"]
    assert weights["groups.0.conv1.weight"].dtype == torch.bfloat16
    assert weights["head.weight"].dtype == torch.bfloat16
    assert weights["groups.0.norm1.bias"].dtype == torch.float32
    assert weights["groups.0.norm1.running_var"].dtype == torch.float32
    assert load_checkpoint(result.run.path)["scaler"] == {}  # no GradScaler: its state is empty when disabled


def test_auto_precision_per_device_and_recipe(monkeypatch):
    from cifarbench import devices

    cuda = torch.device("cuda")
    assert resolve_precision("auto", cuda, summed_loss=True).name == "fp16-pure"  # airbench's summed loss
    assert resolve_precision("auto", cuda, summed_loss=False).name == "fp16"  # mean loss: GradScaler
    assert resolve_precision("fp16", cuda).loss_scaling and not resolve_precision("fp16-pure", cuda).loss_scaling
    monkeypatch.setattr(devices, "cpu_supports_fast_bf16", lambda: False)
    assert resolve_precision("auto", torch.device("cpu"), summed_loss=True).name == "fp32"
    monkeypatch.setattr(devices, "cpu_supports_fast_bf16", lambda: True)
    assert resolve_precision("auto", torch.device("cpu")).name == "bf16"
    bf16_pure = resolve_precision("bf16-pure", torch.device("cpu"))
    assert bf16_pure.pure and bf16_pure.autocast is None and bf16_pure.inference_dtype() == torch.bfloat16
    for name in ("fp16", "fp16-pure"):
        with pytest.raises(ConfigError, match="not supported on cpu"):
            resolve_precision(name, torch.device("cpu"))
