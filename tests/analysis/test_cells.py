"""Per-cell CIs of E[α] match scipy's t interval and carry the planted marks; NaN α are counted."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from recall_distortion.analysis import cells, layout
from tests.analysis.synthetic import FAMILIES, cell_alpha, make_alpha


def test_alpha_ci_columns_marks_and_scipy_interval(alpha):
    ci = cells.alpha_ci(alpha, layout.study_cells(FAMILIES))
    assert list(ci.columns) == ["dataset", "model", "method", "ratio", "n", "mean", "ci_low", "ci_high", "mark", "n_nan"]
    assert len(ci) == len(layout.study_cells(FAMILIES))
    pruned = ci[ci.method != "rp"]
    assert set(pruned[pruned.ratio <= 4].mark) == {"<"}  # planted de-intensification at t <= 4
    assert set(pruned[pruned.ratio >= 10].mark) == {">"}  # planted intensification at t >= 10
    assert set(ci[ci.method == "rp"].mark) == {"<"}  # RP: α ≈ 0.5 everywhere
    row = ci[(ci.dataset == "cifar10") & (ci.model == "resnet56") & (ci.method == "mp") & (ci.ratio == 20)].iloc[0]
    x = cell_alpha(alpha, "cifar10", "resnet56", "mp", 20).to_numpy()
    low, high = sps.t.interval(0.99, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert (row.n, row.n_nan) == (30, 0)
    assert row.ci_low == pytest.approx(low, abs=1e-12) and row.ci_high == pytest.approx(high, abs=1e-12)


def test_nan_alpha_rows_are_counted_not_dropped():
    alpha = make_alpha()
    hit = (alpha.method == "gp") & (alpha.ratio == 50) & (alpha.seed < 4)
    alpha.loc[hit, "alpha"] = np.nan
    alpha.loc[hit, "alpha_reason"] = "all normalized recall balances before pruning are 0"
    study_cells = layout.study_cells(FAMILIES)
    ci = cells.alpha_ci(alpha, study_cells)
    row = ci[(ci.method == "gp") & (ci.ratio == 50)].iloc[0]
    assert (row.n, row.n_nan) == (26, 4)
    nan = cells.nan_alpha(alpha, study_cells)
    assert nan.to_dict("records") == [
        {"dataset": "cifar10", "model": "resnet56", "method": "gp", "ratio": 50.0,
         "alpha_reason": "all normalized recall balances before pruning are 0", "count": 4}
    ]


def test_cell_values_index_by_seed_and_reject_duplicates(alpha):
    by_cell = cells.cell_values(alpha)
    got = cells.values(by_cell, "cifar10", "resnet56", "mp", 20.0000000001)  # ratios compare through ratio_key
    expected = cell_alpha(alpha, "cifar10", "resnet56", "mp", 20)
    np.testing.assert_array_equal(got.sort_index().to_numpy(), expected.to_numpy())
    assert cells.values(by_cell, "cifar10", "resnet56", "mp", 3).empty  # no such cell
    with pytest.raises(ValueError, match="duplicate rows"):
        cells.cell_values(alpha.iloc[[0, 0]])


def test_noise_floor_columns_follow_the_cells_and_note_a_missing_one():
    from recall_distortion.analysis.noise_floor import noise_floor
    from tests.analysis.forgetting_cases import hurt_recall

    recall = hurt_recall()
    wanted = [("digits", "lenet5", "mp", 4.0), ("digits", "lenet5", "mp", 2)]  # the study has no t = 4
    out = cells.noise_floor_columns(recall, wanted, draws=30, seed=1)
    floor = noise_floor(recall, draws=30, seed=1).iloc[0]
    assert list(out.columns) == cells.NOISE_FLOOR_COLUMNS
    assert np.isnan(out.loc[0, "alpha_sd"]) and out.loc[0, "noise_note"] == "no models in the recall table"
    assert out.loc[1, ["alpha_sd", "alpha_sd_noise", "alpha_sd_resampled"]].tolist() == pytest.approx(
        [floor.alpha_sd, floor.alpha_sd_noise, floor.alpha_sd_resampled])
    assert out["noise_draws"].tolist() == [30, 30]
