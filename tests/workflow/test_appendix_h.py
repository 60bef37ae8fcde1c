"""Appendix H through the real `snakemake` command: the LTH chain and channel pruning of a tiny study."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import torch
import yaml

from recall_distortion.iterative import level_ratio
from recall_distortion.models import build_model
from recall_distortion.structured import parameters_after, proportions_for
from tests.snakemake_runs import REPO, copy_workflow, planned_jobs, snakemake

CONFIG = "appendix_h_tiny.yaml"
RESULTS = "results/appendix_h_tiny"
LENET = f"{RESULTS}/digits/lenet5"


@pytest.fixture(scope="module")
def appendix_h_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("appendix_h"))
    shutil.copy2(REPO / "tests" / "workflow" / CONFIG, workdir / CONFIG)
    snakemake(workdir, "--configfile", CONFIG, "--cores", "2")
    return workdir


def _copy(run, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(run, target, symlinks=True)
    shutil.rmtree(target / ".snakemake" / "locks", ignore_errors=True)
    return target


def _level(run, group, level):
    return torch.load(run / f"{LENET}/seeds{group}/lth/level{level}.pt", weights_only=False)


def test_chain_masks_are_nested_and_hit_the_level_ratios(appendix_h_run):
    """Each level keeps a subset of the previous level's weights; the recall table's whole-model ratio
    (params_total / params_nonzero) is 1.25^ℓ to one weight, and the level's weights really are zero."""
    recall = pd.read_parquet(appendix_h_run / f"{RESULTS}/recall.parquet")
    for group, seed in (("0-0", 0), ("1-1", 1)):
        one, two = (_level(appendix_h_run, group, level)["seeds"][seed] for level in (1, 2))
        (m1,), (m2,) = one.values(), two.values()
        for name in m1["masks"]:
            assert not (m2["masks"][name] & ~m1["masks"][name]).any()  # nested
            assert (m2["state"][name][~m2["masks"][name]] == 0).all()
        assert sum(int((~m).sum()) for m in m2["masks"].values()) > sum(int((~m).sum()) for m in m1["masks"].values())
    lth = recall[recall["method"] == "lth"].drop_duplicates(["ratio", "seed"])
    assert sorted(set(lth["ratio"])) == [level_ratio(1), level_ratio(2)]
    for row in lth.itertuples():
        assert abs(row.params_total / row.ratio - row.params_nonzero) <= 1


def test_structured_models_are_smaller_by_the_planned_arithmetic(appendix_h_run):
    """Evaluate rebuilt the smaller ResNet-20s: their parameter count is structured.parameters_after."""
    recall = pd.read_parquet(appendix_h_run / f"{RESULTS}/recall.parquet")
    net = build_model("resnet20", 10, 1, 16)
    rows = recall[recall["model"] == "resnet20"].drop_duplicates(["method", "ratio", "seed"])
    assert set(rows["method"]) == {"dense", "chip", "l1"}
    for row in rows[rows["method"] != "dense"].itertuples():
        assert row.params_total == row.params_nonzero == parameters_after(net, proportions_for(net, row.ratio))
    table = pd.read_csv(appendix_h_run / f"{RESULTS}/tables/table13_chip.csv")
    pruned = table[table["ratio"] > 1]
    dense_total = int(rows.loc[rows["method"] == "dense", "params_total"].iloc[0])
    for row in pruned.itertuples():
        assert row.achieved_ratio == pytest.approx(
            dense_total / parameters_after(net, proportions_for(net, row.ratio)), rel=1e-12)
    assert (appendix_h_run / f"{RESULTS}/figures/accuracy_alpha_chip.png").stat().st_size > 0


def test_adding_levels_runs_only_the_new_levels(appendix_h_run, tmp_path):
    workdir = _copy(appendix_h_run, tmp_path)
    config = yaml.safe_load((workdir / CONFIG).read_text())
    config["families"][0]["levels"] = 3
    (workdir / CONFIG).write_text(yaml.safe_dump(config))
    counts = planned_jobs(workdir, "--configfile", CONFIG)
    assert {rule: counts.get(rule, 0) for rule in ("train_dense", "rewind_point", "lth_level", "structured", "evaluate")} \
        == {"train_dense": 0, "rewind_point": 0, "lth_level": 2, "structured": 0, "evaluate": 2}


def test_killed_chain_resumes_at_its_level_and_equals_the_uninterrupted_one(appendix_h_run, tmp_path):
    """A run killed during level 2 (level 2 and everything after it missing) reruns level 2 only, and gets
    the same weights."""
    workdir = _copy(appendix_h_run, tmp_path)
    for name in ("lth/level2.pt", "lth/level2_log.tsv", "recall.parquet", "predictions.parquet"):
        (workdir / f"{LENET}/seeds0-0/{name}").unlink()
    for name in ("recall.parquet", "alpha.parquet", "predictions.parquet"):
        (workdir / f"{RESULTS}/{name}").unlink()
    counts = planned_jobs(workdir, "--configfile", CONFIG)
    assert {rule: counts.get(rule, 0) for rule in ("train_dense", "rewind_point", "lth_level", "structured", "evaluate")} \
        == {"train_dense": 0, "rewind_point": 0, "lth_level": 1, "structured": 0, "evaluate": 1}
    snakemake(workdir, "--configfile", CONFIG, "--cores", "2", f"{LENET}/seeds0-0/lth/level2.pt")
    again, before = (_level(run, "0-0", 2)["seeds"][0] for run in (workdir, appendix_h_run))
    (a,), (b,) = again.values(), before.values()
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in b["state"])
    assert all(torch.equal(a["masks"][k], b["masks"][k]) for k in b["masks"])


def test_paper_config_plans_appendix_h(tmp_path):
    """Appendix H: 10 LTH chains of 20 levels, 15 CHIP runs (one job per seed, every ratio in it)."""
    counts = planned_jobs(copy_workflow(tmp_path), "--configfile", "config/paper.yaml")
    assert {rule: counts[rule] for rule in ("rewind_point", "lth_level", "structured")} == {
        "rewind_point": 10, "lth_level": 10 * 20, "structured": 15}
