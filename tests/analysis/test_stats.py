"""CIs, t-tests and Bonferroni of section 6.2 against scipy (independent implementation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from recall_distortion.analysis import stats

RNG = np.random.default_rng(42)
X = RNG.normal(1.1, 0.2, 30)
Y = X + RNG.normal(0.05, 0.1, 30)
Z = RNG.normal(1.0, 0.3, 23)  # different size: Student (pooled) vs Welch would differ


def test_ci_equals_scipy_t_interval():
    ci = stats.mean_ci(X, 0.99)
    low, high = sps.t.interval(0.99, df=len(X) - 1, loc=np.mean(X), scale=sps.sem(X))
    assert ci.n == 30
    assert ci.mean == pytest.approx(np.mean(X), abs=1e-12)
    assert ci.low == pytest.approx(low, abs=1e-12)
    assert ci.high == pytest.approx(high, abs=1e-12)


def test_ci_leaves_out_nan_and_degenerate_cases():
    with_nan = np.concatenate([X, [np.nan, np.nan]])
    assert stats.mean_ci(with_nan).n == 30
    assert stats.mean_ci(with_nan).low == pytest.approx(stats.mean_ci(X).low, abs=1e-12)
    one = stats.mean_ci([1.3])
    assert one.n == 1 and np.isnan(one.low) and np.isnan(one.high)
    assert stats.mean_ci([]).n == 0
    flat = stats.mean_ci([1.2, 1.2, 1.2])
    assert (flat.low, flat.high) == (1.2, 1.2)


@pytest.mark.parametrize(
    "low, high, mark",
    [(0.5, 0.99, "<"), (1.01, 1.5, ">"), (0.9, 1.1, "?"), (1.0, 1.2, "?"), (0.8, 1.0, "?"), (np.nan, np.nan, "")],
)
def test_marks(low, high, mark):
    assert stats.ci_mark(low, high) == mark


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_paired_equals_scipy_ttest_rel(alternative):
    res = stats.paired_ttest(pd.Series(X), pd.Series(Y), alternative)
    ref = sps.ttest_rel(X, Y, alternative=alternative)
    assert res.p == pytest.approx(ref.pvalue, abs=1e-12, rel=1e-12)
    assert res.t == pytest.approx(ref.statistic, abs=1e-12)
    assert (res.n_a, res.dof) == (30, 29)


def test_paired_pairs_by_seed_and_uses_complete_pairs_only():
    a = pd.Series(X, index=range(30))
    b = pd.Series(Y[::-1], index=range(29, -1, -1))  # same pairs, other order
    b.loc[3] = np.nan
    res = stats.paired_ttest(a, b, "less")
    keep = np.arange(30) != 3
    ref = sps.ttest_rel(X[keep], Y[keep], alternative="less")
    assert res.n_a == 29
    assert res.p == pytest.approx(ref.pvalue, abs=1e-12)
    assert "1 seed(s)" in res.note


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_independent_is_student_pooled_even_with_unequal_sizes(alternative):
    res = stats.independent_ttest(X, Z, alternative)
    ref = sps.ttest_ind(X, Z, equal_var=True, alternative=alternative)
    welch = sps.ttest_ind(X, Z, equal_var=False, alternative=alternative)
    assert res.p == pytest.approx(ref.pvalue, abs=1e-12, rel=1e-12)
    assert abs(res.p - welch.pvalue) > 1e-6
    assert res.dof == 30 + 23 - 2


def test_untestable_tests_are_nan_with_a_note():
    res = stats.paired_ttest(pd.Series([1.0, np.nan]), pd.Series([1.2, 1.3]), "less")
    assert np.isnan(res.p) and "not tested" in res.note
    res = stats.independent_ttest([1.0], X, "greater")
    assert np.isnan(res.p) and "not tested" in res.note
    res = stats.independent_ttest([np.nan] * 5, X, "greater")
    assert res.n_a == 0 and np.isnan(res.p) and "NaN" in res.note


def test_bonferroni_caps_at_one_and_counts_untested_rows():
    p = np.array([0.001, 0.02, 0.4, np.nan])
    out = stats.bonferroni(p)  # m = 4 rows, the NaN (untested) row included
    np.testing.assert_allclose(out[:3], [0.004, 0.08, 1.0], rtol=0, atol=1e-15)
    assert np.isnan(out[3])
    np.testing.assert_allclose(stats.bonferroni([0.01], m=25), [0.25])


def test_format_p_like_the_paper():
    assert stats.format_p(0.0004) == "<0.001"
    assert stats.format_p(0.0361) == "0.036"
    assert stats.format_p(1.0) == "1.000"
    assert stats.format_p(np.nan) == "n/a"
