"""Device-resident batches: the whole split lives on the training device, augmented there.

No worker processes and no per-image Python: a split of CIFAR-10 is 150 MB as uint8, which
fits on any device, and batch-wise tensor ops on it beat a torchvision DataLoader by far on
both GPU and CPU (airbench's loader does the same).

Every random choice of an epoch (order, flips, crops, rotations) is drawn from a CPU
generator seeded by (seed, epoch), so an epoch is the same on every device and a resumed run
sees exactly the batches an uninterrupted one would have.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from cifarbench.config import Augment
from cifarbench.data.dataset import Split
from cifarbench.errors import ConfigError


class Normaliser:
    """uint8 images -> (x / 255 - mean) / std per channel, folded into one multiply-add. The
    one normalisation of the project: training, evaluation, predict and activations use it."""

    def __init__(self, mean, std, device: torch.device | str = "cpu", channels_last: bool = False):
        c = len(mean)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, c, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, c, 1, 1)
        self.scale = (1.0 / (255.0 * std_t)).to(device)
        self.shift = (-mean_t / std_t).to(device)
        self.channels_last = channels_last

    def __call__(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) or (C, H, W) uint8 -> float32 of the same shape."""
        single = images_uint8.dim() == 3
        x = images_uint8.unsqueeze(0) if single else images_uint8
        x = x.to(self.scale.device).float() * self.scale + self.shift
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x[0] if single else x


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    # A large odd multiplier keeps (seed, epoch) pairs from colliding for any realistic values.
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


class DeviceLoader:
    """Normalised (and for training, augmented) batches from a split kept on `device`."""

    def __init__(
        self,
        split: Split,
        mean,
        std,
        batch_size: int,
        device: torch.device | str = "cpu",
        *,
        augment: Augment = Augment(),
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        channels_last: bool = False,
    ):
        if batch_size < 1:
            raise ConfigError(f"batch_size {batch_size} must be at least 1")
        self.device = torch.device(device)
        self.images = split.images.to(self.device)  # (N, C, H, W) uint8
        self.labels = split.labels.to(self.device)
        self.normalise = Normaliser(mean, std, self.device, channels_last)
        self.batch_size = batch_size
        self.augment = augment
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.rank, self.world_size = rank, world_size
        self.channels_last = channels_last
        # alternating flip: the first epoch's random choice per image, fixed for the run
        self.base_flip = (torch.rand(len(self.labels), generator=epoch_generator(seed, -1)) < 0.5).to(self.device)
        if self.local_size() < 1:
            raise ConfigError(f"the split has {len(self.labels)} images, too few for {world_size} ranks")
        if augment.progressive_from >= self.images.shape[-2]:
            raise ConfigError(
                f"augment.progressive_from {augment.progressive_from} must be smaller than the images' "
                f"height {self.images.shape[-2]} (0: off)"
            )
        if drop_last and self.local_size() < batch_size:
            raise ConfigError(
                f"batch_size {batch_size} is larger than the {self.local_size()} training images "
                "(with drop_last every batch must be full)"
            )

    def __len__(self) -> int:
        n = self.local_size()
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def local_size(self) -> int:
        """Images this rank sees per epoch (the split cut to a multiple of the world size)."""
        return len(self.labels) // self.world_size

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of one epoch, from `start_batch` on (for resuming mid-epoch)."""
        gen = epoch_generator(self.seed, epoch)
        n = len(self.labels)
        order = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        used = self.local_size() * self.world_size
        order = order[:used][self.rank :: self.world_size].to(self.device)
        aug = self.augment
        flips = shifts = angles = corners = None
        if aug.flip == "random":
            flips = (torch.rand(n, generator=gen) < 0.5).to(self.device)
        elif aug.flip == "alternating":
            # every image is flipped in exactly one of each pair of epochs (0,1), (2,3), ...
            flips = self.base_flip ^ bool(epoch % 2)
        if aug.crop_padding:
            shifts = torch.randint(0, 2 * aug.crop_padding + 1, (n, 2), generator=gen).to(self.device)
        if aug.rotate_degrees:
            angles = ((torch.rand(n, generator=gen) * 2 - 1) * aug.rotate_degrees).to(self.device)
        if aug.cutout:
            h, w = self.images.shape[-2:]
            corners = torch.stack(
                [
                    torch.randint(0, h - aug.cutout + 1, (n,), generator=gen),
                    torch.randint(0, w - aug.cutout + 1, (n,), generator=gen),
                ],
                1,
            ).to(self.device)
        size = self.training_size(epoch)
        for b in range(start_batch, len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            x = self.images[idx].float() * self.normalise.scale + self.normalise.shift
            if flips is not None:
                x = torch.where(flips[idx].view(-1, 1, 1, 1), x.flip(-1), x)
            if shifts is not None:
                x = random_crop(x, aug.crop_padding, shifts[idx], aug.pad_mode)
            if angles is not None:
                x = rotate(x, angles[idx])
            if corners is not None:
                x = cutout(x, aug.cutout, corners[idx])
            if size != tuple(x.shape[-2:]):
                x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[idx]

    def training_size(self, epoch: int) -> tuple[int, int]:
        """The (height, width) an epoch trains at: full size, or under progressive resizing a height growing
        linearly from augment.progressive_from at epoch 0 to full at augment.progressive_epochs, the width
        keeping the images' aspect (FFCV's ResNet recipes ramp their resolution per epoch the same way)."""
        h, w = self.images.shape[-2:]
        aug = self.augment
        if not aug.progressive_from or epoch >= aug.progressive_epochs:
            return h, w
        height = round(aug.progressive_from + (h - aug.progressive_from) * epoch / aug.progressive_epochs)
        return height, max(1, round(w * height / h))

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every image once, in order, normalised, not augmented (for evaluation)."""
        for start in range(0, len(self.labels), self.batch_size):
            yield (
                self.normalise(self.images[start : start + self.batch_size]),
                self.labels[start : start + self.batch_size],
            )


def random_crop(x: torch.Tensor, padding: int, shifts: torch.Tensor, pad_mode: str = "zeros") -> torch.Tensor:
    """Pad each side by `padding`, then cut the original size at per-image offsets.

    shifts: (B, 2) integers in [0, 2 * padding], the top-left corner of each crop. Two gathers
    (rows, then columns) do every image's crop at once on any device.
    """
    b, c, h, w = x.shape
    mode = "constant" if pad_mode == "zeros" else "reflect"
    padded = F.pad(x, (padding,) * 4, mode=mode)  # (B, C, H + 2p, W + 2p)
    rows = (shifts[:, 0:1] + torch.arange(h, device=x.device)).view(b, 1, h, 1).expand(b, c, h, w + 2 * padding)
    x = padded.gather(2, rows)  # (B, C, H, W + 2p)
    cols = (shifts[:, 1:2] + torch.arange(w, device=x.device)).view(b, 1, 1, w).expand(b, c, h, w)
    return x.gather(3, cols)  # (B, C, H, W)


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image by its own angle about the centre, filling corners with zeros."""
    theta = torch.deg2rad(degrees)
    cos, sin = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(cos)
    affine = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(affine.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def cutout(x: torch.Tensor, size: int, corners: torch.Tensor) -> torch.Tensor:
    """Zero a size x size square per image; corners: (B, 2) top-left (row, column)."""
    h, w = x.shape[-2:]
    rows = torch.arange(h, device=x.device).view(1, h, 1) - corners[:, 0].view(-1, 1, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) - corners[:, 1].view(-1, 1, 1)
    inside = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)  # (B, H, W)
    return x.masked_fill(inside.unsqueeze(1), 0.0)
