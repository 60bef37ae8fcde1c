"""Per-cell CIs of E[α] match scipy's t interval and carry the planted marks; NaN α are counted; a collapsed
cell is flagged with its counts and still counts in its CI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from recall_distortion.analysis import cells, layout
from tests.analysis.synthetic import FAMILIES, cell_alpha, collapse_cell, make_alpha


def test_alpha_ci_columns_marks_and_scipy_interval(alpha):
    ci = cells.alpha_ci(alpha, layout.study_cells(FAMILIES), max_collapsed_share=0.0)
    assert list(ci.columns) == cells.ALPHA_CI_COLUMNS
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
    ci = cells.alpha_ci(alpha, study_cells, max_collapsed_share=0.0)
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


MP50 = ("cifar10", "resnet56", "mp", 50.0)


def test_a_collapsed_cell_is_flagged_with_its_counts():
    alpha = collapse_cell(make_alpha(), MP50, 27)
    ci = cells.alpha_ci(alpha, layout.study_cells(FAMILIES), max_collapsed_share=0.0)
    assert list(ci.columns[-6:]) == ["n_models", "n_collapsed", "accuracy_mean", "accuracy_dense_mean",
                                     "retained_mean", "collapsed"]
    flagged = ci[ci.collapsed]
    assert flagged[["dataset", "model", "method", "ratio"]].to_records(index=False).tolist() == [MP50]
    row = flagged.iloc[0]
    sel = alpha[
        (alpha.dataset == "cifar10") & (alpha.model == "resnet56") & (alpha.method == "mp") & (alpha.ratio == 50)
    ]
    accuracy, dense = sel.accuracy.to_numpy(), sel.accuracy_dense.to_numpy()
    assert (row.n_models, row.n_collapsed) == (30, 27)
    assert row.accuracy_mean == pytest.approx(accuracy.mean(), abs=1e-15)
    assert row.accuracy_dense_mean == pytest.approx(dense.mean(), abs=1e-15)
    assert row.retained_mean == pytest.approx(np.mean((accuracy - 0.1) / (dense - 0.1)), abs=1e-12)  # C = 10
    assert (ci.loc[~ci.collapsed, "n_collapsed"] == 0).all()
    # 27 of 30 is 0.9 of the models: flagged at a tolerated share of 0.85, not at 0.95
    assert cells.alpha_ci(alpha, [MP50], max_collapsed_share=0.85).collapsed.tolist() == [True]
    assert cells.alpha_ci(alpha, [MP50], max_collapsed_share=0.95).collapsed.tolist() == [False]


def test_a_collapsed_cell_still_counts_in_its_ci():
    alpha = collapse_cell(make_alpha(), MP50, 27)
    study_cells = layout.study_cells(FAMILIES)
    ci = cells.alpha_ci(alpha, study_cells, max_collapsed_share=0.0)
    unmarked = cells.alpha_ci(alpha.assign(collapsed=False), study_cells, max_collapsed_share=0.0)
    stats_columns = ["dataset", "model", "method", "ratio", "n", "mean", "ci_low", "ci_high", "mark", "n_nan"]
    pd.testing.assert_frame_equal(ci[stats_columns], unmarked[stats_columns])  # identical with and without the flags
    assert not unmarked.collapsed.any()
    row = ci[ci.collapsed].iloc[0]
    x = cell_alpha(alpha, *MP50).to_numpy()
    low, high = sps.t.interval(0.99, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert row.n == 30 and row.ci_low == pytest.approx(low, abs=1e-12) and row.ci_high == pytest.approx(high, abs=1e-12)


def test_an_alpha_table_without_collapse_marks_is_refused():
    with pytest.raises(ValueError, match="mark_collapsed"):
        cells.alpha_ci(make_alpha().drop(columns=["collapsed"]), [MP50], max_collapsed_share=0.0)


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
