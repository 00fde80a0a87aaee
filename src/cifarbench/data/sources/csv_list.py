"""`csv:FILE`: a CSV with a path column and a label column (data.path_column, data.label_column),
paths relative to the file; an optional split column (train / test), else a seeded split."""

from __future__ import annotations

import csv
from pathlib import Path

from cifarbench.data.dataset import ImageDataset
from cifarbench.data.sources.base import SOURCES, Listing, Options, from_listing
from cifarbench.errors import DataError


@SOURCES.register("csv")
def load_csv(name: str, file: Path, options: Options, cache_dir: Path, quiet: bool) -> ImageDataset:
    """A CSV file of image paths and labels (and, optionally, each row's split)."""
    return from_listing(name, file, list_csv(file, options), options, cache_dir, quiet)


def list_csv(file: Path, options: Options) -> Listing:
    try:
        with open(file, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"csv:{file} cannot be read: {exc}") from None
    columns = set(rows[0]) if rows else set()
    for column in (options.path_column, options.label_column):
        if column not in columns:
            raise DataError(
                f"csv:{file} has no column {column!r} (columns: {', '.join(sorted(columns)) or 'none'}); "
                f"name yours with --set data.path_column=... / data.label_column=..."
            )
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
    if not entries:  # named as a folder's bad files are: the first, and how many
        raise DataError(
            f"csv:{file} lists no readable image: {len(bad)} row{'s' if len(bad) != 1 else ''} refused"
            + (f", the first {bad[0]}" if bad else "")
        )
    classes = sorted({label for _, label, _ in entries})
    return Listing(entries, classes, bad)
