"""Per-class test metrics of one model as a long-format table (paper sections 4 and 6.2).

Every evaluated model -- the dense model before pruning and each pruned, fine-tuned model -- is run
once over the test set; the result is one row per class. Stacking these rows over all models gives
the project's recall table (``recall.parquet``), whose columns are, in this order:

==================  =========  ==========================================================================
column              dtype      meaning
==================  =========  ==========================================================================
``dataset``         str        dataset name (``data.DATASETS`` key, e.g. ``"cifar10"``)
``model``           str        architecture name (``models.MODELS`` key, e.g. ``"resnet56"``)
``method``          str        pruning method ``"mp"``, ``"gp"``, ``"up"``, ``"rp"``; ``"dense"`` before
                               pruning
``ratio``           float64    compression ratio t = parameters before / parameters after pruning
                               (section 4); 1.0 for the dense model
``seed``            int64      training seed: identifies the model m; a pruned model shares the seed of
                               the dense model it was pruned from
``class``           int64      class label c, 0 .. num_classes - 1; every class has a row, even one with
                               no test samples
``support``         int64      number of test samples of class c
``recall``          float64    R^c (section 4): correct predictions of c / test samples of c. NaN when
                               support is 0 (undefined, never reported as 0)
``precision``       float64    P^c (section 4): correct predictions of c / predictions of c. NaN when the
                               model never predicts c
``f1``              float64    harmonic mean of recall and precision (section 4), as scikit-learn's
                               ``precision_recall_fscore_support`` computes it: 2 TP / (2 TP + FP + FN),
                               so 0 when TP = 0 and FP + FN > 0, NaN when TP + FP + FN = 0
``accuracy``        float64    A (section 4): correct predictions / test samples, same on every row of
                               one model
``loss``            float64    mean cross-entropy of the model over the test set, same on every row
``params_total``    int64      number of entries of all parameters (``model.parameters()``), including
                               the never-pruned classifier and biases
``params_nonzero``  int64      number of nonzero entries among them (what pruning removed is 0)
``note``            str        ``""`` normally; ``"no test samples"`` when support is 0 (recall
                               undefined), ``"never predicted"`` when the model predicts no sample as c
                               (precision undefined); both joined by ``"; "`` when both apply
==================  =========  ==========================================================================

The metrics defined from this table (recall balance, normalized recall balance, alpha) live in
:mod:`recall_distortion.metrics`.

The same forward pass also gives the model's **predictions table**: one row per test example, the
per-example record that Hooker et al. 2019 ("What do compressed deep neural networks forget?",
section 3) need for pruning-identified exemplars and the confusion analyses of
:mod:`recall_distortion.analysis`. Its columns (:data:`PREDICTION_COLUMNS`), with compact dtypes
(:func:`compact_predictions`) because a study has one row per model and test image:

===============  ==========  ======================================================================
column           dtype       meaning
===============  ==========  ======================================================================
``dataset``      category    as in the recall table
``model``        category    as in the recall table
``method``       category    as in the recall table (``"dense"`` before pruning)
``ratio``        float64     as in the recall table (1.0 for the dense model)
``seed``         int32       as in the recall table
``example``      int32       index of the image in the test split (0 .. n - 1, the split's order)
``label``        int16       its true class c
``predicted``    int16       the model's predicted class (argmax of the logits, first maximum on ties)
``p_true``       float32     softmax probability of the true class, exp(log_softmax(logits))[label]
===============  ==========  ======================================================================

:func:`recall_from_predictions` recomputes the recall table's support, recall, precision, F1 and
accuracy from it (so ``recall.parquet`` can be checked against the predictions). scikit-learn is imported lazily inside the functions because every
Snakemake job is a fresh process and import time adds up.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from recall_distortion.columns import DENSE, MODEL_KEY, require_columns
from recall_distortion.pruning import count_parameters

#: Per-class metric columns produced by :func:`per_class_metrics` (``note`` is moved last).
CLASS_COLUMNS = ("class", "support", "recall", "precision", "f1")
#: Model-level columns added by :func:`evaluate`.
MODEL_COLUMNS = ("accuracy", "loss", "params_total", "params_nonzero")
#: All columns of the recall table, in order.
RECALL_COLUMNS = tuple(MODEL_KEY) + CLASS_COLUMNS + MODEL_COLUMNS + ("note",)
#: Per-example columns produced by :func:`evaluate_with_predictions`.
EXAMPLE_COLUMNS = ("example", "label", "predicted", "p_true")
#: All columns of the predictions table, in order (module docstring).
PREDICTION_COLUMNS = tuple(MODEL_KEY) + EXAMPLE_COLUMNS
#: Compact dtypes of the predictions table: 25.5 M rows for config/paper.yaml (README).
PREDICTION_DTYPES = {
    "dataset": "category",
    "model": "category",
    "method": "category",
    "ratio": np.float64,
    "seed": np.int32,
    "example": np.int32,
    "label": np.int16,
    "predicted": np.int16,
    "p_true": np.float32,
}

NOTE_NO_SAMPLES = "no test samples"
NOTE_NEVER_PREDICTED = "never predicted"


def _forward(model: torch.nn.Module, x, y=None, batch_size: int = 1024):
    """One pass over ``x``: predicted labels (np.int64), p_true (np.float32, None without ``y``),
    mean cross-entropy (NaN without ``y``) and output width.

    Each batch's logits become log-probabilities once; the prediction is their argmax, the loss their
    negative log-likelihood (what ``F.cross_entropy`` computes) and p_true the exponential of the
    true class's log-probability.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x = torch.as_tensor(x)
    n = x.shape[0]
    if y is not None:
        y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y, device=x.device).long()
        if y.shape[0] != n:
            raise ValueError(f"x has {n} samples but y has {y.shape[0]}")
    preds, p_true = [], []
    loss_sum = 0.0
    width = None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, n, batch_size):
                logits = model(x[start:start + batch_size])
                width = logits.shape[1]
                preds.append(logits.argmax(dim=1).cpu())
                if y is not None:
                    target = y[start:start + batch_size]
                    log_p = F.log_softmax(logits.float(), dim=1)
                    loss_sum += float(F.nll_loss(log_p, target, reduction="sum"))
                    p_true.append(log_p.gather(1, target[:, None])[:, 0].exp().cpu())
    finally:
        model.train(was_training)
    pred = torch.cat(preds).numpy().astype(np.int64) if preds else np.zeros(0, dtype=np.int64)
    if y is None:
        return pred, None, float("nan"), width
    probability = torch.cat(p_true).numpy().astype(np.float32) if p_true else np.zeros(0, dtype=np.float32)
    loss = loss_sum / n if n > 0 else float("nan")
    return pred, probability, loss, width


