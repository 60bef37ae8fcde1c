"""Tests for recall_distortion.metrics (paper sections 4-5, 6.2, appendix F), with numbers computed by
hand or by an independent library (numpy.linalg.lstsq, statsmodels)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recall_distortion import metrics
from recall_distortion.evaluation import RECALL_COLUMNS
from recall_distortion.metrics import (
    alpha_slope,
    alpha_table,
    intensification_ratio,
    normalized_recall_balance,
    pooled_alpha,
    recall_balance,
    recall_variance,
    scatter_points,
)


def _rows(dataset, model, method, ratio, seed, recalls, accuracy, support=100):
    """Recall-table rows (project schema) of one model with the given per-class recalls."""
    n = len(recalls)
    return pd.DataFrame(
        {
            "dataset": [dataset] * n,
            "model": [model] * n,
            "method": [method] * n,
            "ratio": np.full(n, float(ratio)),
            "seed": np.full(n, seed, dtype=np.int64),
            "class": np.arange(n, dtype=np.int64),
            "support": np.full(n, support, dtype=np.int64),
            "recall": np.asarray(recalls, dtype=np.float64),
            "precision": np.full(n, np.nan),
            "f1": np.full(n, np.nan),
            "accuracy": np.full(n, float(accuracy)),
            "loss": np.full(n, 1.0),
            "params_total": np.full(n, 100, dtype=np.int64),
            "params_nonzero": np.full(n, 100 if method == "dense" else 50, dtype=np.int64),
            "note": [""] * n,
        }
    )[list(RECALL_COLUMNS)]


def _example_table():
    """The worked example of sections 4-5: A = 80 %, R = (90 %, 70 %); A_t = 60 %, R_t = (70 %, 50 %)."""
    return pd.concat(
        [
            _rows("toy", "lenet5", "dense", 1.0, 0, [0.9, 0.7], 0.8),
            _rows("toy", "lenet5", "mp", 2.0, 0, [0.7, 0.5], 0.6),
        ],
        ignore_index=True,
    )


# ---------------------------------------------------------------- section 4-5 worked example


def test_worked_example_b_bbar_i():
    # Section 4 example: B = +-10 % before and after pruning.
    np.testing.assert_allclose(recall_balance([0.9, 0.7], 0.8), [0.1, -0.1], atol=1e-12)
    np.testing.assert_allclose(recall_balance([0.7, 0.5], 0.6), [0.1, -0.1], atol=1e-12)
    # B-bar = +-1/8 before, +-1/6 after.
    before = normalized_recall_balance([0.9, 0.7], 0.8)
    after = normalized_recall_balance([0.7, 0.5], 0.6)
    np.testing.assert_allclose(before, [1 / 8, -1 / 8], atol=1e-12)
    np.testing.assert_allclose(after, [1 / 6, -1 / 6], atol=1e-12)
    # Section 5 example (cont.): I = 4/3 for both classes, hence alpha = 4/3.
    np.testing.assert_allclose(intensification_ratio(before, after), [4 / 3, 4 / 3], atol=1e-12)
    alpha, reason = alpha_slope(before, after)
    assert reason == ""
    assert alpha == pytest.approx(4 / 3, abs=1e-12)


def test_worked_example_alpha_table():
    table = alpha_table(_example_table())
    assert list(table.columns) == metrics.ALPHA_COLUMNS
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["dataset"], row["model"], row["method"], row["ratio"], row["seed"]) == ("toy", "lenet5", "mp", 2.0, 0)
    assert abs(row["alpha"] - 4 / 3) < 1e-12
    assert row["alpha_reason"] == ""
    assert row["accuracy"] == 0.6 and row["accuracy_dense"] == 0.8
    # Population variance of (0.9, 0.7) and of (0.7, 0.5): 0.1^2 = 0.01.
    assert row["recall_variance"] == pytest.approx(0.01, abs=1e-12)
    assert row["recall_variance_dense"] == pytest.approx(0.01, abs=1e-12)
    assert table["ratio"].dtype == np.float64 and table["seed"].dtype == np.int64


def test_worked_example_scatter_points():
    points = scatter_points(_example_table())
    assert list(points.columns) == metrics.SCATTER_COLUMNS
    np.testing.assert_allclose(points["bbar_before"], [1 / 8, -1 / 8], atol=1e-12)
    np.testing.assert_allclose(points["bbar_after"], [1 / 6, -1 / 6], atol=1e-12)
    assert list(points["class"]) == [0, 1]
    assert set(points["method"]) == {"mp"}


# ---------------------------------------------------------------- Proposition 4.1 / Corollary 4.1.1


@pytest.mark.parametrize("num_classes", [2, 10, 100])
def test_corollary_4_1_1_balanced_sum_zero(num_classes):
    rng = np.random.default_rng(num_classes)
    per_class = 37
    y_true = np.repeat(np.arange(num_classes), per_class)
    y_pred = rng.integers(0, num_classes, size=y_true.size)
    correct = y_pred == y_true
    accuracy = correct.mean()
    recall = np.array([correct[y_true == c].mean() for c in range(num_classes)])
    assert abs(np.sum(recall_balance(recall, accuracy))) < 1e-12  # Proposition 4.1
    assert abs(np.sum(normalized_recall_balance(recall, accuracy))) < 1e-12  # Corollary 4.1.1


# ---------------------------------------------------------------- undefined values


def test_bbar_undefined_at_zero_accuracy_is_nan_not_inf():
    out = normalized_recall_balance([0.0, 0.0, 0.5], [0.0, 0.0, 0.25])
    assert np.isnan(out[0]) and np.isnan(out[1])
    assert out[2] == pytest.approx(1.0)
    assert math.isnan(normalized_recall_balance(0.0, 0.0))


def test_intensification_undefined_at_zero_bbar():
    out = intensification_ratio([0.0, 0.5, -0.25], [0.3, 0.25, -0.5])
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], [0.5, 2.0])
    assert not np.isinf(out).any()


def test_alpha_all_bbar_zero_is_nan_with_reason():
    alpha, reason = alpha_slope([0.0, 0.0, 0.0], [0.1, -0.05, -0.05])
    assert math.isnan(alpha)
    assert reason == "all normalized recall balances before pruning are 0"


def test_alpha_accuracy_zero_after_pruning():
    bbar_after = normalized_recall_balance([0.0, 0.0], 0.0)
    alpha, reason = alpha_slope([0.1, -0.1], bbar_after, accuracy_before=0.8, accuracy_after=0.0)
    assert math.isnan(alpha)
    assert reason == "accuracy after pruning is 0: B̄_t undefined"
    # Without the accuracies the NaN B-bar still gives NaN, with the NaN reason.
    alpha, reason = alpha_slope([0.1, -0.1], bbar_after)
    assert math.isnan(alpha) and reason == metrics.REASON_NAN_AFTER


def test_alpha_nan_bbar_before():
    alpha, reason = alpha_slope([0.1, np.nan, -0.1], [0.2, 0.0, -0.2])
    assert math.isnan(alpha) and reason == metrics.REASON_NAN_BEFORE


def test_alpha_table_undefined_cases():
    table = pd.concat(
        [
            # model 0: every class recall == accuracy before pruning -> all B-bar before are 0
            _rows("toy", "lenet5", "dense", 1.0, 0, [0.5, 0.5], 0.5),
            _rows("toy", "lenet5", "mp", 2.0, 0, [0.7, 0.3], 0.5),
            # model 1: accuracy after pruning is 0
            _rows("toy", "lenet5", "dense", 1.0, 1, [0.9, 0.7], 0.8),
            _rows("toy", "lenet5", "mp", 50.0, 1, [0.0, 0.0], 0.0),
            # model 2: class 1 has no test samples (recall NaN)
            _rows("toy", "lenet5", "dense", 1.0, 2, [0.9, np.nan], 0.9),
            _rows("toy", "lenet5", "mp", 2.0, 2, [0.8, np.nan], 0.8),
        ],
        ignore_index=True,
    )
    out = alpha_table(table).set_index("seed")
    assert out["alpha"].isna().all()
    assert not np.isinf(out["alpha"]).any()
    assert out.loc[0, "alpha_reason"] == "all normalized recall balances before pruning are 0"
    assert out.loc[1, "alpha_reason"] == "accuracy after pruning is 0: B̄_t undefined"
    assert out.loc[2, "alpha_reason"] == metrics.REASON_NAN_BEFORE
    assert out.loc[1, "accuracy"] == 0.0  # kept as measured, not turned into NaN
    assert math.isnan(out.loc[2, "recall_variance"])


def test_alpha_table_missing_dense_raises_with_keys():
    table = pd.concat(
        [
            _rows("toy", "lenet5", "dense", 1.0, 0, [0.9, 0.7], 0.8),
            _rows("toy", "lenet5", "mp", 2.0, 7, [0.7, 0.5], 0.6),
        ],
        ignore_index=True,
    )
    with pytest.raises(ValueError, match=r"no dense.*seed=7"):
        alpha_table(table)


def test_alpha_table_class_mismatch_raises():
    table = pd.concat(
        [
            _rows("toy", "lenet5", "dense", 1.0, 0, [0.9, 0.7, 0.8], 0.8),
            _rows("toy", "lenet5", "mp", 2.0, 0, [0.7, 0.5], 0.6),
        ],
        ignore_index=True,
    )
    with pytest.raises(ValueError, match="lack classes"):
        alpha_table(table)


# ---------------------------------------------------------------- regression through the origin


def test_alpha_slope_equals_lstsq_through_origin():
    rng = np.random.default_rng(0)
    x = rng.normal(size=10)
    y = 1.3 * x + rng.normal(scale=0.1, size=10)
    alpha, reason = alpha_slope(x, y)
    expected = np.linalg.lstsq(x[:, None], y, rcond=None)[0][0]
    assert reason == ""
    assert alpha == pytest.approx(expected, rel=1e-12)
    # ... and equals the (B-bar^2)-weighted mean of the intensification ratios (section 5).
    assert alpha == pytest.approx(np.average(intensification_ratio(x, y), weights=x**2), rel=1e-12)


def test_pooled_alpha_matches_statsmodels_no_constant():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(1)
    x = rng.normal(scale=0.05, size=300)
    y = 1.4 * x + rng.normal(scale=0.02, size=300)
    fit = sm.OLS(y, x).fit()  # no constant added: uncentered r^2
    alpha, r2 = pooled_alpha(x, y)
    assert alpha == pytest.approx(fit.params[0], rel=1e-12)
    assert r2 == pytest.approx(fit.rsquared, rel=1e-12)


def test_pooled_alpha_drops_nonfinite_points_and_degenerate():
    alpha, r2 = pooled_alpha([1.0, 2.0, np.nan], [2.0, 4.0, 5.0])
    assert alpha == pytest.approx(2.0) and r2 == pytest.approx(1.0)
    assert all(math.isnan(v) for v in pooled_alpha([0.0, 0.0], [1.0, 2.0]))
    assert all(math.isnan(v) for v in pooled_alpha([], []))


def test_alpha_table_agrees_with_alpha_slope_per_group():
    rng = np.random.default_rng(2)
    parts = []
    for seed in range(3):
        recall = rng.uniform(0.6, 1.0, size=10)
        parts.append(_rows("cifar10", "resnet20", "dense", 1.0, seed, recall, recall.mean()))
        for method in ("mp", "rp"):
            for ratio in (2.0, 10.0):
                r = np.clip(recall + rng.normal(scale=0.1, size=10), 0, 1)
                parts.append(_rows("cifar10", "resnet20", method, ratio, seed, r, r.mean()))
    table = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=0)  # order must not matter
    out = alpha_table(table)
    assert len(out) == 3 * 2 * 2
    for row in out.itertuples(index=False):
        dense = table[(table.method == "dense") & (table.seed == row.seed)].sort_values("class")
        pruned = table[(table.method == row.method) & (table.ratio == row.ratio) & (table.seed == row.seed)]
        pruned = pruned.sort_values("class")
        x = normalized_recall_balance(dense.recall.to_numpy(), dense.accuracy.to_numpy())
        y = normalized_recall_balance(pruned.recall.to_numpy(), pruned.accuracy.to_numpy())
        assert row.alpha == pytest.approx(alpha_slope(x, y)[0], rel=1e-12)
        assert row.recall_variance == pytest.approx(recall_variance(pruned.recall), rel=1e-12)
        assert row.recall_variance_dense == pytest.approx(recall_variance(dense.recall), rel=1e-12)


# ---------------------------------------------------------------- appendix F


def test_recall_variance_by_hand():
    # mean 0.8; squared deviations 0.01, 0, 0.01, 0 -> population variance (ddof=0) 0.02 / 4 = 0.005
    # (the sample variance, ddof=1, would be 0.02 / 3)
    assert recall_variance([0.9, 0.8, 0.7, 0.8]) == pytest.approx(0.005, abs=1e-15)
    assert math.isnan(recall_variance([0.9, np.nan]))
