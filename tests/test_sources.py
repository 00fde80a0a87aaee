import dataclasses

import numpy as np
import pytest
import torch

from cifarbench.data import download, store
from cifarbench.data.dataset import channel_stats, split_validation
from cifarbench.data.registry import RemoteFile, get_spec
from cifarbench.data.store import CACHE_NAME, load_dataset
from cifarbench.errors import DataError
from conftest import (
    FASHION_DIR,
    HANG_GUARD_SECONDS,
    make_cifar100_tar,
    md5,
    needs_fashion,
    spec_for_files,
    write_idx_gz,
)


def test_cifar10_archive_is_verified_extracted_and_parsed(tiny_cifar10):
    spec, data_dir = tiny_cifar10
    ds = load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    assert ds.train.images.shape == (100, 3, 32, 32) and ds.train.images.dtype == torch.uint8
    assert ds.test.images.shape == (30, 3, 32, 32)
    assert ds.train.labels.dtype == torch.int64
    assert ds.classes[:3] == ["airplane", "automobile", "bird"]
    assert (data_dir / "cifar10" / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert (data_dir / "cifar10" / CACHE_NAME).is_file()
    # the files it came from, each with the MD5 that was verified: the archive, then its members
    assert [f["name"] for f in ds.files] == ["cifar-10-python.tar.gz"] + [m.name for m in spec.members]
    assert ds.files[0]["md5"] == spec.files[0].md5
    assert all(f["md5"] == m.md5 for f, m in zip(ds.files[1:], spec.members))
    assert all(f["path"].startswith(str(data_dir.resolve())) for f in ds.files)


def test_channel_stats_are_computed_from_the_training_split(tiny_cifar10):
    spec, data_dir = tiny_cifar10
    ds = load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    x = ds.train.images.double() / 255
    assert ds.mean == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-5)
    assert ds.std == pytest.approx(x.std(dim=(0, 2, 3), unbiased=False).tolist(), abs=1e-5)


def test_parsed_cache_serves_the_second_load_without_raw_files(tiny_cifar10):
    spec, data_dir = tiny_cifar10
    first = load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    for path in (data_dir / "cifar10").glob("*.tar.gz"):
        path.unlink()
    import shutil

    shutil.rmtree(data_dir / "cifar10" / "cifar-10-batches-py")
    second = load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    assert torch.equal(first.train.images, second.train.images)
    assert second.location == str(data_dir / "cifar10")


def test_corrupted_archive_names_file_and_both_digests(tiny_cifar10):
    spec, data_dir = tiny_cifar10
    archive = data_dir / "cifar10" / "cifar-10-python.tar.gz"
    expected = spec.files[0].md5
    archive.write_bytes(archive.read_bytes()[:-200])  # truncated
    with pytest.raises(DataError) as err:
        load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    message = str(err.value)
    assert str(archive) in message and expected in message and md5(archive) in message
    assert "cifarbench data download" in message
    assert not (data_dir / "cifar10" / "cifar-10-batches-py").exists()  # nothing half-extracted
    assert not (data_dir / "cifar10" / CACHE_NAME).exists()


def test_tampered_member_is_rejected_before_parsing(tiny_cifar10):
    spec, data_dir = tiny_cifar10
    load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    (data_dir / "cifar10" / CACHE_NAME).unlink()
    member = data_dir / "cifar10" / "cifar-10-batches-py" / "test_batch"
    member.write_bytes(member.read_bytes() + b"x")
    with pytest.raises(DataError, match="test_batch: checksum mismatch"):
        load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)


def test_cifar100_fine_and_coarse_labels(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "cifar100").mkdir(parents=True)
    archive = make_cifar100_tar(data_dir / "cifar100")
    spec = spec_for_files(get_spec("cifar100"), archive, data_dir / "cifar100" / "staging100" / "cifar-100-python")
    fine = load_dataset("cifar100", data_dir=data_dir, download=False, spec=spec)
    coarse = load_dataset("cifar100", data_dir=data_dir, download=False, spec=spec, coarse_labels=True)
    assert len(fine.classes) == 100 and fine.classes[7] == "fine7"
    assert len(coarse.classes) == 20 and coarse.name == "cifar100-coarse"
    assert torch.equal(fine.train.images, coarse.train.images)
    assert not torch.equal(fine.train.labels, coarse.train.labels)
    assert int(coarse.train.labels.max()) < 20


