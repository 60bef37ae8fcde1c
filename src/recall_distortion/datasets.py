"""Datasets: registry, file readers, stratified splits and the tensor side (normalization, augmentation).

Registry
--------
``DATASETS`` maps a dataset name to a frozen :class:`DatasetSpec` (number of classes, channels, stored
image size, per-channel mean/std, default directory, expected file names, reader function, checksums,
download sources, whether training uses augmentation). **Adding a dataset is one decorated reader
function in this module**: write ``@register_dataset(name=..., num_classes=..., ...)`` above a function
``reader(directory, spec) -> (x_train, y_train, x_test, y_test)``; everything else (file checks,
downloads, checksum verification, validation split, normalization) is generic and keyed on the spec.

Everything that crosses a module boundary is plain numpy (see docs/CONTRACTS.md): images ``uint8``
of shape (N, C, H, W), labels ``int64`` of shape (N,). Keeping the raw bytes (not floats) keeps memory
at one byte per pixel (CIFAR-10 train: 150 MB, not 600 MB) and makes splits easy to hash and compare;
:func:`to_float_tensor` turns them into normalized float32 tensors on the training device.

Splits
------
:func:`load_splits` returns ``{"train", "val", "test"}``. The paper keeps the weights of the epoch
with the lowest *validation* loss (section 5, "Experimental setup"), so a validation set is needed
that is not the test set on which recall is measured: it is a **stratified hold-out of the official
training set** (``sklearn.model_selection.train_test_split(..., stratify=y)``), of size
``val_fraction`` and fixed by ``split_seed``. The test set is always the official test set, untouched
by ``split_seed``. Index arrays are sorted, so each split keeps the order of the files.

Formats, and why these readers
------------------------------
* ``digits`` -- scikit-learn's ``load_digits`` (1,797 8x8 images, 10 classes), shipped inside the
  scikit-learn wheel, so it needs no file and no network: the dataset that always works, used for
  tests and smoke runs. Pixel values are integers 0..16; they are mapped to uint8 0..255 by exact
  integer rounding ``(v * 255 + 8) // 16`` (= round(v * 255 / 16), ties up; the only tie is v = 8 ->
  127.5 -> 128; 0 -> 0 and 16 -> 255). It has no official test split, so a fixed stratified split with
  test fraction 0.2 (360 images) and seed :data:`DIGITS_TEST_SEED` is used; it does not depend on
  ``split_seed``. Validation then comes out of the remaining 1,437 training images as for every dataset.
  LeNet5 is fed digits upsampled to 28x28 (the input size chosen in the default config), see
  :func:`to_float_tensor`.
* ``mnist`` / ``fashion_mnist`` -- the IDX files of LeCun et al. / Xiao et al.
  (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, each plain or ``.gz``). IDX is a big-endian header -- two zero bytes,
  a type byte (0x08 = unsigned byte), the number of dimensions, then one uint32 per dimension -- followed
  by the raw bytes. The header is parsed here with numpy (:func:`read_idx`) and checked: magic
  0x00000803 for images and 0x00000801 for labels, and payload size == product of the dimensions, so a
  truncated download fails with a message naming the file and both sizes, not with a reshape traceback.
  Fashion-MNIST is packaged by Debian (``apt-get install dataset-fashion-mnist`` installs the four
  ``.gz`` files in ``/usr/share/datasets/fashion-mnist/``), which is its default directory.
* ``cifar10`` / ``cifar100`` -- the "python version" of Krizhevsky's CIFAR: pickled dicts (written by
  Python 2, hence ``encoding="bytes"`` and bytes keys) with ``b"data"``, a uint8 (N, 3072) array whose
  rows are the red, green and blue 32x32 planes in row-major order (so a reshape to (N, 3, 32, 32) is
  exact), and ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100, the 100-class labels).
  Unpickling runs no code beyond rebuilding numpy arrays (:class:`_NumpyOnlyUnpickler`), so a tampered
  file cannot execute anything.

Getting the files
-----------------
Nothing is downloaded unless ``download=True``. Then missing files are fetched with ``urllib`` from the
canonical sources (the ones torchvision uses), their MD5 is checked, and CIFAR archives are extracted
(IDX files stay ``.gz``; the reader decompresses them in memory). torchvision is not needed. When files
are missing and cannot be downloaded, ONE :class:`DatasetError` lists the missing files, the exact
directory to put them in and where to get them. :func:`verify_checksums` compares files on disk with the
known MD5s (of the canonical ``.gz``/batch files, and of the decompressed IDX files, so re-compressed
copies such as Debian's are recognized too).

Tensor side
-----------
:func:`to_float_tensor` divides by 255, normalizes per channel with the spec's mean/std and resizes
bilinearly when the model's input size differs. :func:`augment_batch` is the standard CIFAR training
augmentation (random 32x32 crop of the 4-pixel zero-padded image + random horizontal flip), vectorised
over a whole batch on its device and driven by a ``torch.Generator`` so it is reproducible.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import tarfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported inside the functions that need it (cheap module import)
    import torch

__all__ = [
    "DATASETS",
    "DIGITS_TEST_FRACTION",
    "DIGITS_TEST_SEED",
    "DatasetError",
    "DatasetSpec",
    "Source",
    "augment_batch",
    "dataset_dir",
    "load_splits",
    "read_cifar_batch",
    "read_idx",
    "register_dataset",
    "to_float_tensor",
    "verify_checksums",
]

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, cols)
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N,)

#: Seed of the fixed stratified train/test split of ``digits`` (it has no official test split).
DIGITS_TEST_SEED = 20221128  # NeurIPS 2022 opening day; any fixed value works, it must just never change
#: Fraction of ``digits`` held out as its test set (360 of 1,797 images).
DIGITS_TEST_FRACTION = 0.2

_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DatasetError(Exception):
    """A dataset is missing, corrupted or inconsistent; the message says what to do about it."""


@dataclass(frozen=True)
class Source:
    """One canonical downloadable file: ``url``, the ``filename`` to save it as, and its ``md5``.

    ``extract`` is True for archives (CIFAR ``.tar.gz``) that are unpacked after download.
    """

    url: str
    filename: str
    md5: str
    extract: bool = False


Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the pipeline needs to know about one dataset.

    ``image_size`` is the stored (square) size; ``mean``/``std`` are per channel on the 0..1 scale.
    ``files`` are the file names expected in the data directory (IDX files may also be ``.gz``);
    ``subdir`` is the folder the canonical archive unpacks to (CIFAR), accepted either as the data
    directory itself or inside it. ``checksums`` pairs file names (``.gz`` or decompressed) with known
    MD5s. ``train_size`` is the number of images of the official training split, before the validation
    hold-out (what a cost projection scales by, benchmarks/projection.py). ``reader(directory, spec)``
    returns ``(x_train, y_train, x_test, y_test)``.
    """

    name: str
    num_classes: int
    channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    default_dir: str | None
    files: tuple[str, ...]
    reader: Callable[[Path, DatasetSpec], Raw]
    augment: bool = False
    subdir: str | None = None
    sources: tuple[Source, ...] = ()
    checksums: tuple[tuple[str, str], ...] = ()
    how_to_get: str = ""
    train_size: int | None = None


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(**fields) -> Callable[[Callable[[Path, DatasetSpec], Raw]], Callable]:
    """Decorator: register ``reader`` under ``fields["name"]`` with the given :class:`DatasetSpec` fields."""

    def decorate(reader: Callable[[Path, DatasetSpec], Raw]) -> Callable[[Path, DatasetSpec], Raw]:
        spec = DatasetSpec(reader=reader, **fields)
        if spec.name in DATASETS:
            raise ValueError(f"dataset {spec.name!r} registered twice")
        if len(spec.mean) != spec.channels or len(spec.std) != spec.channels:
            raise ValueError(f"dataset {spec.name!r}: mean/std need one value per channel")
        DATASETS[spec.name] = spec
        return reader

    return decorate


