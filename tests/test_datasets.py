"""Tests for recall_distortion.datasets.

Files are written in the real formats (IDX with its big-endian header, CIFAR python pickles) but tiny,
so every reader, split and error path runs in a few seconds without the real data. The validation
split is the stratified hold-out of the training set that the paper's best-validation-loss checkpoint
rule needs (paper section 5, "Experimental setup"). The real Fashion-MNIST test runs only where
Debian's dataset-fashion-mnist package is installed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from recall_distortion import datasets as ds
from recall_distortion.datasets import DATASETS, DatasetError

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# ---------------------------------------------------------------------------------------------- helpers


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


@pytest.fixture
def patched_spec(monkeypatch):
    """Replace fields of a registered spec for one test (specs are frozen: swap the registry entry)."""

    def patch(name: str, **fields):
        spec = dataclasses.replace(DATASETS[name], **fields)
        monkeypatch.setitem(DATASETS, name, spec)
        return spec

    return patch


# ---------------------------------------------------------------------------------------------- registry


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


def test_importing_the_module_does_not_import_sklearn_or_torch():
    code = "import sys, recall_distortion.datasets; print('sklearn' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ---------------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.array([0, 9, 3, 3, 1, 2, 8], dtype=np.uint8)
    img = write_idx(tmp_path / ("img" + suffix), images)
    lab = write_idx(tmp_path / ("lab" + suffix), labels)
    got_images = ds.read_idx(img, expected_magic=ds.IDX_IMAGES_MAGIC)
    got_labels = ds.read_idx(lab, expected_magic=ds.IDX_LABELS_MAGIC)
    assert got_images.dtype == np.uint8 and got_images.shape == (7, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert ds.IDX_IMAGES_MAGIC == 0x803 and ds.IDX_LABELS_MAGIC == 0x801
    assert int.from_bytes(idx_bytes(images)[:4], "big") == 0x803


def test_truncated_idx_names_file_and_both_sizes(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])  # 5*28*28 = 3920 payload bytes, 3820 left
    with pytest.raises(DatasetError) as err:
        ds.read_idx(path, expected_magic=ds.IDX_IMAGES_MAGIC)
    msg = str(err.value)
    assert str(path) in msg and "3920" in msg and "3820" in msg and "truncated" in msg


def test_truncated_gzip_is_a_dataset_error(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.arange(3920, dtype=np.uint8).reshape(5, 28, 28))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetError, match="not a valid gzip file"):
        ds.read_idx(path)


def test_bad_magic_is_a_dataset_error(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x03" + b"\x00" * 12)  # type 0x0d (float) is not an unsigned-byte file
    with pytest.raises(DatasetError, match="magic"):
        ds.read_idx(path)
    labels = write_idx(tmp_path / "labels", np.zeros(4, np.uint8))  # 0x801 where images (0x803) expected
    with pytest.raises(DatasetError, match="0x00000801 but expected 0x00000803"):
        ds.read_idx(labels, expected_magic=ds.IDX_IMAGES_MAGIC)


def test_load_splits_on_tiny_idx_files(tmp_path):
    arrays, _ = make_idx_dir(tmp_path)
    splits = ds.load_splits("mnist", data_dir=tmp_path, val_fraction=0.1, split_seed=3)
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


def test_label_outside_range_is_named(tmp_path):
    arrays, paths = make_idx_dir(tmp_path)
    labels = arrays[IDX_FILES[1]].copy()
    labels[[3, 17]] = [10, 12]
    write_idx(paths[IDX_FILES[1]], labels)
    with pytest.raises(DatasetError) as err:
        ds.load_splits("mnist", data_dir=tmp_path)
    msg = str(err.value)
    assert "outside [0, 10): 10, 12" in msg and "train-labels-idx1-ubyte" in msg and "2 labels" in msg


def test_image_label_count_mismatch(tmp_path):
    arrays, paths = make_idx_dir(tmp_path)
    write_idx(paths[IDX_FILES[3]], arrays[IDX_FILES[3]][:-1])
    with pytest.raises(DatasetError, match="20 images but .* has 19 labels"):
        ds.load_splits("mnist", data_dir=tmp_path)


# ---------------------------------------------------------------------------------------------- CIFAR


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
    x, y = ds.read_cifar_batch(path, b"labels", DATASETS["cifar10"])
    assert x.shape == (3, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    assert y.tolist() == [0, 5, 9]
    assert x[0, 0, 0, 1] == 7 and x[0, 0, 1, 0] == 8 and x[1, 2, 31, 31] == 9
    assert x[2, 0].min() == x[2, 0].max() == 12
    assert x[2, 1].min() == x[2, 1].max() == 102
    assert x[2, 2].min() == x[2, 2].max() == 202


@pytest.mark.parametrize("point_at_batches_folder", [False, True])
def test_load_splits_cifar10(tmp_path, point_at_batches_folder):
    data, labels = make_cifar10_dir(tmp_path)
    data_dir = tmp_path / "cifar-10-batches-py" if point_at_batches_folder else tmp_path
    splits = ds.load_splits("cifar10", data_dir=data_dir, split_seed=0)
    (xtr, ytr), (xva, yva), (xte, yte) = splits["train"], splits["val"], splits["test"]
    assert (len(xtr), len(xva), len(xte)) == (90, 10, 20)
    np.testing.assert_array_equal(np.bincount(yva, minlength=10), np.ones(10))
    np.testing.assert_array_equal(xte.reshape(20, 3072), data[100:])
    np.testing.assert_array_equal(yte, labels[100:])
    assert row_counter(np.concatenate([xtr, xva])) == row_counter(data[:100])


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
    splits = ds.load_splits("cifar100", data_dir=tmp_path, val_fraction=0.5)
    assert (len(splits["train"][0]), len(splits["val"][0]), len(splits["test"][0])) == (100, 100, 100)
    np.testing.assert_array_equal(np.sort(splits["val"][1]), np.arange(100))  # one per fine class
    np.testing.assert_array_equal(splits["test"][1], np.arange(100))
    np.testing.assert_array_equal(splits["test"][0][7, 1].ravel(), test[7, 1024:2048])  # green plane


def test_corrupted_cifar_pickle_names_the_file(tmp_path):
    data, _ = make_cifar10_dir(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(bad.read_bytes()[:5000])
    with pytest.raises(DatasetError) as err:
        ds.load_splits("cifar10", data_dir=tmp_path)
    assert str(bad) in str(err.value) and "truncated or corrupted" in str(err.value)


def test_pickle_with_foreign_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DatasetError, match="refusing to load builtins.print"):
        ds.read_cifar_batch(path, b"labels")


# ---------------------------------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits_all():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images, bunch.target


def test_digits_splits_partition_stratified_and_seeded(digits_all):
    images, target = digits_all
    a = ds.load_splits("digits", split_seed=0)
    b = ds.load_splits("digits", split_seed=0)
    c = ds.load_splits("digits", split_seed=1)
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


def test_bad_val_fraction():
    with pytest.raises(ValueError, match="val_fraction"):
        ds.load_splits("digits", val_fraction=0.0)


# ---------------------------------------------------------------------------------------------- files on disk


def test_missing_files_offline_give_one_error_naming_the_directory(tmp_path):
    empty = tmp_path / "nothing"
    with pytest.raises(DatasetError) as err:
        ds.load_splits("fashion_mnist", data_dir=empty)
    msg = str(err.value)
    assert f"in {empty.resolve()}/" in msg and "missing 4 of 4 files" in msg
    assert all(f in msg for f in IDX_FILES)
    assert "apt-get install dataset-fashion-mnist" in msg and "fashion-mnist.s3-website" in msg
    assert not empty.exists()  # nothing is created when download=False

    (tmp_path / "partial").mkdir()
    write_idx(tmp_path / "partial" / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DatasetError, match=r"missing 3 of 4 files .*: train-labels-idx1-ubyte, t10k"):
        ds.load_splits("mnist", data_dir=tmp_path / "partial")

    with pytest.raises(DatasetError) as err:
        ds.load_splits("cifar10", data_dir=tmp_path / "c")
    assert f"{(tmp_path / 'c' / 'cifar-10-batches-py').resolve()}/" in str(err.value)
    assert "www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in str(err.value)


def test_failed_download_is_the_missing_files_error(tmp_path, patched_spec):
    sources = tuple(ds.Source((tmp_path / "nowhere" / (f + ".gz")).as_uri(), f + ".gz", "0" * 32) for f in IDX_FILES)
    patched_spec("mnist", sources=sources)
    target = tmp_path / "mnist"
    with pytest.raises(DatasetError) as err:
        ds.load_splits("mnist", data_dir=target, download=True)
    assert f"in {target.resolve()}/" in str(err.value) and "Download failed" in str(err.value)
    assert list(target.iterdir()) == []  # no half-written file left behind


def test_download_idx_with_md5_check(tmp_path, patched_spec):
    server = tmp_path / "server"
    arrays, paths = make_idx_dir(server, gz=(True, True, True, True))
    sources = tuple(ds.Source(paths[f].as_uri(), f + ".gz", md5(paths[f])) for f in IDX_FILES)
    patched_spec("mnist", sources=sources, checksums=tuple((f + ".gz", md5(paths[f])) for f in IDX_FILES))
    target = tmp_path / "mnist"
    splits = ds.load_splits("mnist", data_dir=target, download=True)
    assert sorted(p.name for p in target.iterdir()) == sorted(f + ".gz" for f in IDX_FILES)  # kept as .gz
    np.testing.assert_array_equal(splits["test"][0][:, 0], arrays[IDX_FILES[2]])
    assert set(ds.verify_checksums("mnist", target).values()) == {"ok"}

    bad = tuple(dataclasses.replace(s, md5="f" * 32) for s in sources)
    patched_spec("mnist", sources=bad)
    with pytest.raises(DatasetError, match="MD5"):
        ds.load_splits("mnist", data_dir=tmp_path / "other", download=True)


def test_download_cifar_archive_and_extract(tmp_path, patched_spec):
    staging = tmp_path / "staging"
    data, labels = make_cifar10_dir(staging)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    patched_spec("cifar10", sources=(ds.Source(archive.as_uri(), archive.name, md5(archive), extract=True),))
    target = tmp_path / "data" / "cifar10"
    splits = ds.load_splits("cifar10", data_dir=target, download=True)
    assert (target / "cifar-10-batches-py" / "test_batch").is_file()
    assert not (target / archive.name).exists()
    np.testing.assert_array_equal(splits["test"][1], labels[100:])
    np.testing.assert_array_equal(splits["test"][0].reshape(20, 3072), data[100:])


def test_verify_checksums(tmp_path, patched_spec):
    arrays, paths = make_idx_dir(tmp_path)  # files 0 and 2 are .gz, 1 and 3 plain
    raw = {f: hashlib.md5(idx_bytes(arrays[f])).hexdigest() for f in IDX_FILES}
    # known: decompressed MD5s for all, plus a .gz MD5 that does not match our gzip bytes (as with
    # Debian's re-compressed files): the decompressed content must still be accepted
    patched_spec("mnist", checksums=tuple((f, raw[f]) for f in IDX_FILES) + ((IDX_FILES[0] + ".gz", "0" * 32),))
    status = ds.verify_checksums("mnist", tmp_path)
    assert status == {str(paths[f]): "ok" for f in IDX_FILES}

    labels = arrays[IDX_FILES[1]].copy()
    labels[0] = (labels[0] + 1) % 10  # a flipped label: same size, still valid IDX
    write_idx(paths[IDX_FILES[1]], labels)
    with pytest.raises(DatasetError) as err:
        ds.verify_checksums("mnist", tmp_path)
    assert str(paths[IDX_FILES[1]]) in str(err.value) and raw[IDX_FILES[1]] in str(err.value)

    paths[IDX_FILES[3]].unlink()
    patched_spec("mnist", checksums=())
    status = ds.verify_checksums("mnist", tmp_path)
    assert status[str(tmp_path / IDX_FILES[3])] == "missing"
    assert status[str(paths[IDX_FILES[0]])] == "no known checksum"
    assert ds.verify_checksums("digits") == {}


FASHION = Path("/usr/share/datasets/fashion-mnist/")


def test_real_fashion_mnist():
    if not FASHION.is_dir():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    splits = ds.load_splits("fashion_mnist")
    (xtr, ytr), (xva, yva), (xte, yte) = splits["train"], splits["val"], splits["test"]
    assert len(xtr) + len(xva) == 60000 and len(xva) == 6000 and len(xte) == 10000
    assert DATASETS["fashion_mnist"].train_size == DATASETS["mnist"].train_size == 60000  # both 60k (LeCun, Xiao)
    assert xtr.shape[1:] == xte.shape[1:] == (1, 28, 28)
    np.testing.assert_array_equal(np.bincount(yte, minlength=10), np.full(10, 1000))
    np.testing.assert_array_equal(np.bincount(yva, minlength=10), np.full(10, 600))
    assert abs(xtr.mean() / 255 - DATASETS["fashion_mnist"].mean[0]) < 2e-3  # standard constant 0.2860
    assert set(ds.verify_checksums("fashion_mnist").values()) == {"ok"}


# ---------------------------------------------------------------------------------------------- tensors


def all_crops(x: torch.Tensor, padding: int = 4) -> torch.Tensor:
    """Every crop (n, 2*padding+1, 2*padding+1, c, h, w) of the zero-padded images, by explicit slicing."""
    n, c, h, w = x.shape
    p = torch.nn.functional.pad(x, (padding,) * 4)
    k = 2 * padding + 1
    return torch.stack([torch.stack([p[:, :, i:i + h, j:j + w] for j in range(k)], 1) for i in range(k)], 1)


def test_augment_batch_crops_and_flips():
    x = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = ds.augment_batch(x, torch.Generator().manual_seed(7))
    assert out.shape == x.shape and out.dtype == x.dtype
    crops = all_crops(x)  # (64, 9, 9, 3, 32, 32)
    n_flipped, offsets = 0, set()
    for i in range(64):  # each output is exactly one crop, possibly mirrored
        plain = (crops[i] == out[i]).flatten(2).all(-1).nonzero().tolist()
        mirrored = (crops[i].flip(-1) == out[i]).flatten(2).all(-1).nonzero().tolist()
        assert len(plain) + len(mirrored) == 1
        (dy, dx), = plain or mirrored
        offsets.add((dy, dx))
        if mirrored:
            n_flipped += 1
            assert torch.equal(out[i], torch.flip(crops[i, dy, dx], dims=[-1]))
    assert 16 <= n_flipped <= 48  # Binomial(64, 1/2): well within 4 sd
    assert len(offsets) > 20  # offsets spread over the 81 possibilities

    same = ds.augment_batch(x, torch.Generator().manual_seed(7))
    other = ds.augment_batch(x, torch.Generator().manual_seed(8))
    assert torch.equal(out, same) and not torch.equal(out, other)


def test_augment_batch_pads_with_zeros():
    x = torch.ones(32, 1, 32, 32)
    out = ds.augment_batch(x, torch.Generator().manual_seed(3))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    ones_per_sample = out.sum(dim=(1, 2, 3))
    assert (ones_per_sample < 1024).any()  # some crops are shifted, so zeros appear
    for img in out[:, 0]:  # the ones form one (32-|dy|) x (32-|dx|) rectangle, |dy|, |dx| <= 4
        rows, cols = img.any(1).nonzero().ravel(), img.any(0).nonzero().ravel()
        height, width = len(rows), len(cols)
        assert 28 <= height <= 32 and 28 <= width <= 32
        assert rows[-1] - rows[0] + 1 == height and cols[-1] - cols[0] + 1 == width
        assert img.sum() == height * width
    flip_only = ds.augment_batch(x[:4] * torch.arange(32.0), torch.Generator().manual_seed(0), padding=0)
    for img, src in zip(flip_only, x[:4] * torch.arange(32.0)):
        assert torch.equal(img, src) or torch.equal(img, src.flip(-1))


def test_to_float_tensor_normalization_by_hand():
    x = np.array([0, 255, 128, 51], dtype=np.uint8).reshape(1, 1, 2, 2)
    got = ds.to_float_tensor(x, DATASETS["mnist"], input_size=2, device="cpu")
    expected = [(v - 0.1307) / 0.3081 for v in (0.0, 1.0, 128 / 255, 0.2)]  # 51 / 255 = 0.2
    assert got.dtype == torch.float32 and got.shape == (1, 1, 2, 2)
    np.testing.assert_allclose(got.ravel().numpy(), expected, rtol=1e-6)

    rgb = np.zeros((2, 3, 32, 32), dtype=np.uint8)
    rgb[:, 1] = 255
    got = ds.to_float_tensor(rgb, "cifar10", input_size=32)
    np.testing.assert_allclose(got[:, 0].unique().numpy(), [-0.4914 / 0.2470], rtol=1e-6)
    np.testing.assert_allclose(got[:, 1].unique().numpy(), [(1 - 0.4822) / 0.2435], rtol=1e-6)
    np.testing.assert_allclose(got[:, 2].unique().numpy(), [-0.4465 / 0.2616], rtol=1e-6)


def test_to_float_tensor_resizes_bilinearly():
    x = np.zeros((5, 1, 8, 8), dtype=np.uint8)
    got = ds.to_float_tensor(x, DATASETS["digits"], input_size=28)
    assert got.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(got.numpy(), -0.30566 / 0.37595, rtol=1e-6)  # constant stays constant

    # 2 -> 4 px with align_corners=False: output pixel centres map to source x = (i + 0.5) / 2 - 0.5
    # = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]: weights of the right pixel 0, 0.25, 0.75, 1.
    two = np.array([[0, 255], [0, 255]], dtype=np.uint8).reshape(1, 1, 2, 2)
    got = ds.to_float_tensor(two, DATASETS["mnist"], input_size=4)
    row = (np.array([0.0, 0.25, 0.75, 1.0]) - 0.1307) / 0.3081
    np.testing.assert_allclose(got[0, 0].numpy(), np.tile(row, (4, 1)), rtol=1e-5, atol=1e-6)


def test_to_float_tensor_rejects_wrong_input():
    with pytest.raises(ValueError, match="uint8"):
        ds.to_float_tensor(np.zeros((1, 1, 8, 8), np.float32), DATASETS["digits"], 28)
    with pytest.raises(ValueError, match="uint8 \\(N, 3"):
        ds.to_float_tensor(np.zeros((1, 1, 32, 32), np.uint8), DATASETS["cifar10"], 32)
