"""Several seeds of one model trained together in one process, as one batched computation (section 6.1).

Why: LeNet5 or a CIFAR ResNet at batch size 128 leaves a modern GPU mostly idle, and the study trains
30 seeds of each. `train_many` stacks K models' parameters and buffers along a new leading dimension
(`torch.func.stack_module_state`) and runs their K forward and backward passes as one (`vmap` over
`functional_call`): convolutions become grouped convolutions, linear layers batched matrix products.
On a CPU it is slower (about half the seed-epochs/s of one seed after another on 2 cores,
benchmarks/run.py), so the study's `multi_seed` option defaults to "sequential".

The result is that of K separate `training.train` calls, to float rounding (see below;
tests/test_multiseed.py checks weights, BatchNorm statistics, logs and best epochs):
- each seed draws its data order and augmentation from the generators `train` would use for it, and
  every seed's batch is augmented on its own, with its own generator;
- the stacked parameters are leaf tensors of ONE `torch.optim.SGD`: momentum, weight decay and
  Nesterov act element-wise, so one optimiser over the stack is K optimisers;
- each seed's loss is a mean over its own batch, and the summed loss has per-seed gradients;
- masks are stacked per seed: pruned gradients are zeroed before and pruned weights after each step;
- BatchNorm running statistics are stacked buffers passed to `functional_call`. In train mode the
  vmap batching rule of batch_norm (native and cuDNN) updates a batched running_mean/running_var in
  place, each seed's slice from its own batch statistics, and BatchNorm's `num_batches_tracked += 1`
  lands on the stacked counter; validation runs in eval mode on the stacked statistics;
- the best-validation-loss epoch, the epoch log and the divergence check are per seed (the same
  `training._Run` as `train`; log lines and errors start with "seed <s>: "). A log row's "seconds"
  is the wall time of the epoch of the whole group.

The models must not draw random numbers in forward (dropout): vmap refuses them, which keeps the
equivalence honest. `state_path` resumes a killed group after its last finished epoch, as in `train`.

GPU options (off by default): `bf16` runs forward and backward under bfloat16 autocast, which
changes the numerics (results are no longer those of fp32 `train`, only close to them); `compile`
wraps the batched training step in `torch.compile` (same numerics up to kernel fusion; the first
epoch pays the compilation). There is no channels_last option: a stacked batch is 5-D (seed, image,
C, H, W) and vmap's convolution rule folds the seed dimension into the channels of a grouped
convolution, so the layout the kernel sees is the batching rule's, not ours (and no GPU was at hand
to measure otherwise). Data should already be on the device (`stages.files.load_splits_as_tensors`),
where `data.augment_batch` then runs too. Goals on one H100/H200, to be measured with
benchmarks/run.py: >= 5x the seed-epochs/s of one seed per process for LeNet5, >= 2x for ResNet-20.

Float rounding: the batched kernels sum in another order than the single-model ones, so fp32 weights
agree to ~1e-7 after a few steps; like any change of kernels (CPU vs GPU), such differences can grow
over many epochs on chaotic runs. In float64 a ResNet-20 with BatchNorm agrees to 1e-9 (tested).
"""

from __future__ import annotations

import copy
import hashlib
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .atomic import save_torch
from .pruning import apply_masks, masks_to
from .training import TrainResult, _fingerprint, _generators, _load_state, _Run, check_hparams, lr_at

MODES = ("sequential", "vmap")  # the study's multi_seed option: one seed after another, or all at once


def check_mode(multi_seed: str) -> None:
    """Reject a multi_seed value other than MODES (the schema checks the config; this, direct calls)."""
    if multi_seed not in MODES:
        raise ValueError(f"multi_seed must be one of {list(MODES)}, got {multi_seed!r}")


