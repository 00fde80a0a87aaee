"""From a config to the splits and loaders a run trains on: the one place that decides
which images are training, validation and test images.

    train split --(val_split > 0)--> train + validation (seeded, carved from training data)
    test split  --> test, read for the final evaluation only

With val_split = 0 the test split doubles as validation (the convention of the scripts this
tool replaces); every output names the split it validated on, so the two are never confused.
A run whose final evaluation is on the validation split (a `cifarbench tune` trial) has its
test split sealed: any read of it is an error, so no choice can be made by looking at it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, cast

import torch

from cifarbench.config import RunConfig
from cifarbench.data.custom import Options
from cifarbench.data.dataset import ImageDataset, Split, split_validation
from cifarbench.data.loader import DeviceLoader
from cifarbench.data.store import load_dataset
from cifarbench.errors import ConfigError, DataError

VALIDATION = "validation"
TEST_AS_VALIDATION = "test (used as validation)"
FINAL_SPLITS = ("test", "validation")  # what a run's final evaluation reads


class SealedSplit:
    """Stands in for the test split of a run that must not see it: every use is an error."""

    def __init__(self, why: str):
        self._why = why

    def __len__(self) -> int:
        raise DataError(f"the test split is sealed: {self._why}")

    def __getattr__(self, name: str):
        if name.startswith("__"):  # copy/pickle probes, not reads of the data
            raise AttributeError(name)
        raise DataError(f"the test split is sealed: {self._why}")


@dataclass
class PreparedData:
    dataset: ImageDataset
    train: Split
    val: Split
    test: Split | SealedSplit
    val_name: str  # VALIDATION or TEST_AS_VALIDATION
    final: str = "test"  # the split of the final evaluation, one of FINAL_SPLITS

    @property
    def final_split(self) -> Split:
        if self.final == "validation":
            return self.val
        assert not isinstance(self.test, SealedSplit)  # sealed only in runs that end on validation
        return self.test

    @property
    def test_sealed(self) -> bool:
        return isinstance(self.test, SealedSplit)


def load_configured_dataset(config: RunConfig, quiet: bool = False) -> ImageDataset:
    d = config.data
    custom = Options(
        image_size=d.image_size,
        test_split=d.test_split,
        skip_bad=d.skip_bad,
        path_column=d.path_column,
        label_column=d.label_column,
        split_column=d.split_column,
    )
    return load_dataset(
        d.dataset,
        data_dir=d.data_dir,
        download=d.download,
        coarse_labels=d.coarse_labels,
        quiet=quiet,
        custom=custom,
        shape=d.synthetic_shape,
        num_classes=d.synthetic_classes,
        train_size=d.synthetic_train_size,
        test_size=d.synthetic_test_size,
        seed=config.train.seed,
    )


def prepare_data(config: RunConfig, quiet: bool = False, final: str = "test") -> PreparedData:
    """The splits of a run. With `final="validation"` the run ends on its validation split and
    its test split is sealed before anything sees it (it needs data.val_split > 0)."""
    d = config.data
    if final not in FINAL_SPLITS:
        raise ConfigError(f"final evaluation split {final!r} is not one of {', '.join(FINAL_SPLITS)}")
    if final == "validation" and d.val_split <= 0:
        raise ConfigError(
            "a run that must not read the test split needs a validation split carved from the "
            f"training data: data.val_split is {d.val_split}, give a fraction such as 0.1"
        )
    dataset = load_configured_dataset(config, quiet)
    if final == "validation":
        sealed = SealedSplit("this run validates on data held out of the training split and never reads the test split")
        # the stand-in takes the test split's place: any use of it raises DataError
        dataset = dataclasses.replace(dataset, test=cast(Split, sealed))
    train_split = dataset.train.take(slice(0, d.train_subset)) if d.train_subset else dataset.train
    test_split = dataset.test if final == "validation" else test_split_of(config, dataset)
    if d.val_split > 0:
        train_split, val_split = split_validation(train_split, d.val_split, config.train.seed)
        return PreparedData(dataset, train_split, val_split, test_split, VALIDATION, final)
    return PreparedData(dataset, train_split, test_split, test_split, TEST_AS_VALIDATION, final)


def test_split_of(config: RunConfig, dataset: ImageDataset) -> Split:
    d = config.data
    return dataset.test.take(slice(0, d.test_subset)) if d.test_subset else dataset.test


def make_loaders(
    config: RunConfig, data: PreparedData, device: torch.device, rank: int = 0, world_size: int = 1
) -> tuple[DeviceLoader, DeviceLoader]:
    """The training loader (this rank's share of each global batch) and the validation loader."""
    t = config.train
    if t.batch_size > len(data.train):
        raise ConfigError(f"train.batch_size {t.batch_size} is larger than the {len(data.train)} training images")
    stats: dict[str, Any] = dict(
        mean=data.dataset.mean, std=data.dataset.std, device=device, channels_last=config.hardware.channels_last
    )
    # each rank takes its share of the global batch, from its shard of the epoch's order
    train_loader = DeviceLoader(
        data.train,
        batch_size=local_batch_size(t.batch_size, world_size),
        augment=config.augment,
        shuffle=True,
        drop_last=t.drop_last,
        seed=t.seed,
        rank=rank,
        world_size=world_size,
        **stats,
    )
    val_loader = DeviceLoader(data.val, batch_size=t.eval_batch_size, shuffle=False, seed=t.seed, **stats)
    return train_loader, val_loader


def local_batch_size(global_batch: int, world_size: int) -> int:
    """Each rank's share of the global batch (--batch-size is global at any world size)."""
    if global_batch % world_size:
        raise ConfigError(
            f"train.batch_size {global_batch} (the global batch) must be divisible by the {world_size} processes"
        )
    return global_batch // world_size


def final_loader(config: RunConfig, data: PreparedData, device: torch.device) -> DeviceLoader:
    """The loader of the final evaluation: the test split, or the validation split of a run
    that must not read the test split."""
    return DeviceLoader(
        data.final_split,
        data.dataset.mean,
        data.dataset.std,
        config.train.eval_batch_size,
        device,
        shuffle=False,
        channels_last=config.hardware.channels_last,
    )