# ----------------------------------------------------------------------------------------------
# Readers: the registry. One decorated function per dataset.
# ----------------------------------------------------------------------------------------------

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
        path = _find_file(directory, base)
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
        _check_labels(labels.astype(np.int64), spec, lab_path)
        out += [images[:, None, :, :], labels.astype(np.int64)]
    return out[0], out[1], out[2], out[3]


def _idx_sources(base_url: str, gz_md5: dict[str, str]) -> tuple[Source, ...]:
    return tuple(Source(base_url + f + ".gz", f + ".gz", gz_md5[f]) for f in _IDX_FILES)


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
    return tuple((f + ".gz", gz_md5[f]) for f in _IDX_FILES) + tuple((f, raw_md5[f]) for f in _IDX_FILES)


@register_dataset(
    name="mnist",
    train_size=60_000,
    num_classes=10,
    channels=1,
    image_size=28,
    mean=(0.1307,),
    std=(0.3081,),
    default_dir="data/mnist",
    files=_IDX_FILES,
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
    files=_IDX_FILES,
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
        batches = [read_cifar_batch(_find_file(directory, f), label_key, spec) for f in files]
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


# ----------------------------------------------------------------------------------------------
# File formats
# ----------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it ends in ``.gz``; corruption becomes a DatasetError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}; check that it exists and is readable") from exc
    if str(path).endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(
                f"{path} is not a valid gzip file ({exc}): the download is truncated or corrupted; "
                "delete it and fetch it again"
            ) from exc
    return data


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an unsigned-byte IDX file (plain or ``.gz``) into a uint8 array of the header's shape.

    Header (big-endian): magic = 0x0000 | type 0x08 (unsigned byte) | number of dimensions, then one
    uint32 per dimension. ``expected_magic`` (e.g. :data:`IDX_IMAGES_MAGIC`) is checked when given.
    Raises :class:`DatasetError` naming the file for a wrong magic or a payload whose size is not the
    product of the dimensions (truncated or corrupted file).
    """
    path = Path(path)
    data = _read_bytes(path)
    redo = "delete it and fetch it again"
    if len(data) < 4:
        raise DatasetError(f"{path}: {len(data)} bytes, too short for an IDX header; the file is truncated, {redo}")
    magic = int.from_bytes(data[:4], "big")
    ndim = data[3]
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08 or ndim == 0:
        raise DatasetError(
            f"{path}: bad IDX magic number 0x{magic:08x} (expected 0x{expected_magic or IDX_IMAGES_MAGIC:08x}); "
            f"this is not an unsigned-byte IDX file (corrupted, or not decompressed correctly), {redo}"
        )
    if expected_magic is not None and magic != expected_magic:
        raise DatasetError(
            f"{path}: IDX magic number 0x{magic:08x} but expected 0x{expected_magic:08x} "
            f"({'images' if expected_magic == IDX_IMAGES_MAGIC else 'labels'}); "
            f"the file is misnamed or corrupted, {redo}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: header needs {header} bytes, file has {len(data)}; the file is truncated, {redo}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(data) - header
    if actual != expected:
        raise DatasetError(
            f"{path}: header says shape {dims} = {expected} bytes of data but the file has {actual} "
            f"(size {'too small: truncated' if actual < expected else 'too large: corrupted'}), {redo}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else: loading a file never runs foreign code."""

    _ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if module.startswith("numpy.core"):  # pickles from numpy < 2 (the CIFAR files): same objects
            module = "numpy._core" + module[len("numpy.core"):]
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are expected)")
        return super().find_class(module, name)


