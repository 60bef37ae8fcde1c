"""How a job trains its group of seeds: one after another, or all at once (the `multi_seed` option).

Dense training (stage 2) and fine-tuning (stage 4) both train one model per seed of their group, from
a starting model that only the stage knows how to build; the switch between `training.train` per
seed and `multiseed.train_many` for the whole group lives here once. Results are the same either way
(tests/stages/test_fitting.py); only the resume units differ: one per model when sequential, one for
the whole group with vmap (a killed vmap job resumes the group after its last finished epoch).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from torch import nn

from recall_distortion.multiseed import train_many
from recall_distortion.stages.files import checkpoint_entry
from recall_distortion.stages.resume import ResumeDir
from recall_distortion.training import train

MODES = ("sequential", "vmap")  # the study's multi_seed option: one seed after another, or all at once

StartingModel = Callable[[int], tuple[nn.Module, Mapping | None]]  # seed -> (model, its masks or None)


def check_mode(multi_seed: str) -> None:
    """Reject a multi_seed value other than MODES (the schema checks the config; this, direct calls)."""
    if multi_seed not in MODES:
        raise ValueError(f"multi_seed must be one of {list(MODES)}, got {multi_seed!r}")


def fit_seeds(
    seeds: Sequence[int], starting: StartingModel, splits: Mapping, hparams: Mapping, *, augment,
    scratch: ResumeDir, multi_seed: str, unit: str = "", **labels,
) -> dict[int, dict]:
    """Train ``starting(seed)`` for every seed of the group; {seed: `files.checkpoint_entry`}.

    unit names this group's resume units within ``scratch`` (e.g. "ratio2" when fine-tuning several
    ratios in one job); labels go to every epoch log row beside the seed (e.g. ratio=2.0).
    """
    check_mode(multi_seed)
    if multi_seed == "vmap":
        together = unit or "together"

        def fit_together() -> dict:
            models, masks = zip(*(starting(seed) for seed in seeds))
            results = train_many(models, splits, hparams, seeds=seeds, augment=augment,
                                 masks=None if masks[0] is None else masks, state_path=scratch.state_path(together))
            return {seed: checkpoint_entry(result, seed=seed, **labels) for seed, result in zip(seeds, results)}

        return scratch.result(together, fit_together)

    def fit(seed: int, name: str) -> dict:
        model, masks = starting(seed)
        result = train(model, splits, hparams, seed=seed, augment=augment, masks=masks,
                       state_path=scratch.state_path(name))
        return checkpoint_entry(result, seed=seed, **labels)

    names = {seed: f"seed{seed}-{unit}" if unit else f"seed{seed}" for seed in seeds}
    return {seed: scratch.result(names[seed], lambda s=seed: fit(s, names[s])) for seed in seeds}
