"""Tests for recall_distortion.analysis.noise_floor: observed α equals the alpha table's, a model with
recall 1 (or 0) for every class has no sampling noise, and the noise floor agrees with a plain Monte
Carlo loop over metrics.alpha_slope."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recall_distortion.analysis.noise_floor import NOTE_ONE_SEED, noise_floor, resampled_alpha
from recall_distortion.metrics import alpha_slope, alpha_table, normalized_recall_balance


def _table(correct: dict, support) -> pd.DataFrame:
    """``correct[(method, ratio, seed)]`` per-class correct counts -> recall-table rows."""
    support = np.asarray(support)
    rows = []
    for (method, ratio, seed), k in correct.items():
        k = np.asarray(k)
        rows.append(pd.DataFrame({
            "dataset": "digits", "model": "lenet5", "method": method, "ratio": float(ratio), "seed": seed,
            "class": np.arange(support.size), "support": support, "recall": k / support,
            "accuracy": k.sum() / support.sum(),
        }))
    return pd.concat(rows, ignore_index=True)


def _random_study(seeds=5, classes=4, support=36, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    correct = {}
    for s in range(seeds):
        correct[("dense", 1, s)] = rng.integers(20, 37, classes)
        for ratio in (2, 10):
            correct[("mp", ratio, s)] = rng.integers(10, 37, classes)
    return _table(correct, [support] * classes)


def test_observed_alpha_equals_alpha_table():
    recall = _random_study()
    keys, alpha = resampled_alpha(recall, draws=3)
    expected = alpha_table(recall)
    pd.testing.assert_frame_equal(keys, expected[keys.columns.tolist()], check_dtype=False)
    np.testing.assert_allclose(alpha[:, 0], expected["alpha"], rtol=1e-12)
    assert alpha.shape == (len(expected), 4)
    np.testing.assert_array_equal(resampled_alpha(recall, draws=3, seed=5)[1], resampled_alpha(recall, draws=3, seed=5)[1])


def test_recall_one_for_every_class_has_zero_spread():
    """binomial(s, 1) = s: a pruned model with recall 1 everywhere has B̄_t = 0, so α = 0 in every draw,
    whatever the (noisy) dense model does."""
    support = [36, 36, 35]
    correct = {("dense", 1, 0): [30, 20, 35], ("mp", 2, 0): [36, 36, 35],
               ("dense", 1, 1): [25, 33, 30], ("mp", 2, 1): [36, 36, 35]}
    keys, alpha = resampled_alpha(_table(correct, support), draws=50)
    assert (alpha == 0).all()
    row = noise_floor(_table(correct, support), draws=50).iloc[0]
    assert (row["alpha_sd"], row["alpha_sd_resampled"], row["alpha_sd_noise"]) == (0.0, 0.0, 0.0)
    # recall 0 or 1 per class, dense and pruned: every draw repeats the observed α
    correct = {("dense", 1, 0): [36, 0, 35], ("mp", 2, 0): [0, 36, 35]}
    _, alpha = resampled_alpha(_table(correct, support), draws=20)
    np.testing.assert_array_equal(alpha, np.full((1, 21), alpha[0, 0]))
    assert np.isfinite(alpha[0, 0])


def test_noise_floor_matches_a_plain_monte_carlo():
    """One dense and one pruned model, 400 draws each way: the two estimates of the noise sd agree."""
    support = np.array([50, 50, 50, 50])
    dense, pruned = np.array([45, 30, 40, 25]), np.array([40, 20, 38, 15])
    rng = np.random.default_rng(1)
    values = []
    for _ in range(400):
        kd, kp = rng.binomial(support, dense / support), rng.binomial(support, pruned / support)
        before = normalized_recall_balance(kd / support, kd.sum() / support.sum())
        after = normalized_recall_balance(kp / support, kp.sum() / support.sum())
        values.append(alpha_slope(before, after)[0])
    expected = np.std(values, ddof=1)
    row = noise_floor(_table({("dense", 1, 0): dense, ("mp", 2, 0): pruned}, support), draws=400, seed=2).iloc[0]
    assert row["alpha_sd_noise"] == pytest.approx(expected, rel=0.15)
    assert row["n"] == 1 and np.isnan(row["alpha_sd"]) and np.isnan(row["alpha_sd_resampled"])
    assert row["note"] == NOTE_ONE_SEED and row["draws"] == 400


def test_cells_and_errors():
    table = noise_floor(_random_study(), draws=20)
    assert table["ratio"].tolist() == [2.0, 10.0] and (table["n"] == 5).all()
    assert (table["alpha_sd_noise"] > 0).all() and (table["note"] == "").all()
    recall = _random_study()
    with pytest.raises(ValueError, match="whole number"):
        resampled_alpha(recall.assign(recall=recall["recall"] + 0.001))
    with pytest.raises(ValueError, match="dense"):
        resampled_alpha(recall[~((recall["method"] == "dense") & (recall["seed"] == 0))])
    with pytest.raises(ValueError, match="draws"):
        noise_floor(recall, draws=0)
