"""The registered datasets: one decorated reader each, with its checksums, sources, mean/std and help text.

**Adding a dataset is one decorated reader function in this module**: write
``@register_dataset(name=..., num_classes=..., ...)`` (the fields of
:class:`~recall_distortion.data.spec.DatasetSpec`) above a function
``reader(directory, spec) -> (x_train, y_train, x_test, y_test)`` returning uint8 (N, C, H, W) images
and int labels for the official train and test splits.

* ``digits`` -- scikit-learn's ``load_digits`` (1,797 8x8 images, 10 classes), shipped inside the
  scikit-learn wheel, so it needs no file and no network: the dataset that always works, used for
  tests and smoke runs. Pixel values are integers 0..16; they are mapped to uint8 0..255 by exact
  integer rounding ``(v * 255 + 8) // 16`` (= round(v * 255 / 16), ties up; the only tie is v = 8 ->
  127.5 -> 128; 0 -> 0 and 16 -> 255). It has no official test split, so a fixed stratified split with
  test fraction 0.2 (360 images) and seed :data:`DIGITS_TEST_SEED` is used; it does not depend on
  ``split_seed``. Validation then comes out of the remaining 1,437 training images as for every dataset.
  The model sees the images resized to the config's ``datasets.<name>.input_size`` (native 8 px for
  digits in the default config, with LeNet-300-100; LeNet5 needs at least 16 px), see
  :func:`~recall_distortion.data.tensors.to_float_tensor`.
* ``mnist`` / ``fashion_mnist`` -- the four IDX files of LeCun et al. / Xiao et al., read by
  :func:`~recall_distortion.data.formats.read_idx` and checked for matching sizes and label ranges.
  Fashion-MNIST is packaged by Debian (``apt-get install dataset-fashion-mnist`` installs the four
  ``.gz`` files in ``/usr/share/datasets/fashion-mnist/``), which is its default directory.
* ``cifar10`` / ``cifar100`` -- the "python version" of Krizhevsky's CIFAR, read batch by batch by
  :func:`~recall_distortion.data.formats.read_cifar_batch` (CIFAR-100 with its 100 fine labels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recall_distortion.data.files import find_file
from recall_distortion.data.formats import (
    IDX_FILES,
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    check_labels,
    read_cifar_batch,
    read_idx,
)
from recall_distortion.data.spec import DatasetError, DatasetSpec, Raw, Source, register_dataset

__all__ = ["DIGITS_TEST_FRACTION", "DIGITS_TEST_SEED"]


#: Seed of the fixed stratified train/test split of ``digits`` (it has no official test split).
DIGITS_TEST_SEED = 20221128  # NeurIPS 2022 opening day; any fixed value works, it must just never change
#: Fraction of ``digits`` held out as its test set (360 of 1,797 images).
DIGITS_TEST_FRACTION = 0.2


_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"


# Mean/std of digits: computed once, as the mean and the (population) standard deviation of all pixels
# of the 1,437 fixed digits training images (the DIGITS_TEST_SEED split, validation included) after the
# 0..16 -> 0..255 mapping and division by 255:  x = _read_digits(None, DATASETS["digits"])[0] / 255;
# x.mean(), x.std().  The training part only, as MNIST's 0.1307/0.3081 are training-set statistics.
@register_dataset(
    name="digits",
    train_size=1_437,
    num_classes=10,
    channels=1,
    image_size=8,
    mean=(0.30566,),
    std=(0.37595,),
    default_dir=None,
    files=(),
    how_to_get="it ships with scikit-learn (sklearn.datasets.load_digits); install scikit-learn",
)
def _read_digits(directory: Path | None, spec: DatasetSpec) -> Raw:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images, labels = np.asarray(bunch.images), np.asarray(bunch.target, dtype=np.int64)
    levels = images.astype(np.int64)
    if not np.array_equal(levels, images) or levels.min() < 0 or levels.max() > 16:
        raise DatasetError("digits: sklearn's load_digits no longer returns integers 0..16; update _read_digits")
    x = ((levels * 255 + 8) // 16).astype(np.uint8)[:, None, :, :]  # exact round(v * 255 / 16)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=DIGITS_TEST_FRACTION, stratify=labels, random_state=DIGITS_TEST_SEED
    )
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return x[train_idx], labels[train_idx], x[test_idx], labels[test_idx]


def _read_idx_dataset(directory: Path, spec: DatasetSpec) -> Raw:
    arrays = {}
    for base in spec.files:
        path = find_file(directory, base)
        magic = IDX_IMAGES_MAGIC if "images" in base else IDX_LABELS_MAGIC
        arrays[base] = (path, read_idx(path, expected_magic=magic))
    out = []
    for split in ("train", "t10k"):
        img_path, images = arrays[f"{split}-images-idx3-ubyte"]
        lab_path, labels = arrays[f"{split}-labels-idx1-ubyte"]
        if images.shape[1:] != (spec.image_size, spec.image_size):
            raise DatasetError(
                f"{spec.name}: {img_path} holds {images.shape[1]}x{images.shape[2]} images, expected "
                f"{spec.image_size}x{spec.image_size}; this is not the {spec.name} file -- replace it "
                f"({spec.how_to_get})"
            )
        if len(images) != len(labels):
            raise DatasetError(
                f"{spec.name}: {img_path} has {len(images)} images but {lab_path} has {len(labels)} labels; "
                f"one of them is from another dataset or version -- replace both ({spec.how_to_get})"
            )
        check_labels(labels.astype(np.int64), spec, lab_path)
        out += [images[:, None, :, :], labels.astype(np.int64)]
    return out[0], out[1], out[2], out[3]


def _idx_sources(base_url: str, gz_md5: dict[str, str]) -> tuple[Source, ...]:
    return tuple(Source(base_url + f + ".gz", f + ".gz", gz_md5[f]) for f in IDX_FILES)


# MD5s of the canonical .gz files are torchvision's (torchvision/datasets/mnist.py); those of the
# decompressed files are the widely published ones (for Fashion-MNIST they equal the decompressed files of
# Debian's dataset-fashion-mnist package, whose re-compressed .gz files have other MD5s).
_MNIST_GZ_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
_MNIST_RAW_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
_FASHION_GZ_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
_FASHION_RAW_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}


def _idx_checksums(gz_md5: dict[str, str], raw_md5: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((f + ".gz", gz_md5[f]) for f in IDX_FILES) + tuple((f, raw_md5[f]) for f in IDX_FILES)


@register_dataset(
    name="mnist",
    train_size=60_000,
    num_classes=10,
    channels=1,
    image_size=28,
    mean=(0.1307,),
    std=(0.3081,),
    default_dir="data/mnist",
    files=IDX_FILES,
    sources=_idx_sources(_MNIST_URL, _MNIST_GZ_MD5),
    checksums=_idx_checksums(_MNIST_GZ_MD5, _MNIST_RAW_MD5),
    how_to_get=f"download the four .gz files from {_MNIST_URL} (e.g. {_MNIST_URL}train-images-idx3-ubyte.gz), "
    "or set download: true for this dataset in the config (load_splits(..., download=True)) on a machine with network access",
)
def _read_mnist(directory: Path, spec: DatasetSpec) -> Raw:
    return _read_idx_dataset(directory, spec)


@register_dataset(
    name="fashion_mnist",
    train_size=60_000,
    num_classes=10,
    channels=1,
    image_size=28,
    mean=(0.2860,),
    std=(0.3530,),
    default_dir="/usr/share/datasets/fashion-mnist/",
    files=IDX_FILES,
    sources=_idx_sources(_FASHION_URL, _FASHION_GZ_MD5),
    checksums=_idx_checksums(_FASHION_GZ_MD5, _FASHION_RAW_MD5),
    how_to_get="`apt-get install dataset-fashion-mnist` (Debian; installs them in /usr/share/datasets/fashion-mnist/), "
    f"or download the four .gz files from {_FASHION_URL} (e.g. {_FASHION_URL}train-images-idx3-ubyte.gz), "
    "or set download: true for this dataset in the config (load_splits(..., download=True)) on a machine with network access",
)
def _read_fashion_mnist(directory: Path, spec: DatasetSpec) -> Raw:
    return _read_idx_dataset(directory, spec)


def _read_cifar(directory: Path, spec: DatasetSpec, train_files, test_files, label_key: bytes) -> Raw:
    parts = []
    for files in (train_files, test_files):
        batches = [read_cifar_batch(find_file(directory, f), label_key, spec) for f in files]
        parts += [np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])]
    return parts[0], parts[1], parts[2], parts[3]


_CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


@register_dataset(
    name="cifar10",
    train_size=50_000,
    num_classes=10,
    channels=3,
    image_size=32,
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
    default_dir="data/cifar10",
    files=_CIFAR10_TRAIN + ("test_batch",),
    augment=True,
    subdir="cifar-10-batches-py",
    sources=(Source(_CIFAR_URL + "cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
                    "c58f30108f718f92721af3b95e74349a", extract=True),),
    checksums=(  # torchvision/datasets/cifar.py
        ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        ("data_batch_4", "634d18415352ddfa80567beed471001a"),
        ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
        ("test_batch", "40351d587109b95175f43aff81a1287e"),
    ),
    how_to_get=f"download {_CIFAR_URL}cifar-10-python.tar.gz and unpack it with `tar xzf`, "
    "or set download: true for this dataset in the config (load_splits(..., download=True)) on a machine with network access",
)
def _read_cifar10(directory: Path, spec: DatasetSpec) -> Raw:
    return _read_cifar(directory, spec, _CIFAR10_TRAIN, ("test_batch",), b"labels")


@register_dataset(
    name="cifar100",
    train_size=50_000,
    num_classes=100,
    channels=3,
    image_size=32,
    mean=(0.5071, 0.4865, 0.4409),
    std=(0.2673, 0.2564, 0.2762),
    default_dir="data/cifar100",
    files=("train", "test"),
    augment=True,
    subdir="cifar-100-python",
    sources=(Source(_CIFAR_URL + "cifar-100-python.tar.gz", "cifar-100-python.tar.gz",
                    "eb9058c3a382ffc7106e4002c42a8d85", extract=True),),
    checksums=(  # torchvision/datasets/cifar.py
        ("train", "16019d7e3df5f24257cddd939b257f8d"),
        ("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),
    ),
    how_to_get=f"download {_CIFAR_URL}cifar-100-python.tar.gz and unpack it with `tar xzf`, "
    "or set download: true for this dataset in the config (load_splits(..., download=True)) on a machine with network access",
)
def _read_cifar100(directory: Path, spec: DatasetSpec) -> Raw:
    return _read_cifar(directory, spec, ("train",), ("test",), b"fine_labels")

