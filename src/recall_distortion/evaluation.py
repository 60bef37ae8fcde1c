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
:mod:`recall_distortion.metrics`. scikit-learn is imported lazily inside the functions because every
Snakemake job is a fresh process and import time adds up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from recall_distortion.columns import DENSE, MODEL_KEY
from recall_distortion.pruning import count_parameters

#: Per-class metric columns produced by :func:`per_class_metrics` (``note`` is moved last).
CLASS_COLUMNS = ("class", "support", "recall", "precision", "f1")
#: Model-level columns added by :func:`evaluate`.
MODEL_COLUMNS = ("accuracy", "loss", "params_total", "params_nonzero")
#: All columns of the recall table, in order.
RECALL_COLUMNS = tuple(MODEL_KEY) + CLASS_COLUMNS + MODEL_COLUMNS + ("note",)

NOTE_NO_SAMPLES = "no test samples"
NOTE_NEVER_PREDICTED = "never predicted"


def _forward(model: torch.nn.Module, x, y=None, batch_size: int = 1024):
    """Predicted labels (np.int64), mean cross-entropy (NaN without ``y``) and output width."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x = torch.as_tensor(x)
    n = x.shape[0]
    if y is not None:
        y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y, device=x.device).long()
        if y.shape[0] != n:
            raise ValueError(f"x has {n} samples but y has {y.shape[0]}")
    preds = []
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
                    loss_sum += float(
                        F.cross_entropy(logits.float(), y[start:start + batch_size], reduction="sum")
                    )
    finally:
        model.train(was_training)
    pred = torch.cat(preds).numpy().astype(np.int64) if preds else np.zeros(0, dtype=np.int64)
    loss = loss_sum / n if (y is not None and n > 0) else float("nan")
    return pred, loss, width


def predict(model: torch.nn.Module, x, y=None, *, batch_size: int = 1024) -> tuple[np.ndarray, float]:
    """Predicted labels and mean cross-entropy loss of ``model`` on ``x``.

    Runs in ``eval()`` mode under ``torch.no_grad()`` in batches of ``batch_size`` on whatever device
    ``x`` is on (the model must be there too); the model's previous train/eval mode is restored.
    Returns ``(y_pred, loss)``: ``y_pred`` is an int64 numpy array (argmax of the logits, first maximum
    on ties) and ``loss`` the mean cross-entropy over all samples, or NaN when ``y`` is not given.
    """
    pred, loss, _ = _forward(model, x, y, batch_size)
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


def evaluate(model: torch.nn.Module, x, y, num_classes: int, *, batch_size: int = 1024) -> pd.DataFrame:
    """Per-class test metrics of ``model``: one row per class, without the identifying columns.

    Columns: class, support, recall, precision, f1, accuracy, loss, params_total, params_nonzero,
    note (meanings in the module docstring). ``accuracy`` is scikit-learn's ``accuracy_score``,
    ``loss`` the mean cross-entropy. Add the identifying columns with :func:`recall_rows`.
    """
    from sklearn.metrics import accuracy_score

    y_np = (y.cpu().numpy() if torch.is_tensor(y) else np.asarray(y)).astype(np.int64, copy=False)
    if y_np.size == 0:
        raise ValueError("empty test set")
    pred, loss, width = _forward(model, x, y_np, batch_size)
    if width != num_classes:
        raise ValueError(f"model outputs {width} logits but num_classes is {num_classes}")
    frame = per_class_metrics(y_np, pred, num_classes)
    total, nonzero = count_parameters(model)
    frame["accuracy"] = float(accuracy_score(y_np, pred))
    frame["loss"] = float(loss)
    frame["params_total"] = np.int64(total)
    frame["params_nonzero"] = np.int64(nonzero)
    return frame[list(CLASS_COLUMNS + MODEL_COLUMNS + ("note",))]


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
    if method == DENSE:
        if ratio is None:
            ratio = 1.0
        if float(ratio) != 1.0:
            raise ValueError(f"the dense model has ratio 1.0, got {ratio}")
    elif ratio is None:
        raise ValueError(f"ratio is required for method {method!r}")
    missing = [c for c in CLASS_COLUMNS + MODEL_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    out = frame.copy()
    if "note" not in out.columns:
        out["note"] = ""
    n = len(out)
    out["dataset"] = pd.array([dataset] * n, dtype="str")
    out["model"] = pd.array([model] * n, dtype="str")
    out["method"] = pd.array([method] * n, dtype="str")
    out["ratio"] = np.full(n, float(ratio), dtype=np.float64)
    out["seed"] = np.full(n, int(seed), dtype=np.int64)
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
