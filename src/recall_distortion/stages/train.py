"""Stage 2: train one dense model per seed of a group (paper section 6.1)."""

from __future__ import annotations

from recall_distortion.atomic import save_torch
from recall_distortion.data import DATASETS, augment_batch
from recall_distortion.device import claim_device
from recall_distortion.multiseed import check_mode, train_many
from recall_distortion.stages.files import checkpoint_entry, load_splits_as_tensors, new_model, write_epoch_log
from recall_distortion.stages.resume import ResumeDir
from recall_distortion.training import init_seed, train


def train_dense(
    data, checkpoint, log, *, dataset: str, model: str, seeds: list[int], input_size: int, hparams: dict,
    resume_dir, code: str, multi_seed: str = "sequential",
) -> None:
    """Write ``checkpoint`` = {"hparams", "seeds": {seed: {"state", "best_epoch", "val_loss"}}} and the epoch log.

    The hyper-parameters travel with the weights: pruning reads UP's epsilon (the weight decay the
    model was trained with) from here, never from a constant. multi_seed "sequential" trains the
    seeds one after the other, "vmap" all at once (`multiseed.train_many`, same results).
    """
    check_mode(multi_seed)
    scratch = ResumeDir(resume_dir, job=f"train_dense/{dataset}/{model}", code=code, hparams=hparams, size=input_size, seeds=seeds)
    augment = augment_batch if DATASETS[dataset].augment else None
    with claim_device() as device:
        splits = load_splits_as_tensors(data, dataset, input_size, device, splits=("train", "val"))

        def initial(seed: int):
            init_seed(seed)
            return new_model(dataset, model, input_size, device)

        def fit(seed: int) -> dict:
            result = train(initial(seed), splits, hparams, seed=seed, augment=augment,
                           state_path=scratch.state_path(f"seed{seed}"))
            return checkpoint_entry(result, seed=seed)

        def fit_together() -> dict:
            results = train_many([initial(seed) for seed in seeds], splits, hparams, seeds=seeds, augment=augment,
                                 state_path=scratch.state_path("together"))
            return {seed: checkpoint_entry(result, seed=seed) for seed, result in zip(seeds, results)}

        if multi_seed == "vmap":
            trained = scratch.result("together", fit_together)
        else:
            trained = {seed: scratch.result(f"seed{seed}", lambda seed=seed: fit(seed)) for seed in seeds}
    logs = [trained[seed].pop("log") for seed in seeds]
    save_torch({"dataset": dataset, "model": model, "input_size": input_size, "hparams": hparams, "seeds": trained}, checkpoint)
    write_epoch_log(logs, log)
    scratch.clear()

