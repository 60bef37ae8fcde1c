"""Tables recover the planted effects; p-values match scipy; NaN α are counted; files in 4 formats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from tests.analysis.synthetic import FAMILIES, make_alpha
from recall_distortion.analysis import layout, tables

BY_NAME = {f["name"]: f for f in FAMILIES}


def _alpha(alpha, d, m, p, r):
    sel = alpha[(alpha.dataset == d) & (alpha.model == m) & (alpha.method == p) & (alpha.ratio == r)]
    return sel.set_index("seed")["alpha"].sort_index()


def test_alpha_ci_columns_marks_and_scipy_interval(alpha):
    ci = tables.alpha_ci(alpha, layout.study_cells(FAMILIES))
    assert list(ci.columns) == ["dataset", "model", "method", "ratio", "n", "mean", "ci_low", "ci_high", "mark", "n_nan"]
    assert len(ci) == len(layout.study_cells(FAMILIES))
    pruned = ci[ci.method != "rp"]
    assert set(pruned[pruned.ratio <= 4].mark) == {"<"}  # planted de-intensification at t <= 4
    assert set(pruned[pruned.ratio >= 10].mark) == {">"}  # planted intensification at t >= 10
    assert set(ci[ci.method == "rp"].mark) == {"<"}  # RP: α ≈ 0.5 everywhere
    row = ci[(ci.dataset == "cifar10") & (ci.model == "resnet56") & (ci.method == "mp") & (ci.ratio == 20)].iloc[0]
    x = _alpha(alpha, "cifar10", "resnet56", "mp", 20).to_numpy()
    low, high = sps.t.interval(0.99, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert (row.n, row.n_nan) == (30, 0)
    assert row.ci_low == pytest.approx(low, abs=1e-12) and row.ci_high == pytest.approx(high, abs=1e-12)


def test_nan_alpha_rows_are_counted_not_dropped():
    alpha = make_alpha()
    hit = (alpha.method == "gp") & (alpha.ratio == 50) & (alpha.seed < 4)
    alpha.loc[hit, "alpha"] = np.nan
    alpha.loc[hit, "alpha_reason"] = "all normalized recall balances before pruning are 0"
    cells = layout.study_cells(FAMILIES)
    ci = tables.alpha_ci(alpha, cells)
    row = ci[(ci.method == "gp") & (ci.ratio == 50)].iloc[0]
    assert (row.n, row.n_nan) == (26, 4)
    nan = tables.nan_alpha(alpha, cells)
    assert nan.to_dict("records") == [
        {"dataset": "cifar10", "model": "resnet56", "method": "gp", "ratio": 50.0,
         "alpha_reason": "all normalized recall balances before pruning are 0", "count": 4}
    ]
    # paired tests use the seeds with both values, and say so
    t4 = tables.ratio_tests(alpha, BY_NAME["methods"])
    test = t4[(t4.column == "GP") & (t4.row == "20 vs 50")].iloc[0]
    assert test.n_a == 26 and "4 seed(s)" in test.note


def test_ratio_tests_are_paired_one_sided_and_bonferroni_by_column(alpha):
    t4 = tables.ratio_tests(alpha, BY_NAME["methods"])
    assert list(t4.columns) == tables.TEST_COLUMNS
    assert set(t4.m) == {4}  # 4 consecutive-ratio rows per column
    for r in t4.itertuples():
        a = _alpha(alpha, r.dataset_a, r.model_a, r.method_a, r.ratio_a)
        b = _alpha(alpha, r.dataset_b, r.model_b, r.method_b, r.ratio_b)
        ref = sps.ttest_rel(a, b, alternative="less").pvalue
        assert r.p == pytest.approx(ref, abs=1e-12)
        assert r.p_bonferroni == pytest.approx(min(1.0, 4 * ref), abs=1e-12)
    sig = t4[t4.p_bonferroni < 0.05]
    assert set(sig.column) == {"MP", "GP", "UP"}  # planted growth with t, none for RP
    assert len(sig) == 12


def test_model_tests_are_independent_student_smaller_greater(alpha):
    t5 = tables.between_tests(alpha, BY_NAME["sizes"], "mp")
    assert t5.table.iloc[0] == 5 and not t5.paired.any() and set(t5.alternative) == {"greater"}
    assert list(dict.fromkeys(t5.row)) == ["ResNet-20 vs ResNet-32", "ResNet-32 vs ResNet-56"]
    assert set(t5.m) == {2}
    for r in t5.itertuples():
        a = _alpha(alpha, r.dataset_a, r.model_a, r.method_a, r.ratio_a)
        b = _alpha(alpha, r.dataset_b, r.model_b, r.method_b, r.ratio_b)
        ref = sps.ttest_ind(a, b, equal_var=True, alternative="greater").pvalue
        assert r.p_bonferroni == pytest.approx(min(1.0, 2 * ref), abs=1e-12)
        # planted: smaller models intensify more at t >= 10, de-intensify more at t <= 4
        assert (r.p_bonferroni < 0.05) == (r.ratio_a >= 10)
    assert tables.between_tests(alpha, BY_NAME["sizes"], "up").table.iloc[0] == 6


def test_dataset_tests_less_complex_lower(alpha):
    t7 = tables.between_tests(alpha, BY_NAME["tasks"], "mp")
    assert t7.table.iloc[0] == 7 and set(t7.alternative) == {"less"}
    assert list(dict.fromkeys(t7.row)) == ["MNIST vs CIFAR-10", "CIFAR-10 vs CIFAR-100"]
    high = t7[t7.ratio_a >= 10]
    assert (high.p_bonferroni < 0.05).all() and (t7[t7.ratio_a <= 4].p_bonferroni > 0.5).all()


def test_method_pair_tables_8_and_9(alpha):
    t8 = tables.method_pair_tests(alpha, BY_NAME["methods"])
    assert t8.table.iloc[0] == 8 and set(t8.alternative) == {"two-sided"} and t8.paired.all()
    assert set(t8.m) == {6}  # 6 method pairs per ratio column
    assert len(t8) == 6 * 5
    t9 = tables.method_pair_tests(alpha, BY_NAME["sizes"])
    assert t9.table.iloc[0] == 9 and set(t9.m) == {15}  # all 3 models x 5 ratios at once
    r = t9.iloc[0]
    ref = sps.ttest_rel(_alpha(alpha, r.dataset_a, r.model_a, "mp", r.ratio_a),
                        _alpha(alpha, r.dataset_b, r.model_b, "up", r.ratio_b)).pvalue
    assert r.p_bonferroni == pytest.approx(min(1.0, 15 * ref), abs=1e-12)
    assert (t9.p_bonferroni < 0.05).all()  # planted UP = MP - 0.06


def test_untestable_rows_count_in_the_multiplier():
    alpha = make_alpha()
    alpha.loc[(alpha.method == "up") & (alpha.ratio == 20), "alpha"] = np.nan  # a whole cell undefined
    alpha.loc[(alpha.method == "up") & (alpha.ratio == 20), "alpha_reason"] = "no classes"
    t4 = tables.ratio_tests(alpha, BY_NAME["methods"])
    up = t4[t4.column == "UP"].set_index("row")
    assert set(up.m) == {4}
    assert np.isnan(up.loc["10 vs 20", "p_bonferroni"]) and "not tested" in up.loc["10 vs 20", "note"]
    ref = sps.ttest_rel(_alpha(alpha, "cifar10", "resnet56", "up", 2), _alpha(alpha, "cifar10", "resnet56", "up", 4),
                        alternative="less").pvalue
    assert up.loc["2 vs 4", "p_bonferroni"] == pytest.approx(min(1.0, 4 * ref), abs=1e-12)


def test_dense_accuracy_and_recall_variance(alpha):
    t10 = tables.dense_accuracy(alpha, layout.study_groups(FAMILIES))
    row = t10[(t10.dataset == "mnist")].iloc[0]
    per_seed = alpha[alpha.dataset == "mnist"].groupby("seed")["accuracy_dense"].first()
    assert row.n == 30 and row.accuracy_dense == pytest.approx(per_seed.mean(), abs=1e-12)
    t11 = tables.recall_variance(alpha, layout.study_cells(FAMILIES))
    mp = t11[(t11.dataset == "cifar10") & (t11.model == "resnet56") & (t11.method == "mp")]
    assert list(mp.stage) == ["before"] + ["after"] * 7  # ratios of the method and tradeoff families
    after50 = mp[mp.ratio == 50].iloc[0]
    assert after50.above_before  # variance planted as var_dense * α²


def test_tradeoff_data_starts_at_dense(alpha):
    data = tables.tradeoff_data(alpha, BY_NAME["tradeoff"])
    first = data.iloc[0]
    assert (first.ratio, first.alpha_mean) == (1.0, 1.0)
    x = _alpha(alpha, "cifar10", "resnet56", "mp", 10)
    row = data[(data.method == "mp") & (data.ratio == 10)].iloc[0]
    assert row.alpha_se == pytest.approx(sps.sem(x), abs=1e-12)


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
    full = tables.ratio_tests(alpha, BY_NAME["methods"])
    np.testing.assert_array_equal(csv["p_bonferroni"].to_numpy(), full["p_bonferroni"].to_numpy())  # full precision
    ci = pd.read_csv(tmp_path / "alpha_ci.csv", keep_default_na=False, na_values=[""])
    assert list(ci.columns) == ["dataset", "model", "method", "ratio", "n", "mean", "ci_low", "ci_high", "mark", "n_nan"]
    assert "**0.0" in (tmp_path / "table11.md").read_text()  # bold: variance up after pruning
