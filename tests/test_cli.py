"""The command line as a user meets it: outputs, and one-line errors with exit code 2."""

import json
import subprocess
import sys

import pytest
import torch
import yaml

from cifarbench.cli import main
from cifarbench.fingerprint import fingerprint
from conftest import png_bytes

SYNTHETIC = ["--dataset", "synthetic", "--set", "data.synthetic_train_size=256", "--set",
             "data.synthetic_test_size=64", "--device", "cpu", "--quiet"]


def run(capsys, *argv):
    """Exit code, stdout and stderr of `cifarbench ARGV`, whether main returns or argparse exits."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One small finished run (lenet-small on synthetic 3x32x32) shared by the eval/predict tests."""
    runs = tmp_path_factory.mktemp("cli") / "runs"
    code = main(["train", "--model", "lenet-small", "--epochs", "2", "--runs-dir", str(runs), *SYNTHETIC])
    assert code == 0
    (run_dir,) = runs.iterdir()
    return run_dir


def test_train_prints_the_result_line(trained_run):
    log = json.loads((trained_run / "run_log.json").read_text())
    assert log["status"] == "completed" and log["model"] == "lenet-small" and log["recipe"] == "lenet-small-onecycle"


def test_the_result_line_on_stdout_is_the_runs_result(capsys, tmp_path):
    """stdout carries one line a script can read: the run's test accuracy, loss, time and folder."""
    import re

    code, out, _ = run(capsys, "train", "--model", "lenet-small", "--epochs", "1", "--no-plots",
                       "--runs-dir", str(tmp_path), *SYNTHETIC)
    assert code == 0
    (line,) = out.strip().splitlines()
    match = re.fullmatch(r"test accuracy (\d+\.\d\d)%  test loss (\d+\.\d{4})  train time (\d+\.\d)s  run (\S+)", line)
    assert match, line
    run_dir = tmp_path / match.group(4).rsplit("/", 1)[-1]
    log = json.loads((run_dir / "run_log.json").read_text())
    assert float(match.group(1)) == pytest.approx(100 * log["test_accuracy"], abs=0.005)
    assert float(match.group(2)) == pytest.approx(log["test_loss"], abs=5e-5)
    assert float(match.group(3)) == pytest.approx(log["train_seconds"], abs=0.05)


def test_eval_reproduces_the_runs_test_accuracy(capsys, trained_run):
    code, out, _ = run(capsys, "eval", str(trained_run), "--json", "--device", "cpu")
    assert code == 0
    metrics = json.loads(out)
    saved = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(saved["accuracy"])
    code, out, _ = run(capsys, "eval", str(trained_run / "checkpoints" / "last.pt"), "--device", "cpu")
    assert code == 0 and "precision" in out and "macro avg" in out


def test_predict_prints_top_k_with_names(capsys, trained_run, tmp_path):
    image = tmp_path / "x.png"
    image.write_bytes(png_bytes((40, 30, 3)))  # another size: resized to 32x32
    code, out, _ = run(capsys, "predict", str(trained_run), str(image), "--top-k", "2", "--device", "cpu")
    assert code == 0
    line = out.strip()
    assert line.startswith(f"{image}: class") and line.count("%") == 2


