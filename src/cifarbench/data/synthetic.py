"""A synthetic dataset of any shape and class count, for benchmarks and tests.

Each class has a smooth random prototype; an image is its class prototype blended with
per-image noise, so a model can learn the classes (accuracy well above chance) while no
download is needed. Its accuracy is never a result about real images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cifarbench.data.dataset import ImageDataset, Split, channel_stats
from cifarbench.errors import DataError


def make_synthetic(
    shape: tuple[int, int, int] = (3, 32, 32),
    num_classes: int = 10,
    train_size: int = 5000,
    test_size: int = 1000,
    seed: int = 0,
    signal: float = 0.5,
) -> ImageDataset:
    c, h, w = shape
    if min(c, h, w) < 1 or num_classes < 2 or train_size < 1 or test_size < 1:
        raise DataError(
            f"synthetic dataset needs positive sizes and at least 2 classes, got shape {shape}, "
            f"{num_classes} classes, {train_size}/{test_size} images"
        )
    gen = torch.Generator().manual_seed(seed)
    # low-frequency prototypes: a 4x4 random pattern per class and channel, upsampled
    coarse = torch.rand(num_classes, c, 4, 4, generator=gen)
    prototypes = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)

    def split(n: int) -> Split:
        labels = torch.randint(0, num_classes, (n,), generator=gen)
        noise = torch.rand(n, c, h, w, generator=gen)
        images = signal * prototypes[labels] + (1 - signal) * noise
        return Split((images * 255).round().clamp(0, 255).to(torch.uint8), labels)

    train, test = split(train_size), split(test_size)
    mean, std = channel_stats(train.images)
    return ImageDataset(
        name="synthetic",
        classes=[f"class{i}" for i in range(num_classes)],
        train=train,
        test=test,
        mean=mean,
        std=std,
        location=f"generated (seed {seed})",
    )
