"""Disparity of per-class recall: worst class, recall gap, largest drop, and Tran et al.'s view.

Tran et al. (NeurIPS 2022, "Pruning has a disparate impact on model accuracy") show that pruning
lowers the accuracy of the classes that were already worst more than that of the others ("the rich
get richer"): they plot each class's change in accuracy against its accuracy before pruning. Hooker
et al. 2019 ("What do compressed deep neural networks forget?", section 3) ask the same question
class by class (:mod:`.class_tests`). The paper's α (section 5) summarises the same movement in
normalized recall balance B̄ = (R - A) / A; here it is in plain recall R^c (section 4).

All functions read the recall table (docs/CONTRACTS.md); a pruned model's dense model is the dense
model with the same (dataset, model, seed) (:func:`recall_distortion.metrics.pair_with_dense`).

- :func:`disparity_table`, one row per model (dense and pruned): ``accuracy``, ``worst_recall``
  (min_c R^c) and ``worst_class``, ``recall_gap`` (max_c R^c - min_c R^c), ``largest_drop``
  (max_c R_dense^c - R^c, NaN for a dense model) and ``largest_drop_class`` (-1 when undefined),
  ``note``. Ties go to the lowest class; NaN recalls (no test samples) are left out with a note.
- :func:`recall_change`, one row per pruned model and class: ``recall_dense``, ``recall`` and
  ``change`` = recall - recall_dense: the points of Tran et al.'s figure, pooled over seeds.
- :func:`rich_get_richer`, one row per pruned cell: over those points, the mean change, the
  least-squares ``slope`` of change on recall_dense (with intercept) and Spearman's ``rho`` with its
  two-sided ``p`` (scipy). rho > 0: classes that were better before pruning lose less.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.columns import CELL_KEY, MODEL_KEY, require_columns
from recall_distortion.metrics import pair_with_dense

DISPARITY_COLUMNS = MODEL_KEY + [
    "accuracy", "worst_recall", "worst_class", "recall_gap", "largest_drop", "largest_drop_class", "note",
]
CHANGE_COLUMNS = MODEL_KEY + ["class", "recall_dense", "recall", "change"]
RICH_COLUMNS = CELL_KEY + ["n_points", "mean_change", "slope", "rho", "p", "note"]

NOTE_NAN_RECALL = "classes with NaN recall left out"
NOTE_TOO_FEW = "fewer than 3 points"
NOTE_CONSTANT = "recall before or change constant: no slope or correlation"


def _first_per_model(frame: pd.DataFrame, value: str, ascending: bool) -> pd.DataFrame:
    """Per model, the row with the smallest (``ascending``) or largest ``value``; ties: lowest class."""
    ordered = frame.dropna(subset=[value]).sort_values([value, "class"], ascending=[ascending, True], kind="stable")
    return ordered.groupby(MODEL_KEY, sort=False).head(1).set_index(MODEL_KEY)


def recall_change(recall: pd.DataFrame) -> pd.DataFrame:
    """Each pruned model's per-class recall next to its dense model's (Tran et al.'s points)."""
    paired = pair_with_dense(recall)
    paired["change"] = paired["recall"] - paired["recall_dense"]
    return paired[CHANGE_COLUMNS].sort_values(MODEL_KEY + ["class"], kind="stable").reset_index(drop=True)


def disparity_table(recall: pd.DataFrame) -> pd.DataFrame:
    """Per model: worst-class recall, max - min recall gap and the largest per-class drop from dense."""
    require_columns(recall, MODEL_KEY + ["class", "recall", "accuracy"], "recall")
    frame = recall[MODEL_KEY + ["class", "recall", "accuracy"]]
    grouped = frame.groupby(MODEL_KEY, sort=True)
    out = grouped.agg(accuracy=("accuracy", "first"), best=("recall", "max"), n_nan=("recall", lambda r: r.isna().sum()))
    worst = _first_per_model(frame, "recall", ascending=True)
    out["worst_recall"] = worst["recall"]
    out["worst_class"] = worst["class"]
    out["recall_gap"] = out["best"] - out["worst_recall"]
    drops = recall_change(recall).assign(drop=lambda x: -x["change"])
    largest = _first_per_model(drops, "drop", ascending=False)
    out["largest_drop"] = largest["drop"]
    out["largest_drop_class"] = largest["class"]
    out["note"] = np.where(out["n_nan"] > 0, NOTE_NAN_RECALL, "")
    out = out.reset_index()
    for column in ("worst_class", "largest_drop_class"):
        out[column] = out[column].fillna(-1).astype(np.int64)
    return out[DISPARITY_COLUMNS]


def rich_get_richer(change: pd.DataFrame) -> pd.DataFrame:
    """Per pruned cell: slope and Spearman correlation of recall change on dense recall, pooled over
    seeds (Tran et al.). ``change`` is :func:`recall_change`'s table; points with NaN are left out."""
    from scipy import stats

    require_columns(change, CHANGE_COLUMNS, "recall change")
    rows = []
    for key, cell in change.groupby(CELL_KEY, sort=True):
        cell = cell.dropna(subset=["recall_dense", "change"])
        x, y = cell["recall_dense"].to_numpy(np.float64), cell["change"].to_numpy(np.float64)
        mean = float(y.mean()) if y.size else np.nan
        if y.size < 3:
            rows.append((*key, y.size, mean, np.nan, np.nan, np.nan, NOTE_TOO_FEW))
        elif np.ptp(x) == 0 or np.ptp(y) == 0:
            rows.append((*key, y.size, mean, np.nan, np.nan, np.nan, NOTE_CONSTANT))
        else:
            slope = float(np.polyfit(x, y, 1)[0])
            rho = stats.spearmanr(x, y)
            rows.append((*key, y.size, mean, slope, float(rho.statistic), float(rho.pvalue), ""))
    return pd.DataFrame(rows, columns=RICH_COLUMNS)
