"""Your own images as a dataset, one module a source (`--dataset KIND:PATH`):

    folder.py     folder:PATH   one subfolder per class, with or without train/ and test/
    csv_list.py   csv:FILE      a path column and a label column, an optional split column
    npz.py        npz:FILE      NumPy arrays, used as stored
    base.py       what they share: the SOURCES registry, decoding, the cache, the checks

Adding a format is one module here that registers its loader (`@SOURCES.register("kind")`) and
its import below; tests/test_custom_data.py loops over SOURCES.
"""

from cifarbench.data.sources import csv_list, folder, npz  # noqa: F401 - each registers its source
from cifarbench.data.sources.base import SOURCES, Options, folder_label

__all__ = ["SOURCES", "Options", "folder_label"]
