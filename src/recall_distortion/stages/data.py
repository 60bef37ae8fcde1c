"""Stage 1: read a dataset's raw files once and store its three splits."""

from __future__ import annotations

import numpy as np

from recall_distortion.atomic import atomic_path
from recall_distortion.data import load_splits, verify_checksums


def prepare_data(output, *, dataset: str, val_fraction: float, split_seed: int, data_dir=None, download=False, **_) -> None:
    """Write ``x_<split>`` (uint8, N×C×H×W) and ``y_<split>`` (int64) for train, val and test to one .npz.

    Later jobs load this file instead of re-parsing IDX/pickle files, and every job of the study sees
    the same validation split. Unknown keys (e.g. input_size, applied when tensors are made) are ignored.
    """
    if not download:
        verify_checksums(dataset, data_dir)  # corrupted files fail here, not as a wrong number later
    splits = load_splits(dataset, data_dir=data_dir, val_fraction=val_fraction, split_seed=split_seed, download=download)
    arrays = {f"{kind}_{split}": array for split, (x, y) in splits.items() for kind, array in (("x", x), ("y", y))}
    with atomic_path(output) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
