"""Every command the guides show (docs/guides/*.md, the ```bash blocks) still works: each is parsed
by the real parser and its config resolved against the registries (a renamed flag, recipe, model
or dataset fails here), and each is run, as written, on small data: only options that shrink it, or
say where its data is, are appended (argparse keeps the last value: the guide's `--runs 400` runs
as `--runs 2`). A guide's example that no longer runs fails here.

What the runs are, where they differ from the guide's by more than their size, and why:

- Data: the first 32 training and 16 test images, 2 steps of 16, 1 epoch (2 images where MLX trains:
  its CPU backend trains a CIFAR-sized net at a few images a second), of the real Fashion-MNIST
  (skipped, saying so, where it is not installed) or of a CIFAR-10 written here in the publisher's
  exact format (conftest.make_cifar10_tar: CIFAR cannot be downloaded here); your own images are the
  workplace's 12, in batches of 8. --runs 2, tune --trials 2 (with room in the data for the space's
  largest batch), ablate --seeds 1.
- `plan` reads the package's Fashion-MNIST frontier as it is (nothing trains). `train --budget-s` /
  `--target` read it with its accuracies kept and each point's images an epoch shrunk so that the
  longest schedule is one epoch of the 32 images (`--frontier`): the planner matches images seen, not
  epochs, so a subset alone would train as long as the whole split (minutes). The plan is made as on
  the whole data (the package's accuracies, a calibration of this machine) and its schedule trained
  small. A budget becomes 900 s: what fits in 60 s depends on the CPU (a slow or busy one refuses it,
  rightly), and the small run fits any CPU in 900.
- torchrun: Gloo processes on this CPU (`--device cpu`) where the guide has GPUs: 2 for one machine; the
  two-machine form as 2 launchers on this host (--nnodes=2, one process each) meeting at a c10d
  rendezvous on 127.0.0.1 and a free port; the SLURM script as srun runs it with --ntasks-per-node=1
  on its 2 nodes: its torchrun line once per node, $SLURM_NNODES 2, $SLURM_JOB_ID a job number and the
  head node this host. The DDP runs are checked to have trained as one job of 2 processes.
- `runs/<...>` is a finished run made here (a second name in one command: a copy of it); the run
  `--resume` continues is one stopped mid-epoch as Ctrl-C stops it; mlx.md's is an MLX run.
- `--device cuda` needs a CUDA GPU: skipped as hardware where there is none."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from cifarbench import cli
from cifarbench.api import train
from cifarbench.cli.commands import COMMANDS, asked_command
from cifarbench.cli.options import config_layers
from cifarbench.contract.callbacks import Callback
from cifarbench.data.registry import get_spec
from cifarbench.data.store import load_dataset
from cifarbench.errors import RunStopped
from cifarbench.planner.frontier import frontier_path
from cifarbench.resolve import resolve_config
from cifarbench.search.tune import DEFAULT_VAL_SPLIT
from conftest import FASHION_DIR, HANG_GUARD_SECONDS, HARDWARE, make_cifar10_tar, needs_extra, spec_for_files

ROOT = Path(__file__).resolve().parents[1]
RUN = "RUN_DIR"  # `runs/<that run>` is read as RUN_DIR<that_run>: a run the test makes (runs_for)
PLACEHOLDER = re.compile(RUN + r"<([^>]*)>")


def guide_commands() -> list[tuple[str, list[str], list[str]]]:
    """(page:line, launcher, argv after `cifarbench`) for every command in a bash block; the launcher
    is what comes before `-m cifarbench` (torchrun and its options, srun), [] for `cifarbench ...`."""
    found = []
    for page in sorted((ROOT / "docs" / "guides").glob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        inside, pending, start = False, "", 0
        for number, line in enumerate(lines, 1):
            if line.startswith("```"):
                inside = line.strip() in ("```bash", "```sh")
                continue
            if not inside:
                continue
            if not pending:
                start = number
            pending += line.rstrip("\\").rstrip() + " "
            if line.endswith("\\"):
                continue
            text = re.sub(r"runs/<([^>]+)>", lambda m: f"{RUN}<{m.group(1).replace(' ', '_')}>", pending)
            pending = ""
            words = shlex.split(text, comments=True)
            if "cifarbench" not in words or (words[0] != "cifarbench" and "-m" not in words):
                continue  # pip install, shell lines
            at = words.index("cifarbench")
            launcher = [w for w in words[:at] if w != "-m"]
            found.append((f"{page.name}:{start}", launcher, words[at + 1:]))
    return found


COMMANDS_SHOWN = guide_commands()
IDS = [where for where, _, _ in COMMANDS_SHOWN]


def slow(launcher: list[str], argv: list[str]) -> bool:
    """Processes of their own (torchrun, --jobs), many runs (ablate's rows, tune's trials), or MLX's
    CPU backend: more than a few seconds (`-m "not slow"` leaves them out of a quick loop)."""
    return bool(launcher) or "--jobs" in argv or argv[0] in ("tune", "ablate") or "mlx" in argv


def test_every_guide_shows_its_commands():
    pages = {where.split(":")[0] for where in IDS}
    assert pages == {page.name for page in (ROOT / "docs" / "guides").glob("*.md")}
    assert len(COMMANDS_SHOWN) >= 30


# a run made for `runs/<...>`: lenet-small on synthetic images, 8 steps
RUN_OPTIONS = ["--dataset", "synthetic", "--model", "lenet-small", "--set", "data.synthetic_train_size=64", "--set",
               "data.synthetic_test_size=32", "--epochs", "1", "--batch-size", "8", "--no-plots", "--quiet",
               "--device", "cpu"]


@pytest.fixture(scope="module")
def guide_data(tmp_path_factory):
    """The data folder of the guides' runs ($CIFARBENCH_DATA): a CIFAR-10 of 70 training and 32 test
    images in the publisher's format, parsed into the cache that every later load reads. Real
    Fashion-MNIST is found in its system folder and parsed into it too, once; so is the planner's
    calibration."""
    data_dir = tmp_path_factory.mktemp("guide-data")
    (data_dir / "cifar10").mkdir()
    archive = make_cifar10_tar(data_dir / "cifar10", per_batch=14, test=32)
    spec = spec_for_files(get_spec("cifar10"), archive, data_dir / "cifar10" / "staging" / "cifar-10-batches-py")
    load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    return data_dir


@pytest.fixture
def workplace(tmp_path, monkeypatch, guide_data):
    """A folder laid out as the guides' examples assume, as the current folder, with HOME in it:
    ~/data/sprites (class folders), cells/labels.csv, sensors.npz, and a finished run (returned)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CIFARBENCH_DATA", str(guide_data))
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "data" / "sprites" / cls).mkdir(parents=True)
        (tmp_path / "cells" / cls).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / "sprites" / cls / f"{i}.png")
            Image.fromarray(pixels).save(tmp_path / "cells" / cls / f"{i}.png")
    rows = [f"{cls}/{i}.png,{cls}" for cls in ("a", "b") for i in range(6)]
    (tmp_path / "cells" / "labels.csv").write_text("file,kind\n" + "\n".join(rows) + "\n")
    images = rng.integers(0, 256, (12, 16, 16), dtype=np.uint8)
    labels = np.arange(12) % 2
    np.savez(tmp_path / "sensors.npz", train_images=images, train_labels=labels, test_images=images[:4],
             test_labels=labels[:4])
    assert cli.main(["train", *RUN_OPTIONS, "--runs-dir", str(tmp_path / "runs"), "--name", "guide"]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert cli.main(["export", str(run), "--format", "safetensors"]) == 0  # what the guide's eval reads
    return run


@pytest.mark.parametrize("where, launcher, argv", COMMANDS_SHOWN, ids=IDS)
def test_every_guide_command_parses_and_resolves(where, launcher, argv, workplace, capsys):
    argv = [PLACEHOLDER.sub(str(workplace), a) for a in argv]
    words = asked_command(argv)
    assert words, f"{where}: `cifarbench {shlex.join(argv)}` names no command"
    args = cli.build_parser(words).parse_args(argv)  # a usage error exits here, naming the option
    resolved(words, args)  # names checked against the registries, values against the schema


def resolved(words: tuple[str, ...], args):
    """The config a command's options resolve to; None for a command that takes none."""
    if not COMMANDS[" ".join(words)].config or words[0] in ("eval", "export"):
        return None
    layers = config_layers(args)
    if words[0] in ("tune", "ablate", "frontier"):  # their recipe and dataset are the base of every run
        layers.pop("runs_dir", None)
    return resolve_config(None, layers)


# ---------------------------------------------------------------- running them

SUBSET = 32  # training images: 2 steps of 16
SMALL_DATA = ["--train-subset", str(SUBSET), "--test-subset", "16", "--batch-size", "16", "--set",
              "train.eval_batch_size=16"]
OWN_DATA = ["--batch-size", "8", "--set", "train.eval_batch_size=16"]  # the workplace's 12 images
MLX_DATA = ["--train-subset", "2", "--test-subset", "2", "--batch-size", "2", "--set", "train.eval_batch_size=2"]
LOGGER_MODULES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}  # the extra a logger needs


