"""Tests for recall_distortion.data.formats: IDX and CIFAR python batches, and their error messages.

Files are written by an independent writer in the real formats (tests/data/tiny_files.py): IDX with its
big-endian header, CIFAR pickles as numpy < 2 and numpy 2 write them.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from recall_distortion.data.formats import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_cifar_batch, read_idx
from recall_distortion.data.spec import DATASETS, DatasetError
from recall_distortion.data.splits import load_splits
from tests.data.tiny_files import IDX_FILES, cifar_pickle, idx_bytes, make_cifar10_dir, make_idx_dir, write_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.array([0, 9, 3, 3, 1, 2, 8], dtype=np.uint8)
    img = write_idx(tmp_path / ("img" + suffix), images)
    lab = write_idx(tmp_path / ("lab" + suffix), labels)
    got_images = read_idx(img, expected_magic=IDX_IMAGES_MAGIC)
    got_labels = read_idx(lab, expected_magic=IDX_LABELS_MAGIC)
    assert got_images.dtype == np.uint8 and got_images.shape == (7, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert IDX_IMAGES_MAGIC == 0x803 and IDX_LABELS_MAGIC == 0x801
    assert int.from_bytes(idx_bytes(images)[:4], "big") == 0x803


def test_truncated_idx_names_file_and_both_sizes(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])  # 5*28*28 = 3920 payload bytes, 3820 left
    with pytest.raises(DatasetError) as err:
        read_idx(path, expected_magic=IDX_IMAGES_MAGIC)
    msg = str(err.value)
    assert str(path) in msg and "3920" in msg and "3820" in msg and "truncated" in msg


def test_truncated_gzip_is_a_dataset_error(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.arange(3920, dtype=np.uint8).reshape(5, 28, 28))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetError, match="not a valid gzip file"):
        read_idx(path)


def test_bad_magic_is_a_dataset_error(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x03" + b"\x00" * 12)  # type 0x0d (float) is not an unsigned-byte file
    with pytest.raises(DatasetError, match="magic"):
        read_idx(path)
    labels = write_idx(tmp_path / "labels", np.zeros(4, np.uint8))  # 0x801 where images (0x803) expected
    with pytest.raises(DatasetError, match="0x00000801 but expected 0x00000803"):
        read_idx(labels, expected_magic=IDX_IMAGES_MAGIC)


def test_label_outside_range_is_named(tmp_path):
    arrays, paths = make_idx_dir(tmp_path)
    labels = arrays[IDX_FILES[1]].copy()
    labels[[3, 17]] = [10, 12]
    write_idx(paths[IDX_FILES[1]], labels)
    with pytest.raises(DatasetError) as err:
        load_splits("mnist", data_dir=tmp_path)
    msg = str(err.value)
    assert "outside [0, 10): 10, 12" in msg and "train-labels-idx1-ubyte" in msg and "2 labels" in msg


def test_cifar_batch_reshape_puts_channel_planes_right(tmp_path):
    n = 3
    data = np.zeros((n, 3072), dtype=np.uint8)
    for i in range(n):
        data[i, :1024] = 10 + i  # red plane
        data[i, 1024:2048] = 100 + i  # green plane
        data[i, 2048:] = 200 + i  # blue plane
    data[0, 1] = 7  # red, row 0, column 1
    data[0, 32] = 8  # red, row 1, column 0
    data[1, 3071] = 9  # blue, last pixel
    path = tmp_path / "data_batch_1"
    path.write_bytes(cifar_pickle(data, [0, 5, 9], b"labels", legacy_numpy=True))
    x, y = read_cifar_batch(path, b"labels", DATASETS["cifar10"])
    assert x.shape == (3, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    assert y.tolist() == [0, 5, 9]
    assert x[0, 0, 0, 1] == 7 and x[0, 0, 1, 0] == 8 and x[1, 2, 31, 31] == 9
    assert x[2, 0].min() == x[2, 0].max() == 12
    assert x[2, 1].min() == x[2, 1].max() == 102
    assert x[2, 2].min() == x[2, 2].max() == 202


def test_corrupted_cifar_pickle_names_the_file(tmp_path):
    data, _ = make_cifar10_dir(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(bad.read_bytes()[:5000])
    with pytest.raises(DatasetError) as err:
        load_splits("cifar10", data_dir=tmp_path)
    assert str(bad) in str(err.value) and "truncated or corrupted" in str(err.value)


def test_pickle_with_foreign_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DatasetError, match="refusing to load builtins.print"):
        read_cifar_batch(path, b"labels")