def test_info_and_lists(capsys):
    code, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert code == 0 and info["auto_device"] in ("cpu", "cuda", "mps") and info["torch"]
    code, out, _ = run(capsys, "list", "models")
    assert code == 0 and "11,173,962" in out and "airbench94" in out
    code, out, _ = run(capsys, "list", "recipes")
    assert code == 0 and "resnet50-multistep" in out and "(default)" in out
    code, out, _ = run(capsys, "list", "datasets")
    assert code == 0 and "fashion-mnist" in out


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "resnet19"], "model.name 'resnet19' is not one of airbench-small, airbench-tiny, airbench-tiny-muon, airbench-tiny-silu, airbench94"),
    (["train", "--recipe", "fastest"], "unknown recipe 'fastest'; known recipes: tutorial"),
    (["train", "--recipe", "fashion93"], "recipe 'fashion93' is now 'fashion-tiny-2.25ep' (it did not reach"),
    (["train", "--recipe", "fashion-avx2-160s"], "recipe 'fashion-avx2-160s' is now 'fashion-tiny-8ep' (its time held "
                                                 "on one CPU only); for an accuracy or a time, plan one"),
    (["train", "--dataset", "imagenet"], "data.dataset 'imagenet' is not one of cifar10, cifar100"),
    (["train", "--epochs", "0"], "train.epochs 0 must be positive"),
    (["train", "--epochs", "-2"], "train.epochs -2 must be positive"),
    (["train", "--epochs", "-0.5"], "train.epochs -0.5 must be positive"),
    (["train", "--batch-size", "0"], "train.batch_size 0 must be a positive integer"),
    (["train", "--lr", "-0.1"], "optim.lr -0.1 must be positive"),
    (["train", "--epochs", "many"], "argument --epochs/--train.epochs: train.epochs 'many' must be a number"),
    (["train", "--device", "tpu"], "hardware.device 'tpu' is not one of auto, cpu, cuda, mps"),
    (["train", "--tta-share", "1.5"], "train.tta_share 1.5 must be a share in (0, 1], or null (every image)"),
    (["train", "--set", "optim.lr"], "--set 'optim.lr' must look like section.field=value"),
    (["train", "--set", "optim.learning_rate=1"], "unknown config key 'optim.learning_rate'"),
    (["list", "gpus"], "argument what: invalid choice: 'gpus'"),
    # a misspelling gets the closest name (difflib), wherever it is refused
    (["train", "--optim.nestrov", "true"], "unrecognized arguments: --optim.nestrov true; did you mean '--optim.nesterov'?"),
    (["trian"], "invalid choice: 'trian'"),
    (["list", "recipe"], "invalid choice: 'recipe' (choose from 'models', 'recipes', "),
    (["list", "recipe"], "'mlx-models'); did you mean 'recipes'?"),
    (["train", "--dataset", "fashon-mnist"], "npz:PATH; did you mean 'fashion-mnist'?"),
    (["train", "--precision", "bf61"], "fp16-pure; did you mean 'bf16'?"),
    (["train", "--recipe", "airbench-94"], "; did you mean 'airbench94'?"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
    extra = ["--runs-dir", str(tmp_path / "runs")] if argv[0] == "train" else []
    code, _, err = run(capsys, *argv, *extra)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("cifarbench: error: ")  # one prefix, whichever parser or check refused it
    assert message in err
    assert not (tmp_path / "runs").exists()  # nothing written


def test_batch_larger_than_the_split(capsys, tmp_path):
    code, _, err = run(capsys, "train", *SYNTHETIC, "--batch-size", "1000", "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and "train.batch_size 1000 is larger than the 256 training images" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_offline_without_data_names_files_and_suggests_local_ones(capsys, tmp_path, monkeypatch):
    code, _, err = run(capsys, "train", "--dataset", "cifar10", "--offline", "--data-dir", str(tmp_path),
                       "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "cifar-10-python.tar.gz" in err and str(tmp_path / "cifar10") in err


def test_predict_refuses_a_file_that_is_not_an_image(capsys, trained_run, tmp_path):
    bogus = tmp_path / "notes.png"
    bogus.write_text("hello")
    code, _, err = run(capsys, "predict", str(trained_run), str(bogus), "--device", "cpu")
    assert code == 2 and f"{bogus} is not an image file" in err and len(err.strip().splitlines()) == 1


def test_eval_on_a_dataset_with_other_classes_is_refused(capsys, trained_run):
    code, _, err = run(capsys, "eval", str(trained_run), "--dataset", "fashion-mnist", "--offline", "--device", "cpu")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "takes (3, 32, 32) images" in err or "not on this machine" in err


def test_resume_with_another_model_is_refused(capsys, trained_run):
    code, _, err = run(capsys, "train", "--resume", str(trained_run), "--model", "resnet18", "--quiet")
    assert code == 2 and "trained model.name 'lenet-small'; it cannot continue with 'resnet18'" in err


def test_eval_refuses_what_the_checkpoint_fixes(capsys, trained_run):
    """eval takes the data section, the device and the TTA level; a training value is one line."""
    code, _, err = run(capsys, "eval", str(trained_run), "--lr", "0.5")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "optim.lr does not apply" in err, err
    code, out, _ = run(capsys, "eval", str(trained_run), "--json", "--hardware.device", "cpu", "--tta", "1",
                       "--test-subset", "32")
    assert code == 0 and json.loads(out)["num_examples"] == 32


def test_eval_of_a_missing_checkpoint(capsys, tmp_path):
    code, _, err = run(capsys, "eval", str(tmp_path / "nothing.pt"))
    assert code == 2 and "does not exist" in err


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "cifarbench", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("cifarbench ")


def test_reproduce_command_prints_the_table_and_exits_0(capsys, tmp_path):
    code, out, _ = run(capsys, "reproduce", "--model", "lenet-small", "--epochs", "1", "--no-plots",
                       "--runs-dir", str(tmp_path), *SYNTHETIC)
    assert code == 0
    assert "| 1 |" in out and "train_loss" in out and "bit for bit identical" in out


def test_data_verify_missing_dataset_is_one_line(capsys, tmp_path, monkeypatch):
    from cifarbench.data import download

    monkeypatch.setattr(download, "SYSTEM_COPIES", {})
    code, _, err = run(capsys, "data", "verify", "mnist", "--data-dir", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "train-images-idx3-ubyte.gz" in err


def test_data_verify_real_fashion_mnist(capsys):
    from conftest import needs_fashion

    if needs_fashion.args[0]:
        pytest.skip(needs_fashion.kwargs["reason"])
    code, out, _ = run(capsys, "data", "verify", "fashion-mnist")
    assert code == 0 and out.count("ok  ") == 4


def test_train_runs_flag_prints_the_statistics(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--model", "lenet-small", "--epochs", "1", "--runs", "2", "--no-plots",
                       "--runs-dir", str(tmp_path), *SYNTHETIC)
    assert code == 0 and "| test accuracy |" in out and "95% CI" in out and "Seeds: 0, 1." in out
    code, _, err = run(capsys, "train", "--runs", "0", "--runs-dir", str(tmp_path))
    assert code == 2 and "--runs 0 must be at least 1" in err


def test_bench_devices_command(capsys, tmp_path):
    """A benchmark takes the config options as train does: --set, short flags, --section.field."""
    code, out, _ = run(capsys, "bench", "devices", "--devices", "cpu", "--recipe", "lenet-small-onecycle",
                       "--repeats", "1", "--runs-dir", str(tmp_path), "--set", "train.epochs=0.5",
                       "--data.synthetic_train_size", "512", "--no-plots")
    assert code == 0 and "cpu" in out and "1.00x" in out and "0.5 epoch(s)" in out
    (folder,) = tmp_path.iterdir()
    assert (folder / "bench.json").is_file() and (folder / "speedup.png").is_file()
    result = json.loads((folder / "bench.json").read_text())
    assert result["epochs"] == 0.5
    (run_log,) = [json.loads(p.read_text()) for p in folder.glob("cpu/*/run_log.json")][-1:]
    assert run_log["train_images"] == 512


@pytest.mark.slow
def test_compare_methods_command(capsys, tmp_path):
    """compare-methods reads a --config file like train: its values apply to every method."""
    config = tmp_path / "c.yaml"
    config.write_text("data: {dataset: synthetic, synthetic_train_size: 2000}\ntrain: {device: cpu, plots: false}\n")
    code, out, _ = run(capsys, "compare-methods", "--config", str(config), "--quick",
                       "--methods", "lenet-small-onecycle,tutorial", "--quiet", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0 and "| lenet-small-onecycle |" in out and "| tutorial |" in out and "1.00x" in out
    (folder,) = (tmp_path / "runs").iterdir()
    summary = json.loads((folder / "comparison.json").read_text())
    assert summary["dataset"] == "synthetic" and summary["device"] == "cpu"
    machine = summary["machine"]  # the fingerprint, as every results file records it
    assert machine["cpu_id"] == fingerprint()["cpu_id"] and machine["torch"] == torch.__version__
    code, _, err = run(capsys, "compare-methods", "--recipe", "airbench94", "--runs-dir", str(tmp_path / "other"))
    assert code == 2 and "--methods" in err and not (tmp_path / "other").exists()


def test_help_and_readme_say_what_the_code_does(capsys):
    """`train --help` names the default recipe and every choice list from the code's own values,
    and the README's quick start names the same default recipe."""
    from pathlib import Path

    from cifarbench.cli.parser import one_of
    from cifarbench.config import FLIP_MODES, OPTIMIZERS, SCHEDULES, TTA_LEVELS
    from cifarbench.data.registry import DATASET_NAMES
    from cifarbench.devices import DEVICES, PRECISIONS
    from cifarbench.training.recipes import DEFAULT_RECIPE, RECIPES

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare word by word
    assert f"else {DEFAULT_RECIPE}" in text
    for values in (DATASET_NAMES, OPTIMIZERS, SCHEDULES, FLIP_MODES, DEVICES, PRECISIONS, TTA_LEVELS):
        assert one_of(values) in text, values
    other_defaults = [name for name in RECIPES if name != DEFAULT_RECIPE and f"else {name}" in text]
    assert not other_defaults
    root = Path(__file__).parents[1]
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    assert f"trains the best recipe the tool has for it (`{DEFAULT_RECIPE}`" in readme
    guide = " ".join((root / "docs" / "guides" / "models-and-recipes.md").read_text(encoding="utf-8").split())
    assert f"`{DEFAULT_RECIPE}` (the default)" in guide


def test_train_with_a_missing_data_dir_stops_instead_of_using_another_copy(capsys, tmp_path):
    """--data-dir names the only place data is read: a folder without the dataset is one line and
    exit 2, even where another copy exists (Debian's Fashion-MNIST, when installed), and no run starts."""
    missing = tmp_path / "no-data-here"
    code, _, err = run(capsys, "train", "--dataset", "fashion-mnist", "--data-dir", str(missing), "--offline",
                       "--runs-dir", str(tmp_path / "runs"), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(missing) in err, err
    assert not (tmp_path / "runs").exists() and not missing.exists()


def test_print_config_prints_what_config_yaml_would_hold_and_round_trips(capsys, tmp_path):
    """Printed without reading data (CIFAR-10 is not here) or writing anything; fed back with --config
    it is the same config, printed the same."""
    from cifarbench.resolve import resolve_config

    options = ["--recipe", "airbench94", "--dataset", "cifar10", "--offline", "--data-dir", str(tmp_path / "none"),
               "--epochs", "2", "--set", "optim.nesterov=false", "--runs-dir", str(tmp_path / "runs")]
    code, printed, _ = run(capsys, "train", *options, "--print-config")
    assert code == 0 and not (tmp_path / "runs").exists() and not (tmp_path / "none").exists()
    (tmp_path / "run.yaml").write_text(printed)
    code, again, _ = run(capsys, "train", "--config", str(tmp_path / "run.yaml"), "--print-config")
    assert code == 0 and again == printed
    config = resolve_config(None, yaml.safe_load(printed))
    assert config.train.epochs == 2 and config.optim.nesterov is False and config.data.dataset == "cifar10"
    code, _, err = run(capsys, "train", "--dataset", "fashion-mnist", "--budget-s", "60", "--print-config")
    assert code == 2 and "the plan chooses it" in err


def test_print_config_is_the_config_yaml_the_run_writes(capsys, tmp_path):
    options = ["--model", "lenet-small", *SYNTHETIC, "--epochs", "1", "--no-plots", "--runs-dir", str(tmp_path)]
    code, printed, _ = run(capsys, "train", *options, "--print-config")
    assert code == 0 and run(capsys, "train", *options)[0] == 0
    (folder,) = tmp_path.iterdir()
    assert (folder / "config.yaml").read_text() == printed
