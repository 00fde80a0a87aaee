"""Parsers for the publishers' file formats, each checking what it reads.

- IDX (MNIST, Fashion-MNIST): http://yann.lecun.com/exdb/mnist/ — a big-endian header
  `0x00 0x00 <type> <ndim>` then one uint32 per dimension, then the raw values.
- CIFAR python batches (https://www.cs.toronto.edu/~kriz/cifar.html): a pickled dict with
  b"data" (N x 3072 uint8, the red, green and blue planes of a 32x32 image in turn) and
  b"labels" (CIFAR-10) or b"fine_labels" / b"coarse_labels" (CIFAR-100).

Every malformed input raises DataError naming the file, never a bare struct or pickle error.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

from cifarbench.errors import DataError

IDX_UBYTE = 0x08  # the only element type the MNIST family uses


def read_idx(path: Path, expected_ndim: int) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) of unsigned bytes into an array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # gzip raises these for truncated or non-gzip input
        raise DataError(f"{path}: cannot be read as {'gzip' if opener is gzip.open else 'IDX'} ({exc})") from exc
    if len(raw) < 4:
        raise DataError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    zero, dtype_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or dtype_code != IDX_UBYTE or ndim != expected_ndim:
        magic = raw[:4].hex()
        want = f"0000{IDX_UBYTE:02x}{expected_ndim:02x}"
        raise DataError(f"{path}: wrong IDX magic number 0x{magic}, expected 0x{want}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    payload = len(raw) - header
    if payload != expected:
        raise DataError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the file holds {payload} bytes")
    # a writable copy: torch refuses to wrap the read-only buffer of `raw` without a warning
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_idx_images(path: Path) -> np.ndarray:
    """(N, 1, H, W) uint8 from an idx3-ubyte file."""
    return read_idx(path, expected_ndim=3)[:, None, :, :]


def read_idx_labels(path: Path, num_classes: int) -> np.ndarray:
    labels = read_idx(path, expected_ndim=1).astype(np.int64)
    check_labels(path, labels, num_classes)
    return labels


def check_labels(path: Path, labels: np.ndarray, num_classes: int) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{path}: labels out of range [{labels.min()}, {labels.max()}], expected 0..{num_classes - 1}")


def check_pair(images_path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    if len(images) != len(labels):
        raise DataError(f"{images_path}: {len(images)} images but {len(labels)} labels")


def _unpickle(path: Path) -> dict:
    # The CIFAR batches are pickles; they are only opened after their MD5 matched the
    # publisher's (or, in tests, after being generated locally), never from an unknown source.
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f, encoding="bytes")
    except Exception as exc:  # a truncated pickle can raise almost anything
        raise DataError(f"{path}: not a readable CIFAR python batch ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, found {type(obj).__name__}")
    return obj


def _key(batch: dict, name: str, path: Path):
    for key in (name.encode(), name):
        if key in batch:
            return batch[key]
    raise DataError(f"{path}: CIFAR batch has no {name!r} entry")


def read_cifar_batch(path: Path, label_keys: tuple[str, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Images (N, 3, 32, 32) uint8 and one label array per requested key."""
    batch = _unpickle(path)
    data = np.asarray(_key(batch, "data", path))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: 'data' has shape {data.shape} and dtype {data.dtype}, expected (N, 3072) uint8")
    images = data.reshape(-1, 3, 32, 32)
    labels = [np.asarray(_key(batch, key, path), dtype=np.int64) for key in label_keys]
    for lab in labels:
        check_pair(path, images, lab)
    return images, labels


def read_cifar_meta(path: Path, keys: tuple[str, ...]) -> list[list[str]]:
    meta = _unpickle(path)
    out = []
    for key in keys:
        names = _key(meta, key, path)
        out.append([n.decode() if isinstance(n, bytes) else str(n) for n in names])
    return out
