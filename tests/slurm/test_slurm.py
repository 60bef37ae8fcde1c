"""The Slurm profile against a real Slurm: the tiny study through workflow/profiles/slurm gives the
same recall table as a local run.

tests/slurm/start.sh brings up a private single-node Slurm (munged, slurmctld, slurmd; no
accounting; two fake GPUs as GRES) and tests/slurm/stop.sh stops it again. Needs root; installs
the Debian packages when missing (skipped when that is impossible). Every Snakemake run has a
hard timeout: on expiry its whole process group is killed and the test cluster's jobs cancelled,
so a job that pends forever fails the test instead of hanging CI.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.snakemake_runs import copy_workflow

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TINY = "tiny.yaml"  # where copy_workflow puts tests/workflow/tiny.yaml
STUDY = "tiny"
TIMEOUT_S = int(os.environ.get("RD_SLURM_TEST_TIMEOUT", "600"))
RUN_DIR = Path(os.environ.get("RD_SLURM_RUN_DIR", "/tmp/recall_distortion-slurm"))
SLURM_TOOLS = ("slurmctld", "slurmd", "sbatch", "munged")
KEYS = ["dataset", "model", "method", "ratio", "seed", "class"]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to run slurmd (and apt-get, mknod)"
    if not all(shutil.which(t) for t in SLURM_TOOLS) and not shutil.which("apt-get"):
        return "Slurm is not installed and there is no apt-get to install it"
    return None


@pytest.fixture(scope="module")
def slurm_env():
    """A running test Slurm; the environment to reach it. Stops it afterwards if it started it."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "RD_SLURM_RUN_DIR": str(RUN_DIR)}
    was_running = _running(env)
    proc = subprocess.run(
        ["bash", str(HERE / "start.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    if proc.returncode == 3:
        pytest.skip(f"could not install Slurm (apt unreachable?): {proc.stderr.strip()}")
    if proc.returncode == 4:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, f"start.sh failed:\n{proc.stdout}\n{proc.stderr}"
    env["SLURM_CONF"] = str(RUN_DIR / "slurm.conf")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    yield env
    if not was_running:
        subprocess.run(["bash", str(HERE / "stop.sh")], env=env, timeout=120)


def _running(env) -> bool:
    pids = [RUN_DIR / f"{d}.pid" for d in ("munged", "slurmctld", "slurmd")]
    return all(p.exists() and Path(f"/proc/{p.read_text().strip()}").exists() for p in pids)


def _snakemake(workdir: Path, args: list[str], env: dict, log: Path) -> None:
    """Run Snakemake in its own process group; on timeout kill the group and cancel the jobs."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [SNAKEMAKE, *args],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # SIGTERM is not enough: it waits for its jobs
            proc.wait()
            queue = ""
            if "SLURM_CONF" in env:
                fields = "JobID,Name:40,State,Reason,tres-per-job,NumCPUs,MinMemory"
                queue = subprocess.run(
                    ["squeue", "-O", fields], env=env, capture_output=True, text=True
                ).stdout
                subprocess.run(["scancel", "--user", "root"], env=env)
            pytest.fail(
                f"snakemake {' '.join(args)} ran past {TIMEOUT_S} s (killed).\n"
                f"Queue:\n{queue}\nLog tail:\n{_tail(log)}"
            )
    assert rc == 0, f"snakemake {' '.join(args)} failed ({rc}):\n{_tail(log)}"


def _tail(path: Path, n: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


def _sorted(path: Path, keys: list[str]) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values(keys).reset_index(drop=True)


def test_fake_gpus_reach_jobs(slurm_env):
    """The rig itself: a --gpus=1 job gets CUDA_VISIBLE_DEVICES, as on a real GPU node."""
    out = subprocess.run(
        ["srun", "--gpus=1", "printenv", "CUDA_VISIBLE_DEVICES"],
        env=slurm_env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in {"0", "1"}


def test_tiny_study_through_slurm_profile_matches_local_run(slurm_env, tiny_run, tmp_path):
    """``tiny_run`` (tests/conftest.py) is the same study run locally."""
    local = tiny_run
    cluster = copy_workflow(tmp_path / "slurm")
    log = tmp_path / "slurm.log"
    _snakemake(
        cluster,
        [
            "--profile", "workflow/profiles/slurm",
            "--configfile", TINY,
            # first status check after 2 s instead of 40: the tiny jobs take seconds
            "--slurm-init-seconds-before-status-checks", "2",
            "--slurm-no-account",  # no accounting, no accounts (spares the guessing)
            f"results/{STUDY}/alpha.parquet",  # the pipeline; the analysis adds nothing Slurm-specific
        ],
        slurm_env,
        log,
    )

    for table, keys in (("recall", KEYS), ("alpha", KEYS[:-1])):
        pd.testing.assert_frame_equal(
            _sorted(cluster / f"results/{STUDY}/{table}.parquet", keys),
            _sorted(local / f"results/{STUDY}/{table}.parquet", keys),
        )

    # The profile's bundling: one Slurm job per (dataset, model, seed group) chain, asking for one
    # GPU and the largest (not the sum) of its jobs' CPUs.
    text = log.read_text()
    chains = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*group_chain_", text)
    assert len(chains) == 2, text  # tiny.yaml: 2 seeds, seeds_per_job 1, one (dataset, model)
    for jobid in chains:
        info = subprocess.run(
            ["scontrol", "-o", "show", "job", jobid], env=slurm_env, capture_output=True, text=True
        ).stdout
        if info:  # finished jobs stay listed for MinJobAge (600 s in start.sh)
            assert "gres:gpu:1" in info and "NumCPUs=2 " in info, info