def train_many(
    models: Sequence[nn.Module],
    data: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    hparams: Mapping,
    *,
    seeds: Sequence[int],
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    masks: Sequence[Mapping[str, torch.Tensor]] | None = None,
    state_path: str | Path | None = None,
    device: str | torch.device | None = None,
    bf16: bool = False,
    compile: bool = False,
) -> list[TrainResult]:
    """Train ``models[k]`` as ``training.train(models[k], data, hparams, seed=seeds[k], masks=masks[k])``
    would, all K at once; return one TrainResult per model, in order.

    The models must share one architecture (each initialised with its own `init_seed`); they are left
    with their last epoch's weights, like `train` leaves its model. masks: None, or one
    {param_name: bool tensor} per model, all for the same parameters. state_path, device, augment: as
    in `train`. Raises TrainingDiverged naming the first seed whose loss is NaN or infinite.
    """
    k = len(models)
    if k == 0 or len(seeds) != k or (masks is not None and len(masks) != k):
        raise ValueError(f"train_many needs one seed (and one mask set, if any) per model: {k} models, "
                         f"{len(seeds)} seeds, {'no' if masks is None else len(masks)} mask sets")
    hp = check_hparams(hparams)
    (x, y), (x_val, y_val) = data["train"], data["val"]
    device = torch.device(device) if device is not None else x.device
    x, y, x_val, y_val = (t.to(device) for t in (x, y, x_val, y_val))
    n, bs, ebs = len(x), hp["batch_size"], hp["eval_batch_size"]
    if n == 0 or len(x_val) == 0:
        raise ValueError("train and val splits must both be non-empty")
    masks = [masks_to(m, device) for m in masks] if masks else None
    if masks and any(m.keys() != masks[0].keys() for m in masks):
        raise ValueError("every model's masks must cover the same parameters")
    for i, model in enumerate(models):
        model.to(device)
        if masks:
            apply_masks(model, masks[i])  # checks names, shapes and dtype; pruned weights start at zero
    pruned = {name: ~torch.stack([m[name] for m in masks]) for name in masks[0]} if masks else {}
    fingerprint = hashlib.sha256("".join(
        _fingerprint(hp, seed, model, n, len(x_val), m, augment)
        for seed, model, m in zip(seeds, models, masks or [None] * k)).encode()).hexdigest()

    params, buffers = stack_module_state(list(models))  # leaves of shape (K, *shape)
    stacked = {**params, **buffers}
    state_names = list(models[0].state_dict())
    base = copy.deepcopy(models[0]).to("meta")  # the architecture only; weights come from the stack

    def seed_loss(p, b, xb, yb):
        return F.cross_entropy(functional_call(base, (p, b), (xb,)), yb)

    def seed_val(p, b, xb, yb):
        out = functional_call(base, (p, b), (xb,))
        return F.cross_entropy(out, yb, reduction="sum"), (out.argmax(1) == yb).sum()

    batched_loss = vmap(seed_loss)  # one batch per seed
    batched_val = vmap(seed_val, in_dims=(0, 0, None, None))  # the same validation batch for all
    if compile:
        batched_loss = torch.compile(batched_loss)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    @torch.no_grad()
    def validate():
        base.eval()
        loss = torch.zeros(k, dtype=torch.float64, device=device)
        correct = torch.zeros(k, dtype=torch.int64, device=device)
        for i in range(0, len(x_val), ebs):
            with autocast:
                batch_loss, batch_correct = batched_val(params, buffers, x_val[i:i + ebs], y_val[i:i + ebs])
            loss += batch_loss.double()
            correct += batch_correct
        base.train()
        return loss / len(x_val), correct.double() / len(x_val)

    def state_of(i: int) -> dict[str, torch.Tensor]:
        return {name: stacked[name][i] for name in state_names}

    optimizer = torch.optim.SGD(params.values(), lr=hp["lr"], momentum=hp["momentum"],
                                weight_decay=hp["weight_decay"], nesterov=hp["nesterov"])
    order_gens, aug_gens = zip(*(_generators(seed, device) for seed in seeds))
    runs = [_Run(hp["epochs"], name=f"seed {seed}: ") for seed in seeds]
    state_path = None if state_path is None else Path(state_path)
    start = 1
    saved = _load_state(state_path, fingerprint)
    if saved is not None:
        with torch.no_grad():
            for name, tensor in stacked.items():
                tensor.copy_(saved["stacked"][name])
        optimizer.load_state_dict(saved["optimizer"])
        for gen, rng in zip(order_gens + aug_gens, saved["order_rng"] + saved["augment_rng"]):
            gen.set_state(rng)
        for run, run_state in zip(runs, saved["runs"]):
            run.restore(run_state)
        start = saved["epoch"] + 1

    base.train()
    for epoch in range(start, hp["epochs"] + 1):
        t0 = time.perf_counter()
        lr = lr_at(epoch, hp)
        for group in optimizer.param_groups:
            group["lr"] = lr
        total = torch.zeros(k, dtype=torch.float64, device=device)
        perms = torch.stack([torch.randperm(n, generator=gen) for gen in order_gens]).to(device)
        for i in range(0, n, bs):  # the last partial batch is kept, and has the same size for every seed
            idx = perms[:, i:i + bs]
            xb, yb = x[idx], y[idx]  # (K, batch, ...)
            if augment is not None:
                xb = torch.stack([augment(xs, gen) for xs, gen in zip(xb, aug_gens)])
            with autocast:
                losses = batched_loss(params, buffers, xb, yb)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # seeds share no parameter: each slice gets its own seed's gradient
            for name, cut in pruned.items():
                params[name].grad.masked_fill_(cut, 0.0)  # pruned momentum buffers stay exactly zero
            optimizer.step()
            with torch.no_grad():
                for name, cut in pruned.items():
                    params[name].masked_fill_(cut, 0.0)
            total += losses.detach().double() * idx.shape[1]
        val_loss, val_acc = validate()
        stats = torch.stack([total / n, val_loss, val_acc], 1).tolist()  # one sync for the group
        for i, run in enumerate(runs):
            run.end_epoch(epoch, lr, t0, *stats[i], lambda i=i: state_of(i))
        if state_path is not None:
            save_torch({
                "fingerprint": fingerprint, "epoch": epoch,
                "stacked": {name: t.detach() for name, t in stacked.items()},
                "optimizer": optimizer.state_dict(), "runs": [run.checkpoint() for run in runs],
                "order_rng": [gen.get_state() for gen in order_gens],
                "augment_rng": [gen.get_state() for gen in aug_gens],
            }, state_path)

    with torch.no_grad():
        for i, model in enumerate(models):
            model.load_state_dict(state_of(i))
    if state_path is not None:
        state_path.unlink(missing_ok=True)
    return [run.result() for run in runs]
