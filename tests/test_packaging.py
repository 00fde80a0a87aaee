"""The package as a user installs it: a wheel built from this tree, installed without `-e` into a
fresh virtual environment, plans a budget from the frontier files it ships and trains a short run.
And the version is written in one place."""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import tomllib

import cifarbench
from conftest import HANG_GUARD_SECONDS, needs_fashion

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_written_in_one_place():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", cifarbench.__version__)


def venv_seeing_this_interpreter(folder: Path) -> Path:
    """A fresh venv whose python also finds the packages of the interpreter running the tests, venv or
    not (torch, numpy, ...): a `.pth` file of plain paths, read after the venv's own site-packages, so
    the wheel installed there wins. `system_site_packages=True` would see the *base* interpreter's,
    which, for a user who runs the tests in a venv, holds no torch. Returns the venv's python."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    outer = [p for p in (*site.getsitepackages(), site.getusersitepackages()) if Path(p).is_dir()]
    (Path(own) / "outer-interpreter.pth").write_text("".join(f"{p}\n" for p in outer))
    return python


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel (torch and the other dependencies from this interpreter's
    site-packages, which the venv sees: nothing is downloaded); returns its python."""
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools (the build backend)")
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(work / "dist"), str(ROOT)], capture_output=True, text=True,
                           timeout=HANG_GUARD_SECONDS)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (work / "dist").glob("cifarbench-*.whl")
    assert wheel.name.startswith(f"cifarbench-{cifarbench.__version__}-")
    with zipfile.ZipFile(wheel) as archive:  # PEP 561: the annotations are the users' too
        assert "cifarbench/py.typed" in archive.namelist()
    python = venv_seeing_this_interpreter(work / "env")
    # this interpreter's pip, installing into the venv (its console script too) without touching the editable copy
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                           str(wheel)], capture_output=True, text=True, timeout=HANG_GUARD_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    return python


def run_installed(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The `cifarbench` console script the wheel installed in the venv."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(python.parent / "cifarbench"), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=HANG_GUARD_SECONDS)


def test_the_wheel_is_what_the_venv_imports_with_its_frontiers(installed_wheel, tmp_path):
    where = subprocess.run([str(installed_wheel), "-c", "import cifarbench, cifarbench.planner.frontier as f; "
                            "print(cifarbench.__file__); print(sorted(p.name for p in f.FRONTIERS.glob('*.json')))"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout.splitlines()
    assert str(installed_wheel.parents[1]) in where[0], where  # the wheel's copy, not the source tree's
    assert where[1] == "['cifar10.json', 'fashion-mnist.json']"


@needs_fashion
def test_the_installed_package_plans_a_budget(installed_wheel, tmp_path):
    """From the Fashion-MNIST frontier the wheel ships. The budget is one any CPU fits: whether 60 s
    does depends on the machine (a slow or busy one refuses it in one line, as it should)."""
    done = run_installed(installed_wheel, "plan", "--dataset", "fashion-mnist", "--budget-s", "600", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"plan: airbench-\w+ .* for [\d.]+ epochs, predicted \d+\.\d+% test accuracy", done.stdout)


def test_the_installed_package_trains_a_short_synthetic_run(installed_wheel, tmp_path):
    done = run_installed(installed_wheel, "train", "--dataset", "synthetic", "--model", "lenet-small", "--epochs",
                         "1", "--set", "data.synthetic_train_size=256", "--set", "data.synthetic_test_size=64",
                         "--no-plots", "--quiet", "--device", "cpu", "--runs-dir", str(tmp_path / "runs"),
                         cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("test accuracy ") and len(list((tmp_path / "runs").iterdir())) == 1
