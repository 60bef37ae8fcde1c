"""Stage 4: fine-tune every pruned model with its mask held (section 6.1)."""

from __future__ import annotations

from recall_distortion.atomic import save_torch
from recall_distortion.data import DATASETS, augment_batch
from recall_distortion.device import claim_device
from recall_distortion.masks import apply_masks
from recall_distortion.stages.files import load_checkpoint, load_splits_as_tensors, new_model, write_epoch_log
from recall_distortion.stages.fitting import fit_seeds
from recall_distortion.stages.resume import ResumeDir


def finetune(
    data, dense, masks, checkpoint, log, *, dataset: str, model: str, method: str, input_size: int,
    hparams: dict, resume_dir, code: str, multi_seed: str = "sequential",
) -> None:
    """Write ``checkpoint`` = {"dataset", "model", "input_size", "method", "hparams",
    "seeds": {seed: {ratio: {"state", "best_epoch", "val_loss"}}}}.

    Each pruned model starts from its seed's dense weights with the pruned ones zeroed, is trained
    with the mask re-applied after every step, and keeps its lowest-validation-loss epoch. multi_seed
    "vmap" fine-tunes the group's seeds at one ratio together (the masks differ per seed but not in
    shape), "sequential" one model after another (`stages.fitting`); the results are the same.
    """
    expected = dict(dataset=dataset, model=model, input_size=input_size)
    dense_checkpoint, mask_checkpoint = load_checkpoint(dense, **expected), load_checkpoint(masks, **expected, method=method)
    seeds = sorted(mask_checkpoint["seeds"])
    ratios = list(mask_checkpoint["seeds"][seeds[0]])
    scratch = ResumeDir(resume_dir, job=f"finetune/{dataset}/{model}/{method}", code=code, hparams=hparams,
                        size=input_size, seeds=seeds, ratios=mask_checkpoint["ratios"])
    augment = augment_batch if DATASETS[dataset].augment else None
    with claim_device() as device:
        splits = load_splits_as_tensors(data, dataset, input_size, device, splits=("train", "val"))

        def pruned(ratio: float):
            def starting(seed: int):
                """The seed's dense model with its pruned weights zeroed, and its masks on the device."""
                net = new_model(dataset, model, input_size, device)
                net.load_state_dict(dense_checkpoint["seeds"][seed]["state"])
                held = {name: mask.to(device) for name, mask in mask_checkpoint["seeds"][seed][ratio].items()}
                apply_masks(net, held)
                return net, held
            return starting

        by_ratio = {ratio: fit_seeds(seeds, pruned(ratio), splits, hparams, augment=augment, scratch=scratch,
                                     multi_seed=multi_seed, unit=f"ratio{ratio:g}", ratio=ratio)
                    for ratio in ratios}
    tuned = {seed: {ratio: by_ratio[ratio][seed] for ratio in ratios} for seed in seeds}
    logs = [kept.pop("log") for per_ratio in tuned.values() for kept in per_ratio.values()]
    save_torch({**expected, "method": method, "hparams": hparams, "seeds": tuned}, checkpoint)
    write_epoch_log(logs, log)
    scratch.clear()
