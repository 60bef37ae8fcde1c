"""Global unstructured one-shot pruning with MP, GP, UP and RP (paper section 3).

Scores (section 3; the weights with the LOWEST scores are pruned first):

- ``mp``  Magnitude Pruning:  s_i = |θ_i|
- ``gp``  Gradient Pruning:   s_i = |−θ_i ∇_i L| = |θ_i g_i|, the absolute first-order change of the
          training loss when θ_i is set to 0.
- ``up``  Undecayed Pruning:  s_i = |−θ_i ∇_i L + ε θ_i²| = |θ_i g_i − ε θ_i²|, the same for the loss
          T = L − (ε/2)‖θ‖² with weight decay ε deducted (∇T = ∇L − εθ). ε is the weight decay the model
          was actually trained with; the caller passes it from the training config. UP with ε = 0 is
          GP; UP with g = 0 ranks exactly like MP.
- ``rp``  Random Pruning: i.i.d. uniform scores from a ``torch.Generator`` seeded with ``seed``.

Candidates are the weights of every ``nn.Conv2d`` and ``nn.Linear`` except ``model.classifier.weight``
(the last layer); biases and BatchNorm parameters are never pruned. Pruning is global: all candidate
scores are concatenated into one vector, one stable sort ranks them, and exactly k weights with the
lowest scores are removed (ties broken by the lower flat index, i.e. ``named_parameters`` order).
Scores are compared in float64 on the CPU, so the ranking does not depend on the device.

Pruning ratio (section 4): t = (number of parameters before pruning) / (number after pruning), counting
EVERY parameter of the model (biases, BatchNorm, classifier included) — ShrinkBench's whole-model
compression. Hence k = round(total − total / t) weights are removed, and the achieved ratio equals t
up to the rounding of one weight. The largest feasible ratio is total / (total − prunable); a ratio
above it (e.g. ResNet-20 with 100 classes at 50×: limit ≈ 35.0×) raises ``ValueError``.

Ratio conventions (``RATIO_CONVENTIONS``, the config's ``pruning.ratio_convention``):

- ``exact`` (default): the whole-model ratio above; the achieved ratio is t.
- ``shrinkbench``: what the authors' ShrinkBench fork does (``pruning/utils.py: fraction_to_keep``,
  ``strategies/magnitude.py: GlobalMagWeight``). The fraction to keep is computed over the prunable
  layers' weights AND biases, f = (total / t − nonprunable) / (prunable weights + their biases), but
  only weights are pruned, keeping round(f × prunable weights) of them. The prunable layers' biases
  stay, so the achieved ratio is below t: LeNet5 on 32×32 inputs at nominal 50× keeps 383 weights
  (achieved 42.29×) where ``exact`` keeps 158. For bias-free layers (the ResNets' convolutions) the
  two coincide.

The gradient g (``loss_gradient``): the gradient of the mean cross-entropy loss over the whole
training split (or its first ``max_batches`` batches), each batch weighted by its size, with the model
in eval mode so BatchNorm uses and keeps its running statistics. Two readings of ∇L in section 3:

1. default (``include_weight_decay=False``): ∇L is what autograd gives for the cross-entropy loss. This
   is how the authors' experiments ran: PyTorch's SGD applies weight decay outside the loss, so their
   gradient never contains εθ.
2. ``include_weight_decay=True``: ∇L is the gradient of the regularised loss L = CE + (ε/2)‖θ‖² of
   the derivation, i.e. g + εθ. Then UP's score is |θ g|, the GP score of the cross-entropy alone.

Deviations of the authors' public code (ShrinkBench fork), which we do NOT reproduce; we follow the
paper's equations:

- UP is scored as the signed −θ·g + 5e-4·θ² without the absolute value, so the most negative values
  are pruned first and the achieved ratio misses the target;
- ε is fixed at 5e-4 in the score while their driver trained the models with weight decay 0;
- GP/UP gradients come from one augmented minibatch with the model in train mode (BatchNorm
  statistics updated), not from the training split in eval mode;
- validation during fine-tuning used the test split (ours uses a held-out validation split).

Masks are computed once from the dense model, for all ratios at once (``prune_masks``), applied with
``masks.apply_masks`` and held through fine-tuning by ``training.fit``, which zeroes the pruned gradients
before and the pruned weights after every optimiser step, so momentum and weight decay keep pruned
weights at exactly 0.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from recall_distortion.masks import Masks

ScoreFn = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class PruningMethod:
    """A pruning method is a score function; lower scores are pruned first."""

    score: ScoreFn  # fn(param, grad, *, weight_decay, generator) -> Tensor of param's shape
    needs_gradient: bool


METHODS: dict[str, PruningMethod] = {}


def register_method(name: str, *, needs_gradient: bool) -> Callable[[ScoreFn], ScoreFn]:
    """Decorator: ``@register_method("mp", needs_gradient=False)`` adds a score to ``METHODS``."""

    def decorator(fn: ScoreFn) -> ScoreFn:
        if name in METHODS:
            raise ValueError(f"pruning method {name!r} is registered twice")
        METHODS[name] = PruningMethod(score=fn, needs_gradient=needs_gradient)
        return fn

    return decorator


@register_method("mp", needs_gradient=False)
def magnitude_score(param, grad, *, weight_decay, generator):
    """MP (section 3): |θ_i|."""
    return param.abs()


@register_method("gp", needs_gradient=True)
def gradient_score(param, grad, *, weight_decay, generator):
    """GP (section 3): |−θ_i ∇_i L| = |θ_i g_i|."""
    return (param * grad).abs()


@register_method("up", needs_gradient=True)
def undecayed_score(param, grad, *, weight_decay, generator):
    """UP (section 3): |−θ_i ∇_i L + ε θ_i²| = |θ_i g_i − ε θ_i²|."""
    return (-(param * grad) + weight_decay * param * param).abs()


@register_method("rp", needs_gradient=False)
def random_score(param, grad, *, weight_decay, generator):
    """RP: i.i.d. uniform [0, 1) scores drawn from the seeded generator."""
    return torch.rand(param.shape, generator=generator, dtype=torch.float64).to(param.device)


# ----------------------------------------------------------------------------------------------
# What is prunable, and the ratio (section 4)
# ----------------------------------------------------------------------------------------------


RATIO_CONVENTIONS = ("exact", "shrinkbench")  # how a nominal ratio t becomes k (module docstring)


def _prunable_layers(model: nn.Module) -> list[nn.Module]:
    """Every nn.Conv2d / nn.Linear except ``model.classifier`` (the last layer, never pruned)."""
    classifier = getattr(model, "classifier", None)
    if not isinstance(classifier, nn.Linear):
        raise TypeError("model must expose its last nn.Linear as .classifier (see models.build_model)")
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m is not classifier]


def prunable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(name, weight) of every nn.Conv2d / nn.Linear except ``model.classifier``, in model order."""
    prunable_ids = {id(m.weight) for m in _prunable_layers(model)}
    return [(name, p) for name, p in model.named_parameters() if id(p) in prunable_ids]


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, nonzero) over all parameters of the model (buffers such as BN statistics excluded)."""
    total = 0
    nonzero = 0
    for p in model.parameters():
        total += p.numel()
        nonzero += int(torch.count_nonzero(p.detach()))
    return total, nonzero


def _sizes(model: nn.Module) -> tuple[int, int, int]:
    """(total parameters, prunable weights, biases of the prunable layers)."""
    total = sum(p.numel() for p in model.parameters())
    prunable = sum(p.numel() for _, p in prunable_parameters(model))
    biases = sum(m.bias.numel() for m in _prunable_layers(model) if m.bias is not None)
    return total, prunable, biases


def _check_convention(convention: str) -> None:
    if convention not in RATIO_CONVENTIONS:
        raise ValueError(f"ratio_convention must be one of {list(RATIO_CONVENTIONS)}, got {convention!r}")


def weights_to_remove(
    total: int, ratio: float, convention: str = "exact", *, prunable: int = 0, prunable_biases: int = 0
) -> int:
    """k, the weights to remove for nominal ratio t (section 4; conventions in the module docstring).

    ``exact``: k = round(total − total / t), so that total / (total − k) ≈ t. ``shrinkbench``: keep
    round(f × prunable) weights, f = (total / t − nonprunable) / (prunable + prunable_biases) with
    nonprunable = total − prunable − prunable_biases; ``prunable`` counts the prunable weights and
    ``prunable_biases`` the biases of their layers.
    """
    _check_convention(convention)
    if convention == "exact":
        return int(round(total - total / ratio))
    nonprunable = total - prunable - prunable_biases
    fraction = (total / ratio - nonprunable) / (prunable + prunable_biases)
    return prunable - int(round(fraction * prunable))


def max_ratio(model: nn.Module, convention: str = "exact") -> float:
    """Largest feasible nominal ratio: every prunable weight removed (with ``shrinkbench``, whose
    fraction counts the prunable layers' biases as prunable, the limit is total / nonprunable)."""
    _check_convention(convention)
    total, prunable, biases = _sizes(model)
    return total / (total - prunable - (biases if convention == "shrinkbench" else 0))


@functools.lru_cache(maxsize=None)
def feasible_ratio_limit(
    model_name: str, num_classes: int, in_channels: int, input_size: int, convention: str = "exact"
) -> float:
    """``max_ratio`` of ``models.build_model(...)``, for validating a workflow config.

    The model is built on the meta device: no memory, no draw from torch's global RNG.
    """
    from recall_distortion.models import build_model

    with torch.device("meta"):
        model = build_model(model_name, num_classes, in_channels, input_size)
    return max_ratio(model, convention)


def check_ratio(model: nn.Module, ratio: float, convention: str = "exact") -> int:
    """Validate a nominal ratio for ``model`` and return k, the number of weights to remove."""
    limit = max_ratio(model, convention)
    total, prunable, biases = _sizes(model)
    try:
        ratio = float(ratio)
    except (TypeError, ValueError):
        ratio = float("nan")
    if not (math.isfinite(ratio) and ratio > 1):
        raise ValueError(
            f"pruning ratio must be a finite number > 1 (got {ratio!r}); "
            f"the largest feasible ratio for this model is {limit:.4g}"
        )
    k = weights_to_remove(total, ratio, convention, prunable=prunable, prunable_biases=biases)
    if k > prunable:
        raise ValueError(
            f"pruning ratio {ratio:g} needs {k} of {total} parameters removed but only {prunable} "
            f"are prunable; the largest feasible ratio for this model is {limit:.4g}"
        )
    return k


# ----------------------------------------------------------------------------------------------
# The gradient g
# ----------------------------------------------------------------------------------------------


def loss_gradient(
    model: nn.Module,
    x: torch.Tensor,
    y,
    batch_size: int,
    max_batches: int | None = None,
    include_weight_decay: bool = False,
    weight_decay: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Gradient of the mean cross-entropy over (x, y), as {parameter name: tensor}.

    ``x`` is the preprocessed float tensor of the training split (any device; batches move to the
    model's device), ``y`` its int64 labels (tensor or array). Batches are taken in order; each
    contributes its summed loss, divided by the number of samples used, so the result is the mean
    gradient over the split (or over the first ``max_batches`` batches). The model runs in eval mode
    (BatchNorm running statistics are used, not updated); its previous mode is restored. ``.grad``
    fields are left untouched. With ``include_weight_decay`` the result is g + ε·θ (ε =
    ``weight_decay``, the value used in training), the gradient of CE + (ε/2)‖θ‖².
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    y = torch.as_tensor(y, dtype=torch.long)
    n = len(x)
    if n == 0 or len(y) != n:
        raise ValueError(f"need matching non-empty inputs and labels, got {n} and {len(y)}")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    device = params[0].device
    sums = [torch.zeros_like(p, dtype=torch.float64) for p in params]

    was_training = model.training
    model.eval()
    used = 0
    try:
        with torch.enable_grad():
            for b, start in enumerate(range(0, n, batch_size)):
                if max_batches is not None and b >= max_batches:
                    break
                xb = x[start : start + batch_size].to(device)
                yb = y[start : start + batch_size].to(device)
                loss = F.cross_entropy(model(xb), yb, reduction="sum")
                grads = torch.autograd.grad(loss, params, allow_unused=True)
                for acc, g in zip(sums, grads):
                    if g is not None:
                        acc += g.to(torch.float64)
                used += len(xb)
    finally:
        model.train(was_training)

    out: dict[str, torch.Tensor] = {}
    for (name, p), acc in zip(named, sums):
        g = acc / used
        if include_weight_decay:
            g = g + weight_decay * p.detach().to(torch.float64)
        out[name] = g.to(p.dtype)
    return out


# ----------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------


def compute_scores(
    model: nn.Module,
    method: str,
    *,
    gradient: Mapping[str, torch.Tensor] | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
) -> tuple[list[tuple[str, nn.Parameter]], torch.Tensor]:
    """(prunable parameters, their concatenated float64 CPU scores) for ``method``."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; registered: {sorted(METHODS)}")
    spec = METHODS[method]
    prunable = prunable_parameters(model)
    if spec.needs_gradient:
        if gradient is None:
            raise ValueError(f"pruning method {method!r} needs the loss gradient (see loss_gradient)")
        missing = [name for name, _ in prunable if name not in gradient]
        if missing:
            raise ValueError(f"gradient is missing prunable parameters: {missing[:5]}")
    generator = torch.Generator().manual_seed(int(seed))
    parts = []
    for name, p in prunable:
        theta = p.detach().to("cpu", torch.float64)
        grad = gradient[name].detach().to("cpu", torch.float64) if spec.needs_gradient else None
        if grad is not None and grad.shape != theta.shape:
            raise ValueError(f"gradient for {name} has shape {tuple(grad.shape)}, expected {tuple(theta.shape)}")
        s = spec.score(theta, grad, weight_decay=float(weight_decay), generator=generator)
        parts.append(s.to("cpu", torch.float64).reshape(-1))
    scores = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)
    if torch.isnan(scores).any():
        raise ValueError(f"pruning method {method!r} produced NaN scores")
    return prunable, scores


def prune_masks(
    model: nn.Module,
    method: str,
    ratios: Iterable[float],
    *,
    gradient: Mapping[str, torch.Tensor] | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
    ratio_convention: str = "exact",
) -> dict[float, Masks]:
    """{ratio: {param name: bool mask (True = kept), on the CPU}} for the prunable weights.

    Scores are computed once from the (dense) model and ranked by one stable sort (ties: lower flat
    index first); for ratio t the k lowest-scored weights are removed, k from ``check_ratio`` under
    ``ratio_convention`` (exact: k = round(total − total/t)).
    ``gradient`` ({name: g}, from ``loss_gradient``) is required by GP/UP; ``weight_decay`` is UP's ε;
    ``seed`` seeds RP's generator.
    """
    ratios = [float(r) for r in ratios]
    ks = {r: check_ratio(model, r, ratio_convention) for r in ratios}  # validate all before any work
    prunable, scores = compute_scores(model, method, gradient=gradient, weight_decay=weight_decay, seed=seed)
    order = torch.sort(scores, stable=True).indices
    sizes = [p.numel() for _, p in prunable]
    out: dict[float, Masks] = {}
    for r in ratios:
        keep = torch.ones(scores.numel(), dtype=torch.bool)
        keep[order[: ks[r]]] = False
        out[r] = {
            name: chunk.reshape(p.shape)
            for (name, p), chunk in zip(prunable, torch.split(keep, sizes))
        }
    return out


__all__ = [
    "METHODS",
    "PruningMethod",
    "RATIO_CONVENTIONS",
    "check_ratio",
    "compute_scores",
    "count_parameters",
    "feasible_ratio_limit",
    "loss_gradient",
    "max_ratio",
    "prunable_parameters",
    "prune_masks",
    "register_method",
    "weights_to_remove",
]
