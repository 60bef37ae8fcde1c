"""Appendix H, Table 13: channel pruning (``recall_distortion.structured``) and fine-tuning of every seed's
dense model at every ratio of one criterion."""

from __future__ import annotations

from recall_distortion.atomic import save_torch
from recall_distortion.data import DATASETS, augment_batch
from recall_distortion.device import claim_device
from recall_distortion.pruning import count_parameters
from recall_distortion.stages.files import load_checkpoint, load_splits_as_tensors, new_model, write_epoch_log
from recall_distortion.stages.fitting import fit_seeds
from recall_distortion.stages.resume import ResumeDir
from recall_distortion.structured import channel_scores, channels_to_remove, proportions_for, remove_channels


def structured(
    data, dense, checkpoint, log, *, dataset: str, model: str, criterion: str, ratios: list[float], input_size: int,
    hparams: dict, score_batches: int, score_batch_size: int, resume_dir, code: str, multi_seed: str = "sequential",
    seeds: list[int] | None = None,
) -> None:
    """Write ``checkpoint`` = {"dataset", "model", "input_size", "method": criterion, "hparams", "seeds": {seed:
    {ratio label: {"state", "removed", "achieved_ratio", "best_epoch", "val_loss"}}}}.

    Per ratio label, the per-block proportions come from ``structured.proportions_for``; per seed the
    criterion scores the dense model's channels on the first ``score_batches`` training batches, the
    lowest-scored go (``removed``: {block: channel indices}, from which ``evaluate`` rebuilds the smaller
    model), and the pruned model is fine-tuned with ``hparams`` (the model's finetune hparams), keeping
    its lowest-validation-loss epoch. ``achieved_ratio``: dense parameters / pruned parameters. ``seeds``:
    the dense models pruned (default: all of ``dense``).
    """
    expected = dict(dataset=dataset, model=model, input_size=input_size)
    dense_checkpoint = load_checkpoint(dense, **expected)
    seeds = sorted(dense_checkpoint["seeds"] if seeds is None else seeds)
    scratch = ResumeDir(resume_dir, job=f"structured/{dataset}/{model}/{criterion}", code=code, hparams=hparams,
                        size=input_size, seeds=seeds, ratios=ratios, scoring=[score_batches, score_batch_size])
    augment = augment_batch if DATASETS[dataset].augment else None
    removed, achieved = {}, {}
    with claim_device() as device:
        splits = load_splits_as_tensors(data, dataset, input_size, device, splits=("train", "val"))
        x_train = splits["train"][0]

        def dense_model(seed: int):
            net = new_model(dataset, model, input_size, device)
            net.load_state_dict(dense_checkpoint["seeds"][seed]["state"])
            return net

        def pruned(ratio: float):
            def starting(seed: int):
                return remove_channels(dense_model(seed), removed[ratio, seed], x_train), None
            return starting

        scores = {seed: channel_scores(dense_model(seed), criterion, x_train, batch_size=score_batch_size,
                                       max_batches=score_batches) for seed in seeds}  # shared by the ratios
        by_ratio = {}
        for ratio in ratios:
            for seed in seeds:
                net = dense_model(seed)
                removed[ratio, seed] = channels_to_remove(net, scores[seed], proportions_for(net, ratio))
                achieved[ratio, seed] = count_parameters(net)[0] / count_parameters(pruned(ratio)(seed)[0])[0]
            by_ratio[ratio] = fit_seeds(seeds, pruned(ratio), splits, hparams, augment=augment, scratch=scratch,
                                        multi_seed=multi_seed, unit=f"ratio{ratio:g}", ratio=ratio)
    logs = [kept.pop("log") for per_seed in by_ratio.values() for kept in per_seed.values()]
    tuned = {seed: {ratio: {**by_ratio[ratio][seed], "removed": removed[ratio, seed],
                            "achieved_ratio": achieved[ratio, seed]} for ratio in ratios} for seed in seeds}
    save_torch({**expected, "method": criterion, "hparams": hparams, "seeds": tuned}, checkpoint)
    write_epoch_log(logs, log)
    scratch.clear()
