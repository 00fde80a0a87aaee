"""Shared fixtures: files in the publishers' exact formats, made small, and data isolation."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# Tests wait on progress (files appearing, steps done, a process ending), never on the clock. This
# limit only keeps a hung process from hanging CI: a slow but progressing run never reaches it.
HANG_GUARD_SECONDS = 900
# Under CI=true a skipped test fails (pytest_runtest_makereport below): CI installs every package,
# extra, browser and dataset the tests use, so a skip there means an install step went missing.
# Only hardware that CI's machine lacks may skip, with a reason that starts with this.
HARDWARE = "hardware: "


# The cores this test session started with. Under pytest-xdist (`-n N`) each worker is pinned to its
# share of them (pytest_configure), so N workers do not each run a thread per core on the same
# cores; a test that needs every core (K worker processes sharing them out) takes them back with
# the `all_cores` fixture.
SESSION_CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pytest_configure(config):
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker and count > 1 and len(SESSION_CORES) >= count:
        os.sched_setaffinity(0, SESSION_CORES[int(worker.removeprefix("gw")) % count::count])


@pytest.fixture
def all_cores():
    """Every core the session started with, for this test (then the worker's share again)."""
    if not SESSION_CORES:
        yield
        return
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, SESSION_CORES)
    try:
        yield
    finally:
        os.sched_setaffinity(0, mine)


def needs_hardware(condition: bool, reason: str):
    """Skip when `condition` (CUDA, MPS, a second GPU, ... absent): the one kind of skip CI allows."""
    return pytest.mark.skipif(condition, reason=HARDWARE + reason)


def needs_extra(extra: str, *modules: str):
    """Import `modules` (the last one is returned) or skip, naming the optional extra that installs
    them: the README's test command installs only `.[test]`, so a newcomer's run skips what needs
    another extra and says which; CI installs every extra, where such a skip fails."""
    module = None
    for name in modules:
        module = pytest.importorskip(name, reason=f"the [{extra}] extra is not installed "
                                                  f"(pip install 'cifarbench[{extra}]')")
    return module


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") != "true" or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not reason.removeprefix("Skipped: ").startswith(HARDWARE):
        report.outcome = "failed"
        report.longrepr = (f"CI=true: this test skipped ({reason}). CI installs everything the tests need, "
                           "so a skip here is a missing install step in .ci/run")


needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="real Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist; CI installs it)")


def torchrun(args: list[str], nproc: int = 2, timeout: float = HANG_GUARD_SECONDS,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """torchrun on one node (--standalone picks a free port); the whole process group is killed
    if it outlives `timeout` (a hang guard, not a speed check), so a hang fails the test instead of
    leaving workers behind."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun did not finish in {timeout:.0f} s: {err[-1500:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture(autouse=True)
def isolated_data(tmp_path_factory, monkeypatch):
    """Downloads and parsed caches go to one temporary folder per test session, never ~/.cache."""
    root = tmp_path_factory.getbasetemp() / "data-cache"
    monkeypatch.setenv("CIFARBENCH_DATA", str(root))
    from cifarbench.data import download

    monkeypatch.setattr(download, "DEFAULT_CACHE", root)
    return root


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: 0x0000, type 0x08, ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_gz(path: Path, array: np.ndarray) -> Path:
    path.write_bytes(gzip.compress(idx_bytes(array)))
    return path


def cifar_batch(n: int, rng: np.random.Generator, label_keys: dict[str, int]) -> dict:
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"batch_label": b"test batch"}
    for key, classes in label_keys.items():
        batch[key.encode()] = rng.integers(0, classes, n).tolist()
    return batch


def write_pickle(path: Path, obj) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=2))
    return path


def make_cifar10_tar(folder: Path, per_batch: int = 20, test: int = 30, seed: int = 0) -> Path:
    """cifar-10-python.tar.gz in the publisher's layout, with `per_batch` images per batch file."""
    rng = np.random.default_rng(seed)
    staging = folder / "staging" / "cifar-10-batches-py"
    staging.mkdir(parents=True)
    for i in range(1, 6):
        write_pickle(staging / f"data_batch_{i}", cifar_batch(per_batch, rng, {"labels": 10}))
    write_pickle(staging / "test_batch", cifar_batch(test, rng, {"labels": 10}))
    names = [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")]
    write_pickle(staging / "batches.meta", {b"label_names": names, b"num_vis": 3072})
    archive = folder / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging, arcname="cifar-10-batches-py")
    return archive


def make_cifar100_tar(folder: Path, train: int = 50, test: int = 20, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    staging = folder / "staging100" / "cifar-100-python"
    staging.mkdir(parents=True)
    keys = {"fine_labels": 100, "coarse_labels": 20}
    write_pickle(staging / "train", cifar_batch(train, rng, keys))
    write_pickle(staging / "test", cifar_batch(test, rng, keys))
    write_pickle(staging / "meta", {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                                    b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]})
    archive = folder / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging, arcname="cifar-100-python")
    return archive


def spec_for_files(spec, archive: Path, member_dir: Path):
    """The registry's spec with digests of locally generated files in place of the publisher's."""
    import dataclasses

    from cifarbench.data.registry import RemoteFile

    members = tuple(RemoteFile(m.name, md5(member_dir / m.name)) for m in spec.members)
    return dataclasses.replace(spec, files=(RemoteFile(archive.name, md5(archive)),), members=members)


@pytest.fixture
def tiny_cifar10(tmp_path):
    """(spec, data_dir): a generated CIFAR-10 archive in data_dir/cifar10, registered digests."""
    from cifarbench.data.registry import get_spec

    data_dir = tmp_path / "data"
    (data_dir / "cifar10").mkdir(parents=True)
    archive = make_cifar10_tar(data_dir / "cifar10")
    spec = spec_for_files(get_spec("cifar10"), archive, data_dir / "cifar10" / "staging" / "cifar-10-batches-py")
    return spec, data_dir


def png_bytes(shape=(32, 32, 3)) -> bytes:
    from PIL import Image

    array = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def synthetic_config(tmp_path, **train_overrides):
    """cnn-3conv (dropout: exercises the RNG state) with flips and crops on small synthetic images."""
    from cifarbench.resolve import resolve_config

    return resolve_config("cnn-adam", {
        "data": {"dataset": "synthetic", "synthetic_shape": [3, 16, 16], "synthetic_train_size": 192,
                 "synthetic_test_size": 64},
        "augment": {"flip": "random", "crop_padding": 2, "rotate_degrees": 0},
        "optim": {"lr": 3e-3}, "schedule": {"name": "constant"},
        "train": {"epochs": 3, "batch_size": 32, "device": "cpu", "precision": "fp32", "plots": False,
                  **train_overrides},
        "runs_dir": str(tmp_path / "runs"),
    })
