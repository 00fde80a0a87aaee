"""Datasets as uint8 tensors, parsed once from verified files and cached beside them.

    load_dataset("fashion-mnist")  ->  ImageDataset (from <cache>/fashion-mnist/parsed-v2.pt when it is there)

The parsed cache is filled under a lock, so two processes starting together on a fresh machine
parse once; an unreadable cache is parsed again from the raw files, never trusted.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cifarbench.data.custom import Options, is_custom, load_custom
from cifarbench.data.dataset import ImageDataset, Split, channel_stats
from cifarbench.data.download import cache_root, ensure_files, find_raw_copy
from cifarbench.data.locking import LOCK_NAME, cache_lock  # noqa: F401  (LOCK_NAME: tests read it here)
from cifarbench.data.registry import DATASETS, DatasetSpec, get_spec
from cifarbench.data.sources import SOURCES
from cifarbench.errors import DataError
from cifarbench.files import atomic_save_torch

log = logging.getLogger(__name__)

# bump when the parsed-cache layout changes; old caches are re-parsed. 2: the cache records the
# verified source files (ImageDataset.files), which run_log.json reports.
CACHE_FORMAT = 2
CACHE_NAME = f"parsed-v{CACHE_FORMAT}.pt"


def locate(name: str, data_dir=None) -> Path | None:
    """The folder holding a complete parsed cache or raw copy of a dataset, without verifying it."""
    cached = cache_root(data_dir) / name
    if (cached / CACHE_NAME).is_file():
        return cached
    return find_raw_copy(name, data_dir)


def _to_cache(arrays: dict, files: list[dict]) -> dict:
    cache: dict[str, Any] = {"format": CACHE_FORMAT, "files": files}
    for key, value in arrays.items():
        cache[key] = torch.from_numpy(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else value
    cache["mean"], cache["std"] = channel_stats(cache["train_images"])
    return cache


def load_dataset(
    name: str,
    data_dir=None,
    download: bool = True,
    coarse_labels: bool = False,
    quiet: bool = False,
    spec: DatasetSpec | None = None,
    custom: Options | None = None,
    **synthetic,
) -> ImageDataset:
    """Load a dataset by name as uint8 tensors, from the parsed cache when it is there; a name
    folder:PATH, csv:FILE or npz:FILE is the user's own images (data/sources/, `custom` its options)."""
    if is_custom(name):
        return load_custom(name, custom or Options(), cache_root(data_dir), quiet)
    if name == "synthetic":
        from cifarbench.data.synthetic import make_synthetic

        return make_synthetic(**synthetic)
    spec = spec or get_spec(name)
    if data_dir is not None and not download and not Path(data_dir).expanduser().is_dir():
        raise DataError(
            f"data folder {data_dir} does not exist and downloads are off; create it with the "
            f"{spec.name} files in it, or allow downloads"
        )
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
    rows = [
        [name, str(spec.num_classes), "x".join(map(str, spec.shape)), str(locate(name) or "no"), spec.source]
        for name, spec in DATASETS.items()
    ]
    rows.append(["synthetic", "any", "any", "generated", "cifarbench (for benchmarks and tests)"])
    rows.append(
        [
            ", ".join(f"{kind}:PATH" for kind in SOURCES),
            "yours",
            "any (resized to one)",
            "yours",
            "your own images (docs: guides/data.md)",
        ]
    )
    return ["dataset", "classes", "shape", "on this machine", "source"], rows
