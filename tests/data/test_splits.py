"""Tests for recall_distortion.data.splits: train, stratified validation hold-out, official test split.

The validation split is the stratified hold-out of the training set that the paper's
best-validation-loss checkpoint rule needs (paper section 5, "Experimental setup"); the test split is
the official one, untouched by ``split_seed``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from recall_distortion.data import DATASETS
from recall_distortion.data.splits import load_splits
from tests.data.tiny_files import IDX_FILES, make_cifar10_dir, make_idx_dir, row_counter


def test_load_splits_on_tiny_idx_files(tmp_path):
    arrays, _ = make_idx_dir(tmp_path)
    splits = load_splits("mnist", data_dir=tmp_path, val_fraction=0.1, split_seed=3)
    (xtr, ytr), (xva, yva), (xte, yte) = splits["train"], splits["val"], splits["test"]
    assert xtr.shape == (90, 1, 28, 28) and xva.shape == (10, 1, 28, 28) and xte.shape == (20, 1, 28, 28)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int64 and yte.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(yva, minlength=10), np.ones(10))  # 10 per class -> 1 each in val
    np.testing.assert_array_equal(xte[:, 0], arrays[IDX_FILES[2]])  # test set untouched, in file order
    np.testing.assert_array_equal(yte, arrays[IDX_FILES[3]])
    # train + val is exactly the training file, each image once, with its own label
    pairs = lambda x, y: Counter(zip((r.tobytes() for r in x.reshape(len(x), -1)), y.tolist()))  # noqa: E731
    assert pairs(np.concatenate([xtr, xva]), np.concatenate([ytr, yva])) == pairs(
        arrays[IDX_FILES[0]], arrays[IDX_FILES[1]].astype(np.int64)
    )


@pytest.mark.parametrize("point_at_batches_folder", [False, True])
def test_load_splits_cifar10(tmp_path, point_at_batches_folder):
    data, labels = make_cifar10_dir(tmp_path)
    data_dir = tmp_path / "cifar-10-batches-py" if point_at_batches_folder else tmp_path
    splits = load_splits("cifar10", data_dir=data_dir, split_seed=0)
    (xtr, ytr), (xva, yva), (xte, yte) = splits["train"], splits["val"], splits["test"]
    assert (len(xtr), len(xva), len(xte)) == (90, 10, 20)
    np.testing.assert_array_equal(np.bincount(yva, minlength=10), np.ones(10))
    np.testing.assert_array_equal(xte.reshape(20, 3072), data[100:])
    np.testing.assert_array_equal(yte, labels[100:])
    assert row_counter(np.concatenate([xtr, xva])) == row_counter(data[:100])


def test_digits_splits_partition_stratified_and_seeded(digits_all):
    images, target = digits_all
    a = load_splits("digits", split_seed=0)
    b = load_splits("digits", split_seed=0)
    c = load_splits("digits", split_seed=1)
    sizes = [len(a[k][0]) for k in ("train", "val", "test")]
    assert sizes == [1293, 144, 360] and sum(sizes) == 1797
    assert sizes[0] + sizes[1] == DATASETS["digits"].train_size  # the registry's count, before the hold-out
    assert a["train"][0].shape[1:] == (1, 8, 8) and a["train"][0].dtype == np.uint8

    # Partition: the three splits together are the 1,797 images (as a multiset), each with its label.
    scaled = np.floor(images * 255 / 16 + 0.5).astype(np.uint8)  # round half up, computed in floats
    both = lambda s: Counter(  # noqa: E731
        (x.tobytes(), int(y)) for k in ("train", "val", "test") for x, y in zip(s[k][0], s[k][1])
    )
    assert both(a) == Counter((x.tobytes(), int(y)) for x, y in zip(scaled, target))

    # Stratified: each class's share of val is within one sample of val_fraction * its train+val count.
    pool = np.bincount(np.concatenate([a["train"][1], a["val"][1]]), minlength=10)
    val = np.bincount(a["val"][1], minlength=10)
    assert np.all(np.abs(val - 0.1 * pool) <= 1)
    test_counts = np.bincount(a["test"][1], minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * np.bincount(target)) <= 1)

    for k in ("train", "val", "test"):  # same seed: same arrays
        np.testing.assert_array_equal(a[k][0], b[k][0])
        np.testing.assert_array_equal(a[k][1], b[k][1])
    assert row_counter(a["val"][0]) != row_counter(c["val"][0])  # another seed: another val
    np.testing.assert_array_equal(a["test"][0], c["test"][0])  # test never depends on split_seed
    np.testing.assert_array_equal(a["test"][1], c["test"][1])


def test_bad_val_fraction():
    with pytest.raises(ValueError, match="val_fraction"):
        load_splits("digits", val_fraction=0.0)
