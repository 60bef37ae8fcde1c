"""Per-class population tests of Hooker et al. 2019, section 3: which classes pruning hurts or helps.

Hooker et al. ("What do compressed deep neural networks forget?", arXiv 1911.05248) compare, class by
class, a population of dense models with a population of pruned models by a two-sided Welch t-test of
the class's recall measured relative to the model's accuracy. Here the measure is the recall balance
B^c = R^c - A (paper section 4), or with ``normalized=True`` the normalized recall balance
B̄^c = R^c / A - 1, which is Hooker's relative recall R^c / A shifted by 1 and so gives the same t.
The dense population of a cell (dataset, model, method, ratio) is every dense model of its (dataset,
model) (one per seed), the pruned population the cell's models; the populations are treated as
independent (Welch's unequal-variance test, scipy's ``ttest_ind(equal_var=False)``), as Hooker et al.
do, although each pruned model descends from one of the dense models. p-values are Bonferroni-corrected
over the classes of the cell (section 6.2's correction, :func:`..stats.bonferroni`).

Relation to α: the paper (section 5) notes that Hooker et al.'s analysis amounts to evaluating
E[I_t^c] class by class, whereas α_t(m) summarises all classes of one model in one B̄²-weighted slope.
A class that pruning "hurts" has E[B_t^c] < E[B^c]: for a class that was already below accuracy this
is intensification (I > 1), for a class above accuracy de-intensification.

:func:`class_tests` columns (:data:`CLASS_TEST_COLUMNS`), one row per pruned cell and class:
``n_dense``/``n_pruned`` models with a finite balance, ``balance_dense``/``balance_pruned`` the mean
balance in each population, ``difference`` = pruned - dense, Welch's ``t`` (pruned minus dense),
``dof`` and two-sided ``p``, ``p_bonferroni``, ``effect`` (``"hurts"`` / ``"helps"`` when
``p_bonferroni`` < 0.05 and the difference is negative / positive, else ``""``) and ``note`` (why
a class was not tested, or NaN values left out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.analysis.stats import SIGNIFICANCE, bonferroni
from recall_distortion.columns import CELL_KEY, DENSE, MODEL_KEY, require_columns
from recall_distortion.metrics import normalized_recall_balance, recall_balance

CLASS_TEST_COLUMNS = CELL_KEY + [
    "class", "n_dense", "n_pruned", "balance_dense", "balance_pruned", "difference",
    "t", "dof", "p", "p_bonferroni", "effect", "note",
]
SUMMARY_COLUMNS = CELL_KEY + ["n_classes", "n_tested", "n_hurt", "n_helped", "hurt", "helped"]

HURTS = "hurts"
HELPS = "helps"
NOTE_NO_DENSE = "not tested: no dense models"
NOTE_TOO_FEW = "not tested: fewer than 2 models in a population"
NOTE_NO_VARIANCE = "not tested: no variance in either population"


def _welch(pruned: np.ndarray, dense: np.ndarray) -> tuple[float, float, float, str]:
    """Welch's t (pruned - dense), its degrees of freedom, two-sided p and a note; NaN when untestable."""
    from scipy import stats

    nan = float("nan")
    if dense.size == 0:
        return nan, nan, nan, NOTE_NO_DENSE
    notes = []
    left_out = int(np.sum(~np.isfinite(pruned)) + np.sum(~np.isfinite(dense)))
    if left_out:
        notes.append(f"{left_out} NaN balance(s) left out (no test samples?)")
    pruned, dense = pruned[np.isfinite(pruned)], dense[np.isfinite(dense)]
    if pruned.size < 2 or dense.size < 2:
        return nan, nan, nan, "; ".join(notes + [NOTE_TOO_FEW])
    if np.ptp(pruned) == 0 and np.ptp(dense) == 0:
        return nan, nan, nan, "; ".join(notes + [NOTE_NO_VARIANCE])
    result = stats.ttest_ind(pruned, dense, equal_var=False)
    return float(result.statistic), float(result.df), float(result.pvalue), "; ".join(notes)


def class_tests(recall: pd.DataFrame, *, normalized: bool = False, significance: float = SIGNIFICANCE) -> pd.DataFrame:
    """Welch t-test per pruned cell and class between the dense and pruned populations (Hooker et al.).

    ``recall`` is the recall table (docs/CONTRACTS.md). Columns and meaning in the module docstring;
    sorted by cell and class. ``normalized`` tests B̄ (Hooker's R/A) instead of B = R - A.
    """
    require_columns(recall, MODEL_KEY + ["class", "recall", "accuracy"], "recall")
    measure = normalized_recall_balance if normalized else recall_balance
    balance = pd.Series(
        measure(recall["recall"].to_numpy(np.float64), recall["accuracy"].to_numpy(np.float64)),
        index=pd.MultiIndex.from_frame(recall[MODEL_KEY + ["class"]]),
    )
    if balance.index.has_duplicates:
        raise ValueError("recall table has duplicate (model, class) rows")
    wide = balance.unstack("class")  # one row per model, one column per class
    classes = wide.columns.to_numpy()
    rows = []
    for (dataset, model), family in wide.groupby(level=["dataset", "model"], sort=True):
        methods = family.index.get_level_values("method")
        dense = family[methods == DENSE].to_numpy(np.float64)
        for (method, ratio), cell in family[methods != DENSE].groupby(level=["method", "ratio"], sort=True):
            pruned = cell.to_numpy(np.float64)
            results = [_welch(pruned[:, j], dense[:, j]) for j in range(classes.size)]
            p = np.array([r[2] for r in results])
            p_corrected = bonferroni(p)
            for j, (t, dof, _, note) in enumerate(results):
                mean_dense = float(np.nanmean(dense[:, j])) if np.isfinite(dense[:, j]).any() else np.nan
                mean_pruned = float(np.nanmean(pruned[:, j])) if np.isfinite(pruned[:, j]).any() else np.nan
                difference = mean_pruned - mean_dense
                significant = np.isfinite(p_corrected[j]) and p_corrected[j] < significance
                rows.append((
                    dataset, model, method, float(ratio), int(classes[j]),
                    int(np.isfinite(dense[:, j]).sum()), int(np.isfinite(pruned[:, j]).sum()),
                    mean_dense, mean_pruned, difference, t, dof, p[j], p_corrected[j],
                    (HURTS if difference < 0 else HELPS) if significant else "", note,
                ))
    return pd.DataFrame(rows, columns=CLASS_TEST_COLUMNS)


def class_test_summary(tests: pd.DataFrame) -> pd.DataFrame:
    """Per cell: classes, classes tested, and the classes pruning significantly hurts / helps
    (``hurt``/``helped``: class labels joined by ", "), from :func:`class_tests`."""
    require_columns(tests, CLASS_TEST_COLUMNS, "class tests")

    def classes(frame, effect):
        return ", ".join(str(c) for c in frame.loc[frame["effect"] == effect, "class"])

    rows = [
        (*key, len(cell), int(cell["p"].notna().sum()), int((cell["effect"] == HURTS).sum()),
         int((cell["effect"] == HELPS).sum()), classes(cell, HURTS), classes(cell, HELPS))
        for key, cell in tests.groupby(CELL_KEY, sort=True)
    ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
