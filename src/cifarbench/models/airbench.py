"""The airbench nets of Keller Jordan, "94% on CIFAR-10 in 3.29 Seconds on a Single GPU"
(arXiv 2404.00498; reference code: the `airbench` package, lib_airbench94/95/96.py).

    input (B, C, H, W)
    whiten  2x2 conv, 2*C*4 channels (24 for RGB), frozen weights set from the data, bias; GELU
    group   conv3x3 -> max-pool 2 -> BN -> GELU -> conv3x3 -> BN -> GELU      (one per width:
            three in the published nets; model.widths changes them and their count)
            airbench96: a third conv + BN and a residual around the last two
    pool    global max-pool (the reference's max-pool 3 on the 3x3 map left at 32x32), flatten
    head    linear without bias, output x 1/9

BatchNorm has eps 1e-12, its weight frozen at 1 and only its bias trained; convs have no
bias and start as identity (dirac) on their first in_channels filters. The net is built in
fp32 on the CPU; the trainer moves it and picks the precision (the reference hard-codes
`.half().cuda()`, which blocks CPU and MPS).
"""

from __future__ import annotations

import torch
from torch import nn

from cifarbench.models.registry import register

__all__ = ["Airbench", "WhiteningConv", "drop_identity_init", "has_identity_init"]


class BatchNorm(nn.BatchNorm2d):
    def __init__(self, channels: int, momentum: float):
        # `momentum` in the reference's convention (weight of the old running statistics);
        # PyTorch's BatchNorm momentum is the weight of the new batch, hence 1 - momentum.
        super().__init__(channels, eps=1e-12, momentum=1 - momentum)
        self.weight.requires_grad_(False)  # scale frozen at 1: only the bias learns


class Conv(nn.Conv2d):
    """3x3 'same' conv without bias, identity-initialised on its first in_channels filters."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(c_in, c_out, kernel_size=3, padding="same", bias=False)

    def reset_parameters(self, identity: bool = True):
        super().reset_parameters()
        if identity:
            nn.init.dirac_(self.weight.data[: self.in_channels])


def has_identity_init(model: nn.Module) -> bool:
    return any(isinstance(m, Conv) for m in model.modules())


def drop_identity_init(model: nn.Module) -> None:
    """Re-initialise the identity-initialised convs with PyTorch's default init alone (an ablation)."""
    for m in model.modules():
        if isinstance(m, Conv):
            m.reset_parameters(identity=False)


