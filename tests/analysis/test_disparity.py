"""Tests for recall_distortion.analysis.disparity on a hand-made recall table (worst class, gap,
largest drop with ties) and Tran et al.'s slope and rank correlation against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recall_distortion.analysis.disparity import (
    NOTE_CONSTANT,
    NOTE_NAN_RECALL,
    NOTE_TOO_FEW,
    disparity_table,
    recall_change,
    rich_get_richer,
)

RECALL = {  # (method, ratio, seed): per-class recall; binary fractions so ties are exact
    ("dense", 1.0, 0): [0.5, 0.75, 0.5],
    ("dense", 1.0, 1): [1.0, 0.75, 0.5],
    ("mp", 2.0, 0): [0.5, 0.5, 0.25],  # change [0, -1/4, -1/4]
    ("mp", 2.0, 1): [0.75, 0.75, 0.25],  # change [-1/4, 0, -1/4]
}


def _table(recall=RECALL):
    rows = [
        {"dataset": "cifar10", "model": "resnet20", "method": m, "ratio": t, "seed": s, "class": c,
         "recall": r, "accuracy": float(np.nanmean(values))}
        for (m, t, s), values in recall.items() for c, r in enumerate(values)
    ]
    return pd.DataFrame(rows)


def test_worst_class_gap_and_largest_drop():
    table = disparity_table(_table()).set_index(["method", "seed"])
    assert table.loc[("dense", 0), ["worst_recall", "worst_class", "recall_gap"]].tolist() == [0.5, 0, 0.25]  # tie -> 0
    assert table.loc[("dense", 1), ["worst_recall", "worst_class", "recall_gap"]].tolist() == [0.5, 2, 0.5]
    assert np.isnan(table.loc[("dense", 0), "largest_drop"]) and table.loc[("dense", 0), "largest_drop_class"] == -1
    assert table.loc[("mp", 0), ["worst_recall", "worst_class", "recall_gap"]].tolist() == [0.25, 2, 0.25]
    assert table.loc[("mp", 0), ["largest_drop", "largest_drop_class"]].tolist() == [0.25, 1]  # tie 1, 2 -> 1
    assert table.loc[("mp", 1), ["largest_drop", "largest_drop_class"]].tolist() == [0.25, 0]  # tie 0, 2 -> 0
    assert table.loc[("mp", 1), "accuracy"] == pytest.approx(7 / 12)
    assert (table["note"] == "").all()


def test_nan_recall_is_left_out_with_a_note():
    recall = dict(RECALL)
    recall[("mp", 2.0, 1)] = [0.75, np.nan, 0.25]
    table = disparity_table(_table(recall)).set_index(["method", "seed"])
    assert table.loc[("mp", 1), "note"] == NOTE_NAN_RECALL
    assert table.loc[("mp", 1), ["worst_recall", "recall_gap", "largest_drop_class"]].tolist() == [0.25, 0.5, 0]


def test_recall_change_and_rich_get_richer_against_scipy():
    change = recall_change(_table())
    np.testing.assert_allclose(change["change"], [0, -0.25, -0.25, -0.25, 0, -0.25])
    assert change["recall_dense"].tolist() == [0.5, 0.75, 0.5, 1.0, 0.75, 0.5]
    row = rich_get_richer(change).iloc[0]
    x, y = change["recall_dense"].to_numpy(), change["change"].to_numpy()
    assert row["n_points"] == 6 and row["mean_change"] == pytest.approx(-1 / 6)
    assert row["slope"] == pytest.approx(stats.linregress(x, y).slope)
    # Spearman's rho is Pearson's r of the ranks
    assert row["rho"] == pytest.approx(np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1])
    assert 0 < row["p"] <= 1 and row["note"] == ""


def test_rich_get_richer_notes():
    same = {**{k: v for k, v in RECALL.items() if k[0] == "dense"},
            ("mp", 2.0, 0): RECALL[("dense", 1.0, 0)], ("mp", 2.0, 1): RECALL[("dense", 1.0, 1)]}
    assert rich_get_richer(recall_change(_table(same)))["note"].tolist() == [NOTE_CONSTANT]
    two = {("dense", 1.0, 0): [0.5, 1.0], ("mp", 2.0, 0): [0.25, 1.0]}
    row = rich_get_richer(recall_change(_table(two))).iloc[0]
    assert row["note"] == NOTE_TOO_FEW and np.isnan(row["rho"]) and row["mean_change"] == -0.125
