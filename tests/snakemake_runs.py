"""Running the real `snakemake` command on copies of the workflow (shared by tests/workflow and tests/slurm)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
TINY = REPO / "tests" / "workflow" / "tiny.yaml"


def copy_workflow(target: Path) -> Path:
    """Copy what the DAG depends on (Snakefile, workflow/, config/, envs/, src/) so tests may edit it.

    Jobs still import the installed package; the copied src/ only feeds the code hashes that decide
    what reruns, which is what the rerun tests edit.
    """
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "Snakefile", target / "Snakefile")
    for folder in ("workflow", "config", "envs", "src"):
        shutil.copytree(REPO / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy2(TINY, target / "tiny.yaml")
    return target


def snakemake(workdir: Path, *args: str, timeout: float = 600, env: dict | None = None) -> str:
    """Run snakemake in ``workdir``; fail the test with its output if it fails."""
    result = subprocess.run(
        [str(SNAKEMAKE), *args], cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env
    )
    if result.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule of a dry run (the 'Job stats' table); {} when there is nothing to do."""
    output = snakemake(workdir, "-n", "--quiet", "rules", *args)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", output, flags=re.MULTILINE))
    counts.pop("total", None)
    return {rule: int(n) for rule, n in counts.items()}
