"""SGD training and fine-tuning on in-memory tensors (paper section 6.1).

Protocol of section 6.1: plain SGD, batch size 128; LeNet5 for 30 epochs at learning rate 0.01 and
fine-tuned for 15 more after pruning; ResNets for 60 epochs with a decreasing learning rate and weight
decay 5e-4. "The weights for the epoch with the lowest validation loss are saved during training and
fine-tuning": `train` returns that state, chosen among epochs 1..E (the untrained or freshly pruned
model before epoch 1 is never a candidate, so every returned state has seen at least one epoch of
SGD on its own mask).

Like airbench, the loop hides nothing: each split is one tensor already on the device (measured 2x
faster than a per-sample DataLoader), the shuffled indices come from a seeded CPU generator, and there
is one host-device synchronisation per epoch. The same code runs on CUDA and on CPU; on CPU the same
seed gives bit-identical weights, also across a kill and a resume from `state_path`.

One loop, two engines: `fit` owns the epoch loop (schedule, per-seed data order and augmentation,
batching, masks, validation, best-epoch selection, divergence check, per-epoch resume state) for K
models at once; an `Engine` only holds their parameters and computes their losses. `train` runs it
with `SingleModel` (one model, plain autograd), `multiseed.train_many` with `StackedModels` (K
models as one vmapped computation), so both follow the protocol by construction.

Seeding: `train(seed=...)` fixes the data order and the augmentation randomness only. Weight
initialisation draws from torch's global RNG, so call `init_seed(seed)` right before `build_model`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.optim.sgd import sgd
from torch import nn

from .atomic import save_torch
from .masks import apply_masks, masks_to

log = logging.getLogger(__name__)

LOG_COLUMNS = ("epoch", "train_loss", "val_loss", "val_accuracy", "lr", "seconds")
HPARAM_KEYS = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "nesterov", "schedule", "eval_batch_size")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: nothing from this run may be kept."""


@dataclass
class TrainResult:
    """What a run keeps: the lowest-validation-loss state (on CPU) and one log row per epoch.

    The model passed to `train` is left with the weights of the *last* epoch; load `best_state`
    into it to get the selected ones.
    """

    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_val_loss: float
    log: pd.DataFrame


def init_seed(seed: int) -> None:
    """Seed torch's global RNG (CPU and all CUDA devices); call it right before `build_model`.

    `train` never touches the global RNG except to restore it on resume, so the initial weights are
    a function of this seed alone.
    """
    torch.manual_seed(seed)


# --- hyper-parameters -------------------------------------------------------------------------------


def check_hparams(hparams: Mapping) -> None:
    """Name the first missing training hyper-parameter.

    Types, bounds, defaults and the schedule's keys come from the config schema ($defs/hparams in
    workflow/schemas/config.schema.yaml, applied with defaults by Snakemake before any job runs). This
    check stays because direct library calls (tests, benchmarks, notebooks) bypass the schema: without
    it a missing key would surface as a bare KeyError deep inside the loop.
    """
    missing = [k for k in HPARAM_KEYS if k not in hparams]
    if missing:
        raise ValueError(f"missing training hyper-parameter {missing[0]!r}; train needs all of {list(HPARAM_KEYS)} "
                         f"(the config schema fills in the defaults)")


def lr_at(epoch: int, hp: Mapping) -> float:
    """Learning rate of 1-based `epoch`, a pure function of the epoch so resuming needs no scheduler.

    multistep: milestone m multiplies the rate by gamma after m completed epochs (torch's MultiStepLR
    convention), so epochs 1..m use lr and epoch m+1 uses lr*gamma. cosine: the closed form of
    CosineAnnealingLR with T_max = epochs and no floor.
    """
    s = hp["schedule"]
    if s["name"] == "multistep":
        return hp["lr"] * s["gamma"] ** sum(m < epoch for m in s["milestones"])
    if s["name"] == "cosine":
        return hp["lr"] * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / hp["epochs"]))
    return hp["lr"]


# --- resume -----------------------------------------------------------------------------------------


def _fingerprint(hp, seed, model, n_train, n_val, masks, augment) -> str:
    """Hash of everything that must agree for one model's saved state to be resumed."""
    h = hashlib.sha256()
    h.update(json.dumps({
        "hparams": hp, "seed": int(seed), "n_train": n_train, "n_val": n_val,
        "params": [[n, list(p.shape)] for n, p in model.named_parameters()],
        "augment": None if augment is None else getattr(augment, "__qualname__", type(augment).__qualname__),
    }, sort_keys=True).encode())
    for name in sorted(masks or {}):
        h.update(name.encode())
        h.update(masks[name].detach().to("cpu", torch.bool).contiguous().numpy().tobytes())
    return h.hexdigest()


