"""DDP with 2 Gloo processes on this CPU, started by torchrun (python -m torch.distributed.run).

Tolerance: the 2-process run averages two half-batch gradients where one process sums the whole
batch at once; the float32 results differ in summation order only, so after 12 SGD steps the
weights agree to 1e-5 (absolute) and the losses to 1e-5 (relative). LeNet has no BatchNorm (whose
statistics DDP keeps per rank) and no dropout, so nothing else differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import threads_probe
from cifarbench.api import train
from cifarbench.checkpoints import load_checkpoint
from cifarbench.config import RunConfig
from cifarbench.data.prepare import local_batch_size
from cifarbench.errors import ConfigError, RunStopped
from cifarbench.resolve import resolve_config
from conftest import torchrun
from test_reliability import SignalAtStep

ATOL = 1e-5


def ddp_config(runs_dir: Path, epochs: float = 1.5, **train) -> RunConfig:
    """lenet-small, 8 global batches of 64 per epoch, with flips and crops (drawn per image)."""
    return resolve_config("lenet-small-onecycle", {
        "data": {"dataset": "synthetic", "synthetic_shape": [3, 32, 32], "synthetic_train_size": 512,
                 "synthetic_test_size": 128},
        "augment": {"flip": "random", "crop_padding": 2},
        "train": {"epochs": epochs, "batch_size": 64, "device": "cpu", "precision": "fp32", "plots": False,
                  "seed": 3, **train},
        "runs_dir": str(runs_dir)})


def config_file(tmp_path: Path, config: RunConfig) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    return str(path)


def assert_close_runs(one: Path, two: Path) -> None:
    w1, w2 = load_checkpoint(one)["model"], load_checkpoint(two)["model"]
    for key in w1:
        torch.testing.assert_close(w2[key], w1[key], atol=ATOL, rtol=0)
    h1, h2 = (json.loads((p / "history.json").read_text()) for p in (one, two))
    assert [h["step"] for h in h1] == [h["step"] for h in h2]
    assert [h["train_loss"] for h in h2] == pytest.approx([h["train_loss"] for h in h1], rel=1e-5)
    assert [h["train_accuracy"] for h in h2] == pytest.approx([h["train_accuracy"] for h in h1], abs=1e-9)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("single")
    return train(ddp_config(tmp / "runs"), quiet=True).run.path


@pytest.mark.slow
def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path, single):
    done = torchrun([threads_probe.__file__, "train", "--recipe", "lenet-small-onecycle",
                     "--config", config_file(tmp_path, ddp_config(tmp_path / "runs")), "--quiet"],
                    env=threads_probe.reporting_into(tmp_path / "threads"))
    assert done.returncode == 0, done.stderr[-2000:]
    # the process group really ended when the run did: no Gloo thread left to abort the exit
    assert threads_probe.gloo_threads_left(tmp_path / "threads") == {0: [], 1: []}
    (run,) = (tmp_path / "runs").iterdir()
    log = json.loads((run / "run_log.json").read_text())
    assert log["status"] == "completed" and log["world_size"] == 2
    assert [r["rank"] for r in log["ranks"]] == [0, 1] and all(r["device"] == "cpu" for r in log["ranks"])
    assert log["threads"] >= 1
    assert_close_runs(single, run)
    # only rank 0 wrote: one run directory, one line per epoch in the log
    assert len((run / "log.jsonl").read_text().splitlines()) == 2
    assert "test accuracy" in done.stdout and done.stdout.count("test accuracy") == 1


@pytest.mark.slow
def test_a_checkpoint_resumes_with_another_world_size(tmp_path, single):
    with pytest.raises(RunStopped):
        train(ddp_config(tmp_path / "runs"), quiet=True, callbacks=[SignalAtStep(5)])  # 1 process, mid-epoch
    (run,) = (tmp_path / "runs").iterdir()
    done = torchrun(["-m", "cifarbench", "train", "--resume", str(run), "--quiet"])
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads((run / "run_log.json").read_text())
    assert log["status"] == "completed" and log["world_size"] == 2
    assert_close_runs(single, run)


DIES = """
import os, sys
from cifarbench.contract.callbacks import Callback
from cifarbench.resolve import resolve_config
from cifarbench.api import train

class RankOneDies(Callback):
    def on_batch_end(self, trainer, batch_index):
        if trainer.dist.rank == 1 and trainer.state.step == 3:
            os._exit(17)  # as abruptly as an OOM kill

config = resolve_config(None, {"data": {"dataset": "synthetic", "synthetic_train_size": 2048},
                               "model": {"name": "lenet-small"}, "runs_dir": sys.argv[1],
                               "train": {"epochs": 5, "device": "cpu", "plots": False, "dist_timeout": 3600}})
train(config, quiet=True, callbacks=[RankOneDies()])
"""


@pytest.mark.slow
def test_a_rank_that_dies_fails_the_whole_run_quickly_and_says_so(tmp_path):
    script = tmp_path / "dies.py"
    script.write_text(DIES)
    # the collective timeout is an hour: a run that ends at all (within the hang guard) was failed by
    # the lost connection to its peer, not by waiting out the timeout
    done = torchrun([str(script), str(tmp_path / "runs")])
    assert done.returncode != 0
    assert "exitcode  : 17" in done.stderr
    (run,) = (tmp_path / "runs").iterdir()
    log = json.loads((run / "run_log.json").read_text())
    assert log["status"] == "failed" and "lost its peers" in log["failure"]


def test_the_global_batch_must_split_evenly():
    assert local_batch_size(512, 4) == 128
    with pytest.raises(ConfigError, match="batch_size 100 .* divisible by the 3 processes"):
        local_batch_size(100, 3)


@pytest.mark.slow
def test_bench_scaling_command(tmp_path, capsys):
    from cifarbench.cli import main

    assert main(["bench", "scaling", "--nproc", "1,2", "--epochs", "0.5", "--set", "data.synthetic_train_size=512",
                 "--set", "data.synthetic_test_size=128", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (folder,) = tmp_path.glob("*bench-scaling*")
    result = json.loads((folder / "bench.json").read_text())
    rows = result["scaling"]
    assert [r["nproc"] for r in rows] == [1, 2] and [r["world_size"] for r in rows] == [1, 2]
    assert rows[0]["speedup"] == 1.0
    assert rows[1]["speedup"] == pytest.approx(rows[0]["train_seconds"]["median"] / rows[1]["train_seconds"]["median"])
    assert rows[1]["efficiency"] == pytest.approx(rows[1]["speedup"] / 2)
    assert (folder / "scaling.png").is_file() and "efficiency" in out


@pytest.mark.parametrize("value", ["0", "1,x", "", "-2"])
def test_bench_scaling_rejects_bad_process_counts(capsys, value):
    from cifarbench.cli import main

    assert main(["bench", "scaling", f"--nproc={value}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--nproc" in err
