"""Runs survive kills, signals, non-finite losses and out-of-memory, and say what happened.

The signal and kill -9 tests train in a real `cifarbench train` subprocess, then resume it
and compare with an uninterrupted run of the same config: on CPU with the same seed the
weights and the losses must be equal bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

import held_run
from cifarbench.api import resume, train
from cifarbench.checkpoints import load_checkpoint
from cifarbench.config import RunConfig
from cifarbench.contract.callbacks import Callback
from cifarbench.errors import CheckpointError, RunStopped, UserError
from cifarbench.runs import RunDir
from cifarbench.training.trainer import Trainer
from conftest import HANG_GUARD_SECONDS, synthetic_config

TIMING_KEYS = {"epoch_seconds", "images_per_second"}


def long_config(tmp_path, **train_overrides) -> RunConfig:
    """A few seconds of training on 2 cores (96 steps), long enough to be stopped part-way."""
    config = synthetic_config(tmp_path, epochs=3, checkpoint_every_steps=8, **train_overrides)
    return dataclasses.replace(config, data=dataclasses.replace(
        config.data, synthetic_train_size=1024, synthetic_shape=(3, 24, 24)))


def comparable(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k not in TIMING_KEYS} for h in history]


def assert_same_run(a: Path, b: Path) -> None:
    """Same history (timings aside) and bit-identical final weights."""
    ha, hb = (json.loads((p / "history.json").read_text()) for p in (a, b))
    assert comparable(ha) == comparable(hb)
    wa, wb = load_checkpoint(a)["model"], load_checkpoint(b)["model"]
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# ---------------------------------------------------------------- in-process: stop mid-epoch


class SignalAtStep(Callback):
    """Does what the signal handler does, at a chosen step."""

    def __init__(self, step: int, signum: int = signal.SIGTERM):
        self.step, self.signum = step, signum

    def on_batch_end(self, trainer, batch_index):
        if trainer.state.step == self.step:
            trainer.stop_signal = self.signum


def test_stop_mid_epoch_saves_and_resumes_bit_for_bit(tmp_path):
    whole = train(synthetic_config(tmp_path, seed=4), quiet=True)
    with pytest.raises(RunStopped) as stopped:
        train(synthetic_config(tmp_path, seed=4), quiet=True, callbacks=[SignalAtStep(9)])  # 6 steps per epoch
    assert stopped.value.exit_code == 143
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p != whole.run.path]
    assert f"--resume {run}" in str(stopped.value)
    run_log = json.loads((run / "run_log.json").read_text())
    assert run_log["status"] == "interrupted" and run_log["interrupted_by"] == "SIGTERM"
    ckpt = load_checkpoint(run)["trainer"]
    assert (ckpt["epoch"], ckpt["step"], ckpt["batch"]) == (1, 9, 3)  # mid-epoch 2
    resumed = resume(run, quiet=True)
    assert resumed.run_log["status"] == "completed"
    assert_same_run(whole.run.path, run)


def test_resume_with_lookahead_and_whitening_mid_epoch(tmp_path):
    """airbench's tricks keep state in callbacks (the lookahead EMA): it must survive too."""
    from cifarbench.resolve import resolve_config

    def config():
        return resolve_config("airbench94", {
            "data": {"dataset": "synthetic", "synthetic_train_size": 256, "synthetic_test_size": 64},
            "model": {"name": "airbench-tiny"},
            "train": {"epochs": 2.5, "batch_size": 64, "device": "cpu", "precision": "fp32", "plots": False,
                      "seed": 1}, "runs_dir": str(tmp_path / "runs")})

    whole = train(config(), quiet=True)
    with pytest.raises(RunStopped):
        train(config(), quiet=True, callbacks=[SignalAtStep(6, signal.SIGINT)])
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p != whole.run.path]
    resume(run, quiet=True)
    assert_same_run(whole.run.path, run)


def test_a_run_being_trained_cannot_be_resumed_twice(tmp_path):
    run = train(synthetic_config(tmp_path, epochs=1), quiet=True).run
    with RunDir(run.path).lock():
        with pytest.raises(UserError, match="being trained by another process"):
            resume(run.path, quiet=True)


# ---------------------------------------------------------------- non-finite losses and out of memory


class PoisonWeights(Callback):
    """Turns the weights into NaN after a chosen step, as a diverging run would."""

    def __init__(self, step: int):
        self.step = step

    def on_batch_end(self, trainer, batch_index):
        if trainer.state.step == self.step:
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))


class PoisonGradients(Callback):
    def __init__(self, steps: set[int]):
        self.steps = steps

    def on_after_backward(self, trainer):
        if trainer.state.step + 1 in self.steps:
            next(p for p in trainer.model.parameters() if p.grad is not None).grad.fill_(float("inf"))


