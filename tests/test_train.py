import json

import pytest
import torch
import yaml

from cifarbench.api import resume, train
from cifarbench.checkpoints import load_checkpoint
from cifarbench.contract.callbacks import Callback
from cifarbench.data.prepare import prepare_data
from cifarbench.resolve import resolve_config
from conftest import needs_fashion, synthetic_config


class StopAfter(Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epochs:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C after the checkpoint was written


def test_run_directory_is_complete(tmp_path):
    result = train(synthetic_config(tmp_path, epochs=8, plots=True), quiet=True, argv=["cifarbench", "train"])
    files = {p.relative_to(result.run.path).as_posix() for p in result.run.path.rglob("*") if p.is_file()}
    pictures = {f"{name}.{ext}" for name in ("curves", "per_class_accuracy", "confusion", "confusion_normalized")
                for ext in ("png", "svg")}
    assert files == {"config.yaml", "run_log.json", "history.json", "metrics.json", "classification_report.txt",
                     "log.jsonl", "metrics.csv", "checkpoints/last.pt", ".lock", *pictures}
    run_log = json.loads((result.run.path / "run_log.json").read_text())
    for key in ("os", "cpu_model", "cpu_cores", "ram_bytes", "python", "torch", "numpy", "device", "precision",
                "seed", "cifarbench", "command", "start_time", "end_time", "train_seconds", "parameters",
                "test_accuracy", "per_class_accuracy"):
        assert key in run_log, key
    assert run_log["status"] == "completed" and run_log["device"] == "cpu" and run_log["precision"] == "fp32"
    assert run_log["validation_split"] == "test (used as validation)"
    assert run_log["parameters"] > 0 and run_log["train_seconds"] > 0
    history = json.loads((result.run.path / "history.json").read_text())
    assert [h["epoch"] for h in history] == list(range(1, 9))
    assert all(len(h["val_per_class_accuracy"]) == 10 for h in history)
    assert len((result.run.path / "log.jsonl").read_text().splitlines()) == 8
    config = yaml.safe_load((result.run.path / "config.yaml").read_text())
    assert config["recipe"] == "cnn-adam" and config["train"]["epochs"] == 8
    metrics = json.loads((result.run.path / "metrics.json").read_text())
    assert metrics["num_examples"] == 64 and metrics["split"] == "test"
    assert result.metrics["accuracy"] > 0.3  # the synthetic classes are learnable: chance is 0.1


def test_same_seed_same_losses_bit_for_bit(tmp_path):
    a = train(synthetic_config(tmp_path, seed=7), quiet=True)
    b = train(synthetic_config(tmp_path, seed=7), quiet=True)
    c = train(synthetic_config(tmp_path, seed=8), quiet=True)
    losses = lambda r: [h["train_loss"] for h in r.history]  # noqa: E731
    assert losses(a) == losses(b)
    assert losses(a) != losses(c)
    wa = load_checkpoint(a.run.path)["model"]
    wb = load_checkpoint(b.run.path)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_equals_uninterrupted(tmp_path):
    whole = train(synthetic_config(tmp_path, seed=3), quiet=True)
    with pytest.raises(KeyboardInterrupt):
        train(synthetic_config(tmp_path, seed=3), quiet=True, callbacks=[StopAfter(2)])
    (interrupted,) = [p for p in (tmp_path / "runs").iterdir() if p != whole.run.path]
    assert json.loads((interrupted / "run_log.json").read_text())["status"] == "interrupted"
    assert load_checkpoint(interrupted)["trainer"]["epoch"] == 2
    resumed = resume(interrupted, quiet=True)
    assert resumed.run.path == interrupted
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in whole.history]
    assert [h["val_loss"] for h in resumed.history] == [h["val_loss"] for h in whole.history]
    w1, w2 = load_checkpoint(whole.run.path)["model"], load_checkpoint(interrupted)["model"]
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert resumed.run_log["status"] == "completed"


def test_fractional_epochs_stop_mid_epoch(tmp_path):
    result = train(synthetic_config(tmp_path, epochs=1.5), quiet=True)  # 6 batches per epoch
    assert [h["step"] for h in result.history] == [6, 9]


def test_validation_split_is_reported_as_such(tmp_path):
    config = synthetic_config(tmp_path, epochs=1)
    config = resolve_config(config.recipe, config.to_dict(), {"data": {"val_split": 0.25}})
    result = train(config, quiet=True)
    assert result.run_log["validation_split"] == "validation"
    assert result.run_log["val_images"] == 48 and result.run_log["train_images"] == 144


def test_airbench_net_trains_through_the_one_loop(tmp_path):
    config = resolve_config("resnet18-onecycle", {
        "model": {"name": "airbench94"},
        "data": {"dataset": "synthetic", "synthetic_shape": [3, 16, 16], "synthetic_train_size": 128,
                 "synthetic_test_size": 32},
        "train": {"epochs": 1, "batch_size": 64, "device": "cpu", "precision": "bf16", "channels_last": True,
                  "plots": False},
        "runs_dir": str(tmp_path / "runs")})
    result = train(config, quiet=True)
    ckpt = load_checkpoint(result.run.path)
    w = ckpt["model"]["whiten.weight"]
    assert torch.equal(w[:12], -w[12:]) and w.abs().sum() > 0  # whitening was initialised from the data
    assert result.run_log["precision"] == "bf16"


