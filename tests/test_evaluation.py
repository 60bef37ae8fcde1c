"""Tests for recall_distortion.evaluation: per-class recall/precision/F1 (section 4) by hand, the
test loss against an independent torch computation, and the recall-table schema."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from recall_distortion.evaluation import (
    PREDICTION_COLUMNS,
    RECALL_COLUMNS,
    compact_predictions,
    confusion_counts,
    evaluate,
    evaluate_with_predictions,
    per_class_metrics,
    predict,
    prediction_rows,
    recall_from_predictions,
    recall_rows,
)
from recall_distortion.pruning import count_parameters

# y_true / y_pred of a hand-made 3-class example:
#   class 0: support 3, predicted 2 times, TP 2 -> P = 1,   R = 2/3, F1 = 2*(1*2/3)/(1+2/3) = 4/5
#   class 1: support 2, predicted 2 times, TP 1 -> P = 1/2, R = 1/2, F1 = 1/2
#   class 2: support 4, predicted 5 times, TP 4 -> P = 4/5, R = 1,   F1 = 2*(4/5)/(9/5)   = 8/9
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2, 2, 2, 2])


def test_per_class_metrics_by_hand():
    frame = per_class_metrics(Y_TRUE, Y_PRED, 3)
    assert list(frame["class"]) == [0, 1, 2]
    assert list(frame["support"]) == [3, 2, 4]
    np.testing.assert_allclose(frame["recall"], [2 / 3, 1 / 2, 1.0], atol=1e-15)
    np.testing.assert_allclose(frame["precision"], [1.0, 1 / 2, 4 / 5], atol=1e-15)
    np.testing.assert_allclose(frame["f1"], [4 / 5, 1 / 2, 8 / 9], atol=1e-15)
    assert list(frame["note"]) == ["", "", ""]
    assert frame["class"].dtype == np.int64 and frame["support"].dtype == np.int64


def test_absent_class_recall_is_nan_and_flagged():
    frame = per_class_metrics(Y_TRUE, Y_PRED, 4)  # class 3: no samples, never predicted
    row = frame.iloc[3]
    assert row["support"] == 0
    assert math.isnan(row["recall"]) and math.isnan(row["precision"])
    assert row["note"] == "no test samples; never predicted"
    # A class with no test samples that the model does predict: recall NaN, precision 0.
    frame = per_class_metrics([0, 0, 1], [0, 2, 1], 3)
    row = frame.iloc[2]
    assert row["support"] == 0 and math.isnan(row["recall"]) and row["precision"] == 0.0
    assert row["note"] == "no test samples"
    # A class with samples that is never predicted: recall 0 (defined), precision NaN.
    frame = per_class_metrics([0, 0, 1], [0, 0, 0], 2)
    row = frame.iloc[1]
    assert row["recall"] == 0.0 and math.isnan(row["precision"]) and row["note"] == "never predicted"


def _linear_model():
    """3-class linear model on 2 features with hand-set weights (no zero entries)."""
    model = torch.nn.Linear(2, 3)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0], [0.5, 0.5]]))
        model.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    return model


# Logits W x + b for these inputs, argmax by hand:
#   (2, 0)   -> ( 2.1, -1.8,  0.7) -> 0
#   (0, 2)   -> (-1.9,  2.2,  0.7) -> 1
#   (1, 1)   -> ( 0.1,  0.2,  0.7) -> 2
#   (3, 0)   -> ( 3.1, -2.8,  1.2) -> 0
#   (0, -1)  -> ( 1.1, -0.8, -0.8) -> 0
X = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, 0.0], [0.0, -1.0]])
Y = np.array([0, 1, 0, 2, 0])  # correct: samples 0, 1, 4 -> accuracy 3/5


def test_predict_and_evaluate_tiny_linear_model():
    model = _linear_model()
    model.train()
    pred, loss = predict(model, X, Y, batch_size=2)  # batches of 2, 2, 1
    assert model.training  # mode restored
    assert pred.dtype == np.int64
    assert list(pred) == [0, 1, 2, 0, 0]
    logits = X @ model.weight.detach().T + model.bias.detach()
    expected_loss = F.cross_entropy(logits.double(), torch.as_tensor(Y)).item()
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    # and against a numpy log-softmax
    z = logits.double().numpy()
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-log_softmax[np.arange(5), Y].mean(), rel=1e-6)

    frame = evaluate(model, X, Y, 3, batch_size=2)
    assert list(frame.columns) == [
        "class", "support", "recall", "precision", "f1",
        "accuracy", "loss", "params_total", "params_nonzero", "note",
    ]
    assert (frame["accuracy"] == 3 / 5).all()
    assert frame["loss"].iloc[0] == pytest.approx(expected_loss, rel=1e-6)
    # class 0: support 3, TP 2 (samples 0, 4), predicted 3 times; class 1: 1/1; class 2: support 1, TP 0
    np.testing.assert_allclose(frame["recall"], [2 / 3, 1.0, 0.0])
    np.testing.assert_allclose(frame["precision"], [2 / 3, 1.0, 0.0])
    assert (frame["params_total"] == 9).all() and (frame["params_nonzero"] == 9).all()

    with torch.no_grad():  # prune two weights in place
        model.weight[0, 1] = 0.0
        model.weight[2, 0] = 0.0
    assert count_parameters(model) == (9, 7)
    frame = evaluate(model, X, Y, 3)
    assert (frame["params_total"] == 9).all() and (frame["params_nonzero"] == 7).all()


def test_evaluate_rejects_width_mismatch():
    with pytest.raises(ValueError, match="logits"):
        evaluate(_linear_model(), X, Y, 4)


def test_recall_rows_schema_and_dtypes():
    frame = evaluate(_linear_model(), X, Y, 3)
    dense = recall_rows(frame, dataset="digits", model="lenet5", method="dense", seed=3)
    pruned = recall_rows(frame, dataset="digits", model="lenet5", method="mp", ratio=4, seed=3)
    table = pd.concat([dense, pruned], ignore_index=True)
    assert tuple(table.columns) == RECALL_COLUMNS
    assert list(table.columns[:5]) == ["dataset", "model", "method", "ratio", "seed"]
    assert table.columns[-1] == "note"
    assert (dense["ratio"] == 1.0).all() and (pruned["ratio"] == 4.0).all()
    for column in ("seed", "class", "support", "params_total", "params_nonzero"):
        assert table[column].dtype == np.int64, column
    for column in ("ratio", "recall", "precision", "f1", "accuracy", "loss"):
        assert table[column].dtype == np.float64, column
    with pytest.raises(ValueError):
        recall_rows(frame, dataset="digits", model="lenet5", method="dense", ratio=2.0, seed=0)
    with pytest.raises(ValueError):
        recall_rows(frame, dataset="digits", model="lenet5", method="mp", seed=0)


def test_balanced_test_set_bbar_sums_to_zero_through_evaluate():
    """Corollary 4.1.1 on evaluate()'s output: a random linear model on a balanced test set."""
    from recall_distortion.metrics import normalized_recall_balance

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 5)
    x = torch.randn(50, 4)
    y = np.repeat(np.arange(5), 10)
    frame = evaluate(model, x, y, 5)
    bbar = normalized_recall_balance(frame["recall"], frame["accuracy"])
    assert abs(bbar.sum()) < 1e-12


