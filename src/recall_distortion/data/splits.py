"""The splits a study uses: train, a stratified validation hold-out of the training set, and test.

:func:`load_splits` returns ``{"train", "val", "test"}``. The paper keeps the weights of the epoch with
the lowest *validation* loss (section 5, "Experimental setup"), so a validation set is needed that is
not the test set on which recall is measured: it is a **stratified hold-out of the official training
set** (``sklearn.model_selection.train_test_split(..., stratify=y)``), of size ``val_fraction`` and
fixed by ``split_seed``. The test set is always the official test set, untouched by ``split_seed``.
Index arrays are sorted, so each split keeps the order of the files.

Everything returned is plain numpy (see docs/CONTRACTS.md): images ``uint8`` of shape (N, C, H, W),
labels ``int64`` of shape (N,). Keeping the raw bytes (not floats) keeps memory at one byte per pixel
(CIFAR-10 train: 150 MB, not 600 MB) and makes splits easy to hash and compare;
:func:`~recall_distortion.data.tensors.to_float_tensor` turns them into normalized float32 tensors on
the training device.
"""

from __future__ import annotations

import os

import numpy as np

from recall_distortion.data.files import dataset_dir, fetch, missing_files, missing_files_error
from recall_distortion.data.formats import check_labels
from recall_distortion.data.spec import DatasetError, dataset_spec

__all__ = ["load_splits"]


def load_splits(
    name: str,
    data_dir: str | os.PathLike | None = None,
    val_fraction: float = 0.1,
    split_seed: int = 0,
    download: bool = False,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (x, y), "val": (x, y), "test": (x, y)}``: x uint8 (N, C, H, W), y int64 (N,).

    ``val`` is a stratified hold-out of ``val_fraction`` of the official training set, fixed by
    ``split_seed`` (sklearn ``train_test_split(stratify=y, random_state=split_seed)``); ``test`` is the
    official test set (for ``digits``, the fixed
    :data:`~recall_distortion.data.catalog.DIGITS_TEST_SEED` split), independent of ``split_seed``.
    Missing files are downloaded only when ``download=True``; otherwise, or when the download fails,
    one :class:`DatasetError` says which files are missing, where to put them and how to get them.
    """
    spec = dataset_spec(name)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    directory = None
    if spec.files:
        directory = dataset_dir(name, data_dir)
        missing = missing_files(spec, directory)
        if missing and download:
            fetch(spec, directory, missing)
            directory = dataset_dir(name, data_dir)
            missing = missing_files(spec, directory)
        if missing:
            raise missing_files_error(spec, directory, missing)
    x_train, y_train, x_test, y_test = spec.reader(directory, spec)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        expected = (spec.channels, spec.image_size, spec.image_size)
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != expected or len(x) != len(y):
            raise DatasetError(
                f"{name}: reader returned {split} images {x.dtype} {x.shape} with {len(y)} labels, "
                f"expected uint8 (N, {', '.join(map(str, expected))}) with N labels; fix the reader"
            )
        check_labels(np.asarray(y), spec, f"the {split} split")

    from sklearn.model_selection import train_test_split  # lazy: sklearn costs ~1 s to import

    try:
        fit_idx, val_idx = train_test_split(
            np.arange(len(y_train)), test_size=val_fraction, stratify=y_train, random_state=split_seed
        )
    except ValueError as exc:
        raise DatasetError(
            f"{name}: cannot hold out a stratified {val_fraction:.0%} validation split from {len(y_train)} "
            f"training images ({exc}); use more data or a larger val_fraction"
        ) from exc
    fit_idx, val_idx = np.sort(fit_idx), np.sort(val_idx)
    as_pair = lambda x, y: (np.ascontiguousarray(x), np.asarray(y, dtype=np.int64))  # noqa: E731
    return {
        "train": as_pair(x_train[fit_idx], y_train[fit_idx]),
        "val": as_pair(x_train[val_idx], y_train[val_idx]),
        "test": as_pair(x_test, y_test),
    }

