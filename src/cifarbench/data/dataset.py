"""A dataset in memory: uint8 image tensors with their labels, class names and statistics.

No I/O here: data/registry.py says where datasets come from, data/download.py fetches and
verifies their files, data/store.py parses and caches them, data/synthetic.py generates one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cifarbench.errors import DataError


@dataclass
class Split:
    images: torch.Tensor  # (N, C, H, W) uint8, with NCHW's own strides
    labels: torch.Tensor  # (N,) int64

    def __post_init__(self):
        # Images decoded as NHWC and permuted keep a channel stride of 1 when C is 1, and torch calls
        # that contiguous, yet convolution kernels read those strides as channels_last and pick
        # another algorithm: the same pixels then train to different losses (seen on an AVX2 CPU,
        # own PNGs against the same arrays). One layout for every source keeps runs comparable.
        if self.images.dim() == 4 and self.images.stride() != _nchw_strides(self.images.shape):
            self.images = self.images.clone(memory_format=torch.contiguous_format)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: torch.Tensor | slice) -> Split:
        return Split(self.images[index], self.labels[index])


def _nchw_strides(shape: torch.Size) -> tuple[int, ...]:
    n, c, h, w = shape
    return (c * h * w, h * w, w, 1)


@dataclass
class ImageDataset:
    name: str
    classes: list[str]
    train: Split
    test: Split
    mean: tuple[float, ...]  # per channel, in [0, 1], computed from the training split
    std: tuple[float, ...]
    location: str = ""  # where the files were found, for the run log
    # the files the images came from: {"name", "path", "md5"} (+ "content_sha256" where that is what
    # matched the publisher's digest), as verified when they were parsed; run_log.json records them
    files: list[dict] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.images.shape[1:]  # images are (N, C, H, W)
        return (c, h, w)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in [0, 1] units, accumulated in float64 in chunks."""
    n, c = images.shape[:2]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for chunk in images.split(8192):
        x = chunk.to(torch.float64) / 255.0
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
    count = n * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(0).sqrt()
    return tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in std)


def split_validation(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out a seeded random fraction of the training split for validation."""
    n_val = int(round(len(train) * fraction))
    if not 0 < n_val < len(train):
        raise DataError(f"val_split {fraction} leaves no training or no validation images out of {len(train)}")
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return train.take(order[n_val:]), train.take(order[:n_val])