def test_predictions_of_tiny_linear_model_by_hand():
    """One row per test example: the hand-computed argmax above and p_true = softmax(logits)[label]."""
    model = _linear_model()
    metrics, predictions = evaluate_with_predictions(model, X, Y, 3, batch_size=2)
    pd.testing.assert_frame_equal(metrics, evaluate(model, X, Y, 3))
    assert list(predictions.columns) == ["example", "label", "predicted", "p_true"]
    assert list(predictions["example"]) == [0, 1, 2, 3, 4]
    assert list(predictions["label"]) == list(Y)
    assert list(predictions["predicted"]) == [0, 1, 2, 0, 0]
    z = (X @ model.weight.detach().T + model.bias.detach()).double().numpy()
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(predictions["p_true"], softmax[np.arange(5), Y], rtol=1e-6)
    # the loss is the mean of -log p_true
    assert metrics["loss"].iloc[0] == pytest.approx(-np.log(softmax[np.arange(5), Y]).mean(), rel=1e-6)
    dtypes = {"example": np.int32, "label": np.int16, "predicted": np.int16, "p_true": np.float32}
    assert dict(predictions.dtypes) == dtypes


def test_prediction_rows_schema_and_concat():
    _, frame = evaluate_with_predictions(_linear_model(), X, Y, 3)
    dense = prediction_rows(frame, dataset="digits", model="lenet5", method="dense", seed=3)
    pruned = prediction_rows(frame, dataset="digits", model="lenet5", method="mp", ratio=4, seed=3)
    assert tuple(dense.columns) == PREDICTION_COLUMNS
    assert (dense["ratio"] == 1.0).all() and (pruned["ratio"] == 4.0).all()
    table = pd.concat([dense, pruned], ignore_index=True)
    assert table["method"].dtype != "category"  # different categories: pandas falls back to strings
    table = compact_predictions(table)
    assert list(table["method"].cat.categories) == ["dense", "mp"]
    assert table["seed"].dtype == np.int32 and table["ratio"].dtype == np.float64
    with pytest.raises(ValueError, match="ratio"):
        prediction_rows(frame, dataset="digits", model="lenet5", method="mp", seed=0)
    with pytest.raises(ValueError, match="lacks"):
        compact_predictions(table.drop(columns="p_true"))


