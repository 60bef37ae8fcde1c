"""Mean confusion matrices of the dense and pruned populations, and where pruning's new errors go.

Hooker et al. 2019 ("What do compressed deep neural networks forget?", section 3) and Tran et al.
(NeurIPS 2022, "Pruning has a disparate impact on model accuracy") look at which classes pruning
hurts; the confusion matrix also says which classes the lost examples are predicted as. A cell's
matrix is the mean over its models (seeds) of each model's confusion matrix normalized by row (true
class c): rate[c, p] = fraction of the test examples of class c predicted as p, so the diagonal is
recall R^c (paper section 4). A row with no test examples is NaN.

Long tables, one row per (cell, true, predicted) -- the dense model is the cell (method "dense",
ratio 1.0):

- :func:`mean_confusion`: CELL_KEY, ``true``, ``predicted``, ``rate`` (mean over seeds), ``n_models``.
- :func:`confusion_change`: per pruned cell, ``rate_dense``, ``rate_pruned`` and ``change`` = pruned -
  dense (NaN where the dataset/model has no dense model), ``n_dense``, ``n_pruned``.
- :func:`error_absorption`: per pruned cell and predicted class p, ``absorbed`` = Σ_{c != p}
  max(change[c, p], 0): how much more often pruned models predict p for examples of other classes
  (the column sum of the positive off-diagonal change), its ``share`` of the cell's total and its
  ``rank`` (1 = absorbs most), and a ``note`` when pruning adds no errors or there is no dense model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from recall_distortion.columns import CELL_KEY, DENSE, require_columns
from recall_distortion.evaluation import confusion_counts

MEAN_COLUMNS = CELL_KEY + ["true", "predicted", "rate", "n_models"]
CHANGE_COLUMNS = CELL_KEY + ["true", "predicted", "rate_dense", "rate_pruned", "change", "n_dense", "n_pruned"]
ABSORPTION_COLUMNS = CELL_KEY + ["class", "absorbed", "share", "rank", "note"]

NOTE_NO_DENSE = "no dense models"
NOTE_NO_NEW_ERRORS = "pruning adds no errors"


def mean_confusion(predictions: pd.DataFrame, num_classes: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Row-normalized confusion matrix averaged over the models (seeds) of every cell, dense included.

    ``predictions`` is the predictions table of :mod:`recall_distortion.evaluation`; ``num_classes``
    as in :func:`recall_distortion.evaluation.confusion_counts`. Columns :data:`MEAN_COLUMNS`.
    """
    parts = []
    for _, keys, counts in confusion_counts(predictions, num_classes):
        k = counts.shape[1]
        support = counts.sum(axis=2, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = np.where(support > 0, counts / support, np.nan)
        grouped = keys.groupby(CELL_KEY, observed=True, sort=True)
        cell = grouped.ngroup().to_numpy()
        cells = grouped.size().index.to_frame(index=False)
        n_models = np.bincount(cell)
        summed = np.zeros((n_models.size, k, k))
        np.add.at(summed, cell, rates)  # a NaN row (no test examples) stays NaN
        mean = summed / n_models[:, None, None]
        out = cells.loc[cells.index.repeat(k * k)].reset_index(drop=True)
        out["true"] = np.tile(np.repeat(np.arange(k), k), len(cells))
        out["predicted"] = np.tile(np.arange(k), k * len(cells))
        out["rate"] = mean.ravel()
        out["n_models"] = np.repeat(n_models, k * k)
        parts.append(out)
    table = pd.concat(parts, ignore_index=True).astype({"dataset": "str", "model": "str", "method": "str"})
    return table[MEAN_COLUMNS]


def confusion_change(mean: pd.DataFrame) -> pd.DataFrame:
    """Per pruned cell: the dense and pruned mean rates and their change (from :func:`mean_confusion`)."""
    require_columns(mean, MEAN_COLUMNS, "mean confusion")
    is_dense = mean["method"] == DENSE
    dense = mean.loc[is_dense, ["dataset", "model", "true", "predicted", "rate", "n_models"]].rename(
        columns={"rate": "rate_dense", "n_models": "n_dense"}
    )
    pruned = mean[~is_dense].rename(columns={"rate": "rate_pruned", "n_models": "n_pruned"})
    out = pruned.merge(dense, on=["dataset", "model", "true", "predicted"], how="left", validate="m:1")
    out["n_dense"] = out["n_dense"].fillna(0).astype(np.int64)
    out["change"] = out["rate_pruned"] - out["rate_dense"]
    return out[CHANGE_COLUMNS].sort_values(CELL_KEY + ["true", "predicted"], kind="stable").reset_index(drop=True)


def error_absorption(change: pd.DataFrame) -> pd.DataFrame:
    """Per pruned cell and class p: the errors pruning adds that land on p (column sums of the
    positive off-diagonal change), their share and rank. Columns :data:`ABSORPTION_COLUMNS`."""
    require_columns(change, CHANGE_COLUMNS, "confusion change")
    off_diagonal = change["true"] != change["predicted"]
    added = change["change"].where(off_diagonal, 0.0).clip(lower=0.0)
    out = (
        change.assign(absorbed=added)
        .groupby(CELL_KEY + ["predicted"], sort=True)
        .agg(absorbed=("absorbed", "sum"), n_dense=("n_dense", "first"))
        .reset_index()
        .rename(columns={"predicted": "class"})
    )
    out.loc[out["n_dense"] == 0, "absorbed"] = np.nan
    total = out.groupby(CELL_KEY)["absorbed"].transform("sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["share"] = np.where(total > 0, out["absorbed"] / total, np.nan)
    out["rank"] = out.groupby(CELL_KEY)["absorbed"].rank(ascending=False, method="min").astype("Int64")
    out["note"] = np.select([out["n_dense"] == 0, total == 0], [NOTE_NO_DENSE, NOTE_NO_NEW_ERRORS], default="")
    return out[ABSORPTION_COLUMNS]
