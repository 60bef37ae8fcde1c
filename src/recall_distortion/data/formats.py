"""The file formats: IDX (MNIST, Fashion-MNIST) and CIFAR's python pickles, read with numpy only.

* IDX -- the files of LeCun et al. / Xiao et al. (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each plain or
  ``.gz``). IDX is a big-endian header -- two zero bytes, a type byte (0x08 = unsigned byte), the number
  of dimensions, then one uint32 per dimension -- followed by the raw bytes. The header is parsed here
  with numpy (:func:`read_idx`) and checked: magic 0x00000803 for images and 0x00000801 for labels, and
  payload size == product of the dimensions, so a truncated download fails with a message naming the
  file and both sizes, not with a reshape traceback.
* CIFAR -- the "python version" of Krizhevsky's CIFAR: pickled dicts (written by Python 2, hence
  ``encoding="bytes"`` and bytes keys) with ``b"data"``, a uint8 (N, 3072) array whose rows are the red,
  green and blue 32x32 planes in row-major order (so a reshape to (N, 3, 32, 32) is exact), and
  ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100, the 100-class labels). Unpickling runs no
  code beyond rebuilding numpy arrays (:class:`_NumpyOnlyUnpickler`), so a tampered file cannot execute
  anything.

Labels read from any file are checked against the spec's number of classes (:func:`check_labels`).
"""

from __future__ import annotations

import gzip
import os
import pickle
import zlib
from pathlib import Path

import numpy as np

from recall_distortion.data.spec import DatasetError, DatasetSpec

__all__ = ["IDX_FILES", "IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC", "check_labels", "read_cifar_batch", "read_idx"]

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, cols)
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N,)

#: The four files of an IDX dataset (MNIST and Fashion-MNIST name them alike).
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


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
        check_labels(labels, spec, path)
    return data.reshape(len(data), 3, 32, 32), labels


def check_labels(labels: np.ndarray, spec: DatasetSpec, where) -> None:
    """One :class:`DatasetError` naming ``where`` and the values when a label lies outside [0, num_classes)."""
    bad = (labels < 0) | (labels >= spec.num_classes)
    if bad.any():
        values = np.unique(labels[bad])
        shown = ", ".join(str(v) for v in values[:10]) + (" ..." if len(values) > 10 else "")
        raise DatasetError(
            f"{spec.name}: {where} has {int(bad.sum())} labels outside [0, {spec.num_classes}): {shown}; "
            f"the file belongs to another dataset or is corrupted -- replace it ({spec.how_to_get})"
        )

