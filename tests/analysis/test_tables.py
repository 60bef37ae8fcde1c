"""Appendix tables match hand computations; every planned table is written in 4 formats with its number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from recall_distortion.analysis import cells, hypotheses, layout, stats, tables
from tests.analysis.synthetic import FAMILIES, cell_alpha, collapse_cell, make_alpha

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
    data = tables.tradeoff_data(alpha, BY_NAME["tradeoff"], max_collapsed_share=0.0)
    first = data.iloc[0]
    assert (first.ratio, first.alpha_mean) == (1.0, 1.0)
    x = cell_alpha(alpha, "cifar10", "resnet56", "mp", 10)
    row = data[(data.method == "mp") & (data.ratio == 10)].iloc[0]
    assert row.alpha_se == pytest.approx(sps.sem(x), abs=1e-12)


def test_a_table_takes_its_number_from_the_planned_output(alpha):
    output = layout.Output("table99_methods", "ratio_tests", 99, "methods")
    table = tables.build_table(output, alpha, FAMILIES, max_collapsed_share=0.0)
    assert table.title.startswith("Table 99:") and set(table.data.table) == {99}
    table = tables.build_table(
        layout.Output("table42", "dense_accuracy", 42, None), alpha, FAMILIES, max_collapsed_share=0.0
    )
    assert table.title.startswith("Table 42:") and table.number_label == "Table 42"


def test_written_in_four_formats_with_the_paper_number(alpha, tmp_path):
    paths = tables.write_tables(alpha, FAMILIES, tmp_path, max_collapsed_share=0.0)
    expected = {p.split("/")[-1] for p in layout.expected_outputs(FAMILIES)["tables"]}
    assert {p.name for p in paths} == expected == {p.name for p in tmp_path.iterdir()}
    for stem, number in [
        ("table4_methods", 4),
        ("table5_sizes_mp", 5),
        ("table9_sizes", 9),
        ("table10", 10),
        ("table11", 11),
    ]:
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
    full = hypotheses.family_tests(alpha, BY_NAME["methods"], t4, max_collapsed_share=0.0)
    np.testing.assert_array_equal(csv["p_bonferroni"].to_numpy(), full["p_bonferroni"].to_numpy())  # full precision
    ci = pd.read_csv(tmp_path / "alpha_ci.csv", keep_default_na=False, na_values=[""])
    assert list(ci.columns) == cells.ALPHA_CI_COLUMNS and not ci.collapsed.any()
    assert "**0.0" in (tmp_path / "table11.md").read_text()  # bold: variance up after pruning


def test_a_collapsed_cell_is_marked_in_every_table_and_its_numbers_kept(tmp_path):
    mp50 = ("cifar10", "resnet56", "mp", 50.0)
    alpha = collapse_cell(make_alpha(), mp50, 27)
    tables.write_tables(alpha, FAMILIES, tmp_path, max_collapsed_share=0.0)
    mp = alpha[(alpha.dataset == "cifar10") & (alpha.model == "resnet56") & (alpha.method == "mp")]
    cell = mp[mp.ratio == 50]
    why = (f"27 of 30 models collapsed (mean accuracy {cell.accuracy.mean():.2f} vs "
           f"{cell.accuracy_dense.mean():.2f} dense)")
    rule = "† collapsed cell: at least one of its models kept less than collapse.min_retained"
    md = (tmp_path / "alpha_ci.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| CIFAR-10 @ ResNet-56 → MP | 50 |"))
    assert f"| {cell.alpha.mean():.3f}† |" in row and "| 27/30 |" in row
    assert rule in md and f"- † CIFAR-10 @ ResNet-56 → MP, t = 50: {why}" in md
    assert md.count("†") == 3  # the value, the rule, the cell's line: no other cell is marked
    csv = pd.read_csv(tmp_path / "alpha_ci.csv", keep_default_na=False, na_values=[""])
    flagged = csv[csv.collapsed]
    assert len(flagged) == 1 and flagged.iloc[0].n_collapsed == 27 and flagged.iloc[0]["mean"] == cell.alpha.mean()
    tex = (tmp_path / "alpha_ci.tex").read_text()
    assert "†" in tex and "27 of 30 models collapsed" in tex
    # the test tables: the MP column's 20 vs 50 test is marked, its p-value unchanged
    md4 = (tmp_path / "table4_methods.md").read_text()
    t4 = pd.read_csv(tmp_path / "table4_methods.csv")
    p = t4[(t4.column == "MP") & (t4.row == "20 vs 50")].iloc[0].p_bonferroni
    ref = sps.ttest_rel(cell_alpha(alpha, "cifar10", "resnet56", "mp", 20), cell_alpha(alpha, *mp50),
                        alternative="less").pvalue
    assert p == pytest.approx(min(1.0, 4 * ref), abs=1e-12)
    assert f"| 20 vs 50 | {stats.format_p(p)}† | <0.001 | <0.001 |" in md4 and rule in md4
    assert t4.collapsed.tolist() == [c == "MP" and r == "20 vs 50" for c, r in zip(t4.column, t4.row)]
    # Table 11: the collapsed cell's variance, mean over every model, is marked; Table 10 marks its series
    md11 = (tmp_path / "table11.md").read_text()
    assert f"{cell.recall_variance.mean():.4f}†" in md11 and why in md11
    md10 = (tmp_path / "table10.md").read_text()
    assert "| ResNet-56 | CIFAR-10 | MP | " in md10 and "CIFAR-10 @ ResNet-56 → MP: collapsed at t = 50" in md10
    assert "| ResNet-56 | CIFAR-10 | GP | " in md10 and md10.count("†") == 3  # MP's accuracy, the rule, the line


def test_alpha_ci_gains_the_noise_floor_beside_the_observed_spread():
    from recall_distortion.analysis import cells
    from recall_distortion.collapse import mark_collapsed
    from recall_distortion.metrics import alpha_table
    from tests.analysis.forgetting_cases import FAMILY, hurt_recall

    recall = hurt_recall()
    alpha = mark_collapsed(alpha_table(recall), recall)
    output = next(o for o in layout.analysis_plan([FAMILY]).tables if o.kind == "alpha_ci")
    plain = tables.build_table(output, alpha, [FAMILY], max_collapsed_share=0.0)
    table = tables.build_table(output, alpha, [FAMILY], recall, {"noise_floor_draws": 40, "noise_floor_seed": 0},
                               max_collapsed_share=0.0)
    floor = cells.noise_floor_columns(recall, layout.study_cells([FAMILY]), 40, 0)
    pd.testing.assert_frame_equal(table.data[plain.data.columns], plain.data)
    pd.testing.assert_frame_equal(table.data[cells.NOISE_FLOOR_COLUMNS], floor)
    assert table.data["alpha_sd"].iloc[0] == pytest.approx(np.std(alpha["alpha"], ddof=1))
    assert table.display["SD α, test noise"].iloc[0] == f"{floor['alpha_sd_noise'].iloc[0]:.3f}"
    assert "shifts a cell's mean α" in table.notes[-1]
