"""Iterative magnitude pruning with rewinding: the Lottery Ticket procedure of Appendix H (Table 12).

Frankle & Carbin (2019) with the weight rewinding of Frankle et al. (2020): train the dense model
(level 0); then at each level ℓ = 1..L prune a fraction ``rate`` (0.2 in the paper) of the weights that
are still alive by global magnitude, rewind the survivors to their values at an early step of the
dense run, and train again with the mask held. Appendix H trains 30,000 steps per level and goes to
level 20.

Ratio (Table 12, section 4's whole-model arithmetic): after level ℓ the whole-model pruning ratio is
t_ℓ = (1 / (1 − rate))^ℓ, i.e. 1.25^ℓ for rate 0.2 (1.25, 1.56, 1.95, … 86.74 at ℓ = 20). As for the
one-shot methods (``pruning``), t counts EVERY parameter, so k_ℓ = round(total − total / t_ℓ)
(``pruning.weights_to_remove``) weights are pruned in all after level ℓ, and level ℓ removes
k_ℓ − k_{ℓ−1} of the survivors. Rounding happens once per level on the cumulative count, never on
the per-level increment, so the achieved ratio after every level equals t_ℓ up to one weight and the
rounding errors do not accumulate along the chain. Because biases, BatchNorm and the classifier are
never pruned, level ℓ removes slightly MORE than ``rate`` of the surviving prunable weights.

OpenLTH (facebookresearch/open_lth, ``pruning/sparse_global.py``) differs: it removes
ceil(rate · remaining prunable weights) per level, so its whole-model ratio falls short of 1.25^ℓ;
we follow Table 12's ratios instead. Like OpenLTH, the candidates are the conv/linear weights except
the output layer (``pruning.prunable_parameters``) and weights already pruned are never revived
(the masks are nested).

Rewinding: OpenLTH (``lottery/runner.py``, ``_train_level``) reloads the WHOLE level-0 state dict
saved at the rewind step (every parameter, BatchNorm affine weights and running statistics, biases,
the classifier) and multiplies the prunable weights by the mask; the optimiser starts afresh and the
learning-rate schedule resumes at the rewind step. ``rewind`` does the same.
"""

from __future__ import annotations

import math
import operator
from typing import Mapping

import torch
from torch import nn

from recall_distortion.masks import Masks, apply_masks
from recall_distortion.pruning import check_ratio, compute_scores, prunable_parameters

#: ``method`` of the models of an LTH chain in the recall and alpha tables; ``ratio`` is level_ratio(ℓ).
METHOD = "lth"


def level_ratio(level: int, rate: float = 0.2) -> float:
    """t_ℓ = (1 / (1 − rate))^ℓ: the whole-model pruning ratio after level ℓ (Table 12; t_0 = 1)."""
    level = operator.index(level)
    if level < 0:
        raise ValueError(f"level must be >= 0, got {level}")
    if not (0 < rate < 1):
        raise ValueError(f"rate must lie in (0, 1), got {rate!r}")
    return (1.0 / (1.0 - rate)) ** level


def pruned_count(masks: Mapping[str, torch.Tensor]) -> int:
    """Number of weights a set of masks removes (False entries)."""
    return sum(int(m.numel() - torch.count_nonzero(m)) for m in masks.values())


def dense_masks(model: nn.Module) -> Masks:
    """Level 0's masks: every prunable weight kept."""
    return {name: torch.ones(p.shape, dtype=torch.bool) for name, p in prunable_parameters(model)}


def next_level_masks(
    model: nn.Module, previous_masks: Mapping[str, torch.Tensor] | None, level: int, rate: float = 0.2
) -> Masks:
    """Masks of level ``level`` (≥ 1) from the trained model of level ``level − 1`` and its masks.

    ``previous_masks`` are level ℓ−1's masks (``None`` or ``dense_masks`` for level 1); they must
    remove exactly k_{ℓ−1} weights, so a chain with a changed ``rate`` fails loudly. The
    k_ℓ − k_{ℓ−1} surviving weights with the smallest |θ| are removed (one stable sort over all
    candidates, ties to the lower flat index, as ``pruning.prune_masks``); weights already pruned
    stay pruned whatever their current value, so the new masks are a subset of the old ones.
    Returns {param name: bool mask (True = kept)} on the CPU.
    """
    if level < 1:
        raise ValueError(f"pruning levels start at 1 (level 0 is the dense model), got {level}")
    if previous_masks is None:
        previous_masks = dense_masks(model)
    k_previous = 0 if level == 1 else check_ratio(model, level_ratio(level - 1, rate))
    k = check_ratio(model, level_ratio(level, rate))
    prunable, scores = compute_scores(model, "mp")
    names = [name for name, _ in prunable]
    if sorted(previous_masks) != sorted(names):
        raise ValueError(f"previous masks must cover exactly the prunable weights {names}")
    alive = torch.cat([previous_masks[name].to("cpu").reshape(-1) for name in names])
    if alive.dtype != torch.bool or alive.numel() != scores.numel():
        raise ValueError("previous masks must be bool tensors of the prunable weights' shapes")
    already = int((~alive).sum())
    if already != k_previous:
        raise ValueError(
            f"previous masks remove {already} weights but level {level - 1} at rate {rate} removes "
            f"{k_previous}: they are not level {level - 1}'s masks of this chain"
        )
    scores = scores.masked_fill(~alive, -math.inf)  # the already pruned come first: nested masks
    order = torch.sort(scores, stable=True).indices
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[order[:k]] = False
    sizes = [p.numel() for _, p in prunable]
    return {name: chunk.reshape(p.shape) for (name, p), chunk in zip(prunable, torch.split(keep, sizes))}


@torch.no_grad()
def rewind(model: nn.Module, early_state: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor]) -> None:
    """Rewind ``model`` in place to ``early_state`` and apply ``masks`` (Frankle et al. 2020).

    ``early_state`` is the dense run's full ``state_dict()`` at the rewind step (parameters and
    buffers). As in OpenLTH every entry is restored (BatchNorm affine parameters and running
    statistics, biases, the classifier); surviving prunable weights get exactly their stored values
    and pruned ones 0. The optimiser must be created afresh for the level.
    """
    model.load_state_dict(early_state, strict=True)
    apply_masks(model, masks)


__all__ = ["METHOD", "dense_masks", "level_ratio", "next_level_masks", "pruned_count", "rewind"]
