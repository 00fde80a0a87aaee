"""Your own images as a dataset: `folder:PATH`, `csv:FILE` or `npz:FILE` as the --dataset value
(each a module in data/sources/, registered in its SOURCES)."""

from __future__ import annotations

from pathlib import Path

from cifarbench.data.dataset import ImageDataset
from cifarbench.data.sources import SOURCES, Options, folder_label
from cifarbench.errors import DataError

__all__ = ["Options", "folder_label", "is_custom", "load_custom"]


def is_custom(name: str) -> bool:
    return ":" in name and name.split(":", 1)[0] in SOURCES


def load_custom(name: str, options: Options, cache_dir: Path, quiet: bool = True) -> ImageDataset:
    """The dataset `name` (KIND:PATH) as uint8 tensors, from its cache when the source has not
    changed."""
    kind, _, where = name.partition(":")
    load = SOURCES.get(kind)
    path = Path(where).expanduser()
    if not path.exists():
        raise DataError(f"--dataset {name}: {path} does not exist")
    return load(name, path, options, cache_dir, quiet)