def test_offline_without_a_copy_says_which_files_go_where(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "SYSTEM_COPIES", {})
    with pytest.raises(DataError) as err:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "mnist") in message


def test_failed_download_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "SYSTEM_COPIES", {})
    spec = dataclasses.replace(get_spec("mnist"), mirrors=("http://127.0.0.1:9/",))  # nothing listens on port 9
    with pytest.raises(DataError, match="download failed"):
        load_dataset("mnist", data_dir=tmp_path, spec=spec, quiet=True)
    assert not any(p.is_file() and p.name != store.LOCK_NAME for p in tmp_path.rglob("*"))


def test_download_from_a_local_mirror_verifies_and_renames(tmp_path, monkeypatch):
    """The real download path, served from a folder by file:// URLs."""
    monkeypatch.setattr(download, "SYSTEM_COPIES", {})
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (12, 28, 28)),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 12),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 5)}
    files = tuple(RemoteFile(n, md5(write_idx_gz(mirror / n, a))) for n, a in arrays.items())
    spec = dataclasses.replace(get_spec("mnist"), mirrors=(mirror.as_uri() + "/",), files=files)
    ds = load_dataset("mnist", data_dir=tmp_path / "cache", spec=spec, quiet=True)
    assert ds.train.images.shape == (12, 1, 28, 28) and len(ds.test) == 5
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted([*arrays, CACHE_NAME,
                                                                                         store.LOCK_NAME])


FILL_CACHE = """
import dataclasses, hashlib, os, sys, time
from pathlib import Path
from cifarbench.data import download, store
from cifarbench.data.registry import RemoteFile, get_spec
from cifarbench.data.store import load_dataset

mirror, cache, parse_log = (Path(a) for a in sys.argv[1:4])
download.SYSTEM_COPIES = {}
base = get_spec("mnist")
(parse_log.parent / f"arrived-{os.getpid()}").touch()  # just before this process asks for the cache

def slow_parse(spec, folder):
    with open(parse_log, "a") as f:
        f.write("parsed\\n")
    # the parse goes on until the other process has arrived, so it asks for the cache meanwhile
    while not [p for p in parse_log.parent.glob("arrived-*") if p.name != f"arrived-{os.getpid()}"]:
        time.sleep(0.01)
    return base.parse(spec, folder)

files = tuple(RemoteFile(p.name, hashlib.md5(p.read_bytes()).hexdigest()) for p in sorted(mirror.iterdir()))
spec = dataclasses.replace(base, mirrors=(mirror.as_uri() + "/",), files=files, parse=slow_parse)
ds = load_dataset("mnist", data_dir=cache, spec=spec, quiet=True)
print(hashlib.sha256(ds.train.images.numpy().tobytes() + ds.test.labels.numpy().tobytes()).hexdigest())
"""


def test_two_processes_filling_one_cache_download_and_parse_once(tmp_path):
    import subprocess
    import sys

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rng = np.random.default_rng(1)
    for name, shape in (("train-images-idx3-ubyte.gz", (40, 28, 28)), ("train-labels-idx1-ubyte.gz", (40,)),
                        ("t10k-images-idx3-ubyte.gz", (10, 28, 28)), ("t10k-labels-idx1-ubyte.gz", (10,))):
        write_idx_gz(mirror / name, rng.integers(0, 10 if len(shape) == 1 else 256, shape))
    script = tmp_path / "fill.py"
    script.write_text(FILL_CACHE)
    parse_log = tmp_path / "parses.log"
    args = [sys.executable, str(script), str(mirror), str(tmp_path / "cache"), str(parse_log)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=HANG_GUARD_SECONDS) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert outputs[0][0] == outputs[1][0] and outputs[0][0].strip()  # both see the same data
    assert parse_log.read_text().count("parsed") == 1  # the second waited, then read the cache
    leftovers = [p.name for p in (tmp_path / "cache").rglob("*") if p.name.endswith((".part", ".tmp"))]
    assert leftovers == []


