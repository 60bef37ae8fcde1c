"""Tests for recall_distortion.analysis.class_tests: Welch t per class (Hooker et al. 2019, section 3)
against a hand computation of Welch's statistic, Bonferroni over classes, and the notes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recall_distortion.analysis.class_tests import (
    HELPS,
    HURTS,
    NOTE_NO_DENSE,
    NOTE_NO_VARIANCE,
    NOTE_TOO_FEW,
    class_test_summary,
    class_tests,
)

# recall per seed (rows) and class (columns); accuracy per population
DENSE_RECALL = np.array([[0.70, 0.85, 0.85], [0.72, 0.86, 0.82], [0.71, 0.84, 0.84], [0.69, 0.85, 0.87]])
PRUNED_RECALL = np.array([[0.40, 0.85, 0.75], [0.42, 0.86, 0.72], [0.41, 0.87, 0.74], [0.43, 0.84, 0.77]])
DENSE_ACCURACY, PRUNED_ACCURACY = 0.8, 0.7


def _rows(method, ratio, recall, accuracy, dataset="cifar10"):
    seeds, classes = np.indices(recall.shape)
    return pd.DataFrame({
        "dataset": dataset, "model": "resnet20", "method": method, "ratio": float(ratio),
        "seed": seeds.ravel(), "class": classes.ravel(), "recall": recall.ravel(), "accuracy": accuracy,
    })


def _recall_table():
    return pd.concat([
        _rows("dense", 1, DENSE_RECALL, DENSE_ACCURACY),
        _rows("mp", 2, PRUNED_RECALL, PRUNED_ACCURACY),
        _rows("mp", 4, PRUNED_RECALL[:1], PRUNED_ACCURACY),  # one seed
    ], ignore_index=True)


def _welch_by_hand(a, b):
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t = (a.mean() - b.mean()) / np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))  # Welch-Satterthwaite
    return t, dof, 2 * stats.t.sf(abs(t), dof)


def test_welch_t_per_class_and_bonferroni():
    tests = class_tests(_recall_table())
    cell = tests[tests["ratio"] == 2.0].reset_index(drop=True)
    assert cell["class"].tolist() == [0, 1, 2]
    for c in range(3):
        a = PRUNED_RECALL[:, c] - PRUNED_ACCURACY
        b = DENSE_RECALL[:, c] - DENSE_ACCURACY
        t, dof, p = _welch_by_hand(a, b)
        row = cell.iloc[c]
        assert row["t"] == pytest.approx(t, rel=1e-9, abs=1e-9)
        assert row["dof"] == pytest.approx(dof, rel=1e-9)
        assert row["p"] == pytest.approx(p, rel=1e-9)
        assert row["p_bonferroni"] == pytest.approx(min(1.0, 3 * p), rel=1e-9)
        assert row["difference"] == pytest.approx(a.mean() - b.mean())
        assert (row["n_dense"], row["n_pruned"]) == (4, 4)
    # class 0: B falls from -0.09 to -0.285; class 1 rises from 0.05 to 0.155; class 2 is unchanged
    assert cell["effect"].tolist() == [HURTS, HELPS, ""]
    assert cell.loc[2, "t"] == pytest.approx(0.0, abs=1e-9) and cell.loc[2, "p"] == pytest.approx(1.0)
    summary = class_test_summary(tests)
    assert summary.loc[summary["ratio"] == 2.0, ["n_tested", "n_hurt", "n_helped", "hurt", "helped"]].values.tolist() == [
        [3, 1, 1, "0", "1"]
    ]


def test_normalized_balance_is_hookers_relative_recall():
    """B̄ = R/A - 1: the same t as a test of R/A (a shift leaves t unchanged)."""
    cell = class_tests(_recall_table(), normalized=True).query("ratio == 2.0")
    a, b = PRUNED_RECALL[:, 0] / PRUNED_ACCURACY, DENSE_RECALL[:, 0] / DENSE_ACCURACY
    assert cell["t"].iloc[0] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).statistic, rel=1e-9)


def test_untestable_cells_get_notes():
    tests = class_tests(_recall_table())
    one_seed = tests[tests["ratio"] == 4.0]
    assert (one_seed["note"] == NOTE_TOO_FEW).all() and one_seed["p"].isna().all()
    assert (one_seed["effect"] == "").all() and (one_seed["n_pruned"] == 1).all()
    flat = np.full((3, 3), 0.5)
    tests = class_tests(pd.concat([_rows("dense", 1, flat, 0.5), _rows("mp", 2, flat, 0.5)]))
    assert (tests["note"] == NOTE_NO_VARIANCE).all()
    tests = class_tests(_rows("mp", 2, PRUNED_RECALL, PRUNED_ACCURACY))
    assert (tests["note"] == NOTE_NO_DENSE).all() and (tests["n_dense"] == 0).all()


def test_nan_recall_is_left_out_with_a_note():
    dense = DENSE_RECALL.copy()
    dense[0, 1] = np.nan
    table = pd.concat([_rows("dense", 1, dense, DENSE_ACCURACY), _rows("mp", 2, PRUNED_RECALL, PRUNED_ACCURACY)])
    row = class_tests(table).iloc[1]
    assert row["n_dense"] == 3 and row["note"].startswith("1 NaN balance")
    expected = stats.ttest_ind(PRUNED_RECALL[:, 1] - 0.7, DENSE_RECALL[1:, 1] - 0.8, equal_var=False)
    assert row["t"] == pytest.approx(expected.statistic, rel=1e-9)
