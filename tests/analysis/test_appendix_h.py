"""Tables 12 and 13 and the summary paragraph of Appendix H, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from recall_distortion.analysis import layout
from recall_distortion.analysis.summary import build_summary, intensification_onset
from recall_distortion.analysis.tables import build_table, modern_data

CHIP = {"name": "chip", "kind": "structured", "experiments": [{"dataset": "digits", "model": "resnet20"}],
        "methods": ["chip"], "ratios": [1.75, 8]}
ALPHA = {1.75: [0.5, 0.7, 0.9], 8.0: [2.0, 2.1, 2.2]}
ACCURACY = {1.75: [0.90, 0.92, 0.94], 8.0: [0.80, 0.81, 0.85]}
DENSE_ACCURACY = [0.95, 0.96, 0.97]
NONZERO = {1.75: 600, 8.0: 120}  # of 1,000 dense parameters


def alpha_table():
    rows = []
    for ratio, values in ALPHA.items():
        for seed, a in enumerate(values):
            rows.append(dict(dataset="digits", model="resnet20", method="chip", ratio=ratio, seed=seed, alpha=a,
                             alpha_reason="", accuracy=ACCURACY[ratio][seed], accuracy_dense=DENSE_ACCURACY[seed],
                             recall_variance=0.01, recall_variance_dense=0.01, accuracy_retained=0.9,
                             collapsed=False))
    return pd.DataFrame(rows)


def recall_table():
    rows = [dict(dataset="digits", model="resnet20", method="dense", ratio=1.0, seed=s, params_total=1000,
                 params_nonzero=1000) for s in range(3)]
    rows += [dict(dataset="digits", model="resnet20", method="chip", ratio=r, seed=s, params_total=n,
                  params_nonzero=n) for r, n in NONZERO.items() for s in range(3)]
    return pd.DataFrame(rows)


def hand_ci(values):
    """99% t interval: mean ± t_{0.995, n-1} · s / √n."""
    values = np.asarray(values)
    half = scipy_stats.t.ppf(0.995, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def test_table_13_values_are_the_hand_computation():
    data = modern_data(alpha_table(), recall_table(), CHIP, max_collapsed_share=0.0)
    assert list(data["ratio"]) == [1.0, 1.75, 8.0]
    assert data["accuracy_mean"].tolist() == pytest.approx([0.96, 0.92, 0.82])
    assert math.isnan(data["alpha_mean"].iloc[0])
    assert data["alpha_mean"].iloc[1:].tolist() == pytest.approx([0.7, 2.1])
    for row, ratio in zip(data.iloc[1:].itertuples(), ALPHA):
        assert (row.ci_low, row.ci_high) == pytest.approx(hand_ci(ALPHA[ratio]))
    assert data["mark"].tolist() == ["", "?", ">"]
    assert data["achieved_ratio"].tolist() == pytest.approx([1.0, 1000 / 600, 1000 / 120])
    table = build_table(layout.family_plan(CHIP)[0][0], alpha_table(), [CHIP], recall_table(), max_collapsed_share=0.0)
    assert table.output.stem == "table13_chip" and table.title.startswith("Table 13:")
    assert table.display["Intensification"].tolist() == ["–", "0.700", "2.100"]
    assert table.display["Achieved ratio"].tolist() == ["1.00", "1.67", "8.33"]


def test_table_12_rows_are_levels():
    lth = {"name": "lth", "kind": "iterative", "experiments": [{"dataset": "digits", "model": "resnet20"}],
           "methods": ["lth"], "ratios": [1.25, 1.5625]}
    alpha = alpha_table().replace({"method": {"chip": "lth"}, "ratio": {1.75: 1.25, 8.0: 1.5625}})
    recall = recall_table().replace({"method": {"chip": "lth"}, "ratio": {1.75: 1.25, 8.0: 1.5625}})
    table = build_table(layout.family_plan(lth)[0][0], alpha, [lth], recall, max_collapsed_share=0.0)
    assert table.output.stem == "table12_lth" and table.title.startswith("Table 12:")
    assert list(table.display.index) == ["0", "1", "2"]
    assert table.display["Pruning ratio"].tolist() == ["1", "1.25", "1.56"]
    assert table.display["Mark"].tolist() == ["", "?", ">"]


def test_intensification_onset_skips_collapsed_cells_and_needs_the_top():
    def series(marks, collapsed):
        return pd.DataFrame({"ratio": [2.0, 4.0, 8.0, 16.0], "mark": marks, "collapsed": collapsed})

    assert intensification_onset(series(["<", ">", ">", ">"], [False] * 4)) == 4.0
    assert intensification_onset(series(["<", ">", "?", ">"], [False] * 4)) == 16.0
    assert intensification_onset(series(["<", ">", ">", "?"], [False] * 4)) is None
    assert intensification_onset(series(["<", ">", ">", "?"], [False, False, False, True])) == 4.0


def test_summary_says_where_intensification_starts():
    text = build_summary(alpha_table(), [CHIP], max_collapsed_share=0.0)
    assert "- chip, CHIP on Digits @ ResNet-20: **Holds** from t = 8 on (marks by ratio: 1.75?, 8>)" in text
