"""Pruning masks held on a model: {parameter name: bool tensor, True = kept}.

Kept apart from :mod:`recall_distortion.pruning` (which decides *which* weights go) because training
holds masks too: dense training imports this module but never the scoring code, so an edit to the
pruning criteria never reruns dense training (workflow/rules/common.smk: code hashes follow imports).
The training loop keeps pruned weights at exactly 0 by zeroing their gradients before every step and
the weights after it (recall_distortion.training.fit).
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

Masks = dict[str, torch.Tensor]


def _check_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> dict[str, nn.Parameter]:
    params = dict(model.named_parameters())
    for name, m in masks.items():
        if name not in params:
            raise KeyError(f"mask for unknown parameter {name!r}")
        if m.shape != params[name].shape or m.dtype != torch.bool:
            raise ValueError(f"mask for {name} must be bool of shape {tuple(params[name].shape)}")
    return params


@torch.no_grad()
def enforce_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Set pruned weights to exactly 0 in place (call after every optimiser step)."""
    params = dict(model.named_parameters())
    for name, m in masks.items():
        p = params[name]
        if m.device != p.device:
            m = m.to(p.device)
        p.masked_fill_(~m, 0.0)


def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Zero the pruned weights of ``model`` in place (masks: one ratio's {name: bool mask})."""
    _check_masks(model, masks)
    enforce_masks(model, masks)


def masks_to(masks: Mapping[str, torch.Tensor], device) -> Masks:
    """The same masks on ``device`` (move once before fine-tuning, not at every step)."""
    return {name: m.to(device) for name, m in masks.items()}
