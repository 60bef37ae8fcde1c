"""Getting and verifying the files of a dataset: where they are, which are missing, download, MD5.

Nothing is downloaded unless asked (``load_splits(..., download=True)``). Then missing files are
fetched with ``urllib`` from the canonical sources (the ones torchvision uses), their MD5 is checked, and
CIFAR archives are extracted (IDX files stay ``.gz``; the reader decompresses them in memory).
torchvision is not needed. When files are missing and cannot be downloaded, ONE :class:`DatasetError`
lists the missing files, the exact directory to put them in and where to get them
(:func:`missing_files_error`). :func:`verify_checksums` compares files on disk with the known MD5s (of
the canonical ``.gz``/batch files, and of the decompressed IDX files, so re-compressed copies such as
Debian's are recognized too).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import zlib
from pathlib import Path

from recall_distortion.data.formats import IDX_FILES
from recall_distortion.data.spec import DatasetError, DatasetSpec, Source, dataset_spec

__all__ = ["dataset_dir", "fetch", "find_file", "missing_files", "missing_files_error", "verify_checksums"]


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
    spec = dataset_spec(name)
    base = _base_dir(spec, data_dir)
    if spec.subdir is None or base.name == spec.subdir:
        return base
    if (base / spec.subdir).is_dir() or not all((base / f).is_file() for f in spec.files):
        return base / spec.subdir
    return base  # the batch files lie directly in data_dir


def find_file(directory: Path, base: str) -> Path | None:
    """``directory/base`` if it exists, else ``directory/base.gz``, else None (existing files only)."""
    for candidate in (directory / base, directory / (base + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def missing_files(spec: DatasetSpec, directory: Path) -> list[str]:
    """The names in ``spec.files`` found in ``directory`` neither plain nor as ``.gz``."""
    return [f for f in spec.files if find_file(directory, f) is None]


def missing_files_error(spec: DatasetSpec, directory: Path, missing: list[str], why: str = "") -> DatasetError:
    """The one error for missing files: which ones, the folder to put them in, how to get them (+ ``why``)."""
    gz = " (plain or .gz)" if spec.files and spec.files[0] in IDX_FILES else ""
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
    spec = dataset_spec(name)
    if not spec.files:
        return {}
    directory = dataset_dir(name, data_dir)
    known: dict[str, set[str]] = {}
    for fname, md5 in spec.checksums:
        known.setdefault(fname, set()).add(md5)
    status: dict[str, str] = {}
    bad: list[str] = []
    for base in spec.files:
        path = find_file(directory, base)
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


def fetch(spec: DatasetSpec, directory: Path, missing: list[str]) -> None:
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
        raise missing_files_error(spec, directory, missing, f"Download failed: {type(exc).__name__}: {exc}") from exc

