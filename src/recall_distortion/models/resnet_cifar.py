"""CIFAR ResNets of He et al. (2016, section 4.2), as in akamaster/pytorch_resnet_cifar10 (resnet.py).

conv3x3(16) - BN - ReLU, then 3 stages of n BasicBlocks with 16/32/64 channels (the first block of
stages 2 and 3 has stride 2), n = (depth - 2) / 6, global average pooling, linear classifier.
Shortcuts are option A (parameter-free): identity, or subsample ``[:, :, ::2, ::2]`` and zero-pad the
channels when the shape changes. Conv and linear weights are Kaiming-normal initialised (fan_in,
gain sqrt(2)); biases and BatchNorm keep PyTorch's defaults. Parameter counts with 10 classes:
ResNet-20 269,722; -32 464,154; -44 658,586; -56 853,018; -110 1,727,962 (+5,850 with 100 classes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recall_distortion.models import register_model


def _weights_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Linear, nn.Conv2d)):
        nn.init.kaiming_normal_(m.weight)


class ShortcutA(nn.Module):
    """Option A shortcut: subsample spatially by 2 and zero-pad channels up to ``planes``."""

    def __init__(self, in_planes: int, planes: int):
        super().__init__()
        self.front = (planes - in_planes) // 2  # planes // 4 on each side for planes = 2 * in_planes
        self.back = planes - in_planes - self.front

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.front, self.back), "constant", 0.0)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = ShortcutA(in_planes, planes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, block: type[BasicBlock], num_blocks: list[int], num_classes: int = 10,
                 in_channels: int = 3):
        super().__init__()
        self.in_planes = 16

        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(block, 16, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 32, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 64, num_blocks[2], stride=2)
        self.classifier = nn.Linear(64, num_classes)  # akamaster: self.linear; never pruned

        self.apply(_weights_init)

    def _make_layer(self, block: type[BasicBlock], planes: int, num_blocks: int, stride: int) -> nn.Sequential:
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for s in strides:
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)  # global average pooling
        return self.classifier(out)


def _resnet(depth: int, num_classes: int, in_channels: int) -> ResNet:
    if (depth - 2) % 6 != 0:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
    n = (depth - 2) // 6
    return ResNet(BasicBlock, [n, n, n], num_classes=num_classes, in_channels=in_channels)


@register_model("resnet20")
def resnet20(num_classes: int, in_channels: int, input_size: int) -> nn.Module:
    return _resnet(20, num_classes, in_channels)


@register_model("resnet32")
def resnet32(num_classes: int, in_channels: int, input_size: int) -> nn.Module:
    return _resnet(32, num_classes, in_channels)


@register_model("resnet44")
def resnet44(num_classes: int, in_channels: int, input_size: int) -> nn.Module:
    return _resnet(44, num_classes, in_channels)


@register_model("resnet56")
def resnet56(num_classes: int, in_channels: int, input_size: int) -> nn.Module:
    return _resnet(56, num_classes, in_channels)


@register_model("resnet110")
def resnet110(num_classes: int, in_channels: int, input_size: int) -> nn.Module:
    return _resnet(110, num_classes, in_channels)
