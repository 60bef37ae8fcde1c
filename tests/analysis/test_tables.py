"""Appendix tables match hand computations; every planned table is written in 4 formats with its number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from recall_distortion.analysis import hypotheses, layout, tables
from tests.analysis.synthetic import FAMILIES, cell_alpha

BY_NAME = {f["name"]: f for f in FAMILIES}


def test_dense_accuracy_and_recall_variance(alpha):
    t10 = tables.dense_accuracy(alpha, layout.study_groups(FAMILIES))
    row = t10[(t10.dataset == "mnist")].iloc[0]
    per_seed = alpha[alpha.dataset == "mnist"].groupby("seed")["accuracy_dense"].first()
    assert row.n == 30 and row.accuracy_dense == pytest.approx(per_seed.mean(), abs=1e-12)
    t11 = tables.recall_variance_table(alpha, layout.study_cells(FAMILIES))
    mp = t11[(t11.dataset == "cifar10") & (t11.model == "resnet56") & (t11.method == "mp")]
    assert list(mp.stage) == ["before"] + ["after"] * 7  # ratios of the method and tradeoff families
    after50 = mp[mp.ratio == 50].iloc[0]
    assert after50.above_before  # variance planted as var_dense * α²
    sel = alpha[(alpha.dataset == "cifar10") & (alpha.model == "resnet56") & (alpha.method == "mp")]
    assert after50.recall_variance == pytest.approx(sel[sel.ratio == 50].recall_variance.mean(), abs=1e-15)


def test_tradeoff_data_starts_at_dense(alpha):
    data = tables.tradeoff_data(alpha, BY_NAME["tradeoff"])
    first = data.iloc[0]
    assert (first.ratio, first.alpha_mean) == (1.0, 1.0)
    x = cell_alpha(alpha, "cifar10", "resnet56", "mp", 10)
    row = data[(data.method == "mp") & (data.ratio == 10)].iloc[0]
    assert row.alpha_se == pytest.approx(sps.sem(x), abs=1e-12)


def test_a_table_takes_its_number_from_the_planned_output(alpha):
    output = layout.Output("table99_methods", "ratio_tests", 99, "methods")
    table = tables.build_table(output, alpha, FAMILIES)
    assert table.title.startswith("Table 99:") and set(table.data.table) == {99}
    table = tables.build_table(layout.Output("table42", "dense_accuracy", 42, None), alpha, FAMILIES)
    assert table.title.startswith("Table 42:") and table.number_label == "Table 42"


def test_written_in_four_formats_with_the_paper_number(alpha, tmp_path):
    paths = tables.write_tables(alpha, FAMILIES, tmp_path)
    expected = {p.split("/")[-1] for p in layout.expected_outputs(FAMILIES)["tables"]}
    assert {p.name for p in paths} == expected == {p.name for p in tmp_path.iterdir()}
    for stem, number in [("table4_methods", 4), ("table5_sizes_mp", 5), ("table9_sizes", 9), ("table10", 10), ("table11", 11)]:
        md = (tmp_path / f"{stem}.md").read_text()
        tex = (tmp_path / f"{stem}.tex").read_text()
        assert md.startswith(f"**Table {number}:**")
        assert f"Table {number}:" in tex and rf"\renewcommand{{\thetable}}{{{number}}}" in tex
        for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
            assert rule in tex
        assert f"Table {number}:" in (tmp_path / f"{stem}.html").read_text()
    md4 = (tmp_path / "table4_methods.md").read_text()
    assert "| 2 vs 4 | <0.001 | <0.001 | <0.001 |" in md4 and "Bonferroni-corrected by column" in md4
    csv = pd.read_csv(tmp_path / "table4_methods.csv")
    assert list(csv.columns) == hypotheses.TEST_COLUMNS  # p_value and bonferroni_factor, not p and m
    t4 = next(o for o in layout.family_plan(BY_NAME["methods"])[0] if o.stem == "table4_methods")
    full = hypotheses.family_tests(alpha, BY_NAME["methods"], t4)
    np.testing.assert_array_equal(csv["p_bonferroni"].to_numpy(), full["p_bonferroni"].to_numpy())  # full precision
    ci = pd.read_csv(tmp_path / "alpha_ci.csv", keep_default_na=False, na_values=[""])
    assert list(ci.columns) == ["dataset", "model", "method", "ratio", "n", "mean", "ci_low", "ci_high", "mark", "n_nan"]
    assert "**0.0" in (tmp_path / "table11.md").read_text()  # bold: variance up after pruning


def test_alpha_ci_gains_the_noise_floor_beside_the_observed_spread():
    from recall_distortion.analysis import cells
    from recall_distortion.metrics import alpha_table
    from tests.analysis.forgetting_cases import FAMILY, hurt_recall

    recall = hurt_recall()
    alpha = alpha_table(recall)
    output = next(o for o in layout.analysis_plan([FAMILY]).tables if o.kind == "alpha_ci")
    plain = tables.build_table(output, alpha, [FAMILY])
    table = tables.build_table(output, alpha, [FAMILY], recall, {"noise_floor_draws": 40, "noise_floor_seed": 0})
    floor = cells.noise_floor_columns(recall, layout.study_cells([FAMILY]), 40, 0)
    pd.testing.assert_frame_equal(table.data[plain.data.columns], plain.data)
    pd.testing.assert_frame_equal(table.data[cells.NOISE_FLOOR_COLUMNS], floor)
    assert table.data["alpha_sd"].iloc[0] == pytest.approx(np.std(alpha["alpha"], ddof=1))
    assert table.display["SD α, test noise"].iloc[0] == f"{floor['alpha_sd_noise'].iloc[0]:.3f}"
    assert "shifts a cell's mean α" in table.notes[-1]
