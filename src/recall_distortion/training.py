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
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .atomic import save_torch
from .pruning import apply_masks, enforce_masks, mask_gradients, masks_to

log = logging.getLogger(__name__)

LOG_COLUMNS = ("epoch", "train_loss", "val_loss", "val_accuracy", "lr", "seconds")
REQUIRED_KEYS = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule")
OPTIONAL_KEYS = {"nesterov": False, "eval_batch_size": 1024}
SCHEDULES = {"constant": (), "multistep": ("milestones", "gamma"), "cosine": ()}


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


def check_hparams(hparams: Mapping) -> dict:
    """Validated copy of a config's training block, numbers coerced (YAML reads `5e-4` as a string).

    Required: epochs, batch_size, lr, momentum, weight_decay, schedule. Optional: nesterov (False),
    eval_batch_size (1024, validation only). schedule is {"name": "constant"}, {"name": "cosine"} or
    {"name": "multistep", "milestones": [...], "gamma": g}.
    """
    allowed = (*REQUIRED_KEYS, *OPTIONAL_KEYS)
    unknown = sorted(set(hparams) - set(allowed))
    if unknown:
        raise ValueError(f"unknown training hyper-parameter {unknown[0]!r}; allowed keys: {list(allowed)}")
    missing = [k for k in REQUIRED_KEYS if k not in hparams]
    if missing:
        raise ValueError(f"missing training hyper-parameter {missing[0]!r}; required keys: {list(REQUIRED_KEYS)}")
    hp = {**OPTIONAL_KEYS, **hparams}
    out = {
        "epochs": _number(hp, "epochs", int, minimum=1),
        "batch_size": _number(hp, "batch_size", int, minimum=1),
        "lr": _number(hp, "lr", float, minimum=0.0, strict=True),
        "momentum": _number(hp, "momentum", float, minimum=0.0),
        "weight_decay": _number(hp, "weight_decay", float, minimum=0.0),
        "nesterov": hp["nesterov"],
        "eval_batch_size": _number(hp, "eval_batch_size", int, minimum=1),
        "schedule": _check_schedule(hp["schedule"], hp),
    }
    if not isinstance(out["nesterov"], bool):
        raise ValueError(f"training hyper-parameter 'nesterov' must be true or false, got {out['nesterov']!r}")
    if out["nesterov"] and out["momentum"] == 0:
        raise ValueError("training hyper-parameter 'nesterov' needs a positive 'momentum'")
    return out


def _number(hp, key, kind, minimum, strict=False):
    value = hp[key]
    try:
        if isinstance(value, bool):
            raise TypeError
        number = kind(float(value)) if kind is float else int(value)
        if kind is int and number != float(value):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"training hyper-parameter {key!r} must be a {kind.__name__}, got {value!r}") from None
    if number < minimum or (strict and number == minimum) or (kind is float and not math.isfinite(number)):
        bound = ">" if strict else ">="
        raise ValueError(f"training hyper-parameter {key!r} must be {bound} {minimum}, got {value!r}")
    return number


def _check_schedule(schedule, hp) -> dict:
    if not isinstance(schedule, Mapping) or schedule.get("name") not in SCHEDULES:
        raise ValueError(f"training hyper-parameter 'schedule' must be a mapping with 'name' in "
                         f"{list(SCHEDULES)}, got {schedule!r}")
    name = schedule["name"]
    extra = sorted(set(schedule) - {"name", *SCHEDULES[name]})
    missing = [k for k in SCHEDULES[name] if k not in schedule]
    if extra or missing:
        raise ValueError(f"schedule {name!r}: unknown key {extra[0]!r}" if extra
                         else f"schedule {name!r}: missing key {missing[0]!r}")
    if name != "multistep":
        return {"name": name}
    milestones = schedule["milestones"]
    if (not isinstance(milestones, (list, tuple)) or not milestones
            or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in milestones)
            or list(milestones) != sorted(set(milestones))):
        raise ValueError(f"schedule 'multistep': 'milestones' must be increasing positive epoch numbers, "
                         f"got {milestones!r}")
    gamma = _number(schedule, "gamma", float, minimum=0.0, strict=True)
    return {"name": name, "milestones": list(milestones), "gamma": gamma}


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
    """Hash of everything that must agree for a saved state to be resumed."""
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
        log.warning("ignoring training state %s: it was written for other hyper-parameters, seed, data or "
                    "masks", path)
        return None
    log.info("resuming from %s after epoch %d", path, state["epoch"])
    return state