class WhiteningConv(nn.Conv2d):
    """A frozen 2x2 conv whose filters whiten the patches of the training images."""

    def __init__(self, c_in: int, kernel_size: int = 2, zero_bias: bool = True):
        super().__init__(c_in, 2 * c_in * kernel_size**2, kernel_size, padding=0, bias=True)
        self.weight.requires_grad_(False)
        if zero_bias:  # airbench94; airbench94_muon keeps PyTorch's default conv-bias init
            assert self.bias is not None  # built with bias=True
            nn.init.zeros_(self.bias)

    @torch.no_grad()
    def init_from_images(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the filters to the eigenvectors of the patch covariance / sqrt(eigenvalue + eps),
        and their negatives (so GELU passes both signs).

        images: (N, C, H, W) normalised training images (the reference uses the first 5000).
        """
        c, (kh, kw) = self.in_channels, self.kernel_size
        patches = images.float().unfold(2, kh, 1).unfold(3, kw, 1)  # (N, C, H', W', kh, kw)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kh * kw)  # one row per patch
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
        eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.T.flip(0)  # largest first
        filters = (eigenvectors / torch.sqrt(eigenvalues + eps)[:, None]).reshape(-1, c, kh, kw)
        self.weight.copy_(torch.cat([filters, -filters]).to(self.weight.dtype))


ACTIVATIONS = {"gelu": nn.GELU, "silu": nn.SiLU}  # airbench's GELU; the CIFAR-10 record (hiverge) uses SiLU


class ConvGroup(nn.Module):
    def __init__(self, c_in: int, c_out: int, bn_momentum: float, residual: bool, activation: str = "gelu"):
        super().__init__()
        self.conv1 = Conv(c_in, c_out)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = BatchNorm(c_out, bn_momentum)
        self.conv2 = Conv(c_out, c_out)
        self.norm2 = BatchNorm(c_out, bn_momentum)
        self.residual = residual
        if residual:  # airbench96
            self.conv3 = Conv(c_out, c_out)
            self.norm3 = BatchNorm(c_out, bn_momentum)
        self.activ = ACTIVATIONS[activation]()

    def forward(self, x):
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        if not self.residual:
            return self.activ(self.norm2(self.conv2(x)))
        skip = x
        x = self.activ(self.norm2(self.conv2(x)))
        return self.activ(self.norm3(self.conv3(x)) + skip)


class Airbench(nn.Module):
    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        widths: tuple[int, ...],
        bn_momentum: float,
        residual: bool = False,
        scale: float = 1 / 9,
        head_std: float | None = None,
        zero_whiten_bias: bool = True,
        activation: str = "gelu",
    ):
        super().__init__()
        self.whiten = WhiteningConv(in_channels, zero_bias=zero_whiten_bias)
        self.activ = ACTIVATIONS[activation]()
        c, groups = self.whiten.out_channels, []
        for width in widths:
            groups.append(ConvGroup(c, width, bn_momentum, residual, activation))
            c = width
        self.groups = nn.Sequential(*groups)
        # The reference's MaxPool2d(3) meets a 3x3 map at 32x32 and 28x28 input, so it is a global
        # max-pool there; the adaptive form is the same thing and also fits other sizes.
        self.pool = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, num_classes, bias=False)
        if head_std is not None:  # airbench94_muon: the head's default init rescaled to this std
            with torch.no_grad():
                self.head.weight.mul_(head_std / self.head.weight.std())
        self.scale = scale  # airbench94 multiplies the logits by 1/9, airbench94_muon divides by the width

    def forward(self, x):
        x = self.activ(self.whiten(x))  # (B, 24, 31, 31) at 3x32x32
        x = self.groups(x)  # (B, widths[-1], 3, 3)
        return self.head(self.pool(x)) * self.scale

    def init_from_data(self, images: torch.Tensor) -> None:
        """Data-dependent initialisation, called by the trainer with normalised training images."""
        self.whiten.init_from_images(images)


def airbench_net(name: str, source: str):
    """Register an airbench net; each takes model.widths (one conv group per width) over its own."""
    return register(name, source, options=("widths",))


Widths = tuple[int, ...]


@airbench_net("airbench94", source="Jordan 2024, arXiv 2404.00498; airbench/lib_airbench94.py")
def airbench94(num_classes: int, in_channels: int, image_size: int, widths: Widths = (64, 256, 256)) -> Airbench:
    return Airbench(num_classes, in_channels, widths, bn_momentum=0.6)


@airbench_net("airbench94-muon", source="KellerJordan/cifar10-airbench airbench94_muon.py (Muon on the conv filters)")
def airbench94_muon(num_classes: int, in_channels: int, image_size: int, widths: Widths = (64, 256, 256)) -> Airbench:
    # airbench94's net with the Muon record's head: logits divided by the last width (CifarNet.forward:
    # head(x) / x.size(-1)), head weights rescaled to std 1 (CifarNet.reset), the whitening bias at
    # PyTorch's default init (reset() re-initialises every conv), BatchNorm momentum 0.6
    return Airbench(
        num_classes, in_channels, widths, bn_momentum=0.6, scale=1 / widths[-1], head_std=1.0, zero_whiten_bias=False
    )


@airbench_net("airbench95", source="Jordan 2024, arXiv 2404.00498; airbench/lib_airbench95.py")
def airbench95(num_classes: int, in_channels: int, image_size: int, widths: Widths = (128, 384, 384)) -> Airbench:
    return Airbench(num_classes, in_channels, widths, bn_momentum=0.6)


@airbench_net("airbench96", source="Jordan 2024, arXiv 2404.00498; airbench/lib_airbench96.py")
def airbench96(num_classes: int, in_channels: int, image_size: int, widths: Widths = (128, 384, 512)) -> Airbench:
    # lib_airbench96.py: widths 128/384/512, three convs per group with a residual, and
    # PyTorch's default BatchNorm momentum (0.1, i.e. 0.9 in the reference's convention).
    return Airbench(num_classes, in_channels, widths, bn_momentum=0.9, residual=True)


# Narrow airbench nets for CPUs, where airbench94's 64/256/256 trains at a few hundred images/s on
# two cores (benchmarks/cpu_fast_path.py): same blocks and tricks, a fraction of the FLOPs.
@airbench_net("airbench-small", source="cifarbench: airbench94's design at widths 32/64/128, for CPUs")
def airbench_small(num_classes: int, in_channels: int, image_size: int, widths: Widths = (32, 64, 128)) -> Airbench:
    return Airbench(num_classes, in_channels, widths, bn_momentum=0.6)


@airbench_net("airbench-tiny", source="cifarbench: airbench94's design at widths 16/32/64, for CPUs")
def airbench_tiny(num_classes: int, in_channels: int, image_size: int, widths: Widths = (16, 32, 64)) -> Airbench:
    return Airbench(num_classes, in_channels, widths, bn_momentum=0.6)


@airbench_net(
    "airbench-tiny-silu",
    source="cifarbench: airbench-tiny with SiLU for GELU (hiverge/cifar10-speedrun's change), for the levers ablation",
)
def airbench_tiny_silu(num_classes: int, in_channels: int, image_size: int, widths: Widths = (16, 32, 64)) -> Airbench:
    return Airbench(num_classes, in_channels, widths, bn_momentum=0.6, activation="silu")


@airbench_net("airbench-tiny-muon", source="cifarbench: airbench-tiny with airbench94_muon's head, for the Muon recipe")
def airbench_tiny_muon(num_classes: int, in_channels: int, image_size: int, widths: Widths = (16, 32, 64)) -> Airbench:
    # the Muon recipe's lrs are set for its head (logits / last width, weights at std 1): airbench-tiny's
    # airbench94 head (logits / 9) diverges under them in the first epoch
    return Airbench(
        num_classes, in_channels, widths, bn_momentum=0.6, scale=1 / widths[-1], head_std=1.0, zero_whiten_bias=False
    )
