"""Plain convolutional nets: the three-conv CIFAR net and the PyTorch examples MNIST net."""

from __future__ import annotations

from torch import nn

from cifarbench.models.registry import flat_features, register

__all__ = ["ThreeConvNet", "MnistNet"]


class ThreeConvNet(nn.Module):
    """Three 3x3 convs (32/64/128), each followed by 2x2 max-pool; fc 2048 -> 512 -> 256 -> classes."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int, dropout: float = 0.5):
        super().__init__()
        layers, c = [], in_channels
        for width in (32, 64, 128):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]  # halves H and W
            c = width
        self.features = nn.Sequential(*layers, nn.Flatten())  # (B, 128 * 4 * 4) at 32x32
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(flat_features(self.features, in_channels, image_size), 512),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(512, 256),
            nn.ReLU(),
            nn.Linear(256, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class MnistNet(nn.Module):
    """pytorch/examples mnist/main.py `Net`: two 3x3 convs, max-pool, dropout 0.25/0.5, fc 128."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(0.25),
            nn.Flatten(),  # (B, 9216) at 28x28
        )
        self.classifier = nn.Sequential(
            nn.Linear(flat_features(self.features, in_channels, image_size), 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


@register("cnn-3conv", source="three-conv CIFAR-10 baseline (conv 32/64/128, fc 512/256, dropout 0.5)")
def cnn_3conv(num_classes: int, in_channels: int, image_size: int) -> ThreeConvNet:
    return ThreeConvNet(num_classes, in_channels, image_size)


@register("mnist-cnn", source="pytorch/examples mnist/main.py")
def mnist_cnn(num_classes: int, in_channels: int, image_size: int) -> MnistNet:
    return MnistNet(num_classes, in_channels, image_size)
