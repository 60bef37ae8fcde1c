"""Confidence intervals, t-tests and the Bonferroni correction of the paper (section 6.2, section 7).

Inference is about E[α_t] over models m trained with different seeds (section 6.2): the model-level
α_t(m) are independent across seeds. Tests comparing two ratios t or two pruning methods P use the
same dense model m on both sides and are *paired* by seed; tests comparing two architectures M or two
datasets D are *independent-samples* Student tests with pooled variance. The tests call pingouin 0.7
(``pingouin.ttest``: columns ``T``, ``dof``, ``alternative``, ``p_val``, ``CI<level>``, ``cohen_d``).

NaN α (undefined, with a reason in the alpha table) are never dropped silently: every function
returns the number of values it used and why a comparison could not be made.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

CONFIDENCE = 0.99  # section 6.2: 99% per CI -> 95% family-wide over 5 ratios after Bonferroni
SIGNIFICANCE = 0.05  # section 6.2: "below the usual significance level 0.05"
REFERENCE = 1.0  # E[α] = 1: no intensification (section 5)

MARK_BELOW = "<"  # CI entirely below 1: de-intensification
MARK_ABOVE = ">"  # CI entirely above 1: intensification
MARK_OVERLAP = "?"  # CI contains 1
MARK_NONE = ""  # CI undefined (fewer than 2 values)


@dataclass(frozen=True)
class Interval:
    """t-based confidence interval of a mean (section 6.2)."""

    n: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class TestResult:
    """A two-sample t-test; ``p`` is NaN and ``note`` says why when the test could not be made."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    t: float
    dof: float
    p: float
    note: str = ""

    def asdict(self) -> dict:
        return asdict(self)


def _values(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).ravel()


def mean_ci(values, confidence: float = CONFIDENCE) -> Interval:
    """t-based ``confidence`` CI of E[α] from one cell's α values (section 6.2, Appendix C).

    mean ± t_{(1+c)/2, n-1} s / sqrt(n), s the sample standard deviation; NaN values are left out
    (the caller counts them). NaN bounds when fewer than 2 values remain; a zero-width interval when
    all values are equal.
    """
    x = _values(values)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(0, float("nan"), float("nan"), float("nan"))
    mean = float(np.mean(x))
    if n < 2:
        return Interval(n, mean, float("nan"), float("nan"))
    if np.all(x == x[0]):
        return Interval(n, mean, mean, mean)
    import pingouin

    with warnings.catch_warnings():  # pingouin also integrates a Bayes factor we do not use
        warnings.simplefilter("ignore")
        result = pingouin.ttest(x, REFERENCE, confidence=confidence)
    low, high = result[f"CI{100 * confidence:.0f}"].iloc[0]
    return Interval(n, mean, float(low), float(high))


def ci_mark(low: float, high: float, reference: float = REFERENCE) -> str:
    """Superscript of the boxplot labels (section 6.2): ``<`` CI below 1, ``>`` above 1, ``?`` overlaps.

    ``""`` when the CI is undefined (NaN bounds).
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return MARK_NONE
    if high < reference:
        return MARK_BELOW
    if low > reference:
        return MARK_ABOVE
    return MARK_OVERLAP


def standard_error(values) -> float:
    """Standard error of the mean s / sqrt(n) (Appendix E, Figure 13); NaN values left out."""
    x = _values(values)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan")
    return float(np.std(x, ddof=1) / np.sqrt(x.size))


def _run_ttest(a: np.ndarray, b: np.ndarray, *, paired: bool, alternative: str) -> tuple[float, float, float]:
    """pingouin.ttest -> (T, dof, p). Student's pooled-variance test when unpaired (``correction=False``)."""
    import pingouin

    with warnings.catch_warnings():  # e.g. pingouin's Bayes factor integration; p comes from scipy
        warnings.simplefilter("ignore")
        if paired:
            res = pingouin.ttest(a, b, paired=True, alternative=alternative)
        else:
            res = pingouin.ttest(a, b, paired=False, alternative=alternative, correction=False)
    row = res.iloc[0]
    return float(row["T"]), float(row["dof"]), float(row["p_val"])


def _check_alternative(alternative: str) -> None:
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}")


