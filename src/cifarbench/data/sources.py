"""The dataset registry: where each dataset comes from, how it is verified and parsed.

A dataset is found in this order: `--data-dir`, `$CIFARBENCH_DATA`, the default cache
(`~/.cache/cifarbench`), then known system copies (Debian's `dataset-fashion-mnist`). Files
are verified against the publisher's digests before they are parsed; the parsed uint8
tensors are cached beside them so the next load is one `torch.load`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from filelock import FileLock, Timeout

from cifarbench.data import formats
from cifarbench.errors import DataError
from cifarbench.files import atomic_save_torch

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the parsed-cache layout changes; old caches are re-parsed
CACHE_NAME = f"parsed-v{CACHE_FORMAT}.pt"
LOCK_NAME = ".lock"  # in each dataset's cache folder, held while filling it
DEFAULT_CACHE = Path("~/.cache/cifarbench")
SYSTEM_COPIES = {"fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")]}


@dataclass(frozen=True)
class RemoteFile:
    """One file as its publisher serves it."""

    name: str
    md5: str  # the publisher's digest of the file as downloaded
    # SHA-256 of the decompressed payload, for copies that were re-compressed by a
    # redistributor (Debian's Fashion-MNIST .gz files differ byte-wise from Zalando's).
    content_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    mirrors: tuple[str, ...]  # base URLs tried in order
    files: tuple[RemoteFile, ...]  # what is downloaded
    num_classes: int
    shape: tuple[int, int, int]  # C, H, W
    parse: Callable[["DatasetSpec", Path], dict]  # folder with verified files -> arrays
    source: str  # publisher page, for `list datasets`
    classes: tuple[str, ...] = ()  # when the files do not carry class names
    # CIFAR ships one archive whose members have their own digests (checked before every parse)
    members: tuple[RemoteFile, ...] = ()
    member_dir: str = ""


@dataclass
class Split:
    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: torch.Tensor | slice) -> "Split":
        return Split(self.images[index], self.labels[index])


@dataclass
class ImageDataset:
    name: str
    classes: list[str]
    train: Split
    test: Split
    mean: tuple[float, ...]  # per channel, in [0, 1], computed from the training split
    std: tuple[float, ...]
    location: str = ""  # where the files were found, for the run log

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# ---------------------------------------------------------------- parsers per family


def _parse_idx(spec: DatasetSpec, folder: Path) -> dict:
    f = {rf.name.rsplit("-idx", 1)[0]: folder / rf.name for rf in spec.files}  # "train-images": path
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = formats.read_idx_images(f[f"{prefix}-images"])
        labels = formats.read_idx_labels(f[f"{prefix}-labels"], spec.num_classes)
        formats.check_pair(f[f"{prefix}-images"], images, labels)
        if images.shape[1:] != spec.shape:
            raise DataError(f"{f[f'{prefix}-images']}: images are {images.shape[1:]}, expected {spec.shape}")
        out[f"{split}_images"], out[f"{split}_labels"] = images, labels
    out["classes"] = list(spec.classes)
    return out


def _parse_cifar10(spec: DatasetSpec, folder: Path) -> dict:
    parts = [formats.read_cifar_batch(folder / f"data_batch_{i}", ("labels",)) for i in range(1, 6)]
    test_images, (test_labels,) = formats.read_cifar_batch(folder / "test_batch", ("labels",))
    (classes,) = formats.read_cifar_meta(folder / "batches.meta", ("label_names",))
    train_labels = np.concatenate([p[1][0] for p in parts])
    for name, labels in (("data_batch_*", train_labels), ("test_batch", test_labels)):
        formats.check_labels(folder / name, labels, len(classes))
    return {
        "train_images": np.concatenate([p[0] for p in parts]),
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
        "classes": classes,
    }


def _parse_cifar100(spec: DatasetSpec, folder: Path) -> dict:
    keys = ("fine_labels", "coarse_labels")
    train_images, (train_fine, train_coarse) = formats.read_cifar_batch(folder / "train", keys)
    test_images, (test_fine, test_coarse) = formats.read_cifar_batch(folder / "test", keys)
    fine, coarse = formats.read_cifar_meta(folder / "meta", ("fine_label_names", "coarse_label_names"))
    for name, labels, n in (("train", train_fine, len(fine)), ("test", test_fine, len(fine)),
                            ("train", train_coarse, len(coarse)), ("test", test_coarse, len(coarse))):
        formats.check_labels(folder / name, labels, n)
    return {
        "train_images": train_images, "train_labels": train_fine,
        "test_images": test_images, "test_labels": test_fine,
        "classes": fine,
        "train_coarse_labels": train_coarse, "test_coarse_labels": test_coarse,
        "coarse_classes": coarse,
    }


# ---------------------------------------------------------------- the registry

_IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    DATASETS[spec.name] = spec
    return spec


register_dataset(DatasetSpec(
    name="cifar10",
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    # Digests as published with the dataset and used by torchvision's datasets/cifar.py.
    files=(RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
    members=(
        RemoteFile("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        RemoteFile("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        RemoteFile("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        RemoteFile("data_batch_4", "634d18415352ddfa80567beed471001a"),
        RemoteFile("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
        RemoteFile("test_batch", "40351d587109b95175f43aff81a1287e"),
        RemoteFile("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
    ),
    member_dir="cifar-10-batches-py",
    num_classes=10, shape=(3, 32, 32), parse=_parse_cifar10,
    source="https://www.cs.toronto.edu/~kriz/cifar.html",
))

register_dataset(DatasetSpec(
    name="cifar100",
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    files=(RemoteFile("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),),
    members=(
        RemoteFile("train", "16019d7e3df5f24257cddd939b257f8d"),
        RemoteFile("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),
        RemoteFile("meta", "7973b15100ade9c7d40fb424638fde48"),
    ),
    member_dir="cifar-100-python",
    num_classes=100, shape=(3, 32, 32), parse=_parse_cifar100,
    source="https://www.cs.toronto.edu/~kriz/cifar.html",
))

register_dataset(DatasetSpec(
    name="mnist",
    # yann.lecun.com has gone away for anonymous downloads; the PyTorch team's mirror
    # serves byte-identical files (the MD5s are the ones torchvision checks).
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    files=tuple(RemoteFile(n, d) for n, d in zip(_IDX_NAMES, (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    num_classes=10, shape=(1, 28, 28), parse=_parse_idx,
    classes=tuple(str(d) for d in range(10)),
    source="http://yann.lecun.com/exdb/mnist/",
))

register_dataset(DatasetSpec(
    name="fashion-mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    # MD5s: Zalando's README. content_sha256: of the decompressed IDX payload, computed by us
    # from Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose .gz files were
    # re-compressed and so do not match Zalando's MD5 byte for byte.
    files=(
        RemoteFile(_IDX_NAMES[0], "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                   "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        RemoteFile(_IDX_NAMES[1], "25c81989df183df01b3e8a0aad5dffbe",
                   "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        RemoteFile(_IDX_NAMES[2], "bef4ecab320f06d8554ea6380940ec79",
                   "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        RemoteFile(_IDX_NAMES[3], "bb300cfdad3c16e7a12a480ee83cd310",
                   "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ),
    num_classes=10, shape=(1, 28, 28), parse=_parse_idx,
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    source="https://github.com/zalandoresearch/fashion-mnist",
))

DATASET_NAMES = tuple(DATASETS) + ("synthetic",)


def get_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASET_NAMES)}")
    return DATASETS[name]


# ---------------------------------------------------------------- where files live


def cache_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The writable folder that downloads and parsed caches go to."""
    chosen = data_dir or os.environ.get("CIFARBENCH_DATA") or DEFAULT_CACHE
    return Path(chosen).expanduser()


