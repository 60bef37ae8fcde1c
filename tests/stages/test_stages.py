"""Each workflow stage on its own, on real digits: what it writes, and what it refuses (section 3-6.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recall_distortion.collapse import mark_collapsed
from recall_distortion.evaluation import PREDICTION_COLUMNS, PREDICTION_DTYPES, recall_from_predictions
from recall_distortion.metrics import alpha_table
from recall_distortion.pruning import weights_to_remove
from recall_distortion.stages.aggregate import aggregate, aggregate_predictions
from recall_distortion.stages.data import prepare_data
from recall_distortion.stages.evaluate import evaluate
from recall_distortion.stages.files import CheckpointMismatch, load_checkpoint
from recall_distortion.stages.finetune import finetune
from recall_distortion.stages.prune import prune
from recall_distortion.stages.train import train_dense

HPARAMS = {"epochs": 1, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": False,
           "eval_batch_size": 1024, "schedule": {"name": "constant"}}
JOB = dict(dataset="digits", model="lenet5", input_size=16)  # 16 px: LeNet5's smallest input, the fastest
RATIOS = [2.0, 4.0]


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """Prepared digits, and a seed group (seeds 0 and 1) trained, pruned with MP and GP, and fine-tuned."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("group")
    data = root / "digits.npz"
    prepare_data(data, dataset="digits", val_fraction=0.1, split_seed=0)
    train_dense(data, root / "dense.pt", root / "dense_log.tsv", seeds=[0, 1], hparams=HPARAMS,
                resume_dir=root / ".resume", code="test", **JOB)
    for method in ("mp", "gp"):
        prune(data, root / "dense.pt", root / method / "masks.pt", method=method, ratios=RATIOS, **JOB)
        finetune(data, root / "dense.pt", root / method / "masks.pt", root / method / "finetuned.pt",
                 root / method / "finetune_log.tsv", method=method, hparams=HPARAMS, resume_dir=root / ".resume",
                 code="test", **JOB)
    return root


def test_prune_writes_self_describing_masks_with_the_exact_count(group):
    masks = load_checkpoint(group / "mp" / "masks.pt", **JOB, method="mp")
    dense = load_checkpoint(group / "dense.pt", **JOB)
    total = sum(t.numel() for name, t in dense["seeds"][0]["state"].items() if "running" not in name
                and "num_batches" not in name)
    for ratio in RATIOS:
        pruned = sum(int((~mask).sum()) for mask in masks["seeds"][1][ratio].values())
        assert pruned == weights_to_remove(total, ratio)  # section 4: t = total / (total - k)


def test_prune_applies_the_shrinkbench_convention(group, tmp_path):
    # LeNet5 at 16 px: 1 x 1 feature map; weights 150 + 2,400 + 1,920 + 10,080 = 14,550, their biases 226,
    # classifier 850, total 15,626. At 4x ShrinkBench keeps round(14,550 * (3,906.5 - 850) / 14,776) = 3,010.
    prune(group / "digits.npz", group / "dense.pt", tmp_path / "masks.pt", method="mp", ratios=[4.0],
          ratio_convention="shrinkbench", **JOB)
    masks = load_checkpoint(tmp_path / "masks.pt", **JOB, method="mp")["seeds"][0][4.0]
    assert sum(int(mask.sum()) for mask in masks.values()) == 3_010


def test_a_checkpoint_for_another_input_size_is_refused(group, tmp_path):
    with pytest.raises(CheckpointMismatch, match=r"input_size 16 \(expected 32\)"):
        prune(group / "digits.npz", group / "dense.pt", tmp_path / "masks.pt", dataset="digits", model="lenet5",
              input_size=32, method="mp", ratios=RATIOS)


def test_finetuned_weights_keep_their_masks(group):
    masks = load_checkpoint(group / "gp" / "masks.pt")
    tuned = load_checkpoint(group / "gp" / "finetuned.pt", **JOB, method="gp")
    for seed in (0, 1):
        for ratio in RATIOS:
            state = tuned["seeds"][seed][ratio]["state"]
            for name, keep in masks["seeds"][seed][ratio].items():
                assert torch.count_nonzero(state[name][~keep]) == 0, (seed, ratio, name)


