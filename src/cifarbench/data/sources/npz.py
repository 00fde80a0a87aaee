"""`npz:FILE`: NumPy arrays train_images, train_labels, test_images, test_labels (optional classes),
uint8, NHWC, NCHW or NHW, used as stored."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from cifarbench.data.dataset import ImageDataset
from cifarbench.data.sources.base import (
    CACHE_FORMAT,
    SOURCES,
    Options,
    as_dataset,
    check_both_splits,
    check_classes,
)
from cifarbench.errors import DataError


@SOURCES.register("npz")
def load_npz(name: str, file: Path, options: Options, cache_dir: Path, quiet: bool) -> ImageDataset:
    """A NumPy .npz of image and label arrays, checked and used as stored (no decoding, no cache)."""
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"npz:{file} cannot be read as NumPy arrays: {exc}") from None
    for key in ("train_images", "train_labels", "test_images", "test_labels"):
        if key not in arrays:
            raise DataError(f"npz:{file} has no array {key!r} (it has: {', '.join(sorted(arrays)) or 'none'})")
    out = {}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.dtype != np.uint8:
            raise DataError(f"npz:{file} {split}_images are {images.dtype}, not uint8 (0-255 pixels)")
        if len(images) != len(labels):
            raise DataError(f"npz:{file} has {len(images)} {split}_images but {len(labels)} {split}_labels")
        out[split] = (_nchw(images, file, split), labels)
    side = out["train"][0].shape[-1]
    if options.image_size is not None and options.image_size != side:
        raise DataError(
            f"npz:{file} holds {side}x{side} images, used as stored: data.image_size "
            f"{options.image_size} does not apply to arrays (resize them before saving)"
        )
    if out["train"][0].shape[1:] != out["test"][0].shape[1:]:
        raise DataError(
            f"npz:{file} train images are {tuple(out['train'][0].shape[1:])}, test images "
            f"{tuple(out['test'][0].shape[1:])}: both need one shape"
        )
    top = int(max(out["train"][1].max(initial=0), out["test"][1].max(initial=0)))
    classes = [str(c) for c in arrays["classes"]] if "classes" in arrays else [str(k) for k in range(top + 1)]
    for split in ("train", "test"):
        labels = out[split][1]
        outside = len(labels) and (labels.min() < 0 or labels.max() >= len(classes))
        if not np.issubdtype(labels.dtype, np.integer) or outside:
            raise DataError(f"npz:{file} {split}_labels must be integers in [0, {len(classes)}) (one per class)")
    check_classes(name, classes)  # before the splits: one class is what is wrong, not a split missing one
    check_both_splits(out["train"][1], out["test"][1], classes)
    cache = {
        "format": CACHE_FORMAT,
        "classes": classes,
        "skipped": [],
        "source": f"npz:{file}",
        "digest": hashlib.sha256(file.read_bytes()).hexdigest()[:24],
        "resize": {"side": None, "mode": "as stored", "chosen": "the arrays' own shape", "resample": None},
    }
    for split in ("train", "test"):
        cache[f"{split}_images"] = torch.from_numpy(np.ascontiguousarray(out[split][0]))
        cache[f"{split}_labels"] = torch.from_numpy(out[split][1].astype(np.int64))
    return as_dataset(name, cache, str(file))


def _nchw(images: np.ndarray, file: Path, split: str) -> np.ndarray:
    if images.ndim == 3:
        return images[:, None]
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        return images
    if images.ndim == 4 and images.shape[-1] in (1, 3):
        return images.transpose(0, 3, 1, 2)
    raise DataError(f"npz:{file} {split}_images have shape {images.shape}: NHWC, NCHW or NHW with 1 or 3 channels")
