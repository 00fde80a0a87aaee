"""Writing files so that a kill at any moment leaves the old file or the new one, never half.

Every file cifarbench writes (run records, checkpoints, parsed dataset caches, charts,
benchmark results) goes through `atomic_file`: the content is written to a temporary name
in the same folder, flushed to disk, then renamed over the target (a rename within one
file system is atomic on POSIX and on Windows).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from cifarbench.errors import WriteError


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed over `path` when the block ends
    without an exception, deleted otherwise. `suffix` is for writers that insist on one
    (numpy's savez appends .npz to any name without it)."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
        yield Path(tmp)
        with open(tmp, "rb+") as f:  # the bytes reach the disk before the name does
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # the machine's fault (full disk, file-size limit, read-only folder), said in one line
        raise WriteError(f"could not write {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(text: str, path: str | os.PathLike) -> None:
    atomic_write_bytes(text.encode("utf-8"), path)


def atomic_write_json(obj: Any, path: str | os.PathLike) -> None:
    atomic_write_text(json.dumps(obj, indent=2, default=json_default) + "\n", path)


def atomic_save_torch(obj: Any, path: str | os.PathLike) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(buffer.getvalue(), path)


def json_default(value: Any) -> Any:
    """What json.dumps cannot write by itself: tensors, tuples, sets, paths, numpy scalars."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_folder(root: str | os.PathLike, label: str) -> Path:
    """A new, empty `<root>/<UTC time>-<label>-<id>`; the random id keeps two folders made in
    the same second apart, and mkdir (not exist_ok) guarantees no two callers share one."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    while True:
        path = root / f"{stamp}-{label}-{uuid.uuid4().hex[:6]}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