def config_of(argv: list[str]):
    """The resolved config a training command asks for (None for a command without one)."""
    words = asked_command(argv)
    if "--resume" in argv:
        return None
    return resolved(words, cli.build_parser(words).parse_args(argv))


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def small_frontier(folder: Path, dataset: str) -> Path:
    """The package's frontier for `dataset`, each point's images an epoch shrunk so that its longest
    schedule is one epoch of SUBSET images: the same accuracies, so the same choice, trained small."""
    frontier = json.loads(frontier_path(dataset).read_text())
    longest = max(p["epochs"] for p in frontier["points"])
    for point in frontier["points"]:
        point["train_images"] = point["test_train_images"] = SUBSET / longest
    path = folder / f"{dataset}-small-frontier.json"
    path.write_text(json.dumps(frontier))
    return path


def appended(argv: list[str], folder: Path) -> list[str]:
    """What a guide's command is run with, after its own options: the size, the device, the quiet."""
    command = argv[0]
    config = config_of(argv)
    if config is None:
        return ["--quiet"] if "--resume" in argv else []  # a resumed run keeps its own config
    dataset = config.data.dataset
    if dataset.split(":")[0] in ("folder", "csv", "npz"):
        extra = [*OWN_DATA]
    else:
        extra = [*(MLX_DATA if config.train.framework == "mlx" else SMALL_DATA)]
    extra += ["--no-plots"] + ([] if "--device" in argv else ["--device", "cpu"])
    extra += [] if command == "plan" else ["--quiet"]
    planned = command in ("plan", "train") and ("--budget-s" in argv or "--target" in argv)
    if not planned:
        extra += ["--epochs", "1"]  # a plan chooses the epochs (and refuses them given)
    elif command == "train":
        extra += ["--frontier", str(small_frontier(folder, dataset))]
    if planned and "--budget-s" in argv:
        extra += ["--budget-s", "900"]
    if "--runs" in argv:
        extra += ["--runs", "2"]
    if command == "tune":  # trials train on the subset less its validation part, in the space's batches
        space = yaml.safe_load(Path(option(argv, "--space")).read_text())
        largest = max(space.get("train.batch_size", {}).get("choices", [64]))
        extra += ["--trials", "2", "--train-subset", str(math.ceil(largest / (1 - DEFAULT_VAL_SPLIT)))]
    if command == "ablate":
        extra += ["--seeds", "1"]
    return extra


