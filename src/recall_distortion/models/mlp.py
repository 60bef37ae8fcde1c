"""LeNet-300-100, the fully connected network of the pruning literature (Han et al. 2015; Frankle &
Carbin 2019): flattened input - fc 300 - ReLU - fc 100 - ReLU - fc num_classes.

It takes images at any size, so 8x8 digits run at their native 64 pixels. Its unprunable part (the
classifier and every bias, section 3) is 100*C + C + 400 parameters, which sets its largest feasible
ratio: 50,610 / 1,410 = 35.9x on 8x8 digits with 10 classes.
"""

from __future__ import annotations

import torch
from torch import nn

from recall_distortion.models import register_model


class LeNet300100(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28):
        super().__init__()
        self.fc1 = nn.Linear(in_channels * input_size * input_size, 300)
        self.fc2 = nn.Linear(300, 100)
        self.classifier = nn.Linear(100, num_classes)  # last layer, never pruned

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.fc1(x.flatten(1)))
        out = torch.relu(self.fc2(out))
        return self.classifier(out)


@register_model("lenet300100")
def lenet300100(num_classes: int, in_channels: int, input_size: int) -> nn.Module:
    return LeNet300100(num_classes, in_channels, input_size)
