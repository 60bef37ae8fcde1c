"""Hand-made studies for the analyses beyond α: a predictions table with a known PIE set and known
confusion matrices, and a recall table with one class pruning clearly hurts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.evaluation import recall_from_predictions
from tests.analysis.handmade import predictions_table

LABELS = [0, 0, 1, 1]
#: Dense models are always right; the two MP models at t = 2 turn example 1 into a 1 (both) and
#: split on example 3 (1 and 0: a tie, the lowest class 0 is modal). PIE = examples 1 and 3.
POPULATIONS = {
    ("dense", 1.0): [[0, 0, 1, 1], [0, 0, 1, 1]],
    ("mp", 2.0): [[0, 1, 1, 1], [0, 1, 1, 0]],
}
FAMILY = {"name": "hand", "kind": "method", "experiments": [{"dataset": "digits", "model": "lenet5"}],
          "methods": ["mp"], "ratios": [2]}


def hand_predictions(populations=POPULATIONS) -> pd.DataFrame:
    return predictions_table(populations, LABELS)


def hand_recall(populations=POPULATIONS) -> pd.DataFrame:
    return recall_from_predictions(hand_predictions(populations))


#: Per-class recall over 4 seeds, support 10: pruning (MP, t = 2) lowers class 0 and raises class 1.
DENSE_RECALL = {0: [0.9, 0.8, 0.9, 0.8], 1: [0.8, 0.9, 0.8, 0.9]}
PRUNED_RECALL = {0: [0.3, 0.4, 0.3, 0.4], 1: [0.9, 0.8, 0.9, 0.8]}


def hurt_recall() -> pd.DataFrame:
    """Recall table of :data:`DENSE_RECALL` and :data:`PRUNED_RECALL` (accuracy: the mean of both classes)."""
    rows = []
    for (method, ratio), table in (("dense", 1.0), DENSE_RECALL), (("mp", 2.0), PRUNED_RECALL):
        for seed in range(4):
            accuracy = (table[0][seed] + table[1][seed]) / 2
            for c in (0, 1):
                rows.append({"dataset": "digits", "model": "lenet5", "method": method, "ratio": ratio, "seed": seed,
                             "class": c, "support": 10, "recall": table[c][seed], "accuracy": accuracy})
    return pd.DataFrame(rows)


def balances(table: dict) -> dict[int, np.ndarray]:
    """B = R^c - A per class and seed of a recall dict like :data:`DENSE_RECALL`."""
    accuracy = (np.array(table[0]) + np.array(table[1])) / 2
    return {c: np.array(table[c]) - accuracy for c in (0, 1)}