def _load_state(path: Path | None, fingerprint: str) -> dict | None:
    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unreadable: start over, the file is rewritten after epoch 1
        log.warning("ignoring unreadable training state %s (%s)", path, err)
        return None
    if state.get("fingerprint") != fingerprint:
        log.warning("ignoring training state %s: it was written for other hyper-parameters, seed, data, "
                    "masks or engine", path)
        return None
    log.info("resuming from %s after epoch %d", path, state["epoch"])
    return state


def _cpu_copy(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


# --- per-seed state of the loop ---------------------------------------------------------------------


def _generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """The data-order generator (on CPU: the same order on every device) and the augmentation one (on
    `device`, so augmentation never leaves it), both a function of `seed` alone."""
    order_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator(device=device).manual_seed(
        int(np.random.SeedSequence([seed, 1]).generate_state(1, np.uint64)[0] >> 1))
    return order_gen, aug_gen


class _Run:
    """One model's epoch log and lowest-validation-loss state (section 6.1).

    One per seed of `fit`, so that every engine fails, selects and logs alike; `name` prefixes the log
    lines and errors of a model trained alongside others ("seed 3: ").
    """

    def __init__(self, epochs: int, name: str = ""):
        self.epochs, self.name = epochs, name
        self.rows: list[dict] = []
        self.best_state, self.best_epoch, self.best_val_loss = None, 0, math.inf

    def end_epoch(self, epoch: int, lr: float, t0: float, train_loss: float, val_loss: float, val_acc: float,
                  state: Callable[[], Mapping[str, torch.Tensor]]) -> None:
        """Check, log and keep one epoch; `state()` is copied only when the epoch is the best so far."""
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            raise TrainingDiverged(
                f"{self.name}training diverged at epoch {epoch}: train loss {train_loss}, val loss {val_loss}; "
                f"the learning rate {lr:g} is probably too high, try a lower learning rate (e.g. {lr / 10:g})")
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_accuracy": val_acc,
               "lr": lr, "seconds": time.perf_counter() - t0}
        self.rows.append(row)
        if val_loss < self.best_val_loss:  # strict: ties keep the earlier epoch, like argmin
            self.best_state, self.best_epoch, self.best_val_loss = _cpu_copy(state()), epoch, val_loss
        log.info("%sepoch %d/%d train_loss %.4f val_loss %.4f val_acc %.4f lr %.3g %.1fs%s", self.name, epoch,
                 self.epochs, train_loss, val_loss, val_acc, lr, row["seconds"],
                 " *" if self.best_epoch == epoch else "")

    def checkpoint(self) -> dict:
        """What a resume state must hold to continue this run."""
        return {"log": self.rows, "best_state": self.best_state, "best_epoch": self.best_epoch,
                "best_val_loss": self.best_val_loss}

    def restore(self, saved: Mapping) -> None:
        self.rows = list(saved["log"])
        self.best_state, self.best_epoch = saved["best_state"], saved["best_epoch"]
        self.best_val_loss = saved["best_val_loss"]

    def result(self) -> TrainResult:
        return TrainResult(best_state=self.best_state, best_epoch=self.best_epoch, best_val_loss=self.best_val_loss,
                           log=pd.DataFrame(self.rows, columns=list(LOG_COLUMNS)))


# --- engines: how the K models of one loop hold their parameters --------------------------------------


Batch = tuple[torch.Tensor, torch.Tensor]