def predict(model: torch.nn.Module, x, y=None, *, batch_size: int = 1024) -> tuple[np.ndarray, float]:
    """Predicted labels and mean cross-entropy loss of ``model`` on ``x``.

    Runs in ``eval()`` mode under ``torch.no_grad()`` in batches of ``batch_size`` on whatever device
    ``x`` is on (the model must be there too); the model's previous train/eval mode is restored.
    Returns ``(y_pred, loss)``: ``y_pred`` is an int64 numpy array (argmax of the logits, first maximum
    on ties) and ``loss`` the mean cross-entropy over all samples, or NaN when ``y`` is not given.
    """
    pred, _, loss, _ = _forward(model, x, y, batch_size)
    return pred, loss


def per_class_metrics(y_true, y_pred, num_classes: int) -> pd.DataFrame:
    """One row per class 0 .. num_classes - 1: class, support, recall, precision, f1, note.

    Computed by scikit-learn's ``precision_recall_fscore_support`` with explicit
    ``labels=range(num_classes)`` (so absent classes still get a row) and ``zero_division=np.nan``:
    an undefined ratio is NaN, never 0. A class with no test samples has recall NaN and ``note``
    ``"no test samples"``; a class never predicted has precision NaN and ``note`` ``"never predicted"``
    (see the module docstring for the full column list).
    """
    from sklearn.metrics import precision_recall_fscore_support

    y_true = np.asarray(y_true).astype(np.int64, copy=False)
    y_pred = np.asarray(y_pred).astype(np.int64, copy=False)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal 1-d shapes")
    if y_true.size and (y_true.min() < 0 or y_true.max() >= num_classes):
        raise ValueError(f"labels outside 0..{num_classes - 1}")
    labels = list(range(num_classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=np.nan
    )
    predicted = np.bincount(y_pred[(y_pred >= 0) & (y_pred < num_classes)], minlength=num_classes)
    support = np.asarray(support, dtype=np.int64)
    notes = []
    for c in labels:
        parts = []
        if support[c] == 0:
            parts.append(NOTE_NO_SAMPLES)
        if predicted[c] == 0:
            parts.append(NOTE_NEVER_PREDICTED)
        notes.append("; ".join(parts))
    return pd.DataFrame(
        {
            "class": np.arange(num_classes, dtype=np.int64),
            "support": support,
            "recall": np.asarray(recall, dtype=np.float64),
            "precision": np.asarray(precision, dtype=np.float64),
            "f1": np.asarray(f1, dtype=np.float64),
            "note": pd.array(notes, dtype="str"),
        }
    )


def evaluate_with_predictions(
    model: torch.nn.Module, x, y, num_classes: int, *, batch_size: int = 1024
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-class test metrics of ``model`` and its per-example predictions, from one forward pass.

    Returns ``(metrics, predictions)``: ``metrics`` is :func:`evaluate`'s table; ``predictions`` has
    one row per test example with columns example, label, predicted, p_true (module docstring).
    Add the identifying columns with :func:`recall_rows` and :func:`prediction_rows`.
    """
    from sklearn.metrics import accuracy_score

    y_np = (y.cpu().numpy() if torch.is_tensor(y) else np.asarray(y)).astype(np.int64, copy=False)
    if y_np.size == 0:
        raise ValueError("empty test set")
    pred, p_true, loss, width = _forward(model, x, y_np, batch_size)
    if width != num_classes:
        raise ValueError(f"model outputs {width} logits but num_classes is {num_classes}")
    frame = per_class_metrics(y_np, pred, num_classes)
    total, nonzero = count_parameters(model)
    frame["accuracy"] = float(accuracy_score(y_np, pred))
    frame["loss"] = float(loss)
    frame["params_total"] = np.int64(total)
    frame["params_nonzero"] = np.int64(nonzero)
    predictions = pd.DataFrame(
        {
            "example": np.arange(y_np.size, dtype=np.int32),
            "label": y_np.astype(np.int16),
            "predicted": pred.astype(np.int16),
            "p_true": p_true,
        }
    )
    return frame[list(CLASS_COLUMNS + MODEL_COLUMNS + ("note",))], predictions


def evaluate(model: torch.nn.Module, x, y, num_classes: int, *, batch_size: int = 1024) -> pd.DataFrame:
    """Per-class test metrics of ``model``: one row per class, without the identifying columns.

    Columns: class, support, recall, precision, f1, accuracy, loss, params_total, params_nonzero,
    note (meanings in the module docstring). ``accuracy`` is scikit-learn's ``accuracy_score``,
    ``loss`` the mean cross-entropy. Add the identifying columns with :func:`recall_rows`.
    """
    return evaluate_with_predictions(model, x, y, num_classes, batch_size=batch_size)[0]


def model_key(*, dataset: str, model: str, method: str, seed: int, ratio: float | None = None) -> dict:
    """The key columns of one evaluated model as a dict (MODEL_KEY order).

    The dense model has ``method="dense"`` and ``ratio=1.0`` (``ratio`` may be omitted for it); a
    pruned model needs its compression ratio.
    """
    if method == DENSE:
        if ratio is None:
            ratio = 1.0
        if float(ratio) != 1.0:
            raise ValueError(f"the dense model has ratio 1.0, got {ratio}")
    elif ratio is None:
        raise ValueError(f"ratio is required for method {method!r}")
    return {"dataset": dataset, "model": model, "method": method, "ratio": float(ratio), "seed": int(seed)}


def recall_rows(
    frame: pd.DataFrame,
    *,
    dataset: str,
    model: str,
    method: str,
    seed: int,
    ratio: float | None = None,
) -> pd.DataFrame:
    """``frame`` from :func:`evaluate` with the identifying columns prepended, in recall-table order.

    The dense model has ``method="dense"`` and ``ratio=1.0`` (``ratio`` may be omitted for it);
    a pruned model needs its compression ratio. dtypes: ratio float64, seed/class/support int64.
    """
    key = model_key(dataset=dataset, model=model, method=method, seed=seed, ratio=ratio)
    require_columns(frame, CLASS_COLUMNS + MODEL_COLUMNS, "per-class metrics")
    out = frame.copy()
    if "note" not in out.columns:
        out["note"] = ""
    n = len(out)
    for column in ("dataset", "model", "method"):
        out[column] = pd.array([key[column]] * n, dtype="str")
    out["ratio"] = np.full(n, key["ratio"], dtype=np.float64)
    out["seed"] = np.full(n, key["seed"], dtype=np.int64)
    out = out[list(RECALL_COLUMNS)]
    return out.astype(
        {
            "class": np.int64,
            "support": np.int64,
            "recall": np.float64,
            "precision": np.float64,
            "f1": np.float64,
            "accuracy": np.float64,
            "loss": np.float64,
            "params_total": np.int64,
            "params_nonzero": np.int64,
            "note": "str",
        }
    ).reset_index(drop=True)


def compact_predictions(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` in predictions-table column order with the compact dtypes of :data:`PREDICTION_DTYPES`.

    Call it again after ``pd.concat`` of several models' predictions: concatenating categoricals
    with different categories gives plain strings, which this turns back into categories.
    """
    require_columns(table, PREDICTION_COLUMNS, "predictions")
    return table[list(PREDICTION_COLUMNS)].astype(PREDICTION_DTYPES)


def prediction_rows(frame: pd.DataFrame, **key) -> pd.DataFrame:
    """``frame`` (predictions of :func:`evaluate_with_predictions`) with the model's key prepended.

    ``key``: dataset, model, method, seed and ratio, as :func:`recall_rows` takes them
    (:func:`model_key`); dtypes those of :data:`PREDICTION_DTYPES`.
    """
    require_columns(frame, EXAMPLE_COLUMNS, "per-example predictions")
    return compact_predictions(frame.assign(**model_key(**key))).reset_index(drop=True)


def confusion_counts(predictions: pd.DataFrame, num_classes: Mapping[str, int] | None = None):
    """Per dataset of a predictions table: ``(dataset, keys, counts)``, the confusion matrices of its models.

    ``keys`` holds one row per model (dataset, model, method, ratio, seed, as categories or strings),
    sorted; ``counts[m, c, p]`` (int64, shape models x k x k) is how many test examples of true class
    c model m predicts as p. ``num_classes`` maps a dataset to its number of classes k; by default
    1 + the largest label or prediction of the dataset. Yields datasets in sorted order.
    """
    require_columns(predictions, MODEL_KEY + ["label", "predicted"], "predictions")
    if predictions.empty:
        raise ValueError("empty predictions table")
    for dataset, part in predictions.groupby("dataset", observed=True, sort=True):
        label = part["label"].to_numpy(np.int64)
        pred = part["predicted"].to_numpy(np.int64)
        k = int(num_classes[dataset]) if num_classes is not None else 1 + int(max(label.max(), pred.max()))
        if label.min() < 0 or pred.min() < 0 or max(label.max(), pred.max()) >= k:
            raise ValueError(f"{dataset}: labels or predictions outside 0..{k - 1}")
        grouped = part.groupby(MODEL_KEY, observed=True, sort=True)
        keys = grouped.size().index.to_frame(index=False)
        flat = (grouped.ngroup().to_numpy(np.int64) * k + label) * k + pred
        yield dataset, keys, np.bincount(flat, minlength=len(keys) * k * k).reshape(len(keys), k, k)


def recall_from_predictions(predictions: pd.DataFrame, num_classes: Mapping[str, int] | None = None) -> pd.DataFrame:
    """The recall table's per-class columns recomputed from a predictions table (section 4).

    One row per (model, class) with columns dataset, model, method, ratio, seed, class, support,
    recall, precision, f1, accuracy, in the recall table's dtypes and sorted by model key and class,
    so that it equals those columns of ``recall.parquet``. Counted from the confusion matrices of
    :func:`confusion_counts` (no scikit-learn): R^c = TP / support, P^c = TP / predicted (NaN when
    the denominator is 0), F1 = 2 TP / (support + predicted) (NaN when both are 0), A = Σ TP / n.
    ``num_classes`` as in :func:`confusion_counts`.
    """
    parts = []
    for _, keys, counts in confusion_counts(predictions, num_classes):
        k = counts.shape[1]
        support = counts.sum(axis=2).ravel()
        predicted = counts.sum(axis=1).ravel()
        tp = np.diagonal(counts, axis1=1, axis2=2)
        accuracy = tp.sum(axis=1) / counts.sum(axis=(1, 2))
        tp = tp.ravel()
        out = keys.loc[keys.index.repeat(k)].reset_index(drop=True)
        out["class"] = np.tile(np.arange(k, dtype=np.int64), len(keys))
        out["support"] = support
        with np.errstate(divide="ignore", invalid="ignore"):
            out["recall"] = np.where(support > 0, tp / support, np.nan)
            out["precision"] = np.where(predicted > 0, tp / predicted, np.nan)
            out["f1"] = np.where(support + predicted > 0, 2 * tp / (support + predicted), np.nan)
        out["accuracy"] = np.repeat(accuracy, k)
        parts.append(out)
    columns = list(MODEL_KEY) + ["class", "support", "recall", "precision", "f1", "accuracy"]
    table = pd.concat(parts, ignore_index=True).astype(
        {"dataset": "str", "model": "str", "method": "str", "ratio": np.float64, "seed": np.int64}
    )
    return table[columns].sort_values(MODEL_KEY + ["class"], kind="stable").reset_index(drop=True)
