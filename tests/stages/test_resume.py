"""A killed group job loses nothing and resumes to bitwise the same weights (reliability issue)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from recall_distortion.stages.data import prepare_data
from recall_distortion.stages.train import train_dense
from tests.configs import complete_hparams

HPARAMS = complete_hparams({"epochs": 25, "batch_size": 128, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
                    "schedule": {"name": "constant"}})
JOB = dict(dataset="digits", model="lenet5", seeds=[0, 1], input_size=32, hparams=HPARAMS, code="test")

KILLABLE = """
import sys, torch
torch.set_num_threads(1)
from recall_distortion.stages.train import train_dense
data, checkpoint, log, resume = sys.argv[1:]
train_dense(data, checkpoint, log, resume_dir=resume, **{job!r})
"""


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    prepare_data(path, dataset="digits", val_fraction=0.1, split_seed=0)
    return path


def test_sigkilled_training_job_resumes_to_identical_weights(digits, tmp_path):
    torch.set_num_threads(1)
    train_dense(digits, tmp_path / "reference.pt", tmp_path / "reference.tsv", resume_dir=tmp_path / "r0", **JOB)

    checkpoint, resume = tmp_path / "dense.pt", tmp_path / "resume"
    script = KILLABLE.format(job=JOB)
    job = subprocess.Popen([sys.executable, "-c", script, str(digits), str(checkpoint), str(tmp_path / "log.tsv"), str(resume)])
    deadline = time.time() + 120
    # Kill once seed 0 is finished and seed 1 has saved at least one epoch of state.
    while not any(resume.rglob("seed1.state.pt")):
        assert job.poll() is None, "the job finished before it could be killed; make it longer"
        assert time.time() < deadline
        time.sleep(0.01)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()

    assert not checkpoint.exists(), "a killed job must not leave an output Snakemake would take as complete"
    assert any(resume.rglob("seed0.pt")), "the finished seed survives the kill"
    train_dense(digits, checkpoint, tmp_path / "log.tsv", resume_dir=resume, **JOB)

    reference, resumed = torch.load(tmp_path / "reference.pt"), torch.load(checkpoint)
    for seed in (0, 1):
        assert reference["seeds"][seed]["best_epoch"] == resumed["seeds"][seed]["best_epoch"]
        for name, tensor in reference["seeds"][seed]["state"].items():
            assert torch.equal(tensor, resumed["seeds"][seed]["state"][name]), (seed, name)
    assert (tmp_path / "reference.tsv").read_text().count("\n") == (tmp_path / "log.tsv").read_text().count("\n")
    assert not any(resume.rglob("*.pt")), "scratch state is removed once the job succeeds"