def skip_what_is_missing(argv: list[str]) -> None:
    """A GPU path without the GPU, MLX or the real Fashion-MNIST not installed: skipped, saying which."""
    device = option(argv, "--device") or ""
    if device.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip(HARDWARE + f"`--device {device}` needs a CUDA GPU; this machine has none")
    config = config_of(argv)
    if config is not None and config.train.framework == "mlx":
        needs_extra("mlx", "mlx.core")
    if argv[0] == "tune":
        needs_extra("tune", "optuna")
    if argv[0] == "export" and option(argv, "--format") == "onnx":
        needs_extra("onnx", "onnx")
    for logger in (config.output.loggers if config is not None else ()):
        if logger in LOGGER_MODULES:
            needs_extra(logger, LOGGER_MODULES[logger])
    if config is not None and config.data.dataset == "fashion-mnist":
        if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
            pytest.skip("real Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist; CI installs it)")


class StopAtStep(Callback):
    """What Ctrl-C does, at step 3 of 8: the step ends, a checkpoint is saved mid-epoch, the run stops."""

    def on_batch_end(self, trainer, batch_index):
        if trainer.state.step == 3:
            trainer.stop_signal = signal.SIGINT


def runs_for(argv: list[str], page: str, workplace: Path) -> list[str]:
    """argv with each `runs/<name>` made a run: the workplace's, then copies of it for other names; the
    one `--resume` continues, stopped mid-epoch; on mlx.md, an MLX run."""
    made: dict[str, Path] = {}
    for name in dict.fromkeys(m for a in argv for m in PLACEHOLDER.findall(a)):
        if "--resume" in argv:
            layers = config_layers(cli.build_parser(("train",)).parse_args(["train", *RUN_OPTIONS]))
            with pytest.raises(RunStopped):
                train(resolve_config(None, layers, {"name": "stopped"}), quiet=True, callbacks=[StopAtStep()])
            (made[name],) = workplace.parent.glob("*-stopped-*")
        elif page == "mlx.md":
            needs_extra("mlx", "mlx.core")
            assert cli.main(["train", "--framework", "mlx", *RUN_OPTIONS, "--model", "small-resnet", "--set",
                             "data.synthetic_shape=[3,8,8]", "--name", "mlx"]) == 0
            (made[name],) = workplace.parent.glob("*-mlx-*")
        elif not made:
            made[name] = workplace
        else:
            made[name] = workplace.with_name(f"{workplace.name}-{len(made)}")
            shutil.copytree(workplace, made[name])
    return [PLACEHOLDER.sub(lambda m: str(made[m.group(1)]), a) for a in argv]