def read_cifar_batch(path: str | os.PathLike, label_key: bytes, spec: DatasetSpec | None = None):
    """Read one CIFAR python batch: ``(x uint8 (N, 3, 32, 32), y int64 (N,))``.

    ``b"data"`` rows are the 1024 red, then 1024 green, then 1024 blue values of a 32x32 image in
    row-major order, so ``reshape(N, 3, 32, 32)`` yields channel planes. ``label_key`` is ``b"labels"``
    (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100). Labels are checked against ``spec.num_classes``.
    """
    path = Path(path)
    redo = "delete it and unpack the archive again"
    try:
        with open(path, "rb") as fh:
            batch = _NumpyOnlyUnpickler(fh, encoding="bytes").load()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}; check that it exists and is readable") from exc
    except Exception as exc:  # UnpicklingError, EOFError, ValueError, ... from a damaged file
        raise DatasetError(
            f"{path} is not a readable CIFAR python batch ({type(exc).__name__}: {exc}); "
            f"the file is truncated or corrupted, {redo}"
        ) from exc
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise DatasetError(
            f"{path}: expected a dict with keys b'data' and {label_key!r}, found {keys}; "
            f"this is not a CIFAR python batch of the expected kind, {redo}"
        )
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(
            f"{path}: b'data' is {data.dtype} {data.shape}, expected uint8 (N, 3072); the file is corrupted, {redo}"
        )
    if labels.ndim != 1 or len(labels) != len(data):
        raise DatasetError(
            f"{path}: {len(data)} images but {labels.size} labels; the file is corrupted, {redo}"
        )
    labels = labels.astype(np.int64)
    if spec is not None:
        _check_labels(labels, spec, path)
    return data.reshape(len(data), 3, 32, 32), labels


