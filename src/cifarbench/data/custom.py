"""Your own images as a dataset: `folder:PATH`, `csv:FILE` or `npz:FILE` as the --dataset value.

    folder:PATH   one subfolder per class (ImageFolder's layout); PATH/train and PATH/test when they
                  exist, else a seeded, per-class split of the whole folder (data.test_split)
    csv:FILE      a CSV with a path column and a label column (data.path_column, data.label_column),
                  paths relative to the file; an optional split column (train / test) else a seeded split
    npz:FILE      NumPy arrays train_images, train_labels, test_images, test_labels (optional classes),
                  uint8, NHWC, NCHW or NHW

Images are decoded with Pillow, converted to one channel count (grayscale when every image is,
else RGB) and resized to one square side (data.image_size; default the median side rounded to a
multiple of 8), and become the same uint8 tensors as the built-in datasets. Everything is checked
before anything is written: a file that is not an image, a truncated or decompression-bomb image,
an empty class folder, a missing path, a label outside the class list, arrays of other lengths
are one line naming the file (and how many such there are), unless data.skip_bad skips them
(counted and listed in run_log.json). The decoded tensors are cached beside the data (or in the
cache folder when that is read-only), keyed by a digest of the file list, sizes and modification
times and the options, and rebuilt when any of them changes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import statistics
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cifarbench.data.dataset import ImageDataset, Split, channel_stats
from cifarbench.data.locking import cache_lock
from cifarbench.errors import DataError
from cifarbench.files import atomic_save_torch

log = logging.getLogger(__name__)

SOURCES = ("folder", "csv", "npz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
MAX_PIXELS = 64 * 1024 * 1024  # larger than any small-image dataset; Pillow raises past twice this
CACHE_FORMAT = 1


def is_custom(name: str) -> bool:
    return ":" in name and name.split(":", 1)[0] in SOURCES


def folder_label(dataset: str) -> str:
    """A dataset's name as it may stand in a file or folder name: `folder:~/data/sprites` is
    `folder-sprites` (its path would nest folders); a built-in name is itself."""
    if not is_custom(dataset):
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
    """The files of a folder or CSV source: (path, class name, split or None) each."""

    entries: list[tuple[Path, str, str | None]]
    classes: list[str]
    bad: list[str] = field(default_factory=list)  # "path (why)" of entries refused before decoding


def load_custom(name: str, options: Options, cache_dir: Path, quiet: bool = True) -> ImageDataset:
    """The dataset `name` (folder:PATH, csv:FILE or npz:FILE) as uint8 tensors, from its cache
    when the source has not changed."""
    kind, _, where = name.partition(":")
    path = Path(where).expanduser()
    if not path.exists():
        raise DataError(f"--dataset {name}: {path} does not exist")
    if kind == "npz":
        return _from_npz(name, path, options)
    listing = _list_folder(path, options) if kind == "folder" else _list_csv(path, options)
    return _cached(name, path, listing, options, cache_dir, quiet)


# ---------------------------------------------------------------- listing the files


def _list_folder(root: Path, options: Options) -> Listing:
    if not root.is_dir():
        raise DataError(f"folder:{root} is not a folder (one subfolder per class)")
    splits = [s for s in ("train", "test") if (root / s).is_dir()]
    if splits and splits != ["train", "test"]:
        raise DataError(f"folder:{root} has {splits[0]}/ but not {({'train', 'test'} - set(splits)).pop()}/: give "
                        "both, or neither (then data.test_split of each class is held out)")
    entries, bad, classes = [], [], None
    for split in splits or [None]:
        base = root / split if split else root
        found = sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not found:
            raise DataError(f"{base} has no class folders (one subfolder per class)")
        if classes is not None and found != classes:
            missing = sorted(set(classes) ^ set(found))
            raise DataError(f"class {missing[0]!r} is in one of {root}/train and {root}/test and not the other; "
                            "both need the same class folders")
        classes = found
        for cls in found:
            files = sorted(f for f in (base / cls).rglob("*") if f.is_file() and not f.name.startswith("."))
            images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
            bad += [f"{f} (not an image file: {f.suffix or 'no suffix'})" for f in files
                    if f.suffix.lower() not in IMAGE_SUFFIXES]
            if not images:
                raise DataError(f"class folder {base / cls} has no images ({', '.join(IMAGE_SUFFIXES)})")
            entries += [(f, cls, split) for f in images]
    return Listing(entries, classes, bad)


def _list_csv(file: Path, options: Options) -> Listing:
    try:
        with open(file, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"csv:{file} cannot be read: {exc}") from None
    columns = set(rows[0]) if rows else set()
    for column in (options.path_column, options.label_column):
        if column not in columns:
            raise DataError(f"csv:{file} has no column {column!r} (columns: {', '.join(sorted(columns)) or 'none'}); "
                            f"name yours with --set data.path_column=... / data.label_column=...")
    has_split = options.split_column in columns
    entries, bad = [], []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        path = (file.parent / (row[options.path_column] or "")).resolve()
        split = (row[options.split_column] or "").strip().lower() if has_split else None
        if split is not None and split not in ("train", "test"):
            raise DataError(f"csv:{file} line {number}: split {row[options.split_column]!r} is not train or test")
        label = (row[options.label_column] or "").strip()
        if not label:
            bad.append(f"{file} line {number} (no label)")
        elif not path.is_file():
            bad.append(f"{path} (line {number}: no such file)")
        else:
            entries.append((path, label, split))
    if not entries:
        raise DataError(f"csv:{file} lists no readable image")
    classes = sorted({label for _, label, _ in entries})
    return Listing(entries, classes, bad)


# ---------------------------------------------------------------- decoding, with its cache


def _digest(listing: Listing, options: Options) -> str:
    h = hashlib.sha256(json.dumps({"format": CACHE_FORMAT, "image_size": options.image_size,
                                   "test_split": options.test_split, "seed": options.seed,
                                   "skip_bad": options.skip_bad, "classes": listing.classes}).encode())
    for path, label, split in listing.entries:
        stat = path.stat()
        h.update(f"{path}\0{label}\0{split}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    for entry in listing.bad:
        h.update(f"bad\0{entry}\n".encode())
    return h.hexdigest()[:24]


def _cached(name: str, source: Path, listing: Listing, options: Options, cache_dir: Path, quiet: bool) -> ImageDataset:

    digest = _digest(listing, options)
    beside = (source if source.is_dir() else source.parent) / ".cifarbench-cache"
    candidates = [beside / f"{digest}.pt", cache_dir / "custom" / f"{digest}.pt"]
    for path in candidates:
        if path.is_file():
            try:
                return _dataset(name, torch.load(path, weights_only=True), str(path))
            except Exception as exc:  # noqa: BLE001 - an unreadable cache is decoded again, never trusted
                log.warning("ignoring unreadable cache %s: %s", path, exc)
    arrays = _decode(listing, options, quiet)  # every check passes before anything is written
    arrays.update(source=f"{name.split(':', 1)[0]}:{source}", digest=digest)
    for path in candidates:
        try:
            with cache_lock(path.parent):
                atomic_save_torch(arrays, path)
            return _dataset(name, arrays, str(path))
        except OSError as exc:
            log.info("cannot cache %s in %s (%s); trying the next place", name, path.parent, exc)
    log.warning("could not cache %s anywhere; it will be decoded again next time", name)
    return _dataset(name, arrays, str(source))


def _decode(listing: Listing, options: Options, quiet: bool) -> dict:
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
                except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
                        Image.DecompressionBombWarning) as exc:
                    bad.append(f"{path} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    if bad and not options.skip_bad:
        raise DataError(f"{len(bad)} bad file{'s' if len(bad) > 1 else ''}, the first {bad[0]}; fix or remove "
                        f"{'them' if len(bad) > 1 else 'it'}, or --set data.skip_bad=true to skip and count them")
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
    return {"format": CACHE_FORMAT, "classes": listing.classes, "train_images": x[~test], "train_labels": y[~test],
            "test_images": x[test], "test_labels": y[test], "skipped": bad,
            "resize": {"side": side, "mode": mode, "chosen": "data.image_size" if options.image_size else
                       "the median side, rounded to a multiple of 8", "resample": "bilinear"}}


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
                raise DataError(f"class {name!r} has {len(members)} image{'s' if len(members) != 1 else ''}; a "
                                "class needs at least 2 (one to train on, one to test)")
            n_test = min(len(members) - 1, max(1, int(round(len(members) * options.test_split))))
            test[rng.permutation(members)[:n_test]] = True
    check_both_splits(labels[~test], labels[test], classes)
    return torch.from_numpy(test)


def check_both_splits(train_labels: np.ndarray, test_labels: np.ndarray, classes: list[str]) -> None:
    for k, name in enumerate(classes):
        for split, labels in (("training", train_labels), ("test", test_labels)):
            if not (labels == k).any():
                raise DataError(f"class {name!r} has no {split} images; every class needs both")


# ---------------------------------------------------------------- NumPy arrays


def _from_npz(name: str, file: Path, options: Options) -> ImageDataset:
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
        raise DataError(f"npz:{file} holds {side}x{side} images, used as stored: data.image_size "
                        f"{options.image_size} does not apply to arrays (resize them before saving)")
    if out["train"][0].shape[1:] != out["test"][0].shape[1:]:
        raise DataError(f"npz:{file} train images are {tuple(out['train'][0].shape[1:])}, test images "
                        f"{tuple(out['test'][0].shape[1:])}: both need one shape")
    top = int(max(out["train"][1].max(initial=0), out["test"][1].max(initial=0)))
    classes = [str(c) for c in arrays["classes"]] if "classes" in arrays else [str(k) for k in range(top + 1)]
    for split in ("train", "test"):
        labels = out[split][1]
        if not np.issubdtype(labels.dtype, np.integer) or (len(labels) and (labels.min() < 0 or labels.max() >= len(classes))):
            raise DataError(f"npz:{file} {split}_labels must be integers in [0, {len(classes)}) (one per class)")
    check_both_splits(out["train"][1], out["test"][1], classes)
    cache = {"format": CACHE_FORMAT, "classes": classes, "skipped": [], "source": f"npz:{file}",
             "digest": hashlib.sha256(file.read_bytes()).hexdigest()[:24],
             "resize": {"side": None, "mode": "as stored", "chosen": "the arrays' own shape", "resample": None}}
    for split in ("train", "test"):
        cache[f"{split}_images"] = torch.from_numpy(np.ascontiguousarray(out[split][0]))
        cache[f"{split}_labels"] = torch.from_numpy(out[split][1].astype(np.int64))
    return _dataset(name, cache, str(file))


def _nchw(images: np.ndarray, file: Path, split: str) -> np.ndarray:
    if images.ndim == 3:
        return images[:, None]
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        return images
    if images.ndim == 4 and images.shape[-1] in (1, 3):
        return images.transpose(0, 3, 1, 2)
    raise DataError(f"npz:{file} {split}_images have shape {images.shape}: NHWC, NCHW or NHW with 1 or 3 channels")


# ---------------------------------------------------------------- the dataset


def _dataset(name: str, cache: dict, location: str) -> ImageDataset:
    mean, std = channel_stats(cache["train_images"])
    counts = {split: {c: int((cache[f"{split}_labels"] == k).sum()) for k, c in enumerate(cache["classes"])}
              for split in ("train", "test")}
    return ImageDataset(
        name=folder_label(name), classes=list(cache["classes"]),
        train=Split(cache["train_images"], cache["train_labels"]), test=Split(cache["test_images"], cache["test_labels"]),
        mean=mean, std=std, location=location,
        files=[{"source": cache["source"], "digest": cache["digest"], "images_per_class": counts,
                "resize": cache["resize"], "skipped": len(cache["skipped"]), "skipped_files": cache["skipped"]}])
