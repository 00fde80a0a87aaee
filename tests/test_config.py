import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cifarbench.config import RunConfig, parse_assignment
from cifarbench.errors import ConfigError
from cifarbench.resolve import resolve_config
from cifarbench.training.recipes import RECIPES, recipe_for_model


def test_round_trip_through_plain_dict():
    config = resolve_config("resnet50-multistep")
    assert RunConfig.from_dict(config.to_dict()) == config


def test_layers_override_in_order():
    config = resolve_config("tutorial", {"train": {"epochs": 3}, "optim": {"lr": 0.01}}, {"train": {"epochs": 5}})
    assert config.train.epochs == 5 and config.optim.lr == 0.01
    assert config.train.batch_size == 4  # from the recipe
    assert config.optim.momentum == 0.9


def test_model_alone_picks_its_home_recipe():
    assert resolve_config(None, {"model": {"name": "lenet-small"}}).recipe == "lenet-small-onecycle"
    assert resolve_config(None, {"model": {"name": "resnet50"}}).recipe == "resnet50-multistep"
    assert recipe_for_model("airbench96") == "airbench96"
    assert recipe_for_model("mnist-cnn") == "mnist-cnn"
    assert resolve_config(None).recipe == "airbench94"  # the default: the best CIFAR-10 recipe


def test_every_recipe_builds():
    for name in RECIPES:
        assert resolve_config(name).recipe == name


def test_values_from_strings_are_coerced():
    config = RunConfig.from_dict({"train": {"epochs": "2.5", "batch_size": "64", "compile": "yes"},
                                  "schedule": {"milestones": "5,8"}, "data": {"synthetic_shape": "1x28x28"}})
    assert config.train.epochs == 2.5 and config.train.batch_size == 64 and config.hardware.compile is True
    assert config.schedule.milestones == (5, 8) and config.data.synthetic_shape == (1, 28, 28)


@pytest.mark.parametrize("values, message", [
    ({"train": {"epoch": 1}}, "unknown config key 'train.epoch'; keys in train: batch_size"),
    ({"trian": {}}, "unknown config key 'trian'; keys at the top level"),
    ({"train": {"epochs": 0}}, "train.epochs 0 must be positive"),
    ({"train": {"batch_size": 2.5}}, "train.batch_size 2.5 must be an integer"),
    ({"train": {"batch_size": -3}}, "train.batch_size -3 must be a positive integer"),
    ({"optim": {"lr": "fast"}}, "optim.lr 'fast' must be a number"),
    ({"optim": {"name": "lion"}}, "optim.name 'lion' is not one of sgd, adam, adamw, adadelta"),
    ({"train": {"device": "tpu"}}, "hardware.device 'tpu' is not one of auto, cpu, cuda, mps"),
    ({"train": {"deterministic": "maybe"}}, "train.deterministic 'maybe' must be true or false"),
    ({"optim": {"lr": float("nan")}}, "optim.lr nan must be a finite number"),
])
def test_bad_values_name_field_value_and_rule(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RunConfig.from_dict(values)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.floats(max_value=0, allow_nan=False), st.text(max_size=5).filter(lambda s: not _is_number(s))))
def test_any_invalid_lr_is_a_config_error(value):
    with pytest.raises(ConfigError, match="optim.lr"):
        RunConfig.from_dict({"optim": {"lr": value}})


@settings(max_examples=60, deadline=None)
@given(st.integers(max_value=0))
def test_any_non_positive_batch_is_a_config_error(value):
    with pytest.raises(ConfigError, match=f"train.batch_size {value} must be a positive integer"):
        RunConfig.from_dict({"train": {"batch_size": value}})


def _is_number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def test_set_assignments_parse_as_yaml():
    assert parse_assignment("optim.milestones=[5, 8]") == {"optim": {"milestones": [5, 8]}}
    assert parse_assignment("hardware.compile=true") == {"hardware": {"compile": True}}
    with pytest.raises(ConfigError, match="must look like section.field=value"):
        parse_assignment("optim.lr")


def test_fields_that_left_the_training_section_are_still_read_at_their_old_paths(tmp_path):
    """train.device is hardware.device, train.plots is output.plots, ...: in a layer, in `--set`, in a
    YAML file and in an older run folder's config.yaml; where both paths are given the current one wins."""
    from cifarbench import cli
    from cifarbench.config import MOVED, get_path

    moved = RunConfig.from_dict({"train": {"epochs": 2, "device": "cpu", "plots": False, "threads": 1}})
    assert (moved.hardware.device, moved.output.plots, moved.hardware.threads, moved.train.epochs) == ("cpu", False, 1, 2)
    # every moved field, given at its old path a value other than its default, lands at its new one
    samples = {"device": "cpu", "precision": "fp32", "channels_last": True, "compile": True, "threads": 3,
               "dist_timeout": 12.0, "checkpoint_every": 4, "checkpoint_every_steps": 7, "plots": False, "loggers": []}
    assert {f"train.{name}" for name in samples} == set(MOVED)
    for old, new in MOVED.items():
        value = samples[old.split(".")[1]]
        assert get_path(RunConfig().to_dict(), new) != value
        assert get_path(RunConfig.from_dict({"train": {old.split(".")[1]: value}}).to_dict(), new) == value
    both = resolve_config(None, {"hardware": {"device": "cpu"}}, {"train": {"device": "mps"}})
    assert both.hardware.device == "mps"  # a later layer wins, whichever path it uses
    same_layer = RunConfig.from_dict({"train": {"device": "mps"}, "hardware": {"device": "cpu"}})
    assert same_layer.hardware.device == "cpu"
    args = cli.build_parser(("train",)).parse_args(["train", "--set", "train.precision=fp32", "--set",
                                                    "train.loggers=[]"])
    from cifarbench.cli.options import config_layers

    layers = config_layers(args)
    assert get_path(layers, "hardware.precision") == "fp32" and get_path(layers, "output.loggers") == []
    assert "device" not in RunConfig().to_dict()["train"]  # written at the current paths only
