"""benchmarks/gpu_reference.py on a machine without CUDA: a one-line reason and exit 2; and the
parts that need no GPU (the reference's data format, reading its printed time) checked here."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import needs_hardware

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_reference.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_hardware(torch.cuda.is_available(), "this checks the path of a machine without CUDA")
def test_without_cuda_it_says_why_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--reference-dir", str(tmp_path), "--out",
                           str(tmp_path / "out.json")], capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs a CUDA device" in lines[0], done.stderr
    assert not (tmp_path / "out.json").exists()


def test_the_reference_data_is_written_in_its_own_format(tmp_path):
    from cifarbench.data.store import load_dataset

    dataset = load_dataset("synthetic", shape=(3, 32, 32), num_classes=10, train_size=20, test_size=8, seed=0)
    load_script().write_reference_data(dataset, tmp_path)
    train = torch.load(tmp_path / "cifar10" / "train.pt", weights_only=True)
    assert train["images"].shape == (20, 32, 32, 3) and train["images"].dtype == torch.uint8  # NHWC, as torchvision
    assert torch.equal(train["images"].permute(0, 3, 1, 2), dataset.train.images)  # the same tensors
    assert torch.equal(train["labels"], dataset.train.labels) and train["classes"] == dataset.classes
    assert torch.load(tmp_path / "cifar10" / "test.pt", weights_only=True)["images"].shape == (8, 32, 32, 3)


def test_the_reference_time_is_read_from_its_eval_row():
    printed = ("|  run     |  epoch  |  train_acc  |  val_acc  |  tta_val_acc  |  time_seconds  |\n"
               "|       0  |      8  |     0.9630  |   0.9371  |               |        2.4418  |\n"
               "|          |   eval  |             |           |       0.9402  |        2.5930  |\n")
    assert load_script().reference_time(printed) == pytest.approx(2.5930)
    with pytest.raises(ValueError):
        load_script().reference_time("no table here")
