"""The files stages hand each other: prepared splits, checkpoints, epoch logs; and rebuilding models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from recall_distortion.atomic import write_text
from recall_distortion.data import DATASETS, to_float_tensor
from recall_distortion.logs import setup_log
from recall_distortion.models import build_model

SPLITS = ("train", "val", "test")


def setup_job(log_path: str | os.PathLike, threads: int = 1) -> None:
    """Route the package's logging to the rule's log file (:func:`recall_distortion.logs.setup_log`),
    cap torch's CPU threads at the job's share, and choose deterministic cuDNN kernels.

    On CPU every result is bit-reproducible for a seed. On CUDA, deterministic cuDNN convolutions
    (and no autotuning) cost little at these model sizes and remove most run-to-run noise; some CUDA
    kernels (atomics in backward passes) stay nondeterministic, so GPU runs agree to float tolerance,
    not bitwise.
    """
    setup_log(log_path)
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def load_splits_as_tensors(path, dataset: str, input_size: int, device, splits=SPLITS) -> dict:
    """Prepared uint8 splits -> {split: (normalized float images, int64 labels)} on ``device``."""
    spec = DATASETS[dataset]
    with np.load(path) as arrays:
        return {
            split: (
                to_float_tensor(arrays[f"x_{split}"], spec, input_size, device),
                torch.as_tensor(arrays[f"y_{split}"], dtype=torch.int64, device=device),
            )
            for split in splits
        }


def new_model(dataset: str, model: str, input_size: int, device) -> torch.nn.Module:
    """An untrained model shaped for the dataset (classes, channels) and input size."""
    spec = DATASETS[dataset]
    return build_model(model, spec.num_classes, spec.channels, input_size).to(device)


class CheckpointMismatch(ValueError):
    """A checkpoint describes another dataset, model, input size or method than the job was asked
    for: using it would silently label one model's numbers as another's."""


def load_checkpoint(path, **expected) -> dict:
    """A checkpoint dict written by a stage (tensors mapped to the CPU), checked against ``expected``.

    Every stage writes what it describes (``dataset``, ``model``, ``input_size``, and ``method`` after
    pruning) into its checkpoint; a later stage passes what it is asked to do, e.g.
    ``load_checkpoint(path, dataset="digits", model="lenet5", input_size=32)``, and gets a
    :class:`CheckpointMismatch` naming the file and both values instead of a wrong number.
    """
    checkpoint = torch.load(Path(path), map_location="cpu", weights_only=False)
    wrong = [f"{key} {checkpoint.get(key)!r} (expected {value!r})" for key, value in expected.items()
             if checkpoint.get(key) != value]
    if wrong:
        raise CheckpointMismatch(f"{path} holds {', '.join(wrong)}; rerun the stage that wrote it")
    return checkpoint


def write_epoch_log(frames, path) -> None:
    """Concatenate per-model epoch logs (long format) into one tab-separated file, atomically."""
    import pandas as pd

    write_text(pd.concat(frames, ignore_index=True).to_csv(sep="\t", index=False), path)


def checkpoint_entry(result, **labels) -> dict:
    """What a checkpoint keeps of one trained model (a ``training.TrainResult``), with its epoch log
    labelled by ``labels`` (popped before saving)."""
    return {"state": result.best_state, "best_epoch": result.best_epoch, "val_loss": result.best_val_loss,
            "log": result.log.assign(**labels)}