class Engine(Protocol):
    """What `fit` needs from the models it trains; everything else (schedule, data, masks, selection,
    resume) is the loop's, so that every engine trains by the same protocol.

    Per-seed tensors are stacked along a leading seed dimension of size K; an engine of one model has
    no such dimension (`stack` then returns the only element).
    """

    params: dict[str, torch.Tensor]  # the optimiser's leaves, by parameter name

    def stack(self, per_seed: Sequence[torch.Tensor]) -> torch.Tensor:
        """K per-seed tensors laid out like `params` (masks)."""

    def train_mode(self, mode: bool) -> None:
        """Train (BatchNorm batch statistics) or eval mode."""

    def losses(self, batches: Sequence[Batch]) -> torch.Tensor:
        """(K,) mean cross-entropy of each seed on its own batch, with autograd graph."""

    def eval_batch(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(K,) summed cross-entropy and (K,) correct count of each seed on the same batch (eval mode)."""

    def seed_state(self, i: int) -> Mapping[str, torch.Tensor]:
        """Seed i's state_dict (live tensors, copied by the caller)."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every seed's weights and buffers, for the resume state."""

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore `state_dict()`."""

    def finish(self) -> None:
        """Leave each model with its last epoch's weights."""


class SingleModel:
    """Engine of one `nn.Module` trained with plain autograd (`train`)."""

    def __init__(self, models: Sequence[nn.Module]):
        if len(models) != 1:
            raise ValueError(f"SingleModel trains one model, got {len(models)}; use multiseed.train_many")
        (self.model,) = models
        self.params = dict(self.model.named_parameters())

    def stack(self, per_seed):
        return per_seed[0]

    def train_mode(self, mode):
        self.model.train(mode)

    def losses(self, batches):
        ((xb, yb),) = batches
        return F.cross_entropy(self.model(xb), yb).unsqueeze(0)

    def eval_batch(self, x, y):
        out = self.model(x)
        return F.cross_entropy(out, y, reduction="sum").unsqueeze(0), (out.argmax(1) == y).sum().unsqueeze(0)

    def seed_state(self, i):
        return self.model.state_dict()

    def state_dict(self):
        return self.model.state_dict()

    def load_state_dict(self, state):
        self.model.load_state_dict(state)

    def finish(self):
        pass


# --- the loop ---------------------------------------------------------------------------------------


def fit(
    models: Sequence[nn.Module],
    data: Mapping[str, Batch],
    hparams: Mapping,
    *,
    seeds: Sequence[int],
    engine: Callable[[Sequence[nn.Module]], Engine],
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    masks: Sequence[Mapping[str, torch.Tensor]] | None = None,
    state_path: str | Path | None = None,
    device: str | torch.device | None = None,
    stop_after_steps: int | None = None,
) -> list[TrainResult]:
    """The epoch loop of section 6.1 for ``models[k]`` with ``seeds[k]`` (and ``masks[k]``), held by
    ``engine(models)``; one TrainResult per model, in order. Arguments as in `train`, one per model.

    ``stop_after_steps``: stop right after that many SGD steps (no validation of a partial epoch) and
    leave the models with the weights and buffers they had then: the same run replayed to an early
    step, bitwise on CPU, which is how iterative pruning gets its rewind point (Appendix H) without
    dense training having to store it. The results then hold only the epochs completed.
    """
    k = len(models)
    if k == 0 or len(seeds) != k or (masks is not None and len(masks) != k):
        raise ValueError(f"training needs one seed (and one mask set, if any) per model: {k} models, "
                         f"{len(seeds)} seeds, {'no' if masks is None else len(masks)} mask sets")
    check_hparams(hparams)
    hp = dict(hparams)
    (x, y), (x_val, y_val) = data["train"], data["val"]
    device = torch.device(device) if device is not None else x.device
    x, y, x_val, y_val = (t.to(device) for t in (x, y, x_val, y_val))
    n, bs, ebs = len(x), hp["batch_size"], hp["eval_batch_size"]
    if n == 0 or len(x_val) == 0:
        raise ValueError("train and val splits must both be non-empty")
    masks = [masks_to(m, device) for m in masks] if masks else None  # moved once, not at every step
    if masks and any(m.keys() != masks[0].keys() for m in masks):
        raise ValueError("every model's masks must cover the same parameters")
    for i, model in enumerate(models):
        model.to(device)
        if masks:
            apply_masks(model, masks[i])  # checks names, shapes and dtype; pruned weights start at zero
    held = engine(models)
    pruned = {name: ~held.stack([m[name] for m in masks]) for name in masks[0]} if masks else {}
    fingerprint = hashlib.sha256((type(held).__qualname__ + "".join(
        _fingerprint(hp, seed, model, n, len(x_val), m, augment)
        for seed, model, m in zip(seeds, models, masks or [None] * k))).encode()).hexdigest()
    params = list(held.params.values())
    momentum: list[torch.Tensor | None] = [None] * len(params)  # SGD's buffers, made by the first step
    order_gens, aug_gens = zip(*(_generators(seed, device) for seed in seeds))
    runs = [_Run(hp["epochs"], name=f"seed {seed}: " if k > 1 else "") for seed in seeds]

    state_path = None if state_path is None else Path(state_path)
    start = 1
    saved = _load_state(state_path, fingerprint)
    if saved is not None:
        held.load_state_dict(saved["weights"])
        momentum = [None if buf is None else buf.to(p.device) for buf, p in zip(saved["momentum"], params)]
        for gen, rng in zip(order_gens + aug_gens, saved["order_rng"] + saved["augment_rng"]):
            gen.set_state(rng)
        for run, run_state in zip(runs, saved["runs"]):
            run.restore(run_state)
        torch.set_rng_state(saved["torch_rng"])
        if device.type == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
        start = saved["epoch"] + 1

    step = (start - 1) * math.ceil(n / bs)
    for epoch in range(start, hp["epochs"] + 1):
        if step == stop_after_steps:
            break
        t0 = time.perf_counter()
        lr = lr_at(epoch, hp)
        held.train_mode(True)
        total = torch.zeros(k, dtype=torch.float64, device=device)
        perms = [torch.randperm(n, generator=gen).to(device) for gen in order_gens]
        for i in range(0, n, bs):  # the last partial batch is kept, and has the same size for every seed
            batches = [(x[perm[i:i + bs]], y[perm[i:i + bs]]) for perm in perms]
            if augment is not None:  # each seed's batch with its own generator
                batches = [(augment(xb, gen), yb) for (xb, yb), gen in zip(batches, aug_gens)]
            losses = held.losses(batches)
            for p in params:
                p.grad = None
            losses.sum().backward()  # seeds share no parameter: each gets its own seed's gradient
            for name, cut in pruned.items():
                if held.params[name].grad is not None:
                    held.params[name].grad.masked_fill_(cut, 0.0)  # pruned momentum buffers stay exactly zero
            _sgd_step(params, momentum, lr, hp)
            with torch.no_grad():
                for name, cut in pruned.items():
                    held.params[name].masked_fill_(cut, 0.0)
            total += losses.detach().double() * len(batches[0][1])
            step += 1
            if step == stop_after_steps:
                break
        if step == stop_after_steps:
            break
        val_loss, val_acc = _validate(held, k, x_val, y_val, ebs)
        stats = torch.stack([total / n, val_loss, val_acc], 1).tolist()  # one sync for all seeds
        for i, run in enumerate(runs):
            run.end_epoch(epoch, lr, t0, *stats[i], lambda i=i: held.seed_state(i))
        if state_path is not None:
            save_torch({
                "fingerprint": fingerprint, "epoch": epoch, "weights": held.state_dict(),
                "momentum": momentum, "runs": [run.checkpoint() for run in runs],
                "order_rng": [gen.get_state() for gen in order_gens],
                "augment_rng": [gen.get_state() for gen in aug_gens],
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            }, state_path)

    held.finish()
    if state_path is not None:
        state_path.unlink(missing_ok=True)
    return [run.result() for run in runs]


@torch.no_grad()
def _sgd_step(params: list[torch.Tensor], momentum: list, lr: float, hp: Mapping) -> None:
    """One step of ``torch.optim.SGD``: the very update function its ``step`` calls
    (``torch.optim.sgd.sgd``: weight decay, momentum, Nesterov, the same foreach choice), on the
    parameters that have a gradient, as ``step`` does. Called without the ``Optimizer`` wrapper, whose
    first step imports ``torch._dynamo``: 0.9-1.9 s of start-up in every job (benchmarks/run.py),
    and a study runs dozens of jobs. ``momentum`` holds one buffer per parameter (None until made).
    """
    live = [i for i, p in enumerate(params) if p.grad is not None]
    buffers = [momentum[i] for i in live]
    sgd([params[i] for i in live], [params[i].grad for i in live], buffers, weight_decay=hp["weight_decay"],
        momentum=hp["momentum"], lr=lr, dampening=0.0, nesterov=hp["nesterov"], maximize=False)
    for i, buf in zip(live, buffers):
        momentum[i] = buf


@torch.no_grad()
def _validate(held: Engine, k: int, x: torch.Tensor, y: torch.Tensor, batch_size: int):
    """(K,) mean cross-entropy and accuracy as device tensors (no sync), in eval mode."""
    held.train_mode(False)
    loss = torch.zeros(k, dtype=torch.float64, device=x.device)
    correct = torch.zeros(k, dtype=torch.int64, device=x.device)
    for i in range(0, len(x), batch_size):
        batch_loss, batch_correct = held.eval_batch(x[i:i + batch_size], y[i:i + batch_size])
        loss += batch_loss.double()
        correct += batch_correct
    held.train_mode(True)
    return loss / len(x), correct.double() / len(x)


def train(
    model: nn.Module,
    data: Mapping[str, Batch],
    hparams: Mapping,
    *,
    seed: int,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    masks: Mapping[str, torch.Tensor] | None = None,
    state_path: str | Path | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train `model` in place with SGD and return the state of the lowest-validation-loss epoch (6.1).

    data: {"train": (x, y), "val": (x, y)}, float32 images and int64 labels, the whole split per tensor,
    normally already on the training device (`device` defaults to theirs). hparams: complete (every
    key of HPARAM_KEYS; the config schema fills in defaults). seed: data order and
    `augment(x_batch, generator)` randomness; the generator lives on the data's device.
    masks: {param_name: bool tensor}; pruned weights are zero on entry and stay exactly zero (their
    gradients are zeroed before each step, so momentum and weight decay cannot revive them).
    state_path: after every epoch the full training state is saved there atomically; a later call
    with the same arguments resumes from it (bit-identical on CPU) and deletes it on success.
    Raises TrainingDiverged when a loss is NaN or infinite.
    """
    (result,) = fit([model], data, hparams, seeds=[seed], engine=SingleModel, augment=augment,
                    masks=None if masks is None else [masks], state_path=state_path, device=device)
    return result