def _check_labels(labels: np.ndarray, spec: DatasetSpec, where) -> None:
    bad = (labels < 0) | (labels >= spec.num_classes)
    if bad.any():
        values = np.unique(labels[bad])
        shown = ", ".join(str(v) for v in values[:10]) + (" ..." if len(values) > 10 else "")
        raise DatasetError(
            f"{spec.name}: {where} has {int(bad.sum())} labels outside [0, {spec.num_classes}): {shown}; "
            f"the file belongs to another dataset or is corrupted -- replace it ({spec.how_to_get})"
        )


# ----------------------------------------------------------------------------------------------
# Files on disk: where, which are missing, download, checksums
# ----------------------------------------------------------------------------------------------


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}") from None


def _base_dir(spec: DatasetSpec, data_dir) -> Path:
    if data_dir is None:
        if spec.default_dir is None:
            raise DatasetError(f"{spec.name} has no data directory; {spec.how_to_get}")
        data_dir = spec.default_dir
    return Path(data_dir).expanduser()


def dataset_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The directory the dataset's files are read from (``data_dir`` or the spec's default).

    For CIFAR, ``data_dir`` may be the parent of the batches folder (``cifar-10-batches-py``) or that
    folder itself; the returned path is the folder holding the batch files (which may not exist yet).
    """
    spec = _spec(name)
    base = _base_dir(spec, data_dir)
    if spec.subdir is None or base.name == spec.subdir:
        return base
    if (base / spec.subdir).is_dir() or not all((base / f).is_file() for f in spec.files):
        return base / spec.subdir
    return base  # the batch files lie directly in data_dir


def _find_file(directory: Path, base: str) -> Path | None:
    """``directory/base`` if it exists, else ``directory/base.gz``, else None (existing files only)."""
    for candidate in (directory / base, directory / (base + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _missing(spec: DatasetSpec, directory: Path) -> list[str]:
    return [f for f in spec.files if _find_file(directory, f) is None]


def _missing_error(spec: DatasetSpec, directory: Path, missing: list[str], why: str = "") -> DatasetError:
    gz = " (plain or .gz)" if spec.files and spec.files[0] in _IDX_FILES else ""
    where = directory.resolve()
    put = f"put them in {where}/"
    if spec.subdir:
        put = (f"put them in {where}/ (unpacking the archive in {where.parent}/ creates that folder)")
    return DatasetError(
        f"{spec.name}: missing {len(missing)} of {len(spec.files)} files{gz} in {where}/: {', '.join(missing)}. "
        f"To fix: {put}, or point data_dir at the folder that has them (config: datasets.{spec.name}.data_dir). How to get them: {spec.how_to_get}."
        + (f" {why}" if why else "")
    )


def _md5(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _gunzip_md5(path: Path) -> str:
    digest = hashlib.md5()
    with gzip.open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksums(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Check the MD5 of the dataset's files that are present against the known MD5s.

    A ``.gz`` IDX file passes when its own MD5 is the canonical one or when its decompressed content
    has the canonical decompressed MD5 (so Debian's re-compressed copies pass). Returns
    ``{path: status}`` with status ``"ok"``, ``"missing"`` or ``"no known checksum"``; raises one
    :class:`DatasetError` listing every file whose MD5 does not match (corrupted or altered files).
    """
    spec = _spec(name)
    if not spec.files:
        return {}
    directory = dataset_dir(name, data_dir)
    known: dict[str, set[str]] = {}
    for fname, md5 in spec.checksums:
        known.setdefault(fname, set()).add(md5)
    status: dict[str, str] = {}
    bad: list[str] = []
    for base in spec.files:
        path = _find_file(directory, base)
        if path is None:
            status[str(directory / base)] = "missing"
            continue
        own, raw = known.get(path.name, set()), known.get(base, set())
        if not own and not raw:
            status[str(path)] = "no known checksum"
            continue
        digest = _md5(path)
        if digest in own or (path.name == base and digest in raw):
            status[str(path)] = "ok"
            continue
        if path.name != base and raw:
            try:
                digest = _gunzip_md5(path)
            except (OSError, EOFError, zlib.error) as exc:
                bad.append(f"{path} (not a valid gzip file: {exc})")
                continue
            if digest in raw:
                status[str(path)] = "ok"
                continue
        bad.append(f"{path} (MD5 {digest}, expected {' or '.join(sorted(own | raw))})")
    if bad:
        raise DatasetError(
            f"{spec.name}: checksum mismatch for {', '.join(bad)}: the files are corrupted or from another "
            f"version; delete them and get them again ({spec.how_to_get})."
        )
    return status


