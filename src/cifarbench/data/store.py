"""Datasets as uint8 tensors, parsed once from verified files and cached beside them.

    load_dataset("fashion-mnist")  ->  ImageDataset (from <cache>/fashion-mnist/parsed-v2.pt when it is there)

The parsed cache is filled under a lock, so two processes starting together on a fresh machine
parse once; an unreadable cache is parsed again from the raw files, never trusted.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock, Timeout

from cifarbench.data.dataset import ImageDataset, Split, channel_stats
from cifarbench.data.download import cache_root, ensure_files, find_raw_copy
from cifarbench.data.registry import DATASETS, DatasetSpec, get_spec
from cifarbench.errors import DataError
from cifarbench.files import atomic_save_torch

log = logging.getLogger(__name__)

# bump when the parsed-cache layout changes; old caches are re-parsed. 2: the cache records the
# verified source files (ImageDataset.files), which run_log.json reports.
CACHE_FORMAT = 2
CACHE_NAME = f"parsed-v{CACHE_FORMAT}.pt"
LOCK_NAME = ".lock"  # in each dataset's cache folder, held while filling it


def locate(name: str, data_dir=None) -> Path | None:
    """The folder holding a complete parsed cache or raw copy of a dataset, without verifying it."""
    cached = cache_root(data_dir) / name
    if (cached / CACHE_NAME).is_file():
        return cached
    return find_raw_copy(name, data_dir)


def _to_cache(arrays: dict, files: list[dict]) -> dict:
    cache = {"format": CACHE_FORMAT, "files": files}
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
    if data_dir is not None and not download and not Path(data_dir).expanduser().is_dir():
        raise DataError(f"data folder {data_dir} does not exist and downloads are off; create it with the "
                        f"{spec.name} files in it, or allow downloads")
    cache_path = cache_root(data_dir) / spec.name / CACHE_NAME
    cache = _read_cache(cache_path)
    location = str(cache_path.parent)
    if cache is None:
        with cache_lock(cache_path.parent):
            cache = _read_cache(cache_path)  # another process may have filled it while we waited
            if cache is None:
                folder, files = ensure_files(spec, data_dir, download=download, quiet=quiet)
                cache = _to_cache(spec.parse(spec, folder), files)
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
        files=list(cache.get("files", [])),
    )


def dataset_table() -> tuple[list[str], list[list[str]]]:
    """Columns and rows of `cifarbench list datasets`: each dataset and where it is on this machine."""
    rows = [[name, str(spec.num_classes), "x".join(map(str, spec.shape)), str(locate(name) or "no"), spec.source]
            for name, spec in DATASETS.items()]
    rows.append(["synthetic", "any", "any", "generated", "cifarbench (for benchmarks and tests)"])
    return ["dataset", "classes", "shape", "on this machine", "source"], rows
