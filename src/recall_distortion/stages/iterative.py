"""Appendix H, Table 12: the rewind point and the levels of an LTH chain (``recall_distortion.iterative``).

The chain of one seed group is a chain of files, one job each: ``lth/rewind.pt`` (the dense run replayed
to its rewind step), then ``lth/level<ℓ>.pt`` from ``level<ℓ−1>.pt`` (level 0 is ``dense.pt``). A killed
run therefore resumes at the level it was on (and inside it, at the epoch: ``stages.resume``), and adding
levels runs only the new ones.
"""

from __future__ import annotations

import math

from recall_distortion.atomic import save_torch
from recall_distortion.data import DATASETS, augment_batch
from recall_distortion.device import claim_device
from recall_distortion.iterative import METHOD, dense_masks, level_ratio, next_level_masks, rewind
from recall_distortion.masks import masks_to
from recall_distortion.stages.files import load_checkpoint, load_splits_as_tensors, new_model, write_epoch_log
from recall_distortion.stages.fitting import fit_seeds
from recall_distortion.stages.resume import ResumeDir
from recall_distortion.training import SingleModel, fit, init_seed


def rewind_steps(rewind: dict, n_train: int, batch_size: int) -> int:
    """SGD steps of the config's rewind point ``{steps: s}`` or ``{epochs: e}`` (e · ⌈n / batch⌉)."""
    if "epochs" in rewind:
        return int(rewind["epochs"]) * math.ceil(n_train / batch_size)
    return int(rewind["steps"])


def rewind_point(
    data, dense, output, *, dataset: str, model: str, input_size: int, rewind: dict, seeds: list[int] | None = None
) -> None:
    """Write ``output`` = {"dataset", "model", "input_size", "steps", "seeds": {seed: state_dict}}: each of
    ``seeds`` (default: every seed of ``dense``) dense run replayed to its rewind step (weights and
    BatchNorm buffers, on the CPU); the chain's levels prune these seeds.

    Training is deterministic per seed (``training``), so replaying the first steps of the run with the
    dense checkpoint's own hyper-parameters gives the weights it had then, bitwise on the CPU for a
    sequential dense run (to float rounding after a vmap one), and dense training need not store them.
    """
    checkpoint = load_checkpoint(dense, dataset=dataset, model=model, input_size=input_size)
    hparams = checkpoint["hparams"]
    augment = augment_batch if DATASETS[dataset].augment else None
    states = {}
    with claim_device() as device:
        splits = load_splits_as_tensors(data, dataset, input_size, device, splits=("train", "val"))
        n_train = len(splits["train"][1])
        steps = rewind_steps(rewind, n_train, hparams["batch_size"])
        total = hparams["epochs"] * math.ceil(n_train / hparams["batch_size"])
        if steps > total:
            raise ValueError(f"rewind point {rewind} is step {steps}, beyond the dense run's {total} steps")
        for seed in checkpoint["seeds"] if seeds is None else seeds:
            init_seed(seed)
            net = new_model(dataset, model, input_size, device)
            fit([net], splits, hparams, seeds=[seed], engine=SingleModel, augment=augment, stop_after_steps=steps)
            states[seed] = {name: value.detach().cpu().clone() for name, value in net.state_dict().items()}
    save_torch({"dataset": dataset, "model": model, "input_size": input_size, "steps": steps, "seeds": states}, output)


def _previous_level(checkpoint: dict, seed: int) -> tuple[dict, dict | None]:
    """(trained state, masks) of a seed at the previous level: ``dense.pt`` (no masks) or a level file."""
    entry = checkpoint["seeds"][seed]
    if "state" in entry:
        return entry["state"], None
    (kept,) = entry.values()
    return kept["state"], kept["masks"]


def lth_level(
    data, previous, rewind_file, checkpoint, log, *, dataset: str, model: str, input_size: int, level: int,
    rate: float, hparams: dict, resume_dir, code: str, multi_seed: str = "sequential",
) -> None:
    """Write level ``level`` of the chain: ``checkpoint`` = {"dataset", "model", "input_size", "method": "lth",
    "level", "rate", "hparams", "seeds": {seed: {t_ℓ: {"state", "masks", "best_epoch", "val_loss"}}}}.

    Per seed: prune the previous level's trained model to t_ℓ = level_ratio(level, rate) by global
    magnitude among its survivors (``iterative.next_level_masks``, nested masks), rewind the survivors
    to the rewind point (``iterative.rewind``), train with the mask held by ``hparams`` and keep the
    lowest-validation-loss epoch, as every model of the study (section 6.1).
    """
    expected = dict(dataset=dataset, model=model, input_size=input_size)
    before = load_checkpoint(previous, **expected, **({} if level == 1 else {"method": METHOD, "level": level - 1}))
    replayed = load_checkpoint(rewind_file, **expected)
    early = replayed["seeds"]
    seeds = sorted(early)
    ratio = level_ratio(level, rate)
    scratch = ResumeDir(resume_dir, job=f"lth/{dataset}/{model}/level{level}", code=code, hparams=hparams,
                        size=input_size, seeds=seeds, rate=rate, rewind=replayed["steps"], level=level)
    augment = augment_batch if DATASETS[dataset].augment else None
    masks = {}
    with claim_device() as device:
        splits = load_splits_as_tensors(data, dataset, input_size, device, splits=("train", "val"))
        for seed in seeds:
            state, held = _previous_level(before, seed)
            net = new_model(dataset, model, input_size, "cpu")
            net.load_state_dict(state)
            masks[seed] = next_level_masks(net, held if held is not None else dense_masks(net), level, rate)

        def starting(seed: int):
            """The seed's rewound survivors of level ``level``, and its masks on the device."""
            net = new_model(dataset, model, input_size, device)
            held = masks_to(masks[seed], device)
            rewind(net, early[seed], held)
            return net, held

        trained = fit_seeds(seeds, starting, splits, hparams, augment=augment, scratch=scratch,
                            multi_seed=multi_seed, unit=f"level{level}", ratio=ratio)
    logs = [trained[seed].pop("log") for seed in seeds]
    entries = {seed: {ratio: {**trained[seed], "masks": masks[seed]}} for seed in seeds}
    save_torch({**expected, "method": METHOD, "level": level, "rate": rate, "hparams": hparams, "seeds": entries},
               checkpoint)
    write_epoch_log(logs, log)
    scratch.clear()
