"""`cifarbench ablate`: a row per trick, read from the recipe; JSON and chart; refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cifarbench import cli
from cifarbench.config import ModelConfig
from cifarbench.models.configured import build_configured_model
from cifarbench.resolve import resolve_config
from cifarbench.search.ablate import ablation_rows, first_epoch_time, recipe_tricks

TINY_DATA = ["--dataset", "synthetic", "--device", "cpu",
        "--set", "data.synthetic_shape=[1,16,16]", "--set", "data.synthetic_train_size=200",
        "--set", "data.synthetic_test_size=50", "--set", "train.batch_size=50", "--set", "train.eval_batch_size=100",
        "--epochs", "1"]
TINY = ["--model", "airbench-tiny", *TINY_DATA]


def test_airbench94s_tricks_come_from_the_recipe_in_its_order():
    tricks = recipe_tricks("airbench94", resolve_config("airbench94"))
    assert [t.name for t in tricks] == ["whitening init", "identity init", "frozen whitening bias", "alternating flip",
                                        "translate", "nesterov", "bias lr scale", "label smoothing", "lookahead",
                                        "TTA", "channels last"]
    flip = next(t for t in tricks if t.field == "augment.flip")
    assert (flip.on, flip.off) == ("alternating", "random")
    # a user's override changes what the recipe's tricks are: TTA off is not a trick to remove
    assert "TTA" not in [t.name for t in recipe_tricks("airbench94", resolve_config("airbench94", {"train": {"tta": 0}}))]
    assert [t.name for t in recipe_tricks("cnn-adam", resolve_config("cnn-adam"))] == ["random flip", "rotation"]


def test_cumulative_rows_add_the_tricks_one_at_a_time():
    tricks = recipe_tricks("resnet18-onecycle", resolve_config("resnet18-onecycle"))
    rows = ablation_rows(tricks, "cumulative")
    assert [label for label, _ in rows] == ["baseline (tricks off)", "+ random flip", "+ translate"]
    assert rows[0][1] == {"augment": {"flip": "none", "crop_padding": 0}}
    assert rows[-1][1] == {"augment": {"flip": "random", "crop_padding": 4}}  # = the recipe
    loo = ablation_rows(tricks, "leave-one-out")
    assert loo == [("full recipe", {}), ("- random flip", {"augment": {"flip": "none"}}),
                   ("- translate", {"augment": {"crop_padding": 0}})]


def test_model_tricks_can_be_switched_off():
    default = build_configured_model(ModelConfig("airbench-tiny"), (1, 16, 16), 10)
    plain = build_configured_model(ModelConfig("airbench-tiny", identity_init=False), (1, 16, 16), 10)
    conv = default.groups[0].conv1.weight
    identity = torch.zeros_like(conv[: conv.shape[1]])
    torch.nn.init.dirac_(identity)
    assert torch.equal(conv[: conv.shape[1]], identity)
    assert not torch.equal(plain.groups[0].conv1.weight[: conv.shape[1]], identity)


def test_first_epoch_time_is_the_training_time_when_the_target_was_first_met():
    history = [{"epoch_seconds": 2.0, "val_accuracy": 0.5}, {"epoch_seconds": 3.0, "val_accuracy": 0.91},
               {"epoch_seconds": 4.0, "val_accuracy": 0.95}]
    assert first_epoch_time(history, 0.9) == 5.0 and first_epoch_time(history, 0.99) is None


@pytest.mark.slow
def test_leave_one_out_ablation_has_a_row_per_trick_and_parseable_json(tmp_path, capsys):
    runs = tmp_path / "runs"
    # --test-subset: ablate takes the data options train and tune take
    assert cli.main(["ablate", "--recipe", "airbench94", *TINY, "--test-subset", "30", "--seeds", "2",
                     "--target", "0.2", "--runs-dir", str(runs), "--quiet"]) == 0
    out = capsys.readouterr().out
    (folder,) = runs.iterdir()
    result = json.loads((folder / "bench.json").read_text())
    tricks = [t["name"] for t in result["tricks"]]
    assert [r["label"] for r in result["rows"]] == ["full recipe", *(f"- {name}" for name in tricks)]
    assert all(r["accuracy"]["n"] == 2 and len(r["runs"]) == 2 for r in result["rows"])
    assert result["machine"]["cpu_isa"] is not None
    # each row really trained what it says: the run's config has the trick off, the others on
    for row, trick in zip(result["rows"][1:], result["tricks"]):
        section, key = trick["field"].split(".")
        run = json.loads((folder / row["runs"][0]["run"] / "run_log.json").read_text())
        import yaml

        config = yaml.safe_load((folder / row["runs"][0]["run"] / "config.yaml").read_text())
        assert config[section][key] == trick["off"], (trick, config[section][key])
        assert run["status"] == "completed" and config["data"]["test_subset"] == 30
        assert json.loads((folder / row["runs"][0]["run"] / "metrics.json").read_text())["num_examples"] == 30
    assert (folder / "ablation.png").stat().st_size > 1000
    for name in tricks:
        assert f"- {name}" in out


@pytest.mark.parametrize("args, message", [
    (["--recipe", "airbench9000"], "unknown recipe 'airbench9000'"),
    (["--recipe", "airbench94", "--mode", "sideways"], "--mode 'sideways' is not one of leave-one-out, cumulative"),
    (["--recipe", "tutorial"], "has none of the known tricks"),
    (["--recipe", "airbench94", "--seeds", "0"], "--seeds 0 must be at least 1"),
    (["--recipe", "airbench94", "--target", "93"], "between 0 and 1"),
    ([], "ablate needs --recipe"),
])
def test_bad_ablate_arguments_are_one_line_exit_2(tmp_path, capsys, args, message):
    runs = tmp_path / "runs"
    data = TINY_DATA if "tutorial" in args else TINY  # the tutorial's LeNet has no model tricks either
    assert cli.main(["ablate", *args, *data, "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not runs.exists() or not any(Path(runs).iterdir())
