"""Stage 2: train one dense model per seed of a group (paper section 6.1)."""

from __future__ import annotations

from recall_distortion.atomic import save_torch
from recall_distortion.data import DATASETS, augment_batch
from recall_distortion.device import claim_device
from recall_distortion.stages.files import load_splits_as_tensors, new_model, write_epoch_log
from recall_distortion.stages.fitting import fit_seeds
from recall_distortion.stages.resume import ResumeDir
from recall_distortion.training import init_seed


def train_dense(
    data, checkpoint, log, *, dataset: str, model: str, seeds: list[int], input_size: int, hparams: dict,
    resume_dir, code: str, multi_seed: str = "sequential",
) -> None:
    """Write ``checkpoint`` = {"hparams", "seeds": {seed: {"state", "best_epoch", "val_loss"}}} and the epoch log.

    The hyper-parameters travel with the weights: pruning reads UP's epsilon (the weight decay the
    model was trained with) from here, never from a constant. multi_seed "sequential" trains the
    seeds one after the other, "vmap" all at once (`stages.fitting`, same results).
    """
    scratch = ResumeDir(resume_dir, job=f"train_dense/{dataset}/{model}", code=code, hparams=hparams, size=input_size, seeds=seeds)
    augment = augment_batch if DATASETS[dataset].augment else None
    with claim_device() as device:
        splits = load_splits_as_tensors(data, dataset, input_size, device, splits=("train", "val"))

        def initial(seed: int):
            init_seed(seed)
            return new_model(dataset, model, input_size, device), None

        trained = fit_seeds(seeds, initial, splits, hparams, augment=augment, scratch=scratch, multi_seed=multi_seed)
    logs = [trained[seed].pop("log") for seed in seeds]
    save_torch({"dataset": dataset, "model": model, "input_size": input_size, "hparams": hparams, "seeds": trained}, checkpoint)
    write_epoch_log(logs, log)
    scratch.clear()