@pytest.mark.parametrize("where, launcher, argv", [
    pytest.param(*c, id=c[0], marks=[pytest.mark.slow] if slow(c[1], c[2]) else []) for c in COMMANDS_SHOWN])
def test_every_guide_command_runs(where, launcher, argv, workplace, request, capsys):
    skip_what_is_missing(argv)
    argv = runs_for(argv, where.split(":")[0], workplace)
    # a path into the repository (the guide's commands run from its root)
    argv = [str(ROOT / a) if a.startswith("benchmarks/") else a for a in argv]
    argv += appended(argv, workplace.parent.parent)
    if launcher or "--jobs" in argv:
        request.getfixturevalue("all_cores")  # its processes share both cores, as they would alone
    if launcher:
        run_launched(where, launcher, argv, workplace.parent)
        return
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, f"{where}: cifarbench {shlex.join(argv)}\n{err[-2000:]}"
    if argv[0] == "tune":  # trials were run, not only refused
        assert "no trial completed" not in out, out[-2000:]
    if "--resume" in argv:  # the stopped run went on to its end
        assert json.loads((Path(option(argv, "--resume")) / "run_log.json").read_text())["status"] == "completed"


# ---------------------------------------------------------------- torchrun, srun

SLURM = {"$SLURM_NNODES": "2", "$SLURM_JOB_ID": "4242"}  # the script's --nodes=2; any job number


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_lines(launcher: list[str]) -> list[list[str]]:
    """The torchrun command lines this host starts for a guide's launcher, one per node: its options
    kept, but --nproc_per_node (2 processes on one node, 1 per node on several) and the rendezvous
    endpoint (127.0.0.1, a free port)."""
    words = [re.sub(r"\$\w+", lambda m: SLURM.get(m.group(0), m.group(0)), w) for w in launcher]
    if words[0] == "srun":  # one task per node (--ntasks-per-node=1): the torchrun line on each
        words = words[1:]
    assert words[0] == "torchrun", words
    options: dict[str, list] = {}  # by name, as torchrun reads it: --rdzv-endpoint is --rdzv_endpoint
    for word in words[1:]:
        if word.startswith("--"):
            spelt, _, value = word.partition("=")
            last = spelt.replace("-", "_")
            options[last] = [spelt, value or None]
        else:  # `--nnodes 2`: the value of the option before
            options[last][1] = word
    nodes = int(options.get("__nnodes", [None, 1])[1])
    options["__nproc_per_node"][1] = "2" if nodes == 1 else "1"
    if "__rdzv_endpoint" in options:
        options["__rdzv_endpoint"][1] = f"127.0.0.1:{free_port()}"
    line = [spelt if value is None else f"{spelt}={value}" for spelt, value in options.values()]
    return [[sys.executable, "-m", "torch.distributed.run", *line]] * nodes


def run_launched(where: str, launcher: list[str], argv: list[str], runs: Path) -> None:
    """Each node's torchrun as a process of its own, all at once; every one must end with 0. A DDP run
    (no --runs) must be one job over all the processes. A node that fails ends the others (they would
    wait for it at the rendezvous); the hang guard ends a job that hangs, not a slow one."""
    lines = torchrun_lines(launcher)
    logs = [runs.parent / f"node{node}.log" for node in range(len(lines))]
    procs = []
    for line, log in zip(lines, logs):
        with log.open("w") as out:
            procs.append(subprocess.Popen([*line, "-m", "cifarbench", *argv], stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True))
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    try:
        while any(p.poll() is None for p in procs) and not any(p.returncode for p in procs):
            assert time.monotonic() < deadline, f"{where}: torchrun did not finish in {HANG_GUARD_SECONDS} s"
            time.sleep(0.1)
    finally:  # SIGTERM: torchrun stops its workers (each in a session of its own) before it exits
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    failed = [f"node {node} (exit {proc.returncode}): {shlex.join(proc.args)}\n{log.read_text()[-3000:]}"
              for node, (proc, log) in enumerate(zip(procs, logs)) if proc.returncode]
    assert not failed, f"{where}:\n" + "\n".join(failed)
    if "--runs" not in argv:
        sizes = [json.loads(p.read_text()).get("world_size") for p in runs.glob("*/run_log.json")]
        assert 2 in sizes, f"{where}: no run trained as one job of 2 processes: {sizes}"
