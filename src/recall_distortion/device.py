"""Where tensors live: CUDA when present, CPU otherwise, with the same code on both.

GPU jobs call :func:`claim_device` instead of picking ``cuda:0`` themselves. Snakemake's
``--resources gpu=2`` only *counts* GPUs: it starts at most two GPU jobs at a time but does not
tell a job which GPU is its own (no ``CUDA_VISIBLE_DEVICES``), so every job would land on
``cuda:0``. :func:`claim_device` picks a free GPU with one lock file per device, held with
``fcntl.flock`` for the lifetime of the job: the kernel drops the lock when the process exits,
crashes or is killed (SIGKILL included), so a dead job never keeps its GPU. Under Slurm (or any
launcher that sets ``CUDA_VISIBLE_DEVICES``) the launcher has already chosen, and the job takes
the first visible device without locking.

``torch`` is imported inside the functions that need it: the lock logic does not, and importing
torch costs ~1.5 s per process here.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

logger = logging.getLogger("recall_distortion.device")

LOCK_DIR_ENV = "RECALL_DISTORTION_GPU_LOCK_DIR"
TIMEOUT_ENV = "RECALL_DISTORTION_GPU_TIMEOUT"
DEFAULT_TIMEOUT_S = 3600.0


def default_device() -> torch.device:
    """The first visible CUDA device if there is one, else the CPU."""
    import torch

    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def default_lock_dir() -> Path:
    """Lock directory: $RECALL_DISTORTION_GPU_LOCK_DIR, else one per user under the temp dir.

    Per user because another user's lock files would not be writable; all jobs of one user on one
    machine (all Snakemake runs included) share it, so they never share a GPU.
    """
    env = os.environ.get(LOCK_DIR_ENV)
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"recall_distortion-gpu-locks-{os.getuid()}"


class DeviceBusyError(TimeoutError):
    """Every device stayed locked by other processes for the whole timeout."""


@dataclass(eq=False)
class Slot:
    """A claimed device index; the flock lives as long as the open file ``fd``."""

    index: int
    path: Path
    fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give the device back (closing the file drops the flock). Idempotent."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _try_lock(path: Path) -> int | None:
    """Open and flock ``path`` without blocking; the open fd on success, None when held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    # Who holds it, for error messages only (the lock is the flock, not the content).
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return fd


def _holders(paths: list[Path]) -> str:
    out = []
    for i, p in enumerate(paths):
        try:
            out.append(f"device {i}: {p.read_text().strip() or '?'}")
        except OSError:
            out.append(f"device {i}: ?")
    return "; ".join(out)


def claim_slot(
    n_devices: int,
    lock_dir: str | os.PathLike | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    poll_interval: float = 0.5,
) -> Slot:
    """Claim one of ``n_devices`` device indices, waiting while all are held.

    Tries ``<lock_dir>/device<i>.lock`` for i = 0..n-1 with a non-blocking exclusive flock and
    keeps the first one it gets. When all are held it polls every ``poll_interval`` seconds until
    ``timeout`` (None: forever), then raises :class:`DeviceBusyError` naming the holders. The
    returned :class:`Slot` holds the lock until ``release()``, the end of a ``with`` block, or
    the end of the process. Pure file locking: no GPU needed, hence testable anywhere.
    """
    if n_devices < 1:
        raise ValueError(f"n_devices must be >= 1, got {n_devices}")
    lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    paths = [lock_dir / f"device{i}.lock" for i in range(n_devices)]
    start = time.monotonic()
    warned = False
    while True:
        for i, path in enumerate(paths):
            fd = _try_lock(path)
            if fd is not None:
                waited = time.monotonic() - start
                if warned:
                    logger.info("device %d free after waiting %.1f s", i, waited)
                return Slot(index=i, path=path, fd=fd)
        waited = time.monotonic() - start
        if timeout is not None and waited >= timeout:
            raise DeviceBusyError(
                f"all {n_devices} GPU(s) stayed claimed by other processes for {waited:.0f} s "
                f"(lock files in {lock_dir}: {_holders(paths)}). Run fewer GPU jobs at once "
                f"(snakemake --resources gpu={n_devices}), or raise ${TIMEOUT_ENV}."
            )
        if not warned:
            logger.warning(
                "all %d GPU(s) are claimed (%s); waiting up to %s s for one to be released",
                n_devices,
                _holders(paths),
                "inf" if timeout is None else f"{timeout:.0f}",
            )
            warned = True
        time.sleep(poll_interval)


@dataclass(eq=False)
class DeviceClaim:
    """The device a job runs on, and the lock that keeps it its own (None: nothing locked)."""

    device: torch.device
    slot: Slot | None = None

    def release(self) -> None:
        if self.slot is not None:
            self.slot.release()
            if self in _HELD:
                _HELD.remove(self)

    def __enter__(self) -> torch.device:
        return self.device

    def __exit__(self, *exc) -> None:
        self.release()


# Claims stay referenced here so that a caller who keeps only `.device` does not lose the lock
# when the claim object is garbage-collected (closing the fd would release the GPU mid-job).
_HELD: list[DeviceClaim] = []


def claim_device(
    lock_dir: str | os.PathLike | None = None, timeout: float | None = None
) -> DeviceClaim:
    """The device for this GPU job: use as ``with claim_device() as device: ...``.

    - no CUDA: the CPU;
    - ``CUDA_VISIBLE_DEVICES`` set (Slurm's ``--gpus``, a user): the launcher chose, so take the
      first visible device, ``cuda:0``, without locking;
    - otherwise: one free device out of ``torch.cuda.device_count()``, claimed with
      :func:`claim_slot` and held until the claim is released or the process ends.

    ``timeout`` defaults to $RECALL_DISTORTION_GPU_TIMEOUT, else 3600 s.
    """
    import torch

    if not torch.cuda.is_available():
        logger.info("no CUDA device: using the CPU")
        return DeviceClaim(torch.device("cpu"))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        logger.info("CUDA_VISIBLE_DEVICES=%s set by the launcher: using cuda:0", visible)
        return DeviceClaim(torch.device("cuda", 0))
    if timeout is None:
        timeout = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    n = torch.cuda.device_count()
    slot = claim_slot(n, lock_dir=lock_dir, timeout=timeout)
    device = torch.device("cuda", slot.index)
    try:
        torch.cuda.set_device(device)  # so that bare .cuda() calls land there too
    except Exception:
        slot.release()
        raise
    logger.info("claimed cuda:%d of %d (lock %s)", slot.index, n, slot.path)
    claim = DeviceClaim(device, slot)
    _HELD.append(claim)
    return claim
