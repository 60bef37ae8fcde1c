"""The workflow through the real `snakemake` command: job counts, an end-to-end run, reruns."""

from __future__ import annotations

import math
import shutil
import subprocess

import pandas as pd
import yaml

from recall_distortion.evaluation import recall_from_predictions
from tests.snakemake_runs import REPO, SNAKEMAKE, copy_workflow, planned_jobs, snakemake

PIPELINE = ("prepare_data", "train_dense", "prune", "finetune", "evaluate", "aggregate")


def test_paper_config_plans_the_papers_grid(tmp_path):
    """8 (dataset, model) pairs x 30 seeds; 15 (pair, method) combinations x 30 seeds (section 6)."""
    counts = planned_jobs(copy_workflow(tmp_path), "--configfile", "config/paper.yaml")
    assert {rule: counts[rule] for rule in PIPELINE} == {
        "prepare_data": 4,  # mnist, fashion_mnist, cifar10, cifar100
        "train_dense": 8 * 30,  # 5 ResNets on CIFAR-10, LeNet5 x 2, ResNet-56 on CIFAR-100
        # ResNet-56/CIFAR-10: MP GP UP RP; ResNet-20/32/44/110: MP UP; MNIST, Fashion, CIFAR-100: MP
        "prune": (4 + 4 * 2 + 3) * 30,
        "finetune": (4 + 4 * 2 + 3) * 30,
        "evaluate": 8 * 30,
        "aggregate": 1,
    }


def test_paper_config_shares_dense_models_between_families():
    """ResNet-56/CIFAR-10 MP is pruned once at the union of its families' ratios."""
    from recall_distortion.config import experiments

    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    plan = {(e.dataset, e.model): e for e in experiments(config)}
    resnet56 = plan[("cifar10", "resnet56")]
    assert resnet56.methods == ("gp", "mp", "rp", "up")
    assert resnet56.ratios["mp"] == (2.0, 4.0, 6.0, 8.0, 10.0, 20.0, 50.0)
    assert resnet56.ratios["gp"] == (2.0, 4.0, 10.0, 20.0, 50.0)
    fine_tunes = sum(len(r) for e in plan.values() for r in e.ratios.values()) * 30
    assert fine_tunes == (20 + 4 * 10 + 3 * 5 + 2) * 30 == 2310


def test_tiny_study_writes_recall_and_alpha_tables(tiny_run):
    recall = pd.read_parquet(tiny_run / "results/tiny/recall.parquet")
    alpha = pd.read_parquet(tiny_run / "results/tiny/alpha.parquet")
    assert list(recall.columns[:14]) == [
        "dataset", "model", "method", "ratio", "seed", "class", "support", "recall", "precision", "f1",
        "accuracy", "loss", "params_total", "params_nonzero",
    ]
    # 2 seeds x (dense + 4 methods x 2 ratios) x 10 classes
    assert len(recall) == 2 * (1 + 4 * 2) * 10
    assert set(recall["method"]) == {"dense", "mp", "gp", "up", "rp"}
    assert recall.groupby(["method", "ratio", "seed"])["support"].sum().eq(360).all()
    pruned = recall[recall["method"] != "dense"]
    achieved = pruned["params_total"] / pruned["params_nonzero"]
    assert ((achieved - pruned["ratio"]).abs() < 0.01).all()

    assert {"dataset", "model", "method", "ratio", "seed", "alpha", "accuracy", "accuracy_dense"} <= set(alpha.columns)
    assert len(alpha) == 2 * 4 * 2
    assert alpha["alpha"].map(math.isfinite).all()

    # the predictions table: one row per model and test image; recounted, it gives back the recall table
    predictions = pd.read_parquet(tiny_run / "results/tiny/predictions.parquet")
    assert len(predictions) == 2 * (1 + 4 * 2) * 360
    recounted = recall_from_predictions(predictions)
    pd.testing.assert_frame_equal(recounted, recall[recounted.columns], check_exact=False, rtol=1e-12)


def _rerun_copy(tiny_run, tmp_path):
    """A copy of the finished tiny run (outputs and Snakemake's metadata, mtimes kept)."""
    target = tmp_path / "copy"
    shutil.copytree(tiny_run, target, symlinks=True)
    shutil.rmtree(target / ".snakemake" / "locks", ignore_errors=True)
    return target


def test_finished_study_has_nothing_to_rerun(tiny_run, tmp_path):
    assert planned_jobs(_rerun_copy(tiny_run, tmp_path), "--configfile", "tiny.yaml") == {}


