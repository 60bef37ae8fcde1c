"""Projected device-hours of a study from measured training throughput (issue 13), as pure arithmetic.

What a study costs is its SGD work (section 6.1): per (dataset, model) experiment, `seeds` dense
trainings of the model's train epochs, and for every seed one fine-tune of the finetune epochs per
pruned model, one per (method, ratio) of the plan (`recall_distortion.config.experiments`, which
already counts a model shared by several families once), plus Appendix H's families: every level of
an LTH chain is one training of the chain's epochs for each of its seeds, and every (criterion, ratio)
of a structured family one fine-tune for each of its seeds. An epoch passes over the training split
left after the validation hold-out, so a seed-epoch of model m on dataset d costs

    fit_images(d) * seconds_per_image(m)

where seconds_per_image is measured per seed, with validation in the same 9:1 proportion as a 10%
hold-out (benchmarks/gpu_check.py). With `multi_seed: vmap` the seeds of a job train together in
groups of `seeds_per_job`; a shorter last group (30 seeds in groups of 8: 8, 8, 8, 6) is charged as
a full one, an upper bound, since a vmap step over fewer seeds is not slower than over more.
Not counted: job start-up (about 2 s a job, benchmarks/run.py), pruning scores and evaluation
(forward passes only), the masking in fine-tuning (element-wise, next to the convolutions), the
replay to an LTH rewind point (a few epochs once per seed), and that a channel-pruned model is smaller
(it is charged at the dense model's rate, an upper bound).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SEQUENTIAL = "sequential"
VMAP = "vmap"


@dataclass(frozen=True)
class Workload:
    """The SGD work of one (dataset, model) experiment: per seed, `dense_epochs` epochs of the dense
    model and `finetune_runs` fine-tunes of `finetune_epochs` epochs, each over `images` images; for the
    first `lth_seeds` seeds, `lth_epochs` epochs of LTH levels in all; for the first `structured_seeds`,
    `structured_runs` fine-tunes of `finetune_epochs` epochs of channel-pruned models (Appendix H)."""

    dataset: str
    model: str
    images: int
    seeds: int
    dense_epochs: int
    finetune_runs: int
    finetune_epochs: int
    lth_seeds: int = 0
    lth_epochs: int = 0
    structured_seeds: int = 0
    structured_runs: int = 0


@dataclass(frozen=True)
class Setting:
    """A study's `multi_seed` and `seeds_per_job`, as far as they change the cost of training."""

    multi_seed: str
    seeds_per_job: int

    def __str__(self) -> str:
        if self.multi_seed == SEQUENTIAL:
            return "multi_seed: sequential"
        return f"multi_seed: vmap, seeds_per_job: {self.seeds_per_job}"


@dataclass(frozen=True)
class Projection:
    """Hours of one setting: dense totals and after-pruning totals (fine-tunes and LTH levels), hours
    per model, and the models without a rate (their experiments are left out of the totals) or with a
    rate fitted from other depths."""

    setting: Setting
    dense_hours: float
    finetune_hours: float
    by_model: dict[str, float]
    missing: tuple[str, ...]
    fitted: tuple[str, ...]

    @property
    def hours(self) -> float:
        return self.dense_hours + self.finetune_hours


