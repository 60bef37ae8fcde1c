"""Stage 4: fine-tune every pruned model with its mask held (section 6.1)."""

from __future__ import annotations

from recall_distortion.atomic import save_torch
from recall_distortion.datasets import DATASETS, augment_batch
from recall_distortion.device import claim_device
from recall_distortion.pruning import apply_masks
from recall_distortion.stages.files import load_checkpoint, load_splits_as_tensors, new_model, write_epoch_log
from recall_distortion.stages.resume import ResumeDir
from recall_distortion.training import train


def finetune(
    data, dense, masks, checkpoint, log, *, dataset: str, model: str, method: str, input_size: int,
    hparams: dict, resume_dir, code: str,
) -> None:
    """Write ``checkpoint`` = {"method", "hparams", "seeds": {seed: {ratio: {"state", "best_epoch", "val_loss"}}}}.

    Each pruned model starts from its seed's dense weights with the pruned ones zeroed, is trained
    with the mask re-applied after every step, and keeps its lowest-validation-loss epoch.
    """
    dense_checkpoint, mask_checkpoint = load_checkpoint(dense), load_checkpoint(masks)
    scratch = ResumeDir(resume_dir, job=f"finetune/{dataset}/{model}/{method}", code=code, hparams=hparams,
                        size=input_size, seeds=sorted(mask_checkpoint["seeds"]), ratios=mask_checkpoint["ratios"])
    augment = augment_batch if DATASETS[dataset].augment else None
    with claim_device() as device:
        splits = load_splits_as_tensors(data, dataset, input_size, device, splits=("train", "val"))

        def fit(seed: int, ratio: float) -> dict:
            net = new_model(dataset, model, input_size, device)
            net.load_state_dict(dense_checkpoint["seeds"][seed]["state"])
            held = {name: mask.to(device) for name, mask in mask_checkpoint["seeds"][seed][ratio].items()}
            apply_masks(net, held)
            result = train(net, splits, hparams, seed=seed, augment=augment, masks=held,
                           state_path=scratch.state_path(f"seed{seed}-ratio{ratio:g}"))
            return {"state": result.best_state, "best_epoch": result.best_epoch, "val_loss": result.best_val_loss,
                    "log": result.log.assign(seed=seed, ratio=ratio)}

        tuned = {
            seed: {ratio: scratch.result(f"seed{seed}-ratio{ratio:g}", lambda s=seed, r=ratio: fit(s, r)) for ratio in per_ratio}
            for seed, per_ratio in mask_checkpoint["seeds"].items()
        }
    logs = [entry.pop("log") for per_ratio in tuned.values() for entry in per_ratio.values()]
    save_torch({"dataset": dataset, "model": model, "method": method, "hparams": hparams, "seeds": tuned}, checkpoint)
    write_epoch_log(logs, log)
    scratch.clear()