def test_mirror_serving_a_bad_file_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "SYSTEM_COPIES", {})
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for rf in get_spec("mnist").files:
        (mirror / rf.name).write_bytes(b"not the real file")
    spec = dataclasses.replace(get_spec("mnist"), mirrors=(mirror.as_uri() + "/",))
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset("mnist", data_dir=tmp_path / "cache", spec=spec, quiet=True)
    assert not list((tmp_path / "cache").rglob("*.gz"))  # neither the file nor a .part survives


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(DataError, match="unknown dataset 'cifar11'; known datasets: cifar10, cifar100, mnist"):
        load_dataset("cifar11")


def test_validation_split_is_seeded_and_disjoint(tiny_cifar10):
    spec, data_dir = tiny_cifar10
    ds = load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    train_a, val_a = split_validation(ds.train, 0.2, seed=3)
    train_b, val_b = split_validation(ds.train, 0.2, seed=3)
    assert len(val_a) == 20 and len(train_a) == 80
    assert torch.equal(val_a.images, val_b.images)
    with pytest.raises(DataError, match="val_split"):
        split_validation(ds.train, 0.001, seed=0)


def test_synthetic_is_deterministic_and_any_shape():
    a = load_dataset("synthetic", shape=(1, 28, 28), num_classes=7, train_size=50, test_size=10, seed=4)
    b = load_dataset("synthetic", shape=(1, 28, 28), num_classes=7, train_size=50, test_size=10, seed=4)
    assert a.train.images.shape == (50, 1, 28, 28) and a.num_classes == 7
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)


def test_channel_stats_match_numpy():
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    mean, std = channel_stats(images)
    x = images.numpy().astype(np.float64) / 255
    assert mean == pytest.approx(x.mean(axis=(0, 2, 3)), abs=1e-6)
    assert std == pytest.approx(x.std(axis=(0, 2, 3)), abs=1e-6)


@needs_fashion
def test_real_fashion_mnist_from_debian_package(tmp_path, monkeypatch):
    """No --data-dir: the system copy is found, its files recorded, the parsed cache written to the
    cache folder; the second load reads the cache and reports the same files."""
    isolated_data = tmp_path / "fresh-cache"  # not the session's: other tests may have filled that one
    monkeypatch.setenv("CIFARBENCH_DATA", str(isolated_data))
    monkeypatch.setattr(download, "DEFAULT_CACHE", isolated_data)
    ds = load_dataset("fashion-mnist", download=False)
    assert ds.train.images.shape == (60000, 1, 28, 28) and ds.test.images.shape == (10000, 1, 28, 28)
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    assert torch.bincount(ds.train.labels).tolist() == [6000] * 10
    # recomputed here from the pixels, not typed in: the widely quoted 0.2860 / 0.3530
    assert ds.mean[0] == pytest.approx(0.2860, abs=5e-4) and ds.std[0] == pytest.approx(0.3530, abs=5e-4)
    assert ds.location == str(FASHION_DIR)
    assert (isolated_data / "fashion-mnist" / CACHE_NAME).is_file()
    expected = {rf.name: rf for rf in get_spec("fashion-mnist").files}
    assert sorted(f["name"] for f in ds.files) == sorted(expected)
    for record in ds.files:
        assert record["path"] == str(FASHION_DIR / record["name"])
        assert record["md5"] == md5(FASHION_DIR / record["name"])  # the digest of the file itself
        # Debian re-compressed the files: their payload is what matched Zalando's data
        assert record.get("content_sha256", expected[record["name"]].content_sha256) == \
            expected[record["name"]].content_sha256
    assert load_dataset("fashion-mnist", download=False).files == ds.files  # from the parsed cache


