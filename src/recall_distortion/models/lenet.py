"""LeNet5 (LeCun et al. 1998) as adapted in the paper (section 6.1) for MNIST/Fashion-MNIST.

conv(6, 5x5) - ReLU - maxpool 2 - conv(16, 5x5) - ReLU - maxpool 2 - fc 120 - ReLU - fc 84 - ReLU -
fc num_classes. No padding in conv1, so the flatten size follows from the input size: 16*4*4 for
28x28 inputs, 16*5*5 for 32x32. Any input_size >= 16 works (the smallest with a non-empty feature
map); 8x8 digits are upsampled to 28x28 by the data module before they get here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recall_distortion.models import register_model

MIN_INPUT_SIZE = 16


def feature_size(input_size: int) -> int:
    """Side of the feature map after conv5-pool2-conv5-pool2 (no padding, floor pooling)."""
    side = (input_size - 4) // 2  # conv1 5x5, then maxpool 2
    return (side - 4) // 2  # conv2 5x5, then maxpool 2


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28):
        super().__init__()
        if input_size < MIN_INPUT_SIZE:
            raise ValueError(
                f"LeNet5 needs input_size >= {MIN_INPUT_SIZE} (got {input_size}); "
                "upsample smaller images (e.g. 8x8 digits to 28x28) before the model"
            )
        self.side = feature_size(input_size)
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * self.side * self.side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.classifier = nn.Linear(84, num_classes)  # last layer, never pruned

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.max_pool2d(F.relu(self.conv1(x)), 2)
        out = F.max_pool2d(F.relu(self.conv2(out)), 2)
        out = out.flatten(1)
        out = F.relu(self.fc1(out))
        out = F.relu(self.fc2(out))
        return self.classifier(out)


@register_model("lenet5")
def lenet5(num_classes: int, in_channels: int, input_size: int) -> nn.Module:
    return LeNet5(num_classes, in_channels, input_size)
