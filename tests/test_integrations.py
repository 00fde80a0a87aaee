"""The tools people already use: each logger read back with its own tool's reader, exports
loaded by their runtimes, and multi-run statistics spread over processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import threads_probe
from cifarbench import cli
from cifarbench.api import train
from cifarbench.eval.inference import load_model
from cifarbench.resolve import resolve_config
from conftest import FASHION_DIR, needs_extra, needs_fashion, torchrun


def tiny_config(tmp_path, loggers=("csv",), **train_values) -> object:
    return resolve_config("lenet-small-onecycle", {
        "data": {"dataset": "synthetic", "synthetic_shape": [3, 16, 16], "synthetic_train_size": 256,
                 "synthetic_test_size": 64},
        "train": {"epochs": 3, "batch_size": 32, "device": "cpu", "plots": False, "loggers": list(loggers),
                  **train_values},
        "runs_dir": str(tmp_path / "runs")})


# ---------------------------------------------------------------- loggers


def test_metrics_csv_has_a_row_per_epoch_and_the_final_evaluation(tmp_path):
    pd = pytest.importorskip("pandas")
    result = train(tiny_config(tmp_path), quiet=True)
    table = pd.read_csv(result.run.path / "metrics.csv")
    assert list(table.columns[:7]) == ["epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                       "lr"]
    epochs = table[table["test_accuracy"].isna()]
    assert epochs["epoch"].tolist() == [1, 2, 3]
    for row, record in zip(epochs.to_dict("records"), result.history):
        assert row["step"] == record["step"] and row["train_loss"] == pytest.approx(record["train_loss"])
        assert row["val_accuracy"] == pytest.approx(record["val_accuracy"])
    final = table[table["test_accuracy"].notna()].iloc[0]
    assert final["test_accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert final["step"] == result.history[-1]["step"]


def test_tensorboard_event_files_hold_each_epoch(tmp_path):
    needs_extra("tensorboard", "tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = train(tiny_config(tmp_path, ("tensorboard",)), quiet=True)
    events = EventAccumulator(str(result.run.path / "tensorboard"))
    events.Reload()
    losses = events.Scalars("train_loss")
    assert [e.step for e in losses] == [r["step"] for r in result.history]
    assert [e.value for e in losses] == pytest.approx([r["train_loss"] for r in result.history], rel=1e-6)
    (test,) = events.Scalars("test_accuracy")
    assert test.value == pytest.approx(result.metrics["accuracy"])
    assert not (result.run.path / "metrics.csv").exists()  # only the loggers asked for


def test_mlflow_gets_params_metrics_and_the_run_directory(tmp_path, monkeypatch):
    needs_extra("mlflow", "mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # so a stray ./mlruns would be seen below
    result = train(tiny_config(tmp_path, ("csv", "mlflow")), quiet=True)  # the default store: <runs-dir>/mlflow.db
    uri = f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("cifarbench").experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == result.run.path.name
    assert run.data.params["optim.lr"] == "0.05" and run.data.params["model.name"] == "lenet-small"
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2, 3]
    assert [m.value for m in history] == pytest.approx([r["val_accuracy"] for r in result.history])
    assert run.data.metrics["test_accuracy"] == pytest.approx(result.metrics["accuracy"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"run_log.json", "metrics.json", "config.yaml", "metrics.csv"} <= artifacts
    assert (tmp_path / "runs" / "mlartifacts").is_dir() and not (tmp_path / "mlruns").exists()


def wandb_records(path: Path) -> list:
    """The records of an offline run's .wandb file, parsed with wandb's own protobuf schema. The
    file is W&B's LevelDB-style log: a 7-byte header, then 32 KiB blocks of chunks, each with a
    CRC (4 bytes), a length (2) and a type (1: whole, 2: first, 3: middle, 4: last)."""
    import struct

    from wandb.proto import wandb_internal_pb2

    data, pos, pending, records = path.read_bytes(), 7, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        room = 32768 - pos % 32768
        if room < 7:  # a block's tail too short for a chunk header is padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0:
            pos += room
            continue
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def test_wandb_offline_run_holds_the_config_epochs_and_summary(tmp_path, monkeypatch):
    needs_extra("wandb", "wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    result = train(tiny_config(tmp_path, ("wandb",)), quiet=True)
    (log,) = (result.run.path / "wandb").glob("offline-run-*/run-*.wandb")
    records = wandb_records(log)
    kinds = [r.WhichOneof("record_type") for r in records]
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    def items(updates) -> dict:  # wandb names an item by `key`, or by `nested_key` parts
        return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in updates}

    config = items(run.config.update)
    assert config["optim.lr"] == 0.05 and config["model.name"] == "lenet-small"
    history = [items(r.history.item) for r in records if r.HasField("history")]
    assert [h["train_loss"] for h in history] == pytest.approx([r["train_loss"] for r in result.history])
    summary = {k: v for r in records if r.HasField("summary") for k, v in items(r.summary.update).items()}
    assert summary["test_accuracy"] == pytest.approx(result.metrics["accuracy"]) and summary["status"] == "completed"
    assert kinds[-1] == "exit" and records[-1].exit.exit_code == 0


@pytest.mark.parametrize("logger, extra", [("tensorboard", "tensorboard"), ("mlflow", "mlflow"), ("wandb", "wandb")])
def test_a_missing_logger_package_is_one_line_before_anything_is_written(tmp_path, capsys, monkeypatch, logger,
                                                                         extra):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == logger else real(name, *a))
    runs = tmp_path / "runs"
    code = cli.main(["train", "--recipe", "lenet-small-onecycle", "--dataset", "synthetic", "--epochs", "1",
                     "--logger", f"csv,{logger}", "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2 and f"pip install 'cifarbench[{extra}]'" in err and len(err.strip().splitlines()) == 1
    assert not runs.exists()


def test_unknown_logger_is_refused(tmp_path, capsys):
    assert cli.main(["train", "--dataset", "synthetic", "--logger", "csv,neptune", "--runs-dir",
                     str(tmp_path)]) == 2
    from cifarbench.loggers import LOGGERS

    err = capsys.readouterr().err
    assert f"output.loggers entry 'neptune' is not one of {', '.join(LOGGERS)} (or none)" in err


# ---------------------------------------------------------------- export


@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("real Fashion-MNIST is not installed")
    tmp = tmp_path_factory.mktemp("fashion-run")
    config = resolve_config("lenet-small-onecycle", {
        "data": {"dataset": "fashion-mnist", "train_subset": 3000, "test_subset": 500},
        "train": {"epochs": 1, "device": "cpu", "plots": False}, "runs_dir": str(tmp / "runs")})
    return train(config, quiet=True)


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    """A run on generated 1x28x28 images: the export checks that need no real data."""
    tmp = tmp_path_factory.mktemp("synthetic-run")
    config = resolve_config("lenet-small-onecycle", {
        "data": {"dataset": "synthetic", "synthetic_shape": [1, 28, 28], "synthetic_train_size": 512,
                 "synthetic_test_size": 128},
        "train": {"epochs": 1, "device": "cpu", "plots": False}, "runs_dir": str(tmp / "runs")})
    return train(config, quiet=True)


def test_safetensors_export_is_what_eval_and_predict_take(synthetic_run, tmp_path, capsys):
    from safetensors import safe_open

    out = tmp_path / "model.safetensors"
    assert cli.main(["export", str(synthetic_run.run.path), "--format", "safetensors", "-o", str(out)]) == 0
    with safe_open(str(out), framework="pt") as f:
        meta = json.loads(f.metadata()["cifarbench"])
    exported, original = load_model(out, "cpu"), load_model(synthetic_run.run.path, "cpu")
    assert meta["model_name"] == "lenet-small" and meta["data"]["classes"] == original.classes
    assert meta["data"]["shape"] == [1, 28, 28] and len(meta["data"]["mean"]) == 1
    mine, theirs = exported.model.state_dict(), original.model.state_dict()
    assert list(mine) == list(theirs) and mine  # the same tensors by name, and some
    for name in mine:
        assert torch.equal(mine[name], theirs[name]), name
    capsys.readouterr()
    assert cli.main(["eval", str(out), "--device", "cpu"]) == 0
    assert f"accuracy                        {synthetic_run.metrics['accuracy']:.4f}" in capsys.readouterr().out


@needs_fashion
def test_onnx_export_gives_pytorchs_logits_on_real_test_images(fashion_run, tmp_path):
    ort = needs_extra("onnx", "onnxruntime")
    needs_extra("onnx", "onnx")
    from cifarbench.data.store import load_dataset

    out = tmp_path / "model.onnx"
    assert cli.main(["export", str(fashion_run.run.path), "--format", "onnx", "-o", str(out)]) == 0
    test = load_dataset("fashion-mnist", download=False).test
    images = test.images[:64]
    loaded = load_model(fashion_run.run.path, "cpu")
    from cifarbench.eval.inference import normalised

    with torch.no_grad():
        expected = loaded.model(normalised(loaded, images)).numpy()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"pixels": (images.float() / 255).numpy()})
    assert logits.shape == (64, 10)
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
    assert (logits.argmax(1) == expected.argmax(1)).all()


def test_torchscript_export_runs_without_cifarbench(synthetic_run, tmp_path):
    out = tmp_path / "model.pt"
    assert cli.main(["export", str(synthetic_run.run.path), "--format", "torchscript", "-o", str(out)]) == 0
    pixels = torch.rand(5, 1, 28, 28)
    # cifarbench made unimportable in that interpreter: the file must not need any of its code
    code = ("import sys; sys.modules['cifarbench'] = None; import torch; m = torch.jit.load(sys.argv[1]); "
            "x = torch.load(sys.argv[2]); torch.save(m(x), sys.argv[3])\n"
            "try:\n    import cifarbench\nexcept ImportError:\n    pass\nelse:\n    sys.exit('cifarbench imported')")
    torch.save(pixels, tmp_path / "x.pt")
    subprocess.run([sys.executable, "-c", code, str(out), str(tmp_path / "x.pt"), str(tmp_path / "y.pt")], check=True,
                   cwd=tmp_path)
    loaded = load_model(synthetic_run.run.path, "cpu")
    mean, std = torch.tensor(loaded.mean).view(1, -1, 1, 1), torch.tensor(loaded.std).view(1, -1, 1, 1)
    with torch.no_grad():
        expected = loaded.model((pixels - mean) / std)
    torch.testing.assert_close(torch.load(tmp_path / "y.pt"), expected)


def test_export_refusals_are_one_line(synthetic_run, tmp_path, capsys):
    assert cli.main(["export", str(synthetic_run.run.path), "--format", "tflite", "-o", str(tmp_path / "m")]) == 2
    assert "--format 'tflite' is not one of safetensors, onnx, torchscript" in capsys.readouterr().err
    assert cli.main(["export", str(tmp_path / "missing"), "--format", "onnx"]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    assert cli.main(["eval", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "is not a readable safetensors file" in err and len(err.strip().splitlines()) == 1


def test_an_mlx_run_exports_through_its_pytorch_twin(tmp_path):
    needs_extra("mlx", "mlx.core")
    config = resolve_config("small-resnet-adamw", {
        "data": {"dataset": "synthetic", "synthetic_shape": [3, 8, 8], "synthetic_train_size": 64,
                 "synthetic_test_size": 32},
        "train": {"epochs": 1, "batch_size": 32, "framework": "mlx", "device": "cpu", "plots": False},
        "runs_dir": str(tmp_path / "runs")})
    result = train(config, quiet=True)
    out = tmp_path / "mlx.safetensors"
    assert cli.main(["export", str(result.run.path), "--format", "safetensors", "-o", str(out)]) == 0
    twin, exported = load_model(result.run.path, "cpu"), load_model(out, "cpu")
    mine, theirs = exported.model.state_dict(), twin.model.state_dict()
    assert list(mine) == list(theirs) and mine
    for name in mine:
        assert torch.equal(mine[name], theirs[name]), name
    # and apart from the conversion both use: the exported PyTorch net scores the test split as the
    # MLX net did at the run's end (its metrics.json), to float32 rounding
    from cifarbench.data.prepare import prepare_data
    from cifarbench.eval.inference import evaluate_loaded

    test = prepare_data(config, quiet=True).test
    again = evaluate_loaded(exported, test.images, test.labels)
    assert again["accuracy"] == result.metrics["accuracy"]
    assert again["loss"] == pytest.approx(result.metrics["loss"], rel=1e-4, abs=1e-5)


# ---------------------------------------------------------------- multi-run statistics


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


@pytest.mark.slow
def test_jobs_share_the_runs_and_give_each_seed_its_own_result(tmp_path, all_cores):
    from cifarbench.repeat import train_repeated

    # airbench-tiny: a net whose results differ in the last bits between 1 and 2 threads, so the
    # equality below needs the same threads per run whatever K
    config = resolve_config("airbench94", {
        "model": {"name": "airbench-tiny"},
        "data": {"dataset": "synthetic", "synthetic_shape": [1, 16, 16], "synthetic_train_size": 512,
                 "synthetic_test_size": 64},
        "train": {"epochs": 2, "batch_size": 64, "device": "cpu", "plots": False, "threads": 1},
        "runs_dir": str(tmp_path / "runs")})
    alone = train_repeated(config, 3, quiet=True)
    shared = train_repeated(config, 3, quiet=True, jobs=2)
    a, b = _summary(alone.folder), _summary(shared.folder)
    assert a["seeds"] == b["seeds"] == [0, 1, 2]
    assert a["test_accuracy"]["values"] == b["test_accuracy"]["values"]
    for x, y in zip(a["run_dirs"], b["run_dirs"]):  # the same losses, to the last bit
        hx = json.loads((alone.folder / x / "history.json").read_text())
        hy = json.loads((shared.folder / y / "history.json").read_text())
        assert [r["train_loss"] for r in hx] == [r["train_loss"] for r in hy]
    assert set(a) == set(b) and b["test_accuracy"]["n"] == 3
    assert len([p for p in shared.folder.iterdir() if p.is_dir()]) == 3


@pytest.mark.slow
def test_torchrun_processes_take_their_share_of_the_seeds(tmp_path, all_cores):
    runs = tmp_path / "runs"
    done = torchrun([threads_probe.__file__, "train", "--recipe", "lenet-small-onecycle", "--dataset", "synthetic",
                     "--set", "data.synthetic_shape=[3,16,16]", "--set", "data.synthetic_train_size=256", "--set",
                     "data.synthetic_test_size=64", "--epochs", "2", "--batch-size", "32", "--device", "cpu",
                     "--deterministic", "--no-plots", "--runs", "3", "--runs-dir", str(runs), "--quiet"],
                    env=threads_probe.reporting_into(tmp_path / "threads"))
    assert done.returncode == 0, done.stderr[-2000:]
    # each rank's process group really ended when its share of the runs did (rank 1, with one seed
    # of three, returns first): no Gloo thread left to abort the process at exit
    assert threads_probe.gloo_threads_left(tmp_path / "threads") == {0: [], 1: []}
    (folder,) = runs.iterdir()
    summary = _summary(folder)
    assert summary["seeds"] == [0, 1, 2] and summary["test_accuracy"]["n"] == 3
    assert done.stdout.count("seeded runs") == 1  # rank 0 alone reports
    for name in summary["run_dirs"]:
        log = json.loads((folder / name / "run_log.json").read_text())
        assert log["status"] == "completed" and log.get("world_size", 1) == 1  # independent runs, no DDP


def test_every_logger_name_the_config_accepts_has_a_logger():
    """Each name is a RunLogger of that name, and the extra it tells users to install exists."""
    from pathlib import Path

    import tomllib

    from cifarbench.cli.options import registry_names
    from cifarbench.loggers import LOGGERS, RunLogger

    assert registry_names("loggers") == tuple(LOGGERS) and "csv" in LOGGERS  # --help and the checks read it
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    extras = pyproject["project"]["optional-dependencies"]
    for name, cls in LOGGERS.items():
        assert issubclass(cls, RunLogger) and cls.name == name
        assert cls.package is None or cls.extra in extras, name


@pytest.mark.parametrize("args, message", [
    (["--jobs", "2"], "--jobs 2 shares out --runs N; with one run there is nothing to share"),
    (["--runs", "3", "--jobs", "5"], "--jobs 5 must be between 1 and the 3 runs"),
    (["--runs", "2", "--set", "hardware.threads=0"], "hardware.threads 0 must be a positive number of threads"),
])
def test_bad_multi_run_requests_are_one_line_exit_2(tmp_path, capsys, args, message):
    runs = tmp_path / "runs"
    assert cli.main(["train", "--dataset", "synthetic", "--epochs", "1", "--runs-dir", str(runs), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not runs.exists()


def test_a_seeded_run_of_many_takes_its_own_device_and_seed(tmp_path):
    """--runs N --jobs K on several GPUs gives each worker its own device: the seed goes to the trainer,
    the device to the hardware section, the rest of the config unchanged."""
    from cifarbench.repeat import seeded
    from cifarbench.resolve import resolve_config

    base = resolve_config("lenet-small-onecycle", {"hardware": {"threads": 1}})
    one = seeded(base, tmp_path, 3, device="cuda:1")
    assert (one.train.seed, one.hardware.device, one.hardware.threads) == (3, "cuda:1", 1)
    assert (one.runs_dir, one.name, one.train.epochs) == (str(tmp_path), "seed3", base.train.epochs)
    assert seeded(base, tmp_path, 4).hardware == base.hardware  # no device named: the config's own
