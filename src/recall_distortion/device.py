"""Where tensors live: CUDA when present, CPU otherwise, with the same code on both."""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    """The first visible CUDA device if there is one, else the CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