@needs_fashion
def test_a_named_data_dir_is_never_replaced_by_another_copy(tmp_path, isolated_data):
    """--data-dir names where data is read: an empty (or missing) folder is an error naming it, even
    though the system copy and the default cache hold the dataset."""
    load_dataset("fashion-mnist", download=False)  # the default cache now holds a parsed copy too
    empty = tmp_path / "mine"
    empty.mkdir()
    with pytest.raises(DataError, match=str(empty)):
        load_dataset("fashion-mnist", data_dir=empty, download=False)
    with pytest.raises(DataError, match=str(tmp_path / "missing")):
        load_dataset("fashion-mnist", data_dir=tmp_path / "missing", download=False)
    assert not (tmp_path / "missing").exists()  # nothing created for a refused folder


def test_a_cache_of_the_previous_format_is_parsed_again(tiny_cifar10):
    """A parsed cache from an older layout (without the source files) is not trusted: the files
    are parsed again and the new cache records them."""
    spec, data_dir = tiny_cifar10
    load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    cache = data_dir / "cifar10" / CACHE_NAME
    old = torch.load(cache, weights_only=True)
    old["format"] = store.CACHE_FORMAT - 1
    del old["files"]
    torch.save(old, cache)
    again = load_dataset("cifar10", data_dir=data_dir, download=False, spec=spec)
    assert again.files and torch.load(cache, weights_only=True)["format"] == store.CACHE_FORMAT


# ---------------------------------------------------------------- every registered dataset, in a loop
# Each dataset has a writer here of small files in its publisher's exact format (names, compression,
# archive layout); a dataset registered without one fails test_every_dataset_has_a_writer.


def write_cifar10(folder):
    from conftest import make_cifar10_tar

    archive = make_cifar10_tar(folder, per_batch=4, test=6)
    return spec_for_files(get_spec("cifar10"), archive, folder / "staging" / "cifar-10-batches-py"), 20, 6


def write_cifar100(folder):
    archive = make_cifar100_tar(folder, train=12, test=6)
    return spec_for_files(get_spec("cifar100"), archive, folder / "staging100" / "cifar-100-python"), 12, 6


def write_idx(name):
    def write(folder):
        spec = get_spec(name)
        rng = np.random.default_rng(0)
        counts = {"train": 12, "t10k": 6}
        files = []
        for remote in spec.files:
            prefix, kind = remote.name.split("-")[:2]  # train-images-idx3-ubyte.gz -> train, images
            n = counts[prefix]
            array = (rng.integers(0, 256, (n, *spec.shape[1:])) if kind == "images"
                     else np.arange(n) % spec.num_classes)
            files.append(RemoteFile(remote.name, md5(write_idx_gz(folder / remote.name, array))))
        return dataclasses.replace(spec, files=tuple(files)), 12, 6
    return write


WRITERS = {"cifar10": write_cifar10, "cifar100": write_cifar100, "mnist": write_idx("mnist"),
           "fashion-mnist": write_idx("fashion-mnist")}


def test_every_dataset_has_a_writer():
    from cifarbench.data.registry import DATASETS

    assert set(WRITERS) == set(DATASETS), "give each registered dataset a writer of its files here"


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_dataset_loads_its_files_in_their_exact_format(name, tmp_path):
    folder = tmp_path / "data" / name
    folder.mkdir(parents=True)
    spec, n_train, n_test = WRITERS[name](folder)
    ds = load_dataset(name, data_dir=tmp_path / "data", download=False, spec=spec)
    assert ds.train.images.shape == (n_train, *spec.shape) and ds.test.images.shape == (n_test, *spec.shape)
    assert ds.train.images.dtype == torch.uint8 and ds.train.labels.dtype == torch.int64
    assert len(ds.classes) == spec.num_classes and int(ds.train.labels.max()) < spec.num_classes
    assert [f["md5"] for f in ds.files][:len(spec.files)] == [f.md5 for f in spec.files]  # verified as written
