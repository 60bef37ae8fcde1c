"""Structured channel pruning of the CIFAR ResNets: CHIP (Sui et al., NeurIPS 2021), Appendix H, Table 13.

Channels are physically removed, so the pruned network is smaller; its pruning ratio is, as everywhere
in the project (section 4), parameters before / parameters after (``pruning.count_parameters``).

What is pruned: the output channels of the INNER convolution (``conv1``) of every BasicBlock of
``models.resnet_cifar``; removing channel i of ``conv1`` also removes channel i of ``bn1`` and input
channel i of ``conv2``. Torch-Pruning (``torch_pruning.DependencyGraph``) does this surgery and finds
the coupled layers. The block outputs are left alone: Torch-Pruning's graph does not see the option-A
zero-padding shortcuts (``ShortcutA``), so pruning them breaks the model. CHIP's ResNet-56 settings
also prune the outputs of the stem and of stages 1 and 2 (the first three entries of its
``--sparsity`` lists); we keep only the 27 inner proportions, so our ratios for CHIP's two settings are
below the paper's 1.75 and 3.33 (see ``CHIP_RESNET56_SPARSITY``).

Channel criteria (``CRITERIA``, filled by ``@register_criterion``; the LOWEST score is pruned first,
one stable sort per layer, ties to the lower channel index):

- ``chip``: channel independence (CHIP, eq. 3). For an image, let F be the layer's feature map as a
  C × (h·w) matrix; CI_i = ‖F‖_* − ‖F with row i zeroed‖_* (nuclear norms). Scores are averaged over
  the images of the first ``max_batches`` training batches (CHIP: 5 batches of 128). As in CHIP's
  ``calculate_feature_maps.py``, F is the output of the block's ``relu1``, i.e. ReLU(BN(conv1(x))),
  with the model in eval mode. CHIP rounds the feature maps to 4 decimals before the norms; we do not.
- ``l1``: the L1 norm of each filter of ``conv1`` (Li et al. 2017's criterion; no data needed).

Per-layer proportions: a proportion p is the fraction of a layer's channels removed; the layer keeps
int(c · (1 − p)) channels, CHIP's ``adapt_channel`` rounding, and at least one.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch_pruning as tp
from torch import nn

from recall_distortion.models.resnet_cifar import BasicBlock
from recall_distortion.pruning import count_parameters

ChannelScore = Callable[[nn.Conv2d, "torch.Tensor | None"], torch.Tensor]


@dataclass(frozen=True)
class ChannelCriterion:
    """A channel criterion scores the output channels of one convolution; lower is pruned first."""

    score: ChannelScore  # fn(conv, feature_maps (N, C, h, w) or None) -> (C,) scores
    needs_feature_maps: bool


CRITERIA: dict[str, ChannelCriterion] = {}


def register_criterion(name: str, *, needs_feature_maps: bool) -> Callable[[ChannelScore], ChannelScore]:
    """Decorator: ``@register_criterion("l1", needs_feature_maps=False)`` adds a criterion."""

    def decorator(fn: ChannelScore) -> ChannelScore:
        if name in CRITERIA:
            raise ValueError(f"channel criterion {name!r} is registered twice")
        CRITERIA[name] = ChannelCriterion(score=fn, needs_feature_maps=needs_feature_maps)
        return fn

    return decorator


def channel_independence(feature_maps: torch.Tensor) -> torch.Tensor:
    """Mean over images of CI_i = ‖F‖_* − ‖F with row i zeroed‖_* (CHIP, eq. 3), float64, shape (C,).

    ``feature_maps``: (N, C, h, w); F is one image's C × (h·w) matrix. With the reduced QR
    factorisation Fᵀ = Q R (Q with orthonormal columns), F with row i zeroed is (Q R')ᵀ where R' is R
    with column i zeroed, so both nuclear norms are those of the small min(C, h·w) × C matrices R and
    R': the same numbers as from F, at a fraction of the cost of C + 1 SVDs of C × (h·w) matrices.
    """
    if feature_maps.dim() != 4 or feature_maps.shape[0] == 0:
        raise ValueError(f"feature maps must be (N, C, h, w) with N >= 1, got {tuple(feature_maps.shape)}")
    n, c = feature_maps.shape[:2]
    f = feature_maps.detach().to(torch.float64).reshape(n, c, -1)
    r = torch.linalg.qr(f.transpose(1, 2), mode="reduced").R  # (N, k, C), k = min(C, h·w)
    zero_column = (~torch.eye(c, dtype=torch.bool, device=r.device)).to(r.dtype).unsqueeze(1)  # (C, 1, C)

    def nuclear(m: torch.Tensor) -> torch.Tensor:
        return torch.linalg.svdvals(m).sum(-1)

    total = torch.zeros(c, dtype=torch.float64, device=r.device)
    chunk = max(1, 2**22 // (c * r.shape[1] * c))  # images per step: at most ~4M entries
    for rb in torch.split(r, chunk):
        total += (nuclear(rb).unsqueeze(1) - nuclear(rb.unsqueeze(1) * zero_column)).sum(0)
    return total / n


@register_criterion("chip", needs_feature_maps=True)
def chip_score(conv: nn.Conv2d, feature_maps: torch.Tensor | None) -> torch.Tensor:
    """CHIP: channel independence of each channel of ReLU(BN(conv(x))), averaged over images."""
    return channel_independence(feature_maps)


@register_criterion("l1", needs_feature_maps=False)
def l1_score(conv: nn.Conv2d, feature_maps: torch.Tensor | None) -> torch.Tensor:
    """L1 norm of each filter: Σ |W[i, :, :, :]|."""
    return conv.weight.detach().to(torch.float64).abs().sum(dim=(1, 2, 3))


# ----------------------------------------------------------------------------------------------
# The layers, their scores and their proportions
# ----------------------------------------------------------------------------------------------


def inner_blocks(model: nn.Module) -> list[tuple[str, BasicBlock]]:
    """(name, block) of every BasicBlock, in model order: their ``conv1`` are the pruned layers."""
    blocks = [(name, m) for name, m in model.named_modules() if isinstance(m, BasicBlock)]
    if not blocks:
        raise TypeError("structured pruning needs a CIFAR ResNet of models.resnet_cifar (no BasicBlock found)")
    return blocks


def channel_scores(
    model: nn.Module, criterion: str, inputs: torch.Tensor, *, batch_size: int = 128, max_batches: int = 5
) -> dict[str, torch.Tensor]:
    """{block name: (C,) float64 CPU scores of its conv1's output channels} for ``criterion``.

    ``inputs`` is the preprocessed training split (any device; batches move to the model's device).
    A feature-map criterion sees ReLU(BN1(conv1(x))) of each block for each of the first
    ``max_batches`` batches of ``batch_size`` images, model in eval mode (its mode is restored); the
    batch scores are averaged weighted by batch size, i.e. the mean over the images used.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"unknown channel criterion {criterion!r}; registered: {sorted(CRITERIA)}")
    spec = CRITERIA[criterion]
    blocks = inner_blocks(model)
    if not spec.needs_feature_maps:
        return {name: spec.score(block.conv1, None).to("cpu", torch.float64) for name, block in blocks}
    if batch_size < 1 or max_batches < 1 or len(inputs) == 0:
        raise ValueError("need non-empty inputs, batch_size >= 1 and max_batches >= 1")

    sums: dict[str, torch.Tensor] = {}
    current: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def save(module, args, output):
            current[name] = torch.relu(output).detach()

        return save

    handles = [block.bn1.register_forward_hook(hook(name)) for name, block in blocks]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    used = 0
    try:
        with torch.no_grad():
            for b, start in enumerate(range(0, len(inputs), batch_size)):
                if b >= max_batches:
                    break
                xb = inputs[start : start + batch_size].to(device)
                current.clear()
                model(xb)
                for name, block in blocks:
                    s = spec.score(block.conv1, current[name]).to("cpu", torch.float64) * len(xb)
                    sums[name] = s if name not in sums else sums[name] + s
                used += len(xb)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {name: s / used for name, s in sums.items()}


def kept_channels(channels: int, proportion: float) -> int:
    """Channels a layer keeps when ``proportion`` of its ``channels`` is pruned: int(c·(1 − p)) (CHIP)."""
    if not (0 <= proportion < 1):
        raise ValueError(f"a pruning proportion must lie in [0, 1), got {proportion!r}")
    kept = int(channels * (1 - proportion))
    if kept < 1:
        raise ValueError(f"pruning {proportion:g} of {channels} channels leaves none")
    return kept


def _checked_proportions(model: nn.Module, proportions: Sequence[float]) -> list[tuple[str, BasicBlock, int]]:
    """(name, block, kept channels) for every block; one proportion per block."""
    blocks = inner_blocks(model)
    if len(proportions) != len(blocks):
        raise ValueError(f"need one proportion per BasicBlock ({len(blocks)}), got {len(proportions)}")
    return [(name, block, kept_channels(block.conv1.out_channels, float(p))) for (name, block), p in zip(blocks, proportions)]


def _channel_costs(model: nn.Module) -> list[tuple[int, int]]:
    """(channels, parameters per channel) of every block's conv1: one output channel carries its
    filter (and bias), its BN1 affine pair and one input slice of conv2."""
    costs = []
    for _, block in inner_blocks(model):
        conv1, bn1, conv2 = block.conv1, block.bn1, block.conv2
        per_channel = conv1.weight[0].numel() + (1 if conv1.bias is not None else 0)
        per_channel += 2 if bn1.affine else 0
        per_channel += conv2.weight[:, 0].numel()
        costs.append((conv1.out_channels, per_channel))
    return costs


def parameters_after(model: nn.Module, proportions: Sequence[float]) -> int:
    """Parameter count of ``model`` once its inner channels are pruned by ``proportions``, by
    arithmetic (``prune_channels`` removes exactly these parameters)."""
    kept = [k for _, _, k in _checked_proportions(model, proportions)]
    removed = sum((c - k) * cost for (c, cost), k in zip(_channel_costs(model), kept))
    return count_parameters(model)[0] - removed


def structured_ratio(model: nn.Module, proportions: Sequence[float]) -> float:
    """Pruning ratio (section 4): parameters before / parameters after, for ``proportions``."""
    return count_parameters(model)[0] / parameters_after(model, proportions)


# ----------------------------------------------------------------------------------------------
# CHIP's ResNet-56 settings and their extrapolation (Appendix H)
# ----------------------------------------------------------------------------------------------

# CHIP's ``--sparsity`` lists for ResNet-56, keyed by the ratio Appendix H reports for them. Entry 0
# is the stem, entries 1-2 the outputs of stages 1 and 2, entries 3.. the 27 inner convolutions
# (``adapt_channel`` in CHIP's models/resnet_cifar10.py). 3.33: the README of Eclipsess/CHIP_NeurIPS2021,
# "[0.]+[0.4]*2+[0.5]*9+[0.6]*9+[0.7]*9"; 1.75: "[0.]+[0.15]*2+[0.4]*9+[0.4]*9+[0.4]*9", the other
# ResNet-56 setting of the CHIP/HRankPlus code line (labelled "48%" beside "71%" in code derived from
# CHIP). HRankPlus's README lists its ResNet-56 models at 0.48M (42.8% fewer) and 0.24M (70.0% fewer)
# parameters, i.e. 1/(1 − 0.428) = 1.75 and 1/(1 − 0.70) = 3.33. Applied in full (with the stage
# outputs) the lists give 485,413 and 240,793 parameters: ratios 1.757 and 3.543. Only entries 3..
# are applied here (see the module docstring): 506,446 and 276,568 parameters, ratios 1.684 and 3.084.
CHIP_RESNET56_SPARSITY: dict[float, list[float]] = {
    1.75: [0.0] + [0.15] * 2 + [0.4] * 9 + [0.4] * 9 + [0.4] * 9,
    3.33: [0.0] + [0.4] * 2 + [0.5] * 9 + [0.6] * 9 + [0.7] * 9,
}


def chip_inner_proportions(sparsity: Sequence[float]) -> list[float]:
    """The inner-convolution proportions of a CHIP ``--sparsity`` list (entries 3.. of it)."""
    return [float(p) for p in sparsity[3:]]


def stage_proportions(model: nn.Module, sparsity: Sequence[float]) -> list[float]:
    """A ResNet-56 ``--sparsity`` list carried over to any CIFAR ResNet: CHIP gives every block of a
    stage the same inner proportion (entries 3, 12 and 21 for stages 1-3), so block ``layer<s>.<b>``
    gets stage s's; for ResNet-56 this is ``chip_inner_proportions(sparsity)``."""
    inner = chip_inner_proportions(sparsity)
    per_stage = inner[0::9]
    if len(inner) != 27 or any(inner[9 * s : 9 * s + 9] != [per_stage[s]] * 9 for s in range(3)):
        raise ValueError("expected a ResNet-56 list with one proportion per stage (3 + 27 entries)")
    return [per_stage[int(name.split(".")[0].removeprefix("layer")) - 1] for name, _ in inner_blocks(model)]


def proportions_for(model: nn.Module, ratio: float) -> list[float]:
    """Per-block proportions of a structured family's ratio label (config ``ratios``, Appendix H).

    1.75 and 3.33, the labels of CHIP's two ResNet-56 settings, give those settings
    (``stage_proportions``): their achieved ratio, inner convolutions only, is lower (1.684 and
    3.084 on ResNet-56). Any other label is a target: the 3.33 setting's kept fractions scaled by one
    factor until the ratio is at least the label (``extrapolated_proportions``), as Appendix H reached
    8.27 and 19.11. The achieved ratio is ``structured_ratio(model, proportions)`` either way.
    """
    if float(ratio) in CHIP_RESNET56_SPARSITY:
        return stage_proportions(model, CHIP_RESNET56_SPARSITY[float(ratio)])
    return extrapolated_proportions(model, stage_proportions(model, CHIP_RESNET56_SPARSITY[3.33]), float(ratio))


def extrapolated_proportions(model: nn.Module, base: Sequence[float], target_ratio: float) -> list[float]:
    """Proportions reaching ``target_ratio`` "by preserving the proportion of unpruned weights used for
    pruning ratio 3.33" (Appendix H).

    Our reading: every layer's kept fraction 1 − p_j of ``base`` (the 3.33 setting) is multiplied by
    ONE factor f, so the layers keep their relative widths; f is found by bisection as the largest
    factor whose ratio (``structured_ratio``) is at least the target. Channel counts are integers, so
    the achieved ratio is the smallest one ≥ target on this one-parameter family (report it).
    """
    kept_fraction = [1.0 - float(p) for p in base]
    costs = _channel_costs(model)
    if len(kept_fraction) != len(costs) or not all(0 < q <= 1 for q in kept_fraction):
        raise ValueError("base must hold one proportion in [0, 1) per BasicBlock")
    total = sum(p.numel() for p in model.parameters())

    def proportions(f: float) -> list[float]:
        return [1.0 - f * q for q in kept_fraction]

    def ratio(f: float) -> float:  # structured_ratio(model, proportions(f)), without the model walk
        kept = [int(c * (1 - p)) for (c, _), p in zip(costs, proportions(f))]
        if min(kept) < 1:
            return math.inf  # a layer left with no channel: beyond every feasible target
        return total / (total - sum((c - k) * cost for (c, cost), k in zip(costs, kept)))

    hi = 1.0 / max(kept_fraction)  # the widest layer keeps all its channels
    lo = max(1.0 / (c * q) for (c, _), q in zip(costs, kept_fraction))  # every layer keeps ~1 channel
    while ratio(lo) == math.inf:
        lo *= 1 + 1e-12
    if ratio(lo) < target_ratio:
        raise ValueError(
            f"target ratio {target_ratio:g} is out of reach: keeping one channel per inner layer gives {ratio(lo):.4g}"
        )
    if ratio(hi) >= target_ratio:
        return proportions(hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if ratio(mid) >= target_ratio else (lo, mid)
    return proportions(lo)


# ----------------------------------------------------------------------------------------------
# The surgery
# ----------------------------------------------------------------------------------------------


def channels_to_remove(
    model: nn.Module, scores: dict[str, torch.Tensor], proportions: Sequence[float]
) -> dict[str, list[int]]:
    """{block name: sorted output channels of its conv1 to remove}: the lowest ``scores``
    (``channel_scores``, computed once per model and shared by its ratios), as many as ``proportions``
    (one per BasicBlock) ask."""
    return {
        name: sorted(torch.sort(scores[name], stable=True).indices[: block.conv1.out_channels - kept].tolist())
        for name, block, kept in _checked_proportions(model, proportions)
    }


def remove_channels(model: nn.Module, removed: dict[str, list[int]], example_input: torch.Tensor) -> nn.Module:
    """A copy of ``model`` without the listed conv1 output channels (``channels_to_remove``), cut by
    Torch-Pruning (and with them bn1's and conv2's input slices); ``model`` is left untouched.

    Also rebuilds a stored pruned model: a fresh model of the same architecture cut by the same
    ``removed`` has the pruned model's shapes, so its state_dict loads (``stages.structured``).
    ``example_input``: one preprocessed image batch, for tracing the graph.
    """
    pruned = copy.deepcopy(model)
    pruned.eval()  # tracing runs a forward pass: keep the BN running statistics as they are
    device = next(pruned.parameters()).device
    graph = tp.DependencyGraph().build_dependency(pruned, example_inputs=example_input[:1].to(device), verbose=False)
    blocks = dict(inner_blocks(pruned))
    if set(removed) - set(blocks):
        raise ValueError(f"no BasicBlock named {sorted(set(removed) - set(blocks))}")
    for name, channels in removed.items():
        if not channels:
            continue
        block = blocks[name]
        group = graph.get_pruning_group(block.conv1, tp.prune_conv_out_channels, idxs=list(channels))
        touched = {id(dep.target.module) for dep, _ in group if isinstance(dep.target.module, nn.Module)
                   and any(True for _ in dep.target.module.parameters(recurse=False))}
        if touched != {id(block.conv1), id(block.bn1), id(block.conv2)}:
            raise RuntimeError(f"Torch-Pruning couples {name}.conv1 with layers other than bn1 and conv2")
        group.prune()
    pruned.train(model.training)
    return pruned


def prune_channels(
    model: nn.Module,
    criterion: str,
    proportions: Sequence[float],
    inputs: torch.Tensor,
    *,
    batch_size: int = 128,
    max_batches: int = 5,
) -> nn.Module:
    """A pruned copy of ``model``: each block's conv1 loses its lowest-scored channels (``model`` is
    left untouched).

    ``proportions``: one per BasicBlock in model order (``proportions_for``,
    ``extrapolated_proportions``). ``inputs``: preprocessed training images; the first one traces
    the graph for Torch-Pruning, and feature-map criteria use the first ``max_batches`` batches
    (``channel_scores``). Returns the smaller module; its ratio is ``structured_ratio(model,
    proportions)`` = count_parameters(model) / count_parameters(pruned).
    """
    _checked_proportions(model, proportions)
    scores = channel_scores(model, criterion, inputs, batch_size=batch_size, max_batches=max_batches)
    return remove_channels(model, channels_to_remove(model, scores, proportions), inputs)


__all__ = [
    "CHIP_RESNET56_SPARSITY",
    "CRITERIA",
    "ChannelCriterion",
    "channel_independence",
    "channel_scores",
    "channels_to_remove",
    "chip_inner_proportions",
    "extrapolated_proportions",
    "inner_blocks",
    "kept_channels",
    "parameters_after",
    "proportions_for",
    "prune_channels",
    "register_criterion",
    "remove_channels",
    "stage_proportions",
    "structured_ratio",
]