def fit_images(train_size: int, val_fraction: float) -> int:
    """Training images left after the stratified hold-out: sklearn's train_test_split (used by
    datasets.load_splits) holds out ceil(val_fraction * n) of n."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    return train_size - math.ceil(val_fraction * train_size)


def workloads(config: Mapping) -> list[Workload]:
    """One Workload per experiment of a validated study config (defaults filled in from the schema, as
    workflow/rules/common.smk does: tests/configs.check_config)."""
    from recall_distortion.config import experiments
    from recall_distortion.data import DATASETS

    out = []
    for experiment in experiments(config):
        spec = DATASETS[experiment.dataset]
        if spec.train_size is None:
            raise ValueError(f"dataset {experiment.dataset!r} has no train_size in the registry: cannot project its cost")
        hparams = config["models"][experiment.model]
        chain = experiment.iterative
        if chain is not None:
            level_hparams = chain["hparams"] or hparams["train"]
            lth = {"lth_seeds": chain["seeds"] or int(config["seeds"]),
                   "lth_epochs": chain["levels"] * int(level_hparams["epochs"])}
        else:
            lth = {}
        channel = experiment.structured.values()
        structured = {"structured_seeds": max([o["seeds"] or int(config["seeds"]) for o in channel], default=0),
                      "structured_runs": sum(len(o["ratios"]) for o in channel)}
        out.append(Workload(
            dataset=experiment.dataset, model=experiment.model,
            images=fit_images(spec.train_size, config["datasets"][experiment.dataset]["val_fraction"]),
            seeds=int(config["seeds"]), dense_epochs=int(hparams["train"]["epochs"]),
            finetune_runs=sum(len(ratios) for ratios in experiment.ratios.values()),
            finetune_epochs=int(hparams["finetune"]["epochs"]), **lth, **structured))
    return out


def charged_seeds(seeds: int, group: int) -> int:
    """Seeds paid for when `seeds` train in groups of `group`: a shorter last group costs a full one."""
    if seeds < 1 or group < 1:
        raise ValueError(f"seeds and group must be >= 1, got {seeds} and {group}")
    return math.ceil(seeds / group) * group


def resnet_depth(model: str) -> int | None:
    """Depth of a CIFAR ResNet name (resnet56 -> 56), None for any other model."""
    match = re.fullmatch(r"resnet(\d+)", model)
    return int(match.group(1)) if match else None


def seconds_per_image(model: str, measured: Mapping[str, float]) -> tuple[float, bool] | None:
    """(seconds per image per seed, fitted?) of `model`: measured, else, for a CIFAR ResNet, the least
    squares line in depth through the measured ResNets (a ResNet-(6n+2) is a fixed stem and head plus
    3n equal-cost blocks per stage, so its cost per image is linear in depth); None when neither."""
    if model in measured:
        return measured[model], False
    depth = resnet_depth(model)
    points = [(resnet_depth(m), s) for m, s in measured.items() if resnet_depth(m) is not None]
    if depth is None or len({d for d, _ in points}) < 2:
        return None
    mean_d = sum(d for d, _ in points) / len(points)
    mean_s = sum(s for _, s in points) / len(points)
    slope = (sum((d - mean_d) * (s - mean_s) for d, s in points)
             / sum((d - mean_d) ** 2 for d, _ in points))
    return mean_s + slope * (depth - mean_d), True


def project(plan: Sequence[Workload], measured: Mapping[str, float], setting: Setting) -> Projection:
    """Hours of `plan` at `measured` seconds per image per seed ({model: s}) under `setting`."""
    group = setting.seeds_per_job if setting.multi_seed == VMAP else 1
    dense = finetune = 0.0
    by_model: dict[str, float] = {}
    missing, fitted = [], []
    for work in plan:
        rate = seconds_per_image(work.model, measured)
        if rate is None:
            missing.append(work.model)
            continue
        seconds, was_fitted = rate
        if was_fitted:
            fitted.append(work.model)
        per_seed_epoch = work.images * seconds / 3600.0
        seeds = charged_seeds(work.seeds, group)
        d = seeds * work.dense_epochs * per_seed_epoch
        f = seeds * work.finetune_runs * work.finetune_epochs * per_seed_epoch
        if work.lth_seeds:
            f += charged_seeds(work.lth_seeds, group) * work.lth_epochs * per_seed_epoch
        if work.structured_seeds:
            f += charged_seeds(work.structured_seeds, group) * work.structured_runs * work.finetune_epochs * per_seed_epoch
        dense, finetune = dense + d, finetune + f
        by_model[work.model] = by_model.get(work.model, 0.0) + d + f
    unique = lambda names: tuple(dict.fromkeys(names))  # noqa: E731  (first-seen order, once each)
    return Projection(setting, dense, finetune, by_model, unique(missing), unique(fitted))


def best(projections: Sequence[Projection], margin: float = 0.05) -> Projection | None:
    """The cheapest projection among those that cover the most experiments' models, ties to fewer seeds
    per job (less memory, less lost to a killed job). Sequential, the default, is kept unless vmap saves
    more than `margin` of its hours, so that the noise of short timings (vmap with one seed does the
    same work as `train`) cannot flip the setting."""
    if not projections:
        return None
    fewest = min(len(p.missing) for p in projections)
    candidates = [p for p in projections if len(p.missing) == fewest]
    cheapest = min(candidates, key=lambda p: (p.hours, p.setting.multi_seed != SEQUENTIAL, p.setting.seeds_per_job))
    sequential = next((p for p in candidates if p.setting.multi_seed == SEQUENTIAL), None)
    if sequential is not None and cheapest.hours > (1 - margin) * sequential.hours:
        return sequential
    return cheapest
