"""The public Python API as a notebook meets it: `import cifarbench`, then one call per job. The
names resolve, a run is named as the command line names it (a recipe and options by their flag
names: the same config either way), the result carries the trained model, and a wrong name or
value is one ConfigError naming it. The README's Python example runs, on a subset."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cifarbench
from cifarbench.cli import build_parser
from cifarbench.cli.options import config_layers
from cifarbench.errors import ConfigError
from cifarbench.resolve import resolve_config
from conftest import needs_fashion

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"train_subset": 64, "test_subset": 32, "batch_size": 16, "device": "cpu", "output": {"plots": False}}


def test_every_public_name_resolves_and_importing_the_package_loads_no_torch():
    assert set(dir(cifarbench)) == set(cifarbench.__all__)
    for name in cifarbench.__all__:
        assert getattr(cifarbench, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        cifarbench.trian  # noqa: B018
    done = subprocess.run([sys.executable, "-c", "import sys, cifarbench; print('torch' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_public_calls_say_what_they_take_return_and_raise():
    for name in ("train", "run_config", "plan"):
        doc = getattr(cifarbench, name).__doc__
        assert all(part in doc for part in ("Args:", "Returns:", "Raises:")), name


@pytest.mark.parametrize("argv, call", [
    (["--recipe", "airbench94", "--dataset", "fashion-mnist", "--epochs", "2"],
     (("airbench94",), {"dataset": "fashion-mnist", "epochs": 2})),
    (["--model", "lenet-small", "--batch-size", "64", "--lr", "0.02", "--set", "optim.nesterov=false"],
     ((), {"model": "lenet-small", "batch_size": 64, "lr": 0.02, "optim": {"nesterov": False}})),
    ([], ((), {})),
    (["--hybrid-preset", "conservative"], ((), {"hybrid": {"preset": "conservative"}})),  # what a field implies
])
def test_a_run_is_named_as_the_command_line_names_it(argv, call):
    from_cli = resolve_config(None, config_layers(build_parser(("train",)).parse_args(["train", *argv])))
    args, kwargs = call
    assert cifarbench.run_config(*args, **kwargs) == from_cli


def test_a_dict_or_a_config_is_a_run_too_and_options_change_it():
    base = cifarbench.run_config("lenet-small-onecycle", dataset="synthetic")
    assert cifarbench.run_config({"recipe": "lenet-small-onecycle", "data": {"dataset": "synthetic"}}) == base
    changed = cifarbench.run_config(base, epochs=3)
    assert changed.train.epochs == 3 and changed.model == base.model


@pytest.mark.parametrize("call, message", [
    (lambda: cifarbench.run_config("airbench94", epoch=2), "unknown option 'epoch'; did you mean 'epochs'?"),
    (lambda: cifarbench.run_config("airbench94", optim=0.1), "optim=0.1: a section takes a dict of its fields"),
    (lambda: cifarbench.run_config("airbench-94"), "unknown recipe 'airbench-94'"),
    (lambda: cifarbench.run_config("airbench94", epochs=-1), "train.epochs -1 must be positive"),
    (lambda: cifarbench.run_config(42), "a run is named by a recipe, a dict or a RunConfig, not int"),
    (lambda: cifarbench.plan(dataset="synthetic"), "a plan needs --budget-s S or --target A"),
])
def test_a_wrong_name_or_value_is_one_config_error(call, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        call()


def test_train_returns_the_run_and_its_trained_model(tmp_path):
    result = cifarbench.train("lenet-small-onecycle", dataset="synthetic", epochs=1, quiet=True,
                              runs_dir=str(tmp_path), data={"synthetic_train_size": 64, "synthetic_test_size": 32},
                              **{k: v for k, v in SMALL.items() if k not in ("train_subset", "test_subset")})
    assert result.run.path.parent == tmp_path and 0 <= result.metrics["accuracy"] <= 1
    model = result.model
    assert isinstance(model, torch.nn.Module) and not model.training
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@needs_fashion
def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    """The README's block as written, each cifarbench.train call given a subset and the CPU."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert "cifarbench.train(" in block
    small = ", train_subset=256, test_subset=128, device='cpu', output={'plots': False}, quiet=True)"
    code = re.sub(r"(cifarbench\.train\(.*?)\)", lambda m: m.group(1) + small, block, count=1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the project's own README
    assert len(list((tmp_path / "runs").iterdir())) == 1