def test_a_run_with_its_own_widths_and_progressive_resizing_trains_and_loads_back_as_trained(tmp_path):
    from cifarbench.eval.inference import evaluate_loaded, load_model

    config = resolve_config("fashion-tiny-2.25ep", {
        "model": {"widths": [8, 16, 24]},  # 16x16: 15 -> 7 -> 3 -> 1
        "augment": {"progressive_from": 12, "progressive_epochs": 1},
        "data": {"dataset": "synthetic", "synthetic_shape": [1, 16, 16], "synthetic_train_size": 128,
                 "synthetic_test_size": 64},
        "train": {"epochs": 2, "batch_size": 64, "device": "cpu", "tta": 0, "plots": False},
        "runs_dir": str(tmp_path / "runs")})
    result = train(config, quiet=True)
    loaded = load_model(result.run.path, "cpu")  # built from the checkpoint's config: its widths
    assert [g.conv2.out_channels for g in loaded.model.groups] == [8, 16, 24]
    data = prepare_data(config, quiet=True)
    again = evaluate_loaded(loaded, data.test.images, data.test.labels)
    assert again["accuracy"] == pytest.approx(result.metrics["accuracy"])


@needs_fashion
def test_real_fashion_mnist_subset_learns(tmp_path):
    """The README's full-data command on a 12,000-image subset: well past chance in seconds."""
    config = resolve_config(None, {"data": {"dataset": "fashion-mnist", "train_subset": 12000, "test_subset": 2000,
                                            "download": False},
                                   "model": {"name": "lenet-small"},
                                   "train": {"epochs": 1, "device": "cpu"}, "runs_dir": str(tmp_path / "runs")})
    result = train(config, quiet=True)
    assert result.metrics["accuracy"] > 0.70
    assert set(result.metrics["per_class"]) >= {"Trouser", "Bag", "Ankle boot"}
    assert result.metrics["per_class"]["Trouser"]["accuracy"] > 0.8
    # run_log names the files the data came from, with their verified digests
    files = {f["name"]: f for f in result.run_log["data_files"]}
    assert set(files) == {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                          "t10k-labels-idx1-ubyte.gz"}
    assert all(len(f["md5"]) == 32 and f["path"].endswith(name) for name, f in files.items())


def test_reproduce_reports_bit_identical_runs(tmp_path):
    from cifarbench.reproduce import reproduce

    result = reproduce(synthetic_config(tmp_path, epochs=2), quiet=True)
    assert result["all_match"] and result["max_abs_weight_difference"] == 0.0
    assert [r["measure"] for r in result["rows"]] == ["train_loss", "val_loss"] * 2 + [
        "test_accuracy", "final weights (largest |difference|)"]
    text = (tmp_path / "runs" / result["folder"] / "reproduce.md").read_text()
    assert "bit for bit identical" in text and "| NO |" not in text


def test_reproduce_fails_when_only_the_final_weights_differ(tmp_path, monkeypatch, capsys):
    """Equal losses and accuracy are not enough: weights that differ in the last bit fail the check
    (exit 1), as they would after a nondeterministic kernel that did not move the rounded metrics."""
    from cifarbench import cli
    from cifarbench import reproduce as module

    real_load, calls = module.load_checkpoint, []

    def second_run_perturbed(path):
        ckpt = real_load(path)
        calls.append(path)
        if len(calls) == 2:
            name = next(k for k, v in ckpt["model"].items() if v.is_floating_point())
            ckpt["model"][name] = torch.nextafter(ckpt["model"][name], torch.full_like(ckpt["model"][name], 9.0))
        return ckpt

    monkeypatch.setattr(module, "load_checkpoint", second_run_perturbed)
    config = synthetic_config(tmp_path, epochs=1)
    result = module.reproduce(config, quiet=True)
    assert not result["all_match"] and 0 < result["max_abs_weight_difference"] < 1e-5
    assert all(r["match"] for r in result["rows"][:-1]) and not result["rows"][-1]["match"]
    calls.clear()
    code = cli.main(["reproduce", "--recipe", "cnn-adam", "--dataset", "synthetic", "--set",
                     "data.synthetic_train_size=64", "--set", "data.synthetic_test_size=32", "--epochs", "1",
                     "--batch-size", "32", "--device", "cpu", "--no-plots", "--quiet",
                     "--runs-dir", str(tmp_path / "cli")])
    assert code == 1 and "NOT identical" in capsys.readouterr().out


def test_the_train_state_is_saved_and_loaded_whole():
    """A field added to TrainState reaches the checkpoint and comes back without a hand-kept copy
    of its name in either direction; an older checkpoint's missing field keeps its default."""
    import dataclasses

    from cifarbench.contract.state import TrainState

    state = TrainState(epoch=3, step=40, batch=5, skipped_steps=1, history=[{"epoch": 1}], best_val_accuracy=0.5,
                       best_epoch=2, train_seconds=9.5, eval_seconds=1.25)
    saved = state.to_dict()
    assert set(saved) == {f.name for f in dataclasses.fields(TrainState)}
    assert TrainState.from_dict({**saved, "running": {"seen": 3}}) == state
    older = {k: v for k, v in saved.items() if k not in ("batch", "skipped_steps")}
    assert TrainState.from_dict(older) == dataclasses.replace(state, batch=0, skipped_steps=0)
