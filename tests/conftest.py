import pytest

from tests.snakemake_runs import copy_workflow, snakemake


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny study (2 seeds, 4 methods, 2 ratios, 1-2 epochs) run for real once per session;
    the workflow tests edit copies of it and the Slurm test compares against it."""
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny"))
    snakemake(workdir, "--configfile", "tiny.yaml", "--cores", "2")
    return workdir
