"""Tiny dataset files in the real formats, for the tests of :mod:`recall_distortion.data`.

IDX files with their big-endian header and CIFAR python pickles, written byte by byte here (not by the
package), so the readers are checked against an independent writer; a few images each, so every reader,
split and error path runs in seconds without the real data.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
from collections import Counter
from pathlib import Path

import numpy as np

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(arr: np.ndarray) -> bytes:
    """Unsigned-byte IDX: 0x00 0x00 0x08 ndim, one big-endian uint32 per dimension, then the bytes."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def balanced_labels(n: int, k: int, rng) -> np.ndarray:
    return rng.permutation(np.arange(n) % k).astype(np.uint8)


def make_idx_dir(root: Path, n_train=100, n_test=20, gz=(True, False, True, False), seed=0):
    """A tiny MNIST-format folder; ``gz`` says which of the four files are gzip-compressed."""
    rng = np.random.default_rng(seed)
    arrays = {
        IDX_FILES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        IDX_FILES[1]: balanced_labels(n_train, 10, rng),
        IDX_FILES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        IDX_FILES[3]: balanced_labels(n_test, 10, rng),
    }
    root.mkdir(parents=True, exist_ok=True)
    paths = {}
    for (name, arr), compress in zip(arrays.items(), gz):
        paths[name] = write_idx(root / (name + (".gz" if compress else "")), arr)
    return arrays, paths


def cifar_pickle(data: np.ndarray, labels, label_key: bytes, legacy_numpy: bool = False) -> bytes:
    batch = {b"batch_label": b"testing batch", label_key: list(map(int, labels)), b"data": data,
             b"filenames": [b"img%d.png" % i for i in range(len(data))]}
    raw = pickle.dumps(batch, protocol=2)
    if legacy_numpy:  # the real CIFAR files were written by numpy < 2 (module numpy.core.multiarray)
        raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        assert b"numpy.core.multiarray" in raw
    return raw


def make_cifar10_dir(root: Path, per_batch=20, n_test=20, seed=0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    all_data, all_labels = [], []
    for i, name in enumerate([f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]):
        n = n_test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = balanced_labels(n, 10, rng)
        (folder / name).write_bytes(cifar_pickle(data, labels, b"labels", legacy_numpy=(i % 2 == 0)))
        all_data.append(data)
        all_labels.append(labels)
    return np.concatenate(all_data), np.concatenate(all_labels)


def row_counter(x: np.ndarray) -> Counter:
    return Counter(hashlib.sha1(row.tobytes()).hexdigest() for row in x.reshape(len(x), -1))


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()
