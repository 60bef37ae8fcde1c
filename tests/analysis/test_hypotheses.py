"""The family tests recover the planted effects; p-values match scipy; Bonferroni scopes as in section 6.2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from recall_distortion.analysis import hypotheses, layout
from tests.analysis.synthetic import FAMILIES, cell_alpha, collapse_cell, make_alpha

BY_NAME = {f["name"]: f for f in FAMILIES}


def planned(family: str, stem: str) -> layout.Output:
    """The planned test table ``stem`` of ``family`` (its number comes from the plan)."""
    return next(o for o in layout.family_plan(BY_NAME[family])[0] if o.stem == stem)


def run_planned(alpha, family: str, stem: str):
    return hypotheses.family_tests(alpha, BY_NAME[family], planned(family, stem), max_collapsed_share=0.0)


def test_ratio_tests_are_paired_one_sided_and_bonferroni_by_column(alpha):
    t4 = run_planned(alpha, "methods", "table4_methods")
    assert list(t4.columns) == hypotheses.TEST_COLUMNS
    assert set(t4.table) == {4}
    assert set(t4.bonferroni_factor) == {4}  # 4 consecutive-ratio rows per column
    for r in t4.itertuples():
        a = cell_alpha(alpha, r.dataset_a, r.model_a, r.method_a, r.ratio_a)
        b = cell_alpha(alpha, r.dataset_b, r.model_b, r.method_b, r.ratio_b)
        ref = sps.ttest_rel(a, b, alternative="less").pvalue
        assert r.p_value == pytest.approx(ref, abs=1e-12)
        assert r.p_bonferroni == pytest.approx(min(1.0, 4 * ref), abs=1e-12)
    sig = t4[t4.p_bonferroni < 0.05]
    assert set(sig.column) == {"MP", "GP", "UP"}  # planted growth with t, none for RP
    assert len(sig) == 12


def test_paired_tests_use_the_seeds_with_both_values():
    alpha = make_alpha()
    hit = (alpha.method == "gp") & (alpha.ratio == 50) & (alpha.seed < 4)
    alpha.loc[hit, "alpha"] = np.nan
    alpha.loc[hit, "alpha_reason"] = "all normalized recall balances before pruning are 0"
    t4 = run_planned(alpha, "methods", "table4_methods")
    test = t4[(t4.column == "GP") & (t4.row == "20 vs 50")].iloc[0]
    assert test.n_a == 26 and "4 seed(s)" in test.note


def test_model_tests_are_independent_student_smaller_greater(alpha):
    t5 = run_planned(alpha, "sizes", "table5_sizes_mp")
    assert t5.table.iloc[0] == 5 and not t5.paired.any() and set(t5.alternative) == {"greater"}
    assert list(dict.fromkeys(t5.row)) == ["ResNet-20 vs ResNet-32", "ResNet-32 vs ResNet-56"]
    assert set(t5.bonferroni_factor) == {2}
    for r in t5.itertuples():
        a = cell_alpha(alpha, r.dataset_a, r.model_a, r.method_a, r.ratio_a)
        b = cell_alpha(alpha, r.dataset_b, r.model_b, r.method_b, r.ratio_b)
        ref = sps.ttest_ind(a, b, equal_var=True, alternative="greater").pvalue
        assert r.p_bonferroni == pytest.approx(min(1.0, 2 * ref), abs=1e-12)
        # planted: smaller models intensify more at t >= 10, de-intensify more at t <= 4
        assert (r.p_bonferroni < 0.05) == (r.ratio_a >= 10)
    assert run_planned(alpha, "sizes", "table6_sizes_up").table.iloc[0] == 6  # UP: the paper's Table 6


def test_dataset_tests_less_complex_lower(alpha):
    t7 = run_planned(alpha, "tasks", "table7_tasks_mp")
    assert t7.table.iloc[0] == 7 and set(t7.alternative) == {"less"}
    assert list(dict.fromkeys(t7.row)) == ["MNIST vs CIFAR-10", "CIFAR-10 vs CIFAR-100"]
    high = t7[t7.ratio_a >= 10]
    assert (high.p_bonferroni < 0.05).all() and (t7[t7.ratio_a <= 4].p_bonferroni > 0.5).all()


def test_method_pair_tables_8_and_9(alpha):
    t8 = run_planned(alpha, "methods", "table8_methods")
    assert t8.table.iloc[0] == 8 and set(t8.alternative) == {"two-sided"} and t8.paired.all()
    assert set(t8.bonferroni_factor) == {6}  # 6 method pairs per ratio column
    assert len(t8) == 6 * 5
    t9 = run_planned(alpha, "sizes", "table9_sizes")
    assert t9.table.iloc[0] == 9 and set(t9.bonferroni_factor) == {15}  # all 3 models x 5 ratios at once
    r = t9.iloc[0]
    ref = sps.ttest_rel(cell_alpha(alpha, r.dataset_a, r.model_a, "mp", r.ratio_a),
                        cell_alpha(alpha, r.dataset_b, r.model_b, "up", r.ratio_b)).pvalue
    assert r.p_bonferroni == pytest.approx(min(1.0, 15 * ref), abs=1e-12)
    assert (t9.p_bonferroni < 0.05).all()  # planted UP = MP - 0.06


def test_untestable_rows_count_in_the_multiplier():
    alpha = make_alpha()
    alpha.loc[(alpha.method == "up") & (alpha.ratio == 20), "alpha"] = np.nan  # a whole cell undefined
    alpha.loc[(alpha.method == "up") & (alpha.ratio == 20), "alpha_reason"] = "no classes"
    t4 = run_planned(alpha, "methods", "table4_methods")
    up = t4[t4.column == "UP"].set_index("row")
    assert set(up.bonferroni_factor) == {4}
    assert np.isnan(up.loc["10 vs 20", "p_bonferroni"]) and "not tested" in up.loc["10 vs 20", "note"]
    ref = sps.ttest_rel(cell_alpha(alpha, "cifar10", "resnet56", "up", 2),
                        cell_alpha(alpha, "cifar10", "resnet56", "up", 4), alternative="less").pvalue
    assert up.loc["2 vs 4", "p_bonferroni"] == pytest.approx(min(1.0, 4 * ref), abs=1e-12)


def test_only_test_tables_and_known_scopes_run(alpha):
    with pytest.raises(ValueError, match="not a test table"):
        hypotheses.family_tests(
            alpha, BY_NAME["methods"], layout.Output("alpha_ci", "alpha_ci", None, None), max_collapsed_share=0.0
        )
    with pytest.raises(ValueError, match="correction"):
        hypotheses.run_tests(
            {}, [], paired=True, alternative="less", correction="row", table=4, family="methods", collapsed=frozenset()
        )


def test_tests_involving_a_collapsed_cell_are_flagged_and_unchanged():
    mp50 = ("cifar10", "resnet56", "mp", 50.0)
    alpha = collapse_cell(make_alpha(), mp50, 27)
    numbers = [c for c in hypotheses.TEST_COLUMNS if c != "collapsed"]
    for family, stem in [("methods", "table4_methods"), ("methods", "table8_methods"), ("tasks", "table7_tasks_mp")]:
        flagged = run_planned(alpha, family, stem)
        unmarked = run_planned(alpha.assign(collapsed=False), family, stem)
        pd.testing.assert_frame_equal(flagged[numbers], unmarked[numbers])  # the paper's tests keep every model
        assert not unmarked.collapsed.any()
        involves = [
            mp50 in ((r.dataset_a, r.model_a, r.method_a, r.ratio_a), (r.dataset_b, r.model_b, r.method_b, r.ratio_b))
            for r in flagged.itertuples()
        ]
        assert flagged.collapsed.tolist() == involves and any(involves)
    t4 = run_planned(alpha, "methods", "table4_methods").set_index(["column", "row"])
    assert t4.loc[("MP", "20 vs 50"), "collapsed"] and not t4.loc[("GP", "20 vs 50"), "collapsed"]
    ref = sps.ttest_rel(cell_alpha(alpha, "cifar10", "resnet56", "mp", 20), cell_alpha(alpha, *mp50),
                        alternative="less").pvalue
    assert t4.loc[("MP", "20 vs 50"), "p_value"] == pytest.approx(ref, abs=1e-12)
