"""Where each dataset comes from: its publisher's files and digests, its shape and classes,
and how a folder of its verified files is parsed into arrays.

Add a dataset with `register_dataset(DatasetSpec(...))`; the CLI, the config checks and
`cifarbench list datasets` all read DATASETS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cifarbench.data import formats
from cifarbench.errors import DataError
from cifarbench.registry import Registry


@dataclass(frozen=True)
class RemoteFile:
    """One file as its publisher serves it."""

    name: str
    md5: str  # the publisher's digest of the file as downloaded
    # SHA-256 of the decompressed payload, for copies that were re-compressed by a
    # redistributor (Debian's Fashion-MNIST .gz files differ byte-wise from Zalando's).
    content_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    mirrors: tuple[str, ...]  # base URLs tried in order
    files: tuple[RemoteFile, ...]  # what is downloaded
    num_classes: int
    shape: tuple[int, int, int]  # C, H, W
    parse: Callable[[DatasetSpec, Path], dict]  # folder with verified files -> arrays
    source: str  # publisher page, for `list datasets`
    classes: tuple[str, ...] = ()  # when the files do not carry class names
    # CIFAR ships one archive whose members have their own digests (checked before every parse)
    members: tuple[RemoteFile, ...] = ()
    member_dir: str = ""


# ---------------------------------------------------------------- parsers per family


def _parse_idx(spec: DatasetSpec, folder: Path) -> dict:
    f = {rf.name.rsplit("-idx", 1)[0]: folder / rf.name for rf in spec.files}  # "train-images": path
    out: dict[str, Any] = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = formats.read_idx_images(f[f"{prefix}-images"])
        labels = formats.read_idx_labels(f[f"{prefix}-labels"], spec.num_classes)
        formats.check_pair(f[f"{prefix}-images"], images, labels)
        if images.shape[1:] != spec.shape:
            raise DataError(f"{f[f'{prefix}-images']}: images are {images.shape[1:]}, expected {spec.shape}")
        out[f"{split}_images"], out[f"{split}_labels"] = images, labels
    out["classes"] = list(spec.classes)
    return out


def _parse_cifar10(spec: DatasetSpec, folder: Path) -> dict:
    parts = [formats.read_cifar_batch(folder / f"data_batch_{i}", ("labels",)) for i in range(1, 6)]
    test_images, (test_labels,) = formats.read_cifar_batch(folder / "test_batch", ("labels",))
    (classes,) = formats.read_cifar_meta(folder / "batches.meta", ("label_names",))
    train_labels = np.concatenate([p[1][0] for p in parts])
    for name, labels in (("data_batch_*", train_labels), ("test_batch", test_labels)):
        formats.check_labels(folder / name, labels, len(classes))
    return {
        "train_images": np.concatenate([p[0] for p in parts]),
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
        "classes": classes,
    }


def _parse_cifar100(spec: DatasetSpec, folder: Path) -> dict:
    keys = ("fine_labels", "coarse_labels")
    train_images, (train_fine, train_coarse) = formats.read_cifar_batch(folder / "train", keys)
    test_images, (test_fine, test_coarse) = formats.read_cifar_batch(folder / "test", keys)
    fine, coarse = formats.read_cifar_meta(folder / "meta", ("fine_label_names", "coarse_label_names"))
    for name, labels, n in (
        ("train", train_fine, len(fine)),
        ("test", test_fine, len(fine)),
        ("train", train_coarse, len(coarse)),
        ("test", test_coarse, len(coarse)),
    ):
        formats.check_labels(folder / name, labels, n)
    return {
        "train_images": train_images,
        "train_labels": train_fine,
        "test_images": test_images,
        "test_labels": test_fine,
        "classes": fine,
        "train_coarse_labels": train_coarse,
        "test_coarse_labels": test_coarse,
        "coarse_classes": coarse,
    }


# ---------------------------------------------------------------- the registry

_IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

DATASETS: Registry[DatasetSpec] = Registry("dataset", error=DataError, describe=lambda spec: spec.source)


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    return DATASETS.add(spec.name, spec)


register_dataset(
    DatasetSpec(
        name="cifar10",
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        # Digests as published with the dataset and used by torchvision's datasets/cifar.py.
        files=(RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
        members=(
            RemoteFile("data_batch_1", "c99cafc152244af753f735de768cd75f"),
            RemoteFile("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
            RemoteFile("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
            RemoteFile("data_batch_4", "634d18415352ddfa80567beed471001a"),
            RemoteFile("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
            RemoteFile("test_batch", "40351d587109b95175f43aff81a1287e"),
            RemoteFile("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
        ),
        member_dir="cifar-10-batches-py",
        num_classes=10,
        shape=(3, 32, 32),
        parse=_parse_cifar10,
        source="https://www.cs.toronto.edu/~kriz/cifar.html",
    )
)

register_dataset(
    DatasetSpec(
        name="cifar100",
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files=(RemoteFile("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),),
        members=(
            RemoteFile("train", "16019d7e3df5f24257cddd939b257f8d"),
            RemoteFile("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),
            RemoteFile("meta", "7973b15100ade9c7d40fb424638fde48"),
        ),
        member_dir="cifar-100-python",
        num_classes=100,
        shape=(3, 32, 32),
        parse=_parse_cifar100,
        source="https://www.cs.toronto.edu/~kriz/cifar.html",
    )
)

register_dataset(
    DatasetSpec(
        name="mnist",
        # yann.lecun.com has gone away for anonymous downloads; the PyTorch team's mirror
        # serves byte-identical files (the MD5s are the ones torchvision checks).
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        files=tuple(
            RemoteFile(n, d)
            for n, d in zip(
                _IDX_NAMES,
                (
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
            )
        ),
        num_classes=10,
        shape=(1, 28, 28),
        parse=_parse_idx,
        classes=tuple(str(d) for d in range(10)),
        source="http://yann.lecun.com/exdb/mnist/",
    )
)

register_dataset(
    DatasetSpec(
        name="fashion-mnist",
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        # MD5s: Zalando's README. content_sha256: of the decompressed IDX payload, computed by us
        # from Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose .gz files were
        # re-compressed and so do not match Zalando's MD5 byte for byte.
        files=(
            RemoteFile(
                _IDX_NAMES[0],
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            RemoteFile(
                _IDX_NAMES[1],
                "25c81989df183df01b3e8a0aad5dffbe",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            RemoteFile(
                _IDX_NAMES[2],
                "bef4ecab320f06d8554ea6380940ec79",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            RemoteFile(
                _IDX_NAMES[3],
                "bb300cfdad3c16e7a12a480ee83cd310",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        ),
        num_classes=10,
        shape=(1, 28, 28),
        parse=_parse_idx,
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        source="https://github.com/zalandoresearch/fashion-mnist",
    )
)

DATASET_NAMES = tuple(DATASETS) + ("synthetic",)


def get_spec(name: str) -> DatasetSpec:
    return DATASETS.get(name)
