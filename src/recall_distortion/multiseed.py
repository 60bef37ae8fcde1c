"""Several seeds of one model trained together in one process, as one batched computation (section 6.1).

Why: LeNet5 or a CIFAR ResNet at batch size 128 leaves a modern GPU mostly idle, and the study trains
30 seeds of each. `train_many` stacks K models' parameters and buffers along a new leading dimension
(`torch.func.stack_module_state`) and runs their K forward and backward passes as one (`vmap` over
`functional_call`): convolutions become grouped convolutions, linear layers batched matrix products.
On a CPU it is slower (about half the seed-epochs/s of one seed after another on 2 cores,
benchmarks/run.py), so the study's `multi_seed` option (`stages.fitting`) defaults to "sequential".

The result is that of K separate `training.train` calls, to float rounding (see below;
tests/test_multiseed.py checks weights, BatchNorm statistics, logs and best epochs):
- each seed draws its data order and augmentation from the generators `train` would use for it, and
  every seed's batch is augmented on its own, with its own generator;
- the stacked parameters are leaf tensors of ONE SGD update (`torch.optim.sgd.sgd`): momentum, weight decay and
  Nesterov act element-wise, so one optimiser over the stack is K optimisers;
- each seed's loss is a mean over its own batch, and the summed loss has per-seed gradients;
- masks are stacked per seed, so zeroing the pruned gradients before and the pruned weights after
  each step acts on each seed's own mask;
- BatchNorm running statistics are stacked buffers passed to `functional_call`. In train mode the
  vmap batching rule of batch_norm (native and cuDNN) updates a batched running_mean/running_var in
  place, each seed's slice from its own batch statistics, and BatchNorm's `num_batches_tracked += 1`
  lands on the stacked counter; validation runs in eval mode on the stacked statistics;
- the epoch loop itself (schedule, data order, augmentation, masks, validation, the per-seed
  best-validation-loss epoch, epoch log and divergence check, resume state) is `training.fit`, the
  same loop as `train`'s; this module only supplies the `StackedModels` engine. Log lines and errors
  start with "seed <s>: "; a log row's "seconds" is the wall time of the epoch of the whole group.

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
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .training import TrainResult, fit


class StackedModels:
    """`training.Engine` of K same-architecture models stacked along a leading seed dimension.

    Parameters and buffers are leaves of shape (K, *shape) (`stack_module_state`); one forward of a
    meta-device copy of the architecture (`functional_call`) is vmapped over the seed dimension.
    """

    def __init__(self, models: Sequence[nn.Module], *, bf16: bool = False, compile: bool = False):
        self.models = list(models)
        self.params, self.buffers = stack_module_state(self.models)  # leaves of shape (K, *shape)
        self.stacked = {**self.params, **self.buffers}
        self.state_names = list(self.models[0].state_dict())
        self.base = copy.deepcopy(self.models[0]).to("meta")  # the architecture only; weights come from the stack
        device = next(iter(self.stacked.values())).device
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

        def seed_loss(p, b, xb, yb):
            return F.cross_entropy(functional_call(self.base, (p, b), (xb,)), yb)

        def seed_val(p, b, xb, yb):
            out = functional_call(self.base, (p, b), (xb,))
            return F.cross_entropy(out, yb, reduction="sum"), (out.argmax(1) == yb).sum()

        self.batched_loss = vmap(seed_loss)  # one batch per seed
        if compile:
            self.batched_loss = torch.compile(self.batched_loss)
        self.batched_val = vmap(seed_val, in_dims=(0, 0, None, None))  # the same validation batch for all

    def stack(self, per_seed):
        return torch.stack(list(per_seed))

    def train_mode(self, mode):
        self.base.train(mode)

    def losses(self, batches):
        xb, yb = (torch.stack(part) for part in zip(*batches))  # (K, batch, ...)
        with self.autocast:
            return self.batched_loss(self.params, self.buffers, xb, yb)

    def eval_batch(self, x, y):
        with self.autocast:
            return self.batched_val(self.params, self.buffers, x, y)

    def seed_state(self, i):
        return {name: self.stacked[name][i] for name in self.state_names}

    def state_dict(self):
        return {name: t.detach() for name, t in self.stacked.items()}

    @torch.no_grad()
    def load_state_dict(self, state):
        for name, tensor in self.stacked.items():
            tensor.copy_(state[name])

    @torch.no_grad()
    def finish(self):
        for i, model in enumerate(self.models):
            model.load_state_dict(self.seed_state(i))


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
    return fit(models, data, hparams, seeds=seeds, augment=augment, masks=masks, state_path=state_path,
               device=device, engine=lambda held: StackedModels(held, bf16=bf16, compile=compile))