def _download(source: Source, target_dir: Path, timeout: float = 60.0) -> Path:
    """Fetch ``source`` into ``target_dir`` with urllib, check its MD5, return the saved path."""
    import urllib.request

    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / source.filename
    part = target.with_name(target.name + ".part")
    request = urllib.request.Request(source.url, headers={"User-Agent": "recall-distortion"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as fh:
            for block in iter(lambda: response.read(1 << 20), b""):
                fh.write(block)
        digest = _md5(part)
        if digest != source.md5:
            raise DatasetError(f"downloaded {source.url} has MD5 {digest}, expected {source.md5}; try again later")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)  # never leave a half-written download behind
    return target


def _fetch(spec: DatasetSpec, directory: Path, missing: list[str]) -> None:
    """Download (and unpack) what is needed for ``missing``; any failure becomes the missing-files error."""
    try:
        if spec.subdir is None:
            for source in spec.sources:
                if source.filename.removesuffix(".gz") in missing:
                    _download(source, directory)
        else:
            parent = directory.parent if directory.name == spec.subdir else directory
            for source in spec.sources:
                archive = _download(source, parent)
                with tarfile.open(archive, "r:gz") as tar:
                    tar.extractall(parent, filter="data")
                archive.unlink()
    except Exception as exc:  # network down, HTTP error, bad archive, MD5 mismatch
        raise _missing_error(spec, directory, missing, f"Download failed: {type(exc).__name__}: {exc}") from exc


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------


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
    official test set (for ``digits``, the fixed :data:`DIGITS_TEST_SEED` split), independent of
    ``split_seed``. Missing files are downloaded only when ``download=True``; otherwise, or when the
    download fails, one :class:`DatasetError` says which files are missing, where to put them and how
    to get them.
    """
    spec = _spec(name)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    directory = None
    if spec.files:
        directory = dataset_dir(name, data_dir)
        missing = _missing(spec, directory)
        if missing and download:
            _fetch(spec, directory, missing)
            directory = dataset_dir(name, data_dir)
            missing = _missing(spec, directory)
        if missing:
            raise _missing_error(spec, directory, missing)
    x_train, y_train, x_test, y_test = spec.reader(directory, spec)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        expected = (spec.channels, spec.image_size, spec.image_size)
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != expected or len(x) != len(y):
            raise DatasetError(
                f"{name}: reader returned {split} images {x.dtype} {x.shape} with {len(y)} labels, "
                f"expected uint8 (N, {', '.join(map(str, expected))}) with N labels; fix the reader"
            )
        _check_labels(np.asarray(y), spec, f"the {split} split")

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


# ----------------------------------------------------------------------------------------------
# Tensor side
# ----------------------------------------------------------------------------------------------


def to_float_tensor(x_uint8, spec: DatasetSpec | str, input_size: int | None = None, device="cpu") -> torch.Tensor:
    """Normalized float32 tensor (N, C, input_size, input_size) on ``device``.

    Pixels are divided by 255, then ``(x - mean[c]) / std[c]`` per channel with the spec's constants;
    when ``input_size`` differs from the stored size the images are resized with bilinear interpolation
    (``align_corners=False``). Bilinear weights sum to one, so normalizing before or after resizing gives
    the same result; normalizing first touches fewer pixels.

    The 8x8 ``digits`` are fed to LeNet5 upsampled to 28x28 (the input size in the default config):
    LeNet5's two 5x5 convolutions, each followed by 2x2 pooling, need at least 16 pixels
    (16 -> 12 -> 6 -> 2 -> 1), and 28 is the MNIST size, so LeNet5 is the very same network on digits,
    MNIST and Fashion-MNIST.
    """
    import torch
    import torch.nn.functional as F

    spec = _spec(spec) if isinstance(spec, str) else spec
    x = torch.as_tensor(x_uint8)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != spec.channels:
        raise ValueError(
            f"to_float_tensor expects uint8 (N, {spec.channels}, H, W) images for {spec.name}, "
            f"got {x.dtype} {tuple(x.shape)}"
        )
    x = x.to(device=device, non_blocking=True).to(torch.float32).div_(255.0)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    x = (x - mean) / std
    size = input_size or spec.image_size
    if (x.shape[2], x.shape[3]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.contiguous()


def augment_batch(x: torch.Tensor, generator: torch.Generator, padding: int = 4, flip: bool = True) -> torch.Tensor:
    """Random crop of the zero-padded image plus random horizontal flip, for a whole batch at once.

    Each sample is padded with ``padding`` zeros on every side, cropped back to its size at an offset
    drawn uniformly from ``0..2*padding`` in each direction, and mirrored left-right with probability
    1/2 (the CIFAR augmentation of He et al., 2016). The zeros are zeros of ``x`` itself: on a
    normalized tensor they are the channel mean. Randomness comes only from ``generator`` (offsets
    first, then flips, drawn on the generator's device and moved to ``x``'s), so a seed fixes the
    result. No Python loop over samples: a gather with per-sample index grids.
    """
    import torch
    import torch.nn.functional as F

    n, c, h, w = x.shape
    gdev = generator.device
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=gdev).to(x.device)
    flips = (torch.rand(n, generator=generator, device=gdev) < 0.5).to(x.device)
    padded = F.pad(x, (padding, padding, padding, padding)) if padding else x
    hp, wp = h + 2 * padding, w + 2 * padding
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (n, h)
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)  # (n, w)
    if flip:
        cols = torch.where(flips[:, None], cols.flip(1), cols)
    index = (rows[:, :, None] * wp + cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
    return padded.reshape(n, c, hp * wp).gather(2, index).reshape(n, c, h, w)