def test_recall_from_predictions_equals_evaluate():
    """Recounting the predictions gives evaluate()'s (scikit-learn's) per-class table of every model,
    including a class with no test samples (recall NaN) and a class never predicted (precision NaN)."""
    torch.manual_seed(1)
    x = torch.randn(200, 4)
    y = np.random.default_rng(1).integers(0, 5, 200)  # class 5 of 6 has no samples
    recall, predictions = [], []
    for seed in (0, 1):
        model = torch.nn.Linear(4, 6)
        for method, ratio in (("dense", 1.0), ("mp", 2.0)):
            if method == "mp":
                with torch.no_grad():
                    model.weight[:, :2] = 0.0
                    model.bias[2] = -100.0  # class 2 is never predicted
            metrics, frame = evaluate_with_predictions(model, x, y, 6)
            key = dict(dataset="digits", model="lenet5", method=method, ratio=ratio, seed=seed)
            recall.append(recall_rows(metrics, **key))
            predictions.append(prediction_rows(frame, **key))
    recall = pd.concat(recall, ignore_index=True)
    predictions = compact_predictions(pd.concat(predictions, ignore_index=True))
    recomputed = recall_from_predictions(predictions, {"digits": 6})
    expected = recall[list(recomputed.columns)].sort_values(["dataset", "model", "method", "ratio", "seed", "class"])
    pd.testing.assert_frame_equal(recomputed, expected.reset_index(drop=True), check_exact=True)
    assert recomputed["recall"].isna().to_numpy().nonzero()[0].tolist() == [5, 11, 17, 23]  # class 5
    assert recomputed.query("method == 'mp' and `class` == 2")["precision"].isna().all()
    # without num_classes: 1 + the largest label or prediction (class 5 is predicted, so 6 again)
    pd.testing.assert_frame_equal(recall_from_predictions(predictions), recomputed)


def test_confusion_counts_by_hand():
    """Y_TRUE / Y_PRED above as one model's predictions, and a second model that is always right."""
    rows = [
        pd.DataFrame({"example": np.arange(9), "label": Y_TRUE, "predicted": pred, "p_true": 1.0})
        .assign(dataset="digits", model="lenet5", method="dense", ratio=1.0, seed=seed)
        for seed, pred in ((0, Y_PRED), (1, Y_TRUE))
    ]
    (dataset, keys, counts), = confusion_counts(compact_predictions(pd.concat(rows)))
    assert dataset == "digits" and list(keys["seed"]) == [0, 1]
    np.testing.assert_array_equal(counts[0], [[2, 1, 0], [0, 1, 1], [0, 0, 4]])
    np.testing.assert_array_equal(counts[1], np.diag([3, 2, 4]))
    (_, _, counts), = confusion_counts(compact_predictions(pd.concat(rows)), {"digits": 4})
    assert counts.shape == (2, 4, 4) and counts[:, 3].sum() == 0
