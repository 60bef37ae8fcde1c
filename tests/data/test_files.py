"""Tests for recall_distortion.data.files: missing files, downloads (from file:// URLs) and MD5 checks."""

from __future__ import annotations

import dataclasses
import hashlib
import tarfile

import numpy as np
import pytest

from recall_distortion.data.files import verify_checksums
from recall_distortion.data.spec import DatasetError, Source
from recall_distortion.data.splits import load_splits
from tests.data.tiny_files import IDX_FILES, idx_bytes, make_cifar10_dir, make_idx_dir, md5, write_idx


def test_missing_files_offline_give_one_error_naming_the_directory(tmp_path):
    empty = tmp_path / "nothing"
    with pytest.raises(DatasetError) as err:
        load_splits("fashion_mnist", data_dir=empty)
    msg = str(err.value)
    assert f"in {empty.resolve()}/" in msg and "missing 4 of 4 files" in msg
    assert all(f in msg for f in IDX_FILES)
    assert "apt-get install dataset-fashion-mnist" in msg and "fashion-mnist.s3-website" in msg
    assert not empty.exists()  # nothing is created when download=False

    (tmp_path / "partial").mkdir()
    write_idx(tmp_path / "partial" / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DatasetError, match=r"missing 3 of 4 files .*: train-labels-idx1-ubyte, t10k"):
        load_splits("mnist", data_dir=tmp_path / "partial")

    with pytest.raises(DatasetError) as err:
        load_splits("cifar10", data_dir=tmp_path / "c")
    assert f"{(tmp_path / 'c' / 'cifar-10-batches-py').resolve()}/" in str(err.value)
    assert "www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in str(err.value)


def test_failed_download_is_the_missing_files_error(tmp_path, patched_spec):
    sources = tuple(Source((tmp_path / "nowhere" / (f + ".gz")).as_uri(), f + ".gz", "0" * 32) for f in IDX_FILES)
    patched_spec("mnist", sources=sources)
    target = tmp_path / "mnist"
    with pytest.raises(DatasetError) as err:
        load_splits("mnist", data_dir=target, download=True)
    assert f"in {target.resolve()}/" in str(err.value) and "Download failed" in str(err.value)
    assert list(target.iterdir()) == []  # no half-written file left behind


def test_download_idx_with_md5_check(tmp_path, patched_spec):
    server = tmp_path / "server"
    arrays, paths = make_idx_dir(server, gz=(True, True, True, True))
    sources = tuple(Source(paths[f].as_uri(), f + ".gz", md5(paths[f])) for f in IDX_FILES)
    patched_spec("mnist", sources=sources, checksums=tuple((f + ".gz", md5(paths[f])) for f in IDX_FILES))
    target = tmp_path / "mnist"
    splits = load_splits("mnist", data_dir=target, download=True)
    assert sorted(p.name for p in target.iterdir()) == sorted(f + ".gz" for f in IDX_FILES)  # kept as .gz
    np.testing.assert_array_equal(splits["test"][0][:, 0], arrays[IDX_FILES[2]])
    assert set(verify_checksums("mnist", target).values()) == {"ok"}

    bad = tuple(dataclasses.replace(s, md5="f" * 32) for s in sources)
    patched_spec("mnist", sources=bad)
    with pytest.raises(DatasetError, match="MD5"):
        load_splits("mnist", data_dir=tmp_path / "other", download=True)


def test_download_cifar_archive_and_extract(tmp_path, patched_spec):
    staging = tmp_path / "staging"
    data, labels = make_cifar10_dir(staging)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    patched_spec("cifar10", sources=(Source(archive.as_uri(), archive.name, md5(archive), extract=True),))
    target = tmp_path / "data" / "cifar10"
    splits = load_splits("cifar10", data_dir=target, download=True)
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
    status = verify_checksums("mnist", tmp_path)
    assert status == {str(paths[f]): "ok" for f in IDX_FILES}

    labels = arrays[IDX_FILES[1]].copy()
    labels[0] = (labels[0] + 1) % 10  # a flipped label: same size, still valid IDX
    write_idx(paths[IDX_FILES[1]], labels)
    with pytest.raises(DatasetError) as err:
        verify_checksums("mnist", tmp_path)
    assert str(paths[IDX_FILES[1]]) in str(err.value) and raw[IDX_FILES[1]] in str(err.value)

    paths[IDX_FILES[3]].unlink()
    patched_spec("mnist", checksums=())
    status = verify_checksums("mnist", tmp_path)
    assert status[str(tmp_path / IDX_FILES[3])] == "missing"
    assert status[str(paths[IDX_FILES[0]])] == "no known checksum"
    assert verify_checksums("digits") == {}
