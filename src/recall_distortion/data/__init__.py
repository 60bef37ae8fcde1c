"""Datasets: the registry, file formats, getting the files, stratified splits and the tensor side.

One concept per module:

- ``spec``     :class:`DatasetSpec`, :class:`Source`, :class:`DatasetError`, the ``DATASETS`` registry
               and ``@register_dataset``.
- ``catalog``  the registered datasets (digits, mnist, fashion_mnist, cifar10, cifar100): readers,
               checksums, download sources, mean/std, how to get the files. Add a dataset here.
- ``formats``  IDX and CIFAR python-pickle readers (numpy only), label range checks.
- ``files``    data directories, missing files and their one error, MD5 checks, download.
- ``splits``   :func:`load_splits`: train, stratified validation hold-out, official test split.
- ``tensors``  :func:`to_float_tensor` (normalization, resize) and :func:`augment_batch`.

Everything that crosses the package boundary is plain numpy (see docs/CONTRACTS.md): images ``uint8``
of shape (N, C, H, W), labels ``int64`` of shape (N,), until :func:`to_float_tensor` makes the float32
tensors a model sees. Importing the package imports neither torch nor scikit-learn: they are imported
inside the functions that need them, so the workflow's planning stays fast.
"""

from __future__ import annotations

from recall_distortion.data.spec import DATASETS, DatasetError, DatasetSpec, Source, register_dataset
from recall_distortion.data.formats import read_cifar_batch, read_idx
from recall_distortion.data.files import dataset_dir, verify_checksums
from recall_distortion.data.catalog import DIGITS_TEST_FRACTION, DIGITS_TEST_SEED  # fills DATASETS
from recall_distortion.data.splits import load_splits
from recall_distortion.data.tensors import augment_batch, to_float_tensor

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
