"""`folder:PATH`: one subfolder per class (ImageFolder's layout); PATH/train and PATH/test when they
exist, else a seeded, per-class split of the whole folder (data.test_split)."""

from __future__ import annotations

from pathlib import Path

from cifarbench.data.dataset import ImageDataset
from cifarbench.data.sources.base import IMAGE_SUFFIXES, SOURCES, Listing, Options, from_listing
from cifarbench.errors import DataError


@SOURCES.register("folder")
def load_folder(name: str, root: Path, options: Options, cache_dir: Path, quiet: bool) -> ImageDataset:
    """A folder with one subfolder of images per class (ImageFolder's layout), with or without train/ and test/."""
    return from_listing(name, root, list_folder(root, options), options, cache_dir, quiet)


def list_folder(root: Path, options: Options) -> Listing:
    if not root.is_dir():
        raise DataError(f"folder:{root} is not a folder (one subfolder per class)")
    splits = [s for s in ("train", "test") if (root / s).is_dir()]
    if splits and splits != ["train", "test"]:
        raise DataError(
            f"folder:{root} has {splits[0]}/ but not {({'train', 'test'} - set(splits)).pop()}/: give "
            "both, or neither (then data.test_split of each class is held out)"
        )
    entries: list[tuple[Path, str, str | None]] = []
    bad: list[str] = []
    classes: list[str] | None = None
    parts: list[str | None] = [*splits] or [None]  # None: the whole folder, split by data.test_split
    for split in parts:
        base = root / split if split else root
        found = sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not found:
            raise DataError(f"{base} has no class folders (one subfolder per class)")
        if classes is not None and found != classes:
            missing = sorted(set(classes) ^ set(found))
            raise DataError(
                f"class {missing[0]!r} is in one of {root}/train and {root}/test and not the other; "
                "both need the same class folders"
            )
        classes = found
        for cls in found:
            files = sorted(f for f in (base / cls).rglob("*") if f.is_file() and not f.name.startswith("."))
            images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
            bad += [
                f"{f} (not an image file: {f.suffix or 'no suffix'})"
                for f in files
                if f.suffix.lower() not in IMAGE_SUFFIXES
            ]
            if not images:
                raise DataError(f"class folder {base / cls} has no images ({', '.join(IMAGE_SUFFIXES)})")
            entries += [(f, cls, split) for f in images]
    assert classes is not None  # set by the loop's one or two passes
    return Listing(entries, classes, bad)
