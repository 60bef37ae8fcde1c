"""The dataset registry: what the pipeline knows about a dataset, and where adding one goes.

``DATASETS`` maps a dataset name to a frozen :class:`DatasetSpec` (number of classes, channels, stored
image size, per-channel mean/std, default directory, expected file names, reader function, checksums,
download sources, whether training uses augmentation). Entries are made by :func:`register_dataset`
on a reader ``reader(directory, spec) -> (x_train, y_train, x_test, y_test)``; the registrations
themselves live in :mod:`recall_distortion.data.catalog`. Everything else (file checks, downloads,
checksum verification, validation split, normalization) is generic and keyed on the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DATASETS", "DatasetError", "DatasetSpec", "Raw", "Source", "dataset_spec", "register_dataset"]


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


#: What a reader returns: ``(x_train, y_train, x_test, y_test)``, images uint8 (N, C, H, W).
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


def dataset_spec(name: str) -> DatasetSpec:
    """The registered spec of ``name``; an unknown name is a :class:`DatasetError` listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}") from None