def search_folders(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Every folder that may hold the dataset's files, in the order they are tried."""
    roots = []
    for root in (data_dir, os.environ.get("CIFARBENCH_DATA"), DEFAULT_CACHE):
        if root:
            root = Path(root).expanduser()
            roots += [root / name, root]
    roots += SYSTEM_COPIES.get(name, [])
    unique: list[Path] = []
    for r in roots:
        if r not in unique:
            unique.append(r)
    return unique


def file_digest(path: Path, algorithm: str = "md5", decompress: bool = False) -> str:
    digest = hashlib.new(algorithm)
    if decompress:
        import gzip

        opener = gzip.open
    else:
        opener = open
    with opener(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected: RemoteFile) -> None:
    """Raise DataError unless the file matches the publisher's MD5 (or its known payload)."""
    actual = file_digest(path)
    if actual == expected.md5:
        return
    if expected.content_sha256 and path.suffix == ".gz":
        try:
            if file_digest(path, "sha256", decompress=True) == expected.content_sha256:
                return
        except (OSError, EOFError):
            pass  # a truncated gzip: report the MD5 mismatch below
    raise DataError(
        f"{path}: checksum mismatch (MD5 {actual}, expected {expected.md5}); the file is corrupted or "
        f"truncated: delete it and run `cifarbench data download` again"
    )


def _find_file(name: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    return None


def _find_members(spec: DatasetSpec, folders: list[Path]) -> Path | None:
    """A folder with every extracted archive member (CIFAR's `cifar-10-batches-py`)."""
    for folder in folders:
        candidate = folder / spec.member_dir
        if all((candidate / m.name).is_file() for m in spec.members):
            return candidate
    return None


# ---------------------------------------------------------------- downloading


def _download(url: str, target: Path, expected: RemoteFile, quiet: bool) -> None:
    """Download to `<target>.part`, verify, then rename: a broken transfer never looks complete."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), disable=quiet, transient=True) as bar:
                task = bar.add_task(f"download {target.name}", total=total)
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    bar.advance(task, len(block))
            out.flush()
            os.fsync(out.fileno())
        verify_file(part, expected)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _fetch(spec: DatasetSpec, rf: RemoteFile, root: Path, quiet: bool) -> Path:
    target = root / spec.name / rf.name
    errors = []
    for mirror in spec.mirrors:
        url = mirror + rf.name
        log.info("downloading %s", url)
        try:
            _download(url, target, rf, quiet)
            return target
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            errors.append(f"{url}: {exc}")
        except DataError as exc:  # a mirror served a bad file: try the next one
            errors.append(str(exc))
    raise DataError(_missing_message(spec, root, errors))


def _missing_message(spec: DatasetSpec, root: Path, errors: list[str]) -> str:
    wanted = ", ".join(rf.name for rf in spec.files)
    local = [n for n in DATASETS if n != spec.name and locate(n) is not None]
    hint = f"; datasets already on this machine: {', '.join(local)}" if local else ""
    why = f" (download failed: {errors[-1]})" if errors else " (downloads are off)"
    return (f"dataset {spec.name!r} is not on this machine{why}; put {wanted} "
            f"(from {spec.mirrors[0]}) in {root / spec.name}{hint}")


def locate(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder holding a complete parsed cache or raw copy of a dataset, without verifying it."""
    spec = DATASETS[name]
    folders = search_folders(name, data_dir)
    if (cache_root(data_dir) / name / CACHE_NAME).is_file():
        return cache_root(data_dir) / name
    if spec.members and _find_members(spec, folders):
        return _find_members(spec, folders)
    found = [_find_file(rf.name, folders) for rf in spec.files]
    return found[0].parent if all(found) else None


def ensure_files(spec: DatasetSpec, data_dir=None, download: bool = True, quiet: bool = False) -> Path:
    """A folder holding every verified file the parser needs, downloading what is missing."""
    folders = search_folders(spec.name, data_dir)
    root = cache_root(data_dir)
    if spec.members:
        extracted = _find_members(spec, folders)
        if extracted is not None:
            for m in spec.members:
                verify_file(extracted / m.name, m)
            return extracted
    paths = []
    for rf in spec.files:
        path = _find_file(rf.name, folders)
        if path is None:
            if not download:
                raise DataError(_missing_message(spec, root, []))
            path = _fetch(spec, rf, root, quiet)
        verify_file(path, rf)
        paths.append(path)
    if not spec.members:
        if len({p.parent for p in paths}) > 1:
            raise DataError(f"dataset {spec.name!r}: files are split between {sorted({str(p.parent) for p in paths})}; "
                            "put them in one folder")
        return paths[0].parent
    return _extract(spec, paths[0], root / spec.name)


def _extract(spec: DatasetSpec, archive: Path, dest_root: Path) -> Path:
    """Extract the members into a temporary folder, verify them, then rename it into place."""
    dest_root.mkdir(parents=True, exist_ok=True)
    final = dest_root / spec.member_dir
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=".extract-") as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{archive}: cannot be extracted ({exc})") from exc
        staged = Path(tmp) / spec.member_dir
        for m in spec.members:
            if not (staged / m.name).is_file():
                raise DataError(f"{archive}: the archive has no {spec.member_dir}/{m.name}")
            verify_file(staged / m.name, m)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)
    return final


