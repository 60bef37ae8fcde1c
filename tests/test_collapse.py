"""The collapse rule on hand-made tables: who collapsed, which cells cannot be judged (issue 14)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recall_distortion.collapse import accuracy_retained, cell_collapse, describe, mark_collapsed


def test_retained_share_counts_from_chance():
    # 10 classes: chance 0.1. Dense 0.9 -> 0.8 above chance; pruned 0.5 keeps 0.4 of it: half.
    assert accuracy_retained(0.5, 0.9, 10) == pytest.approx(0.5)
    assert accuracy_retained(0.9, 0.9, 10) == pytest.approx(1.0)
    assert accuracy_retained(0.1, 0.9, 10) == pytest.approx(0.0)
    # 100 classes (CIFAR-100): dense 0.67, pruned 0.34 -> (0.33) / (0.66) = 0.5
    assert accuracy_retained(0.34, 0.67, 100) == pytest.approx(0.5)
    assert np.isnan(accuracy_retained(0.2, 0.1, 10))  # dense at chance: undefined


def _tables():
    """Two seeds, 2 classes each (chance 0.5): dense accuracy 0.9; MP at t=2 keeps 0.85 and 0.88, MP at t=50
    keeps 0.8 (retained 0.75) for seed 0 but 0.55 (retained 0.125) for seed 1."""
    recall = pd.DataFrame({
        "dataset": "d", "model": "m", "method": "dense", "ratio": 1.0,
        "seed": [0, 0, 1, 1], "class": [0, 1, 0, 1],
    })
    alpha = pd.DataFrame({
        "dataset": "d", "model": "m", "method": "mp", "ratio": [2.0, 2.0, 50.0, 50.0], "seed": [0, 1, 0, 1],
        "alpha": [0.9, 1.1, 1.2, -9.0], "accuracy": [0.85, 0.88, 0.8, 0.55], "accuracy_dense": 0.9,
    })
    return alpha, recall


def test_a_model_below_half_of_its_dense_accuracy_above_chance_is_collapsed():
    alpha, recall = _tables()
    marked = mark_collapsed(alpha, recall)
    np.testing.assert_allclose(marked["accuracy_retained"], [0.875, 0.95, 0.75, 0.125])
    assert marked["collapsed"].tolist() == [False, False, False, True]
    assert mark_collapsed(alpha, recall, min_retained=0.8)["collapsed"].tolist() == [False, False, True, True]
    pd.testing.assert_frame_equal(marked[alpha.columns], alpha)  # α itself is untouched


def test_a_cell_with_a_collapsed_model_is_flagged_and_counted():
    alpha, recall = _tables()
    cells = cell_collapse(mark_collapsed(alpha, recall))
    assert cells["n_models"].tolist() == [2, 2]
    assert cells["n_collapsed"].tolist() == [0, 1]
    assert cells["collapsed"].tolist() == [False, True]
    np.testing.assert_allclose(cells["accuracy_mean"], [0.865, 0.675])
    assert describe(cells.iloc[1]) == "1 of 2 models collapsed (mean accuracy 0.68 vs 0.90 dense)"
    # tolerate up to half of a cell's models
    assert cell_collapse(mark_collapsed(alpha, recall), 0.5)["collapsed"].tolist() == [False, False]
