"""Tests for recall_distortion.data.catalog: the five registered datasets and their readers.

The digits constants are recomputed from scikit-learn's copy; the IDX and CIFAR-100 readers run on tiny
files in the real formats (tests/data/tiny_files.py). The real Fashion-MNIST test runs only where
Debian's dataset-fashion-mnist package is installed.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest

from recall_distortion.data.files import verify_checksums
from recall_distortion.data.spec import DATASETS, DatasetError
from recall_distortion.data.splits import load_splits
from tests.data.tiny_files import IDX_FILES, make_idx_dir, write_idx


def test_registry_holds_the_five_datasets_with_their_shapes():
    assert set(DATASETS) == {"digits", "fashion_mnist", "mnist", "cifar10", "cifar100"}
    shapes = {n: (s.num_classes, s.channels, s.image_size, s.augment) for n, s in DATASETS.items()}
    assert shapes == {
        "digits": (10, 1, 8, False),
        "mnist": (10, 1, 28, False),
        "fashion_mnist": (10, 1, 28, False),
        "cifar10": (10, 3, 32, True),
        "cifar100": (100, 3, 32, True),
    }
    assert DATASETS["fashion_mnist"].default_dir == "/usr/share/datasets/fashion-mnist/"
    assert DATASETS["mnist"].files == IDX_FILES
    with pytest.raises(dataclasses.FrozenInstanceError):
        DATASETS["mnist"].num_classes = 11


def test_image_label_count_mismatch(tmp_path):
    arrays, paths = make_idx_dir(tmp_path)
    write_idx(paths[IDX_FILES[3]], arrays[IDX_FILES[3]][:-1])
    with pytest.raises(DatasetError, match="20 images but .* has 19 labels"):
        load_splits("mnist", data_dir=tmp_path)


def test_load_splits_cifar100_uses_fine_labels(tmp_path):
    rng = np.random.default_rng(5)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train = rng.integers(0, 256, (200, 3072), dtype=np.uint8)
    fine = np.arange(200) % 100
    test = rng.integers(0, 256, (100, 3072), dtype=np.uint8)
    for name, data, labels in (("train", train, fine), ("test", test, np.arange(100))):
        batch = {b"data": data, b"fine_labels": list(map(int, labels)), b"coarse_labels": [int(v) // 5 for v in labels]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    splits = load_splits("cifar100", data_dir=tmp_path, val_fraction=0.5)
    assert (len(splits["train"][0]), len(splits["val"][0]), len(splits["test"][0])) == (100, 100, 100)
    np.testing.assert_array_equal(np.sort(splits["val"][1]), np.arange(100))  # one per fine class
    np.testing.assert_array_equal(splits["test"][1], np.arange(100))
    np.testing.assert_array_equal(splits["test"][0][7, 1].ravel(), test[7, 1024:2048])  # green plane


def test_digits_pixel_scaling_and_normalization_constants(digits_all):
    images, _ = digits_all
    x_train, _, _, _ = DATASETS["digits"].reader(None, DATASETS["digits"])
    mapping = {v: (v * 255 + 8) // 16 for v in range(17)}
    assert mapping[0] == 0 and mapping[8] == 128 and mapping[16] == 255 and mapping[1] == 16  # 15.94 -> 16
    assert set(np.unique(x_train).tolist()) <= set(mapping.values())
    # the hard-coded mean/std are the statistics of the fixed 1,437 training images on the 0..1 scale
    assert len(x_train) == 1437
    assert abs((x_train / 255).mean() - DATASETS["digits"].mean[0]) < 5e-5
    assert abs((x_train / 255).std() - DATASETS["digits"].std[0]) < 5e-5


FASHION = Path("/usr/share/datasets/fashion-mnist/")


def test_real_fashion_mnist():
    if not FASHION.is_dir():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    splits = load_splits("fashion_mnist")
    (xtr, ytr), (xva, yva), (xte, yte) = splits["train"], splits["val"], splits["test"]
    assert len(xtr) + len(xva) == 60000 and len(xva) == 6000 and len(xte) == 10000
    assert DATASETS["fashion_mnist"].train_size == DATASETS["mnist"].train_size == 60000  # both 60k (LeCun, Xiao)
    assert xtr.shape[1:] == xte.shape[1:] == (1, 28, 28)
    np.testing.assert_array_equal(np.bincount(yte, minlength=10), np.full(10, 1000))
    np.testing.assert_array_equal(np.bincount(yva, minlength=10), np.full(10, 600))
    assert abs(xtr.mean() / 255 - DATASETS["fashion_mnist"].mean[0]) < 2e-3  # standard constant 0.2860
    assert set(verify_checksums("fashion_mnist").values()) == {"ok"}
