"""Nothing lost when a long job is killed: finished units and the current epoch survive in a scratch folder.

A group job trains several models one after the other. Each finished model is kept under
``<resume_dir>/<tag>/<unit>.pt`` and the running one checkpoints every epoch to ``<unit>.state.pt``
(see ``training.train``). A rerun of the job skips finished units and resumes the running one from
its last epoch, giving bit-identical results on CPU. The tag hashes the job's code version and
hyper-parameters, so a rerun after an edit never resumes from stale state. Snakemake never sees these
files as outputs: the job's real outputs are written atomically at the very end.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Callable

import torch

from recall_distortion.atomic import save_torch


class ResumeDir:
    """Scratch space of one job, keyed by everything the job computes from (seeds included: group jobs
    run side by side); removed when the job succeeds."""

    def __init__(self, root, *, job: str, **fingerprint):
        tag = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:12]
        self.path = Path(root) / job / tag

    def state_path(self, unit: str) -> Path:
        """Per-epoch training state of ``unit`` (written and deleted by ``training.train``)."""
        return self.path / f"{unit}.state.pt"

    def result(self, unit: str, compute: Callable[[], dict]) -> dict:
        """``compute()``'s result for ``unit``, computed once even across killed and rerun jobs."""
        done = self.path / f"{unit}.pt"
        if done.exists():
            return torch.load(done, map_location="cpu", weights_only=False)
        result = compute()
        save_torch(result, done)
        return result

    def clear(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