def _cpu_copy(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


# --- shared with multiseed.train_many ---------------------------------------------------------------


def _generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """The data-order generator (on CPU: the same order on every device) and the augmentation one (on
    `device`, so augmentation never leaves it), both a function of `seed` alone."""
    order_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator(device=device).manual_seed(
        int(np.random.SeedSequence([seed, 1]).generate_state(1, np.uint64)[0] >> 1))
    return order_gen, aug_gen


class _Run:
    """One model's epoch log and lowest-validation-loss state (section 6.1).

    Shared by `train` and `multiseed.train_many`, so that both fail, select and log alike; `name`
    prefixes the log lines and errors of a model trained alongside others ("seed 3: ").
    """

    def __init__(self, epochs: int, name: str = ""):
        self.epochs, self.name = epochs, name
        self.rows: list[dict] = []
        self.best_state, self.best_epoch, self.best_val_loss = None, 0, math.inf

    def end_epoch(self, epoch: int, lr: float, t0: float, train_loss: float, val_loss: float, val_acc: float,
                  state: Callable[[], Mapping[str, torch.Tensor]]) -> dict:
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
        return row

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


# --- the loop ---------------------------------------------------------------------------------------


@torch.inference_mode()
def _validate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int):
    """Mean cross-entropy and accuracy as device scalars (no sync), in eval mode."""
    was_training = model.training
    model.eval()
    loss = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for i in range(0, len(x), batch_size):
        out = model(x[i:i + batch_size])
        loss += F.cross_entropy(out, y[i:i + batch_size], reduction="sum").double()
        correct += (out.argmax(1) == y[i:i + batch_size]).sum()
    model.train(was_training)
    return loss / len(x), correct.double() / len(x)


def train(
    model: nn.Module,
    data: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    hparams: Mapping,
    *,
    seed: int,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    masks: Mapping[str, torch.Tensor] | None = None,
    state_path: str | Path | None = None,
    device: str | torch.device | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
) -> TrainResult:
    """Train `model` in place with SGD and return the state of the lowest-validation-loss epoch (6.1).

    data: {"train": (x, y), "val": (x, y)}, float32 images and int64 labels, the whole split per tensor,
    normally already on the training device (`device` defaults to theirs). seed: data order and
    `augment(x_batch, generator)` randomness; the generator lives on the data's device.
    masks: {param_name: bool tensor}; pruned weights are zero on entry and stay exactly zero (their
    gradients are zeroed before each step, so momentum and weight decay cannot revive them).
    state_path: after every epoch the full training state is saved there atomically; a later call
    with the same arguments resumes from it (bit-identical on CPU) and deletes it on success.
    on_epoch_end(epoch, row): called after the state is saved (progress, tests).
    Raises TrainingDiverged when a loss is NaN or infinite.
    """
    hp = check_hparams(hparams)
    (x, y), (x_val, y_val) = data["train"], data["val"]
    device = torch.device(device) if device is not None else x.device
    x, y, x_val, y_val = (t.to(device) for t in (x, y, x_val, y_val))
    n, bs = len(x), hp["batch_size"]
    if n == 0 or len(x_val) == 0:
        raise ValueError("train and val splits must both be non-empty")
    model.to(device)
    masks = masks_to(masks, device) if masks else None  # moved once, not at every step
    if masks:
        apply_masks(model, masks)  # checks names, shapes and dtype; pruned weights start at zero
    optimizer = torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=hp["momentum"],
                                weight_decay=hp["weight_decay"], nesterov=hp["nesterov"])
    order_gen, aug_gen = _generators(seed, device)

    state_path = None if state_path is None else Path(state_path)
    fingerprint = _fingerprint(hp, seed, model, n, len(x_val), masks, augment)
    start, run = 1, _Run(hp["epochs"])
    saved = _load_state(state_path, fingerprint)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        order_gen.set_state(saved["order_rng"])
        aug_gen.set_state(saved["augment_rng"])
        torch.set_rng_state(saved["torch_rng"])
        if device.type == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
        start = saved["epoch"] + 1
        run.restore(saved)

    for epoch in range(start, hp["epochs"] + 1):
        t0 = time.perf_counter()
        lr = lr_at(epoch, hp)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        total = torch.zeros((), dtype=torch.float64, device=device)
        perm = torch.randperm(n, generator=order_gen).to(device)
        for i in range(0, n, bs):  # the last partial batch is kept
            idx = perm[i:i + bs]
            xb, yb = x[idx], y[idx]
            if augment is not None:
                xb = augment(xb, aug_gen)
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if masks:
                mask_gradients(model, masks)  # pruned momentum buffers stay exactly zero
            optimizer.step()
            if masks:
                enforce_masks(model, masks)
            total += loss.detach().double() * len(idx)
        val_loss, val_acc = _validate(model, x_val, y_val, hp["eval_batch_size"])
        train_loss, val_loss, val_acc = torch.stack([total / n, val_loss, val_acc]).tolist()  # one sync
        row = run.end_epoch(epoch, lr, t0, train_loss, val_loss, val_acc, model.state_dict)
        if state_path is not None:
            save_torch({
                "fingerprint": fingerprint, "epoch": epoch, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), **run.checkpoint(),
                "order_rng": order_gen.get_state(), "augment_rng": aug_gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            }, state_path)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)

    if state_path is not None:
        state_path.unlink(missing_ok=True)
    return run.result()