def paired_ttest(a: pd.Series, b: pd.Series, alternative: str = "two-sided") -> TestResult:
    """Paired-samples t-test of E[a] vs E[b], pairing by index (the seed of the dense model).

    Section 6.2: tests between two ratios t (Tables 1-4, section 7.1) or two pruning methods P (Tables
    8-9, section 7.4) compare α's computed from the same dense model m, hence paired. ``alternative``
    is H_a for a - b: ``"less"`` means H_a: E[a] < E[b]. Only seeds with both values are used; the
    note records seeds dropped for a NaN α, or why no test was possible.
    """
    _check_alternative(alternative)
    a = pd.Series(a, dtype="float64")
    b = pd.Series(b, dtype="float64")
    for name, s in (("a", a), ("b", b)):
        if s.index.has_duplicates:
            raise ValueError(f"paired_ttest: duplicate seeds in {name}: {sorted(set(s.index[s.index.duplicated()]))}")
    both = pd.concat({"a": a, "b": b}, axis=1, join="outer")
    complete = both.dropna()
    n = len(complete)
    dropped = len(both) - n
    notes = [f"{dropped} seed(s) without both α values left out"] if dropped else []
    mean_a = float(complete["a"].mean()) if n else float("nan")
    mean_b = float(complete["b"].mean()) if n else float("nan")
    if n < 2:
        notes.append("not tested: fewer than 2 seeds with both α values")
        return TestResult(n, n, mean_a, mean_b, float("nan"), float("nan"), float("nan"), "; ".join(notes))
    diff = (complete["a"] - complete["b"]).to_numpy()
    if np.all(diff == diff[0]):
        notes.append("not tested: the paired differences have zero variance")
        return TestResult(n, n, mean_a, mean_b, float("nan"), float(n - 1), float("nan"), "; ".join(notes))
    t, dof, p = _run_ttest(complete["a"].to_numpy(), complete["b"].to_numpy(), paired=True, alternative=alternative)
    return TestResult(n, n, mean_a, mean_b, t, dof, p, "; ".join(notes))


def independent_ttest(a, b, alternative: str = "two-sided") -> TestResult:
    """Independent-samples Student t-test (pooled variance) of E[a] vs E[b].

    Section 6.2: tests between two architectures M (Tables 5-6, section 7.2) or two datasets D
    (Table 7, section 7.3) use different models, hence independent samples. pingouin is called with
    ``correction=False``: it would switch to Welch's test whenever the group sizes differ (e.g. after
    a NaN α), whereas the paper's test is Student's. NaN values are left out (noted).
    """
    _check_alternative(alternative)
    a, b = _values(a), _values(b)
    notes = []
    nan_a, nan_b = int(np.sum(~np.isfinite(a))), int(np.sum(~np.isfinite(b)))
    if nan_a or nan_b:
        notes.append(f"NaN α left out: {nan_a} in the first, {nan_b} in the second sample")
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n_a, n_b = int(a.size), int(b.size)
    mean_a = float(a.mean()) if n_a else float("nan")
    mean_b = float(b.mean()) if n_b else float("nan")
    if n_a < 2 or n_b < 2:
        notes.append("not tested: fewer than 2 α values in a sample")
        return TestResult(n_a, n_b, mean_a, mean_b, float("nan"), float("nan"), float("nan"), "; ".join(notes))
    if np.all(a == a[0]) and np.all(b == b[0]):
        notes.append("not tested: both samples have zero variance")
        return TestResult(n_a, n_b, mean_a, mean_b, float("nan"), float(n_a + n_b - 2), float("nan"), "; ".join(notes))
    t, dof, p = _run_ttest(a, b, paired=False, alternative=alternative)
    return TestResult(n_a, n_b, mean_a, mean_b, t, dof, p, "; ".join(notes))


def bonferroni(pvalues, m: int | None = None) -> np.ndarray:
    """Bonferroni correction as in section 6.2: p * m capped at 1.

    ``m`` defaults to the number of p-values *including NaN ones*: a row that could not be tested
    still counts as one of the rows of its column (the paper multiplies "by the number of rows in its
    column of the table"). NaN stays NaN.
    """
    p = _values(pvalues)
    m = p.size if m is None else int(m)
    if m < 1:
        raise ValueError("bonferroni: m must be >= 1")
    return np.minimum(p * m, 1.0)


def significant(p_adjusted: float, level: float = SIGNIFICANCE) -> bool:
    """A corrected p-value below 0.05 (section 6.2); NaN is never significant."""
    return bool(np.isfinite(p_adjusted) and p_adjusted < level)


def format_p(p: float) -> str:
    """p-values as printed in the paper's Appendix A: ``<0.001`` or three decimals; ``n/a`` for NaN."""
    if not np.isfinite(p):
        return "n/a"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"