def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(RunStopped, match=r"not finite at step 9 .*last good checkpoint is kept") as stopped:
        train(synthetic_config(tmp_path), quiet=True, callbacks=[PoisonWeights(8)])  # in epoch 2
    assert stopped.value.exit_code == 1
    (run,) = (tmp_path / "runs").iterdir()
    run_log = json.loads((run / "run_log.json").read_text())
    assert run_log["status"] == "failed" and "not finite at step 9" in run_log["failure"]
    assert run_log["nonfinite_steps"] >= 1
    ckpt = load_checkpoint(run)
    assert ckpt["trainer"]["epoch"] == 1  # the end of epoch 1, saved before the weights broke
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_nonfinite_steps_can_be_skipped_and_counted(tmp_path):
    plain = train(synthetic_config(tmp_path, seed=2), quiet=True)
    result = train(synthetic_config(tmp_path, seed=2, nonfinite="skip"), quiet=True,
                   callbacks=[PoisonGradients({2, 5, 11})])
    assert result.run_log["status"] == "completed"
    assert [h["skipped_steps"] for h in result.history] == [2, 3, 3]
    weights = load_checkpoint(result.run.path)["model"]
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    # skipped steps leave the weights alone: the run differs from the plain one, and is still learning
    assert result.history[-1]["train_loss"] != plain.history[-1]["train_loss"]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_out_of_memory_suggests_a_smaller_batch_and_marks_the_run_failed(tmp_path, monkeypatch):
    def out_of_memory(self, inputs, labels):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Trainer, "train_step", out_of_memory)
    with pytest.raises(RunStopped, match=r"ran out of memory at batch size 32; try a smaller --batch-size \(half: 16\)"):
        train(synthetic_config(tmp_path), quiet=True)
    (run,) = (tmp_path / "runs").iterdir()
    run_log = json.loads((run / "run_log.json").read_text())
    assert run_log["status"] == "failed" and run_log["failure"].startswith("out of memory")


# ---------------------------------------------------------------- checkpoints that carry code


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_checkpoint_carrying_pickled_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "model": {}, "payload": RunsCode()}, path)
    with pytest.raises(CheckpointError, match="refused: it holds pickled objects"):
        load_checkpoint(path)
    assert not (tmp_path / "PWNED").exists()


def test_eval_refuses_the_crafted_checkpoint_in_one_line(tmp_path, monkeypatch, capsys):
    from cifarbench.cli import main

    monkeypatch.chdir(tmp_path)
    torch.save({"format": 1, "model": {}, "payload": RunsCode()}, tmp_path / "evil.pt")
    assert main(["eval", str(tmp_path / "evil.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "evil.pt was refused" in err
    assert not (tmp_path / "PWNED").exists()


# ---------------------------------------------------------------- real processes: signals and kill -9


def start_training(tmp_path: Path, config: RunConfig, hold_at: int) -> tuple[subprocess.Popen, Path]:
    """`cifarbench train` in a subprocess, held after step `hold_at` (tests/held_run.py): the run
    is still under way when the test acts on it, however fast the machine is."""
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))
    cmd = [sys.executable, held_run.__file__, str(hold_at), str(tmp_path), "train", "--recipe", config.recipe,
           "--config", str(config_file), "--quiet", "--runs-dir", str(tmp_path / "killed")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, tmp_path / "killed"


def wait_for(proc: subprocess.Popen, found, what: str, timeout: float = HANG_GUARD_SECONDS):
    """found()'s first true value (progress, not a clock: the timeout is only a hang guard)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"training ended before {what}: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no {what} appeared")


def wait_for_checkpoint(proc: subprocess.Popen, runs: Path) -> Path:
    """The run directory once its first mid-training checkpoint exists."""
    last = wait_for(proc, lambda: list(runs.glob("*/checkpoints/last.pt")), "first checkpoint")
    return last[0].parent.parent


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("uninterrupted")
    return train(long_config(tmp), quiet=True).run.path


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_finishes_the_step_saves_and_exits_with_the_shell_code(tmp_path, uninterrupted, signum, code):
    proc, runs = start_training(tmp_path, long_config(tmp_path), hold_at=12)  # past the first checkpoint (8)
    wait_for(proc, (tmp_path / held_run.HELD).exists, "the held step")
    (run,) = runs.iterdir()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=HANG_GUARD_SECONDS)
    assert proc.returncode == code, err
    name = signal.Signals(signum).name
    assert f"interrupted by {name} after step 12" in err and f"cifarbench train --resume {run}" in err
    assert json.loads((run / "run_log.json").read_text())["status"] == "interrupted"
    assert load_checkpoint(run)["trainer"]["step"] == 12  # the step under way finished, then it was saved
    resumed = subprocess.run([sys.executable, "-m", "cifarbench", "train", "--resume", str(run), "--quiet"],
                             capture_output=True, text=True, timeout=HANG_GUARD_SECONDS)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "run_log.json").read_text())["status"] == "completed"
    assert_same_run(uninterrupted, run)


@pytest.mark.slow
def test_kill_9_then_resume_equals_the_uninterrupted_run(tmp_path, uninterrupted):
    # held near the end, so the run is alive when the kill comes; the kill itself lands wherever
    # the process is once the first checkpoint exists: mid-step or mid-write
    proc, runs = start_training(tmp_path, long_config(tmp_path), hold_at=90)
    run = wait_for_checkpoint(proc, runs)
    proc.kill()  # SIGKILL: no handler, no clean-up
    proc.communicate(timeout=HANG_GUARD_SECONDS)
    assert proc.returncode == -signal.SIGKILL
    assert json.loads((run / "run_log.json").read_text())["status"] == "running"  # nobody could say otherwise
    step_at_kill = load_checkpoint(run)["trainer"]["step"]
    assert 0 < step_at_kill <= 90
    resumed = resume(run, quiet=True)  # the dead process's lock went with it
    assert resumed.run_log["status"] == "completed"
    assert_same_run(uninterrupted, run)
