"""MLX twins of the PyTorch models, layer for layer, in NHWC.

The module tree mirrors the PyTorch one (same attribute names, nn.Sequential in the same
places), so a PyTorch state-dict key maps to an MLX one by a fixed rule (models/mlx_layout.py) and the
same weights give the same logits (tests/test_mlx.py). Feature maps are transposed to NCHW
once before the classifier's flatten, so the Linear weights need no permutation either.
"""

from __future__ import annotations

from collections.abc import Callable

import mlx.core as mx
import mlx.nn as nn

from cifarbench.registry import Registry


def conv_bn(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm(c_out))


class Identity(nn.Module):
    def __call__(self, x):
        return x


class ReLU(nn.Module):
    def __call__(self, x):
        return nn.relu(x)


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn(c_in, width, 3, stride)
        self.conv2 = conv_bn(width, width, 3)
        self.shortcut = conv_bn(c_in, width, 1, stride) if stride != 1 or c_in != width else Identity()

    def __call__(self, x):
        out = nn.relu(self.conv1(x))
        return nn.relu(self.conv2(out) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 in MLX (NHWC), the twin of the PyTorch resnet18 (weights convert exactly)."""

    def __init__(self, num_classes: int, in_channels: int):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(in_channels, 64), ReLU())
        stages, c_in = [], 64
        for i, width in enumerate((64, 128, 256, 512)):
            blocks = []
            for j in range(2):
                blocks.append(BasicBlock(c_in, width, 2 if i > 0 and j == 0 else 1))
                c_in = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(512, num_classes)

    def __call__(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(mx.mean(x, axis=(1, 2)))  # global average pooling


def adaptive_avg_pool(x: mx.array, size: int) -> mx.array:
    """PyTorch's AdaptiveAvgPool2d on NHWC: bin i covers [floor(i*H/s), ceil((i+1)*H/s))."""
    h, w = x.shape[1:3]
    rows = []
    for i in range(size):
        r0, r1 = (i * h) // size, -(-((i + 1) * h) // size)
        cols = [mx.mean(x[:, r0:r1, (j * w) // size : -(-((j + 1) * w) // size), :], axis=(1, 2)) for j in range(size)]
        rows.append(mx.stack(cols, axis=1))
    return mx.stack(rows, axis=1)  # (B, size, size, C)


class SmallResNet(nn.Module):
    """small-resnet in MLX (NHWC), the twin of the PyTorch small-resnet (weights convert exactly)."""

    def __init__(self, num_classes: int, in_channels: int, dropout: float = 0.25):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(in_channels, 64), ReLU())
        self.res1 = nn.Sequential(conv_bn(64, 64), ReLU(), conv_bn(64, 64))
        self.down = nn.Sequential(nn.MaxPool2d(2, 2), conv_bn(64, 128), ReLU(), nn.MaxPool2d(2, 2))
        self.res2 = nn.Sequential(conv_bn(128, 128), ReLU(), conv_bn(128, 128))
        # the PyTorch head is Sequential(pool, flatten, dropout, linear, relu, dropout, linear): the
        # same indices here keep the state-dict keys aligned (head.layers.3 = head.3)
        self.head = nn.Sequential(
            Identity(),
            Identity(),
            nn.Dropout(dropout),
            nn.Linear(512, 256),
            ReLU(),
            nn.Dropout(dropout),
            nn.Linear(256, num_classes),
        )

    def __call__(self, x):
        x = self.stem(x)
        x = nn.relu(x + self.res1(x))
        x = self.down(x)
        x = nn.relu(x + self.res2(x))
        x = adaptive_avg_pool(x, 2).transpose(0, 3, 1, 2).reshape(x.shape[0], -1)  # PyTorch's flatten order
        return self.head(x)


# the MLX twins, by the names of the PyTorch models they mirror
MLX_MODELS: Registry[Callable[[int, int], nn.Module]] = Registry("MLX model")
MLX_MODELS.add("small-resnet", SmallResNet)
MLX_MODELS.add("resnet18", ResNet18)


def build_mlx_model(name: str, num_classes: int, in_channels: int) -> nn.Module:
    return MLX_MODELS.get(name)(num_classes, in_channels)


def count_mlx_parameters(model: nn.Module) -> int:
    from mlx.utils import tree_flatten

    flat = tree_flatten(model.trainable_parameters())
    assert isinstance(flat, list)  # (key, array) pairs: a dict comes back only when one is passed as destination
    return sum(v.size for _, v in flat)
