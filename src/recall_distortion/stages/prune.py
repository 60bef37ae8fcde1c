"""Stage 3: one-shot global pruning masks of every seed's dense model at every ratio (section 3)."""

from __future__ import annotations

import contextlib

import torch

from recall_distortion.atomic import save_torch
from recall_distortion.device import claim_device
from recall_distortion.pruning import METHODS, loss_gradient, prune_masks
from recall_distortion.stages.files import load_checkpoint, load_splits_as_tensors, new_model


def prune(
    data, dense, output, *, dataset: str, model: str, method: str, ratios: list[float], input_size: int,
    gradient_batches: int | None = None, gradient_includes_weight_decay: bool = False, ratio_convention: str = "exact",
) -> None:
    """Write ``output`` = {"dataset", "model", "input_size", "method", "ratios", "weight_decay",
    "seeds": {seed: {ratio: {param: bool mask}}}}.

    Scores are computed once per model and every ratio's mask is cut from the same ranking. UP's
    epsilon is the weight decay stored with the dense checkpoint, i.e. the one the model was trained
    with. GP/UP need the training-loss gradient and claim a GPU; MP and RP stay on the CPU. GP and UP
    each compute the same gradient (one pass over the training split, small next to training): one
    job per method keeps an added method from rerunning the others. ``ratio_convention`` turns each
    nominal ratio into a number of weights (``pruning.weights_to_remove``); the evaluate stage records
    the achieved ratio from the pruned model's nonzero parameters.
    """
    checkpoint = load_checkpoint(dense, dataset=dataset, model=model, input_size=input_size)
    weight_decay = float(checkpoint["hparams"].get("weight_decay", 0.0))
    needs_gradient = METHODS[method].needs_gradient
    masks = {}
    with claim_device() if needs_gradient else contextlib.nullcontext(torch.device("cpu")) as device:
        if needs_gradient:
            (x, y), = load_splits_as_tensors(data, dataset, input_size, device, splits=("train",)).values()
        for seed, entry in checkpoint["seeds"].items():
            net = new_model(dataset, model, input_size, device)
            net.load_state_dict(entry["state"])
            gradient = None
            if needs_gradient:
                gradient = loss_gradient(
                    net, x, y, batch_size=checkpoint["hparams"]["batch_size"], max_batches=gradient_batches,
                    include_weight_decay=gradient_includes_weight_decay, weight_decay=weight_decay,
                )
            per_ratio = prune_masks(net, method, ratios, gradient=gradient, weight_decay=weight_decay, seed=seed,
                                   ratio_convention=ratio_convention)
            masks[seed] = {ratio: {name: mask.cpu() for name, mask in by_name.items()} for ratio, by_name in per_ratio.items()}
    save_torch({"dataset": dataset, "model": model, "input_size": input_size, "method": method, "ratios": list(ratios),
                "weight_decay": weight_decay, "seeds": masks}, output)