def test_evaluate_labels_each_model_with_the_method_its_checkpoint_stores(group, tmp_path):
    evaluate(group / "digits.npz", group / "dense.pt", [group / "gp" / "finetuned.pt", group / "mp" / "finetuned.pt"],
             tmp_path / "recall.parquet", **JOB)
    recall = pd.read_parquet(tmp_path / "recall.parquet")
    assert recall.groupby("method")["ratio"].unique().map(sorted).to_dict() == {
        "dense": [1.0], "gp": RATIOS, "mp": RATIOS}
    assert len(recall) == 2 * (1 + 2 * len(RATIOS)) * 10
    achieved = recall["params_total"] / recall["params_nonzero"]
    assert ((achieved - recall["ratio"]).abs() < 1e-3).all()


def test_a_checkpoint_in_another_methods_folder_is_refused(group, tmp_path):
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "finetuned.pt").write_bytes((group / "mp" / "finetuned.pt").read_bytes())
    with pytest.raises(CheckpointMismatch, match=r"method 'mp' \(expected 'up'\)"):
        evaluate(group / "digits.npz", group / "dense.pt", [tmp_path / "up" / "finetuned.pt"],
                 tmp_path / "recall.parquet", **JOB)


def test_aggregate_writes_the_recall_table_and_its_alpha(group, tmp_path):
    evaluate(group / "digits.npz", group / "dense.pt", [group / "mp" / "finetuned.pt"], tmp_path / "g.parquet", **JOB)
    aggregate([tmp_path / "g.parquet"], tmp_path / "recall.parquet", tmp_path / "alpha.parquet", min_retained=0.5)
    recall = pd.read_parquet(tmp_path / "recall.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "alpha.parquet"), mark_collapsed(alpha_table(recall), recall))
    assert recall.equals(recall.sort_values(["dataset", "model", "method", "ratio", "seed", "class"], ignore_index=True))


def test_recall_table_equals_what_its_predictions_recompute(group, tmp_path):
    """The recall table and the predictions table come from one forward pass: recounting the predictions
    gives back support, recall, precision, F1 and accuracy (Hooker et al.'s per-example record)."""
    finetuned = [group / "mp" / "finetuned.pt", group / "gp" / "finetuned.pt"]
    evaluate(group / "digits.npz", group / "dense.pt", finetuned, tmp_path / "g.parquet", tmp_path / "gp.parquet", **JOB)
    aggregate_predictions([tmp_path / "gp.parquet"], tmp_path / "predictions.parquet")
    predictions = pd.read_parquet(tmp_path / "predictions.parquet")
    assert tuple(predictions.columns) == PREDICTION_COLUMNS
    assert {c: str(t) for c, t in predictions.dtypes.items()} == {c: str(pd.Series(dtype=t).dtype)
                                                                  for c, t in PREDICTION_DTYPES.items()}
    # 2 seeds x (dense + 2 methods x 2 ratios) models, each over the whole test split once
    with np.load(group / "digits.npz") as arrays:
        labels = arrays["y_test"]
    assert len(predictions) == 2 * (1 + 2 * len(RATIOS)) * labels.size
    per_model = predictions.groupby(["method", "ratio", "seed"], observed=True)
    assert per_model["example"].apply(lambda e: sorted(e) == list(range(labels.size))).all()
    assert (predictions["label"].to_numpy() == np.tile(labels, 2 * (1 + 2 * len(RATIOS)))).all()
    assert predictions["p_true"].between(0, 1).all()
    recall = pd.read_parquet(tmp_path / "g.parquet").sort_values(["dataset", "model", "method", "ratio", "seed", "class"],
                                                                  ignore_index=True)
    recounted = recall_from_predictions(predictions)
    pd.testing.assert_frame_equal(recounted, recall[recounted.columns], check_exact=False, rtol=1e-12)
