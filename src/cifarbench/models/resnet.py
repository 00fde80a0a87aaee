"""ResNets for 32x32 inputs, and a small residual net.

He et al., "Deep Residual Learning for Image Recognition" (arXiv 1512.03385), in the CIFAR
form popularised by kuangliu/pytorch-cifar: a 3x3 stem with no max-pool, four stages of
64/128/256/512 channels, global average pooling. At 3x32x32 with 10 classes resnet18 has
11,173,962 parameters and resnet50 23,520,842.

| name     | block      | blocks per stage |
|----------|------------|------------------|
| resnet18 | BasicBlock | 2, 2, 2, 2       |
| resnet34 | BasicBlock | 3, 4, 6, 3       |
| resnet50 | Bottleneck | 3, 4, 6, 3       |
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from cifarbench.models.registry import register

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "SmallResNet"]


def conv_bn(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn(c_in, width, 3, stride)
        self.conv2 = conv_bn(width, width, 3)
        c_out = width * self.expansion
        # a 1x1 projection where the shape changes, identity elsewhere (option B of the paper)
        self.shortcut = conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x):
        out = F.relu(self.conv1(x))
        return F.relu(self.conv2(out) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = conv_bn(c_in, width, 1)
        self.conv2 = conv_bn(width, width, 3, stride)
        self.conv3 = conv_bn(width, c_out, 1)
        self.shortcut = conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x):
        out = F.relu(self.conv1(x))
        out = F.relu(self.conv2(out))
        return F.relu(self.conv3(out) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        blocks: tuple[int, int, int, int],
        num_classes: int,
        in_channels: int,
    ):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(in_channels, 64), nn.ReLU())  # no max-pool at 32x32
        stages, c_in = [], 64
        for i, (width, n) in enumerate(zip((64, 128, 256, 512), blocks)):
            layer = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1  # halve H and W at the start of stages 2-4
                layer.append(block(c_in, width, stride))
                c_in = width * block.expansion
            stages.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = self.stem(x)  # (B, 64, 32, 32)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, 512 * expansion, 4, 4)
        return self.fc(self.pool(x))


class SmallResNet(nn.Module):
    """Six 3x3 convs with BatchNorm in two residual stages, max-pooling, dropout 0.25 (579,146 parameters)."""

    def __init__(self, num_classes: int, in_channels: int, dropout: float = 0.25):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(in_channels, 64), nn.ReLU())
        self.res1 = nn.Sequential(conv_bn(64, 64), nn.ReLU(), conv_bn(64, 64))
        self.down = nn.Sequential(nn.MaxPool2d(2), conv_bn(64, 128), nn.ReLU(), nn.MaxPool2d(2))
        self.res2 = nn.Sequential(conv_bn(128, 128), nn.ReLU(), conv_bn(128, 128))
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Dropout(dropout),  # (B, 128 * 2 * 2)
            nn.Linear(512, 256),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(256, num_classes),
        )

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(x + self.res1(x))  # (B, 64, 32, 32)
        x = self.down(x)  # (B, 128, 8, 8)
        x = F.relu(x + self.res2(x))
        return self.head(x)


def _norm_of(pair: nn.Module) -> nn.BatchNorm2d:
    """The BatchNorm2d of a conv_bn() pair."""
    assert isinstance(pair, nn.Sequential)
    bn = pair[1]
    assert isinstance(bn, nn.BatchNorm2d)
    return bn


def residual_branch_ends(model: nn.Module) -> list[nn.BatchNorm2d]:
    """The BatchNorm that ends each residual branch (added to the shortcut before the ReLU)."""
    ends: list[nn.BatchNorm2d] = []
    for m in model.modules():
        if isinstance(m, BasicBlock):
            ends.append(_norm_of(m.conv2))
        elif isinstance(m, Bottleneck):
            ends.append(_norm_of(m.conv3))
        elif isinstance(m, SmallResNet):
            ends += [_norm_of(m.res1[-1]), _norm_of(m.res2[-1])]
    return ends


def zero_init_residual(model: nn.Module) -> int:
    """Zero the weight of every residual branch's last BatchNorm: each block starts as its
    shortcut. The number of branches zeroed (0: the model has none)."""
    ends = residual_branch_ends(model)
    for bn in ends:
        nn.init.zeros_(bn.weight)
    return len(ends)


@register("resnet18", source="He et al. 2015 (arXiv 1512.03385), CIFAR variant of kuangliu/pytorch-cifar")
def resnet18(num_classes: int, in_channels: int, image_size: int) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_channels)


@register("resnet34", source="He et al. 2015 (arXiv 1512.03385), CIFAR variant of kuangliu/pytorch-cifar")
def resnet34(num_classes: int, in_channels: int, image_size: int) -> ResNet:
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_channels)


@register("resnet50", source="He et al. 2015 (arXiv 1512.03385), CIFAR variant of kuangliu/pytorch-cifar")
def resnet50(num_classes: int, in_channels: int, image_size: int) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_channels)


@register("small-resnet", source="cifarbench: a residual net small enough for CPU training")
def small_resnet(num_classes: int, in_channels: int, image_size: int) -> SmallResNet:
    return SmallResNet(num_classes, in_channels)
