"""Write-then-rename helpers.

A job killed mid-write (SIGKILL, node failure) must never leave a file that Snakemake, or a later
reader, would take as complete. Every output of the package goes through these helpers: the data is
written to a temporary name in the same directory and renamed over the target, which POSIX makes
atomic on one file system.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get the usual permissions
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_torch(obj, path: str | os.PathLike) -> None:
    """``torch.save`` atomically."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def write_parquet(frame, path: str | os.PathLike) -> None:
    """``DataFrame.to_parquet`` atomically (pyarrow engine, no index)."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, engine="pyarrow", index=False)


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
