"""What every own-image source shares: the registry of sources (SOURCES), the options the data
section gives them, decoding a list of image files (Pillow) into the same uint8 tensors as the
built-in datasets, the cache of that decoding, and the checks every source's dataset passes.

A source is one module in this folder: a function `(name, path, options, cache_dir, quiet) ->
ImageDataset` registered as `@SOURCES.register("kind")`; `--dataset kind:PATH` then reaches it.
A source of image files lists them (a Listing) and hands the list to `from_listing`, which checks
every file before anything is written, decodes, splits and caches; a source of arrays checks them
and builds the dataset with `as_dataset`.

Images are decoded with Pillow, converted to one channel count (grayscale when every image is,
else RGB) and resized to one square side (data.image_size; default the median side rounded to a
multiple of 8). A file that is not an image, a truncated or decompression-bomb image, an empty
class folder, a missing path, a label outside the class list, arrays of other lengths are one line
naming the file (and how many such there are), unless data.skip_bad skips them (counted and listed
in run_log.json). The decoded tensors are cached beside the data (or in the cache folder when that
is read-only), keyed by a digest of the file list, sizes and modification times and the options,
and rebuilt when any of them changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cifarbench.data.dataset import ImageDataset, Split, channel_stats
from cifarbench.data.locking import cache_lock
from cifarbench.errors import DataError
from cifarbench.files import atomic_save_torch
from cifarbench.registry import Registry

log = logging.getLogger(__name__)

# kind -> load(name, path, options, cache_dir, quiet) -> ImageDataset; `--dataset kind:PATH` picks one
SOURCES: Registry[Callable[..., ImageDataset]] = Registry("own-image source", error=DataError)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
MAX_PIXELS = 64 * 1024 * 1024  # larger than any small-image dataset; Pillow raises past twice this
CACHE_FORMAT = 1


def folder_label(dataset: str) -> str:
    """A dataset's name as it may stand in a file or folder name: `folder:~/data/sprites` is
    `folder-sprites` (its path would nest folders); a built-in name is itself."""
    if ":" not in dataset:
        return dataset
    kind, _, where = dataset.partition(":")
    return f"{kind}-{Path(where).stem or 'data'}"


@dataclass(frozen=True)
class Options:
    """What the data section says of a custom source (config.DataConfig's fields)."""

    image_size: int | None = None
    test_split: float = 0.2
    skip_bad: bool = False
    path_column: str = "path"
    label_column: str = "label"
    split_column: str = "split"
    seed: int = 0  # of the train/test split when the source has none: fixed, so every run tests on the same images


@dataclass
class Listing:
    """The image files of a source: (path, class name, split or None) each."""

    entries: list[tuple[Path, str, str | None]]
    classes: list[str]
    bad: list[str] = field(default_factory=list)  # "path (why)" of entries refused before decoding


# ---------------------------------------------------------------- decoding, with its cache


def _digest(listing: Listing, options: Options) -> str:
    h = hashlib.sha256(
        json.dumps(
            {
                "format": CACHE_FORMAT,
                "image_size": options.image_size,
                "test_split": options.test_split,
                "seed": options.seed,
                "skip_bad": options.skip_bad,
                "classes": listing.classes,
            }
        ).encode()
    )
    for path, label, split in listing.entries:
        stat = path.stat()
        h.update(f"{path}\0{label}\0{split}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    for entry in listing.bad:
        h.update(f"bad\0{entry}\n".encode())
    return h.hexdigest()[:24]


def from_listing(
    name: str, source: Path, listing: Listing, options: Options, cache_dir: Path, quiet: bool
) -> ImageDataset:
    """The listed files as a dataset: from the cache when none of them changed, else checked,
    decoded, split and cached."""
    check_classes(name, listing.classes)
    digest = _digest(listing, options)
    beside = (source if source.is_dir() else source.parent) / ".cifarbench-cache"
    candidates = [beside / f"{digest}.pt", cache_dir / "custom" / f"{digest}.pt"]
    for path in candidates:
        if path.is_file():
            try:
                return as_dataset(name, torch.load(path, weights_only=True), str(path))
            except Exception as exc:  # noqa: BLE001 - an unreadable cache is decoded again, never trusted
                log.warning("ignoring unreadable cache %s: %s", path, exc)
    arrays = decode(listing, options, quiet)  # every check passes before anything is written
    arrays.update(source=f"{name.split(':', 1)[0]}:{source}", digest=digest)
    for path in candidates:
        try:
            with cache_lock(path.parent):
                atomic_save_torch(arrays, path)
            return as_dataset(name, arrays, str(path))
        except OSError as exc:
            log.info("cannot cache %s in %s (%s); trying the next place", name, path.parent, exc)
    log.warning("could not cache %s anywhere; it will be decoded again next time", name)
    return as_dataset(name, arrays, str(source))


def decode(listing: Listing, options: Options, quiet: bool) -> dict:
    from PIL import Image

    images, bad = [], list(listing.bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, MAX_PIXELS
        try:
            for path, label, split in _progress(listing.entries, quiet):
                try:
                    with Image.open(path) as img:
                        img.load()
                        images.append((img.copy(), label, split, path))
                except (
                    OSError,
                    SyntaxError,
                    ValueError,
                    Image.DecompressionBombError,
                    Image.DecompressionBombWarning,
                ) as exc:
                    bad.append(f"{path} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    if bad and not options.skip_bad:
        raise DataError(
            f"{len(bad)} bad file{'s' if len(bad) > 1 else ''}, the first {bad[0]}; fix or remove "
            f"{'them' if len(bad) > 1 else 'it'}, or --set data.skip_bad=true to skip and count them"
        )
    gray = all(img.mode in ("1", "L", "LA", "I", "I;16", "F") for img, *_ in images)
    mode, channels = ("L", 1) if gray else ("RGB", 3)
    side = options.image_size or _median_side(images)
    out = np.empty((len(images), side, side, channels), dtype=np.uint8)
    for i, (img, *_rest) in enumerate(images):
        img = img.convert(mode)
        if img.size != (side, side):
            img = img.resize((side, side), Image.Resampling.BILINEAR)
        out[i] = np.asarray(img, dtype=np.uint8).reshape(side, side, channels)
    labels = np.array([listing.classes.index(label) for _, label, _, _ in images], dtype=np.int64)
    splits = [split for _, _, split, _ in images]
    test = _test_mask(labels, splits, options, listing.classes)
    x = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(labels)
    return {
        "format": CACHE_FORMAT,
        "classes": listing.classes,
        "train_images": x[~test],
        "train_labels": y[~test],
        "test_images": x[test],
        "test_labels": y[test],
        "skipped": bad,
        "resize": {
            "side": side,
            "mode": mode,
            "chosen": "data.image_size" if options.image_size else "the median side, rounded to a multiple of 8",
            "resample": "bilinear",
        },
    }


def _progress(entries, quiet: bool):
    if quiet or len(entries) < 2000:
        yield from entries
        return
    from rich.progress import track

    from cifarbench.console import CONSOLE

    yield from track(entries, description="decoding images", console=CONSOLE, transient=True)


def _median_side(images) -> int:
    sides = [s for img, *_ in images for s in img.size]
    return max(8, int(round(statistics.median(sides) / 8)) * 8)


def _test_mask(labels: np.ndarray, splits: list, options: Options, classes: list[str]) -> torch.Tensor:
    """Which images are the test split: the source's own split, else data.test_split of each class
    (seeded), at least one image each way."""
    if any(s is not None for s in splits):
        test = np.array([s == "test" for s in splits])
    else:
        rng = np.random.default_rng(options.seed)
        test = np.zeros(len(labels), dtype=bool)
        for k, name in enumerate(classes):
            members = np.flatnonzero(labels == k)
            if len(members) < 2:
                raise DataError(
                    f"class {name!r} has {len(members)} image{'s' if len(members) != 1 else ''}; a "
                    "class needs at least 2 (one to train on, one to test)"
                )
            n_test = min(len(members) - 1, max(1, int(round(len(members) * options.test_split))))
            test[rng.permutation(members)[:n_test]] = True
    check_both_splits(labels[~test], labels[test], classes)
    return torch.from_numpy(test)


def check_classes(name: str, classes: list[str]) -> None:
    """A classifier needs two classes at least: one class is refused for what it is, before any
    other check (a batch size, a split) can name a lesser symptom."""
    if len(classes) < 2:
        raise DataError(
            f"{name} has {len(classes)} class{'es' if len(classes) != 1 else ''} "
            f"({', '.join(map(repr, classes)) or 'none'}); a classifier needs at least 2"
        )


def check_both_splits(train_labels: np.ndarray, test_labels: np.ndarray, classes: list[str]) -> None:
    for k, name in enumerate(classes):
        for split, labels in (("training", train_labels), ("test", test_labels)):
            if not (labels == k).any():
                raise DataError(f"class {name!r} has no {split} images; every class needs both")


# ---------------------------------------------------------------- the dataset


def as_dataset(name: str, cache: dict, location: str) -> ImageDataset:
    mean, std = channel_stats(cache["train_images"])
    counts = {
        split: {c: int((cache[f"{split}_labels"] == k).sum()) for k, c in enumerate(cache["classes"])}
        for split in ("train", "test")
    }
    return ImageDataset(
        name=folder_label(name),
        classes=list(cache["classes"]),
        train=Split(cache["train_images"], cache["train_labels"]),
        test=Split(cache["test_images"], cache["test_labels"]),
        mean=mean,
        std=std,
        location=location,
        files=[
            {
                "source": cache["source"],
                "digest": cache["digest"],
                "images_per_class": counts,
                "resize": cache["resize"],
                "skipped": len(cache["skipped"]),
                "skipped_files": cache["skipped"],
            }
        ],
    )