# ---------------------------------------------------------------- parsing and caching


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in [0, 1] units, accumulated in float64 in chunks."""
    n, c = images.shape[:2]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for chunk in images.split(8192):
        x = chunk.to(torch.float64) / 255.0
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
    count = n * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(0).sqrt()
    return tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in std)


def _to_cache(arrays: dict) -> dict:
    cache = {"format": CACHE_FORMAT}
    for key, value in arrays.items():
        cache[key] = torch.from_numpy(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else value
    cache["mean"], cache["std"] = channel_stats(cache["train_images"])
    return cache


def load_dataset(name: str, data_dir=None, download: bool = True, coarse_labels: bool = False,
                 quiet: bool = False, spec: DatasetSpec | None = None, **synthetic) -> ImageDataset:
    """Load a dataset by name as uint8 tensors, from the parsed cache when it is there."""
    if name == "synthetic":
        from cifarbench.data.synthetic import make_synthetic

        return make_synthetic(**synthetic)
    spec = spec or get_spec(name)
    cache_path = cache_root(data_dir) / spec.name / CACHE_NAME
    cache = _read_cache(cache_path)
    location = str(cache_path.parent)
    if cache is None:
        with cache_lock(cache_path.parent):
            cache = _read_cache(cache_path)  # another process may have filled it while we waited
            if cache is None:
                folder = ensure_files(spec, data_dir, download=download, quiet=quiet)
                cache = _to_cache(spec.parse(spec, folder))
                location = str(folder)
                try:
                    atomic_save_torch(cache, cache_path)
                except OSError as exc:  # a read-only cache is slower, not fatal
                    log.warning("could not write the parsed cache %s: %s", cache_path, exc)
    return _dataset_from_cache(spec.name, cache, coarse_labels, location)


@contextlib.contextmanager
def cache_lock(folder: Path, timeout: float = 3600.0):
    """One process at a time downloads, extracts and parses into a dataset's cache folder.

    Two trainings started together on a fresh machine would otherwise download into the same
    `.part` file and race on the extraction; the second one waits here, then finds the cache
    complete. The lock is an flock, released by the operating system if its holder dies.
    A folder that cannot be written (a shared read-only cache) is used without a lock."""
    lock = FileLock(folder / LOCK_NAME, timeout=timeout)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OSError as exc:
        log.warning("no lock on %s (%s); not safe against a second process filling it", folder, exc)
        lock = None
    except Timeout:
        raise DataError(f"{folder} has been locked by another process for {timeout:.0f} s; if none is running, "
                        f"delete {folder / LOCK_NAME}") from None
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def _read_cache(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        cache = torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable cache is re-parsed from the raw files
        log.warning("ignoring unreadable parsed cache %s: %s", path, exc)
        return None
    return cache if isinstance(cache, dict) and cache.get("format") == CACHE_FORMAT else None


def _dataset_from_cache(name: str, cache: dict, coarse_labels: bool, location: str) -> ImageDataset:
    classes, train_labels, test_labels = cache["classes"], cache["train_labels"], cache["test_labels"]
    if coarse_labels:
        if "coarse_classes" not in cache:
            raise DataError(f"dataset {name!r} has no coarse labels (only cifar100 does)")
        classes = cache["coarse_classes"]
        train_labels, test_labels = cache["train_coarse_labels"], cache["test_coarse_labels"]
    return ImageDataset(
        name=name + ("-coarse" if coarse_labels else ""),
        classes=list(classes),
        train=Split(cache["train_images"], train_labels),
        test=Split(cache["test_images"], test_labels),
        mean=tuple(cache["mean"]),
        std=tuple(cache["std"]),
        location=location,
    )


def split_validation(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out a seeded random fraction of the training split for validation."""
    n_val = int(round(len(train) * fraction))
    if not 0 < n_val < len(train):
        raise DataError(f"val_split {fraction} leaves no training or no validation images out of {len(train)}")
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return train.take(order[n_val:]), train.take(order[:n_val])
