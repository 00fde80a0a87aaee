"""LeNet-style nets: two 5x5 convolutions with max-pooling, then three linear layers.

lenet-small is the net of the PyTorch "Training a Classifier" CIFAR-10 tutorial
(https://pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html), 62,006 parameters at
3x32x32; lenet-large widens it to 64/128 channels and 512/256 hidden units (1,982,602).
"""

from __future__ import annotations

from torch import nn

from cifarbench.models.registry import flat_features, register

__all__ = ["LeNet"]


class LeNet(nn.Module):
    def __init__(
        self, num_classes: int, in_channels: int, image_size: int, channels: tuple[int, int], hidden: tuple[int, int]
    ):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 32 -> 28 -> 14
            nn.Conv2d(c1, c2, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14 -> 10 -> 5
            nn.Flatten(),
        )
        h1, h2 = hidden
        self.classifier = nn.Sequential(
            nn.Linear(flat_features(self.features, in_channels, image_size), h1),
            nn.ReLU(),
            nn.Linear(h1, h2),
            nn.ReLU(),
            nn.Linear(h2, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


@register("lenet-small", source="PyTorch CIFAR-10 tutorial (pytorch.org/tutorials/beginner/blitz/cifar10_tutorial)")
def lenet_small(num_classes: int, in_channels: int, image_size: int) -> LeNet:
    return LeNet(num_classes, in_channels, image_size, channels=(6, 16), hidden=(120, 84))


@register("lenet-large", source="lenet-small widened to 64/128 channels, 512/256 hidden units")
def lenet_large(num_classes: int, in_channels: int, image_size: int) -> LeNet:
    return LeNet(num_classes, in_channels, image_size, channels=(64, 128), hidden=(512, 256))