def test_plotting_edit_reruns_only_figures(tiny_run, tmp_path):
    workdir = _rerun_copy(tiny_run, tmp_path)
    with open(workdir / "src/recall_distortion/analysis/figures.py", "a") as handle:
        handle.write("\n# an edit\n")
    counts = planned_jobs(workdir, "--configfile", "tiny.yaml")
    # the figures beyond α are saved through figures.py too
    assert set(counts) - {"all"} == {"analysis_figures", "analysis_forgetting_figures"}


def test_pruning_edit_reruns_pruning_and_downstream_not_training(tiny_run, tmp_path):
    workdir = _rerun_copy(tiny_run, tmp_path)
    with open(workdir / "src/recall_distortion/pruning.py", "a") as handle:
        handle.write("\n# an edit\n")
    counts = planned_jobs(workdir, "--configfile", "tiny.yaml")
    assert {rule: counts.get(rule, 0) for rule in PIPELINE} == {
        "prepare_data": 0, "train_dense": 0, "prune": 8, "finetune": 8, "evaluate": 2, "aggregate": 1,
    }


def test_finetune_hyperparameter_reruns_finetuning_and_downstream_only(tiny_run, tmp_path):
    workdir = _rerun_copy(tiny_run, tmp_path)
    config = yaml.safe_load((workdir / "tiny.yaml").read_text())
    config["models"]["lenet5"]["finetune"]["epochs"] = 2
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    counts = planned_jobs(workdir, "--configfile", "tiny.yaml")
    assert {rule: counts.get(rule, 0) for rule in PIPELINE} == {
        "prepare_data": 0, "train_dense": 0, "prune": 0, "finetune": 8, "evaluate": 2, "aggregate": 1,
    }


def test_adding_seeds_runs_only_the_new_seeds(tiny_run, tmp_path):
    workdir = _rerun_copy(tiny_run, tmp_path)
    counts = planned_jobs(workdir, "--configfile", "tiny.yaml", "--config", "seeds=3")
    assert {rule: counts.get(rule, 0) for rule in PIPELINE} == {
        "prepare_data": 0, "train_dense": 1, "prune": 4, "finetune": 4, "evaluate": 1, "aggregate": 1,
    }


def test_same_config_twice_gives_identical_recall_table(tiny_run, tmp_path):
    """On CPU every seed fixes everything: a second run reproduces recall.parquet exactly."""
    workdir = copy_workflow(tmp_path / "again")
    snakemake(workdir, "--configfile", "tiny.yaml", "--cores", "2", "results/tiny/recall.parquet")
    first = pd.read_parquet(tiny_run / "results/tiny/recall.parquet")
    second = pd.read_parquet(workdir / "results/tiny/recall.parquet")
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_report_builds_with_every_figure_and_table(tiny_run, tmp_path):
    workdir = _rerun_copy(tiny_run, tmp_path)
    snakemake(workdir, "--configfile", "tiny.yaml", "--report", "results/tiny/report.html")
    report = (workdir / "results/tiny/report.html").read_text(errors="replace")
    figures = sorted(p.stem for p in (workdir / "results/tiny/figures").glob("*.png"))
    # A method family gets Figures 1, 5 and 9 (section 6) and the three figures beyond α.
    assert figures == ["confusion_methods", "figure1_methods", "figure5_methods", "figure9_methods",
                       "pie_images_methods", "recall_change_methods"]
    tables = ["alpha_ci", "table4_methods", "table8_methods", "pie_methods", "class_tests_methods",
              "absorption_methods", "disparity_methods"]
    for name in figures + tables + ["summary"]:
        assert name in report, name


def test_lint_passes():
    result = subprocess.run([str(SNAKEMAKE), "--lint"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefiles_are_formatted_with_snakefmt():
    snakefmt = SNAKEMAKE.parent / "snakefmt"
    result = subprocess.run([str(snakefmt), "--check", "Snakefile", "workflow/rules"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_config_fails_before_any_job_runs(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = yaml.safe_load((workdir / "tiny.yaml").read_text())
    config["families"][0]["experiments"][0]["dataset"] = "digitz"
    (workdir / "bad.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [str(SNAKEMAKE), "--configfile", "bad.yaml", "--cores", "1"], cwd=workdir, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "unknown dataset 'digitz'; valid datasets: cifar10, cifar100, digits, fashion_mnist, mnist" in result.stderr
    assert not (workdir / "results").exists()
