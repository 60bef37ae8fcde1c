"""Recall balance, normalized recall balance, intensification ratio and alpha (paper sections 4-5),
the pooled scatter-plot slope (section 6.2) and recall variance (appendix F).

Notation (section 4): A = accuracy, R^c = recall of class c, both on the test set; a subscript t marks
the model after pruning at compression ratio t, no subscript the dense model before pruning.

- recall balance                 B^c   = R^c - A
- normalized recall balance      B̄^c   = (R^c - A) / A
- intensification ratio          I_t^c = B̄_t^c / B̄^c                                     (section 5)
- alpha (per model m and t)      α_t   = Σ_c B̄^c B̄_t^c / Σ_c (B̄^c)^2                      (section 5)

Undefined values are NaN, never 0 or inf: B̄ when A = 0, I when B̄ = 0, α (with a short reason
string) when every B̄ before pruning is 0 or some needed B̄ is NaN.

Table functions (:func:`alpha_table`, :func:`scatter_points`) read the long recall table documented
in :mod:`recall_distortion.evaluation`; the dense rows (``method == "dense"``) of a (dataset, model,
seed) are the "before pruning" values for every pruned model with the same (dataset, model, seed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.columns import DENSE, DENSE_KEY, MODEL_KEY

ALPHA_COLUMNS = MODEL_KEY + [
    "alpha",
    "alpha_reason",
    "accuracy",
    "accuracy_dense",
    "recall_variance",
    "recall_variance_dense",
]
SCATTER_COLUMNS = MODEL_KEY + ["class", "bbar_before", "bbar_after"]

# Reasons for an undefined alpha, first applicable one wins (in this order).
REASON_NO_CLASSES = "no classes"
REASON_ACCURACY_BEFORE_ZERO = "accuracy before pruning is 0: B̄ undefined"
REASON_ACCURACY_AFTER_ZERO = "accuracy after pruning is 0: B̄_t undefined"
REASON_NAN_BEFORE = "B̄ before pruning is NaN for some class (no test samples?)"
REASON_NAN_AFTER = "B̄_t after pruning is NaN for some class (no test samples?)"
REASON_ALL_ZERO = "all normalized recall balances before pruning are 0"


def _result(values: np.ndarray):
    """A float for 0-d results, the array otherwise."""
    return float(values) if np.ndim(values) == 0 else values


def recall_balance(recall, accuracy):
    """Recall balance B^c = R^c - A (section 4). Broadcasts; > 0 over-, < 0 underperformance."""
    recall = np.asarray(recall, dtype=np.float64)
    accuracy = np.asarray(accuracy, dtype=np.float64)
    return _result(recall - accuracy)


def normalized_recall_balance(recall, accuracy):
    """Normalized recall balance B̄^c = (R^c - A) / A (section 4). NaN where A == 0 (undefined)."""
    recall = np.asarray(recall, dtype=np.float64)
    accuracy = np.asarray(accuracy, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(accuracy == 0, np.nan, (recall - accuracy) / np.where(accuracy == 0, 1.0, accuracy))
    return _result(out)


def intensification_ratio(bbar_before, bbar_after):
    """Intensification ratio I_t^c = B̄_t^c / B̄^c (section 5). NaN where B̄^c == 0 (undefined).

    I > 1 means pruning pushed the class's normalized recall balance further from 0 in the same
    direction (section 5).
    """
    before = np.asarray(bbar_before, dtype=np.float64)
    after = np.asarray(bbar_after, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(before == 0, np.nan, after / np.where(before == 0, 1.0, before))
    return _result(out)


def alpha_from_sums(n, sxx, sxy, nan_before, nan_after, acc_before, acc_after):
    """Vectorized α and reason from per-group sums; shared by :func:`alpha_slope`, the tables and the
    noise floor (:mod:`recall_distortion.analysis.noise_floor`). Arguments broadcast.

    ``n`` classes, ``sxx`` = Σ (B̄^c)^2, ``sxy`` = Σ B̄^c B̄_t^c (over classes, NaN-free only when
    ``nan_before``/``nan_after`` counts are 0), accuracies may be NaN when unknown.
    """
    n = np.asarray(n)
    sxx = np.asarray(sxx, dtype=np.float64)
    sxy = np.asarray(sxy, dtype=np.float64)
    acc_before = np.asarray(acc_before, dtype=np.float64)
    acc_after = np.asarray(acc_after, dtype=np.float64)
    conditions = [
        n == 0,
        acc_before == 0,
        acc_after == 0,
        np.asarray(nan_before) > 0,
        np.asarray(nan_after) > 0,
        sxx == 0,
    ]
    reasons = [
        REASON_NO_CLASSES,
        REASON_ACCURACY_BEFORE_ZERO,
        REASON_ACCURACY_AFTER_ZERO,
        REASON_NAN_BEFORE,
        REASON_NAN_AFTER,
        REASON_ALL_ZERO,
    ]
    reason = np.select(conditions, reasons, default="")
    undefined = reason != ""
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(undefined, np.nan, sxy / np.where(sxx == 0, 1.0, sxx))
    return alpha, reason


def alpha_slope(bbar_before, bbar_after, *, accuracy_before=None, accuracy_after=None) -> tuple[float, str]:
    """Model-level intensification α_t(m) and a reason string (section 5).

    α_t = Σ_c B̄^c B̄_t^c / Σ_c (B̄^c)^2, the ordinary least-squares slope of B̄_t^c = α_t B̄^c through
    the origin over all classes c of one model -- equivalently the mean of the intensification ratios
    I_t^c weighted by (B̄^c)^2. No class is dropped: α is NaN with a short reason when

    - accuracy before / after pruning is 0 (pass ``accuracy_before`` / ``accuracy_after`` to get this
      reason; otherwise the all-NaN B̄ gives the NaN reasons below),
    - some B̄^c or B̄_t^c is NaN (e.g. a class with no test samples),
    - every B̄^c is 0 (the slope is undefined).

    Returns ``(alpha, "")`` when defined.
    """
    before = np.asarray(bbar_before, dtype=np.float64).ravel()
    after = np.asarray(bbar_after, dtype=np.float64).ravel()
    if before.shape != after.shape:
        raise ValueError(f"bbar_before {before.shape} and bbar_after {after.shape} differ in length")
    nan_before = int(np.count_nonzero(~np.isfinite(before)))
    nan_after = int(np.count_nonzero(~np.isfinite(after)))
    with np.errstate(invalid="ignore", over="ignore"):
        sxx = float(np.sum(before * before))
        sxy = float(np.sum(before * after))
    alpha, reason = alpha_from_sums(
        before.size,
        sxx,
        sxy,
        nan_before,
        nan_after,
        np.nan if accuracy_before is None else accuracy_before,
        np.nan if accuracy_after is None else accuracy_after,
    )
    return float(alpha), str(reason)


def pooled_alpha(bbar_before, bbar_after) -> tuple[float, float]:
    """Pooled slope α̂ and its r^2 over all classes of all models of one scatter panel (section 6.2).

    The regression is B̄_t = α̂ B̄ without intercept (as in section 5), fitted by least squares to every
    (B̄^c, B̄_t^c) point of the panel: α̂ = Σ x y / Σ x^2. Its r^2 is the uncentered coefficient of
    determination of a no-intercept regression, 1 - SS_res / Σ y^2, which is what statsmodels reports
    for a model without a constant. On balanced test sets Corollary 4.1.1 gives Σ_c B̄_t^c = 0 within
    every model, so mean(y) ≈ 0 and the centered and uncentered r^2 nearly agree.

    Points with a non-finite coordinate (a model with accuracy 0, a class with no test samples) are
    left out. ``(nan, nan)`` when no point is left or every x is 0; r^2 is NaN when every y is 0.
    """
    x = np.asarray(bbar_before, dtype=np.float64).ravel()
    y = np.asarray(bbar_after, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"bbar_before {x.shape} and bbar_after {y.shape} differ in length")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    sxx = float(np.dot(x, x))
    if x.size == 0 or sxx == 0:
        return float("nan"), float("nan")
    alpha = float(np.dot(x, y)) / sxx
    syy = float(np.dot(y, y))
    if syy == 0:
        return alpha, float("nan")
    residual = y - alpha * x
    r2 = 1.0 - float(np.dot(residual, residual)) / syy
    return alpha, r2


def recall_variance(recall) -> float:
    """Variance of the per-class recalls R^c of one model (appendix F, Table 11).

    Population variance (ddof=0): the classes of a dataset are the whole population, not a sample
    of classes. NaN if any recall is NaN (a class with no test samples), never silently skipped.
    """
    recall = np.asarray(recall, dtype=np.float64).ravel()
    if recall.size == 0:
        return float("nan")
    return float(np.var(recall, ddof=0))


# --------------------------------------------------------------------------------------------------
# Tables


def _check_columns(recall: pd.DataFrame, needed) -> None:
    missing = [c for c in needed if c not in recall.columns]
    if missing:
        raise ValueError(f"recall table lacks columns {missing}")


def _describe(keys: pd.DataFrame, limit: int = 5) -> str:
    rows = keys.drop_duplicates().head(limit).to_dict("records")
    more = len(keys.drop_duplicates()) - len(rows)
    text = "; ".join(", ".join(f"{k}={v!r}" for k, v in r.items()) for r in rows)
    return text + (f"; and {more} more" if more > 0 else "")


def pair_with_dense(recall: pd.DataFrame) -> pd.DataFrame:
    """Pruned rows with their dense (before-pruning) values matched by (dataset, model, seed, class).

    Adds bbar_before / bbar_after and the dense recall/accuracy as ``recall_dense`` /
    ``accuracy_dense``. Raises ValueError when a pruned model lacks dense rows or classes do not match.
    """
    _check_columns(recall, MODEL_KEY + ["class", "recall", "accuracy"])
    frame = recall[MODEL_KEY + ["class", "recall", "accuracy"]]
    is_dense = frame["method"] == DENSE
    dense = frame[is_dense]
    pruned = frame[~is_dense]

    dup = dense.duplicated(DENSE_KEY + ["class"], keep=False)
    if dup.any():
        raise ValueError(
            "duplicate dense rows for (dataset, model, seed, class): " + _describe(dense.loc[dup, DENSE_KEY])
        )
    dup = pruned.duplicated(MODEL_KEY + ["class"], keep=False)
    if dup.any():
        raise ValueError(
            "duplicate rows for (dataset, model, method, ratio, seed, class): "
            + _describe(pruned.loc[dup, MODEL_KEY])
        )

    dense = dense.drop(columns=["method", "ratio"]).rename(
        columns={"recall": "recall_dense", "accuracy": "accuracy_dense"}
    )
    merged = pruned.merge(dense, on=DENSE_KEY + ["class"], how="left", indicator=True, validate="m:1")
    missing = merged["_merge"] != "both"
    if missing.any():
        has_model = dense[DENSE_KEY].drop_duplicates().assign(_has=True)
        lacking = merged.loc[missing, MODEL_KEY + ["class"]].merge(has_model, on=DENSE_KEY, how="left")
        no_model = lacking["_has"].isna()
        if no_model.any():
            raise ValueError(
                "no dense (method='dense') rows for pruned models: "
                + _describe(lacking.loc[no_model, MODEL_KEY])
            )
        raise ValueError(
            "dense rows lack classes present in pruned models: "
            + _describe(lacking[DENSE_KEY + ["class"]])
        )
    merged = merged.drop(columns="_merge")
    # Every dense class must also be present in each pruned model of the same (dataset, model, seed).
    n_pruned = merged.groupby(MODEL_KEY, sort=False, dropna=False).size().rename("n").reset_index()
    n_dense = dense.groupby(DENSE_KEY, sort=False).size().rename("n_dense").reset_index()
    counts = n_pruned.merge(n_dense, on=DENSE_KEY, how="left")
    short = counts["n"] != counts["n_dense"]
    if short.any():
        raise ValueError(
            "pruned models lack classes present in their dense model: " + _describe(counts.loc[short, MODEL_KEY])
        )
    merged["bbar_before"] = normalized_recall_balance(
        merged["recall_dense"].to_numpy(np.float64), merged["accuracy_dense"].to_numpy(np.float64)
    )
    merged["bbar_after"] = normalized_recall_balance(
        merged["recall"].to_numpy(np.float64), merged["accuracy"].to_numpy(np.float64)
    )
    return merged


def scatter_points(recall: pd.DataFrame) -> pd.DataFrame:
    """Points of the scatter plots (section 6.2, Figures 5-12): one row per class per pruned model.

    Columns: dataset, model, method, ratio, seed, class, bbar_before, bbar_after; ``bbar_before`` is
    B̄^c of the dense model with the same (dataset, model, seed), ``bbar_after`` is B̄_t^c.
    """
    merged = pair_with_dense(recall)
    out = merged[SCATTER_COLUMNS].sort_values(MODEL_KEY + ["class"], kind="stable")
    return out.reset_index(drop=True)


def _group_stats(frame: pd.DataFrame, keys, recall_col: str, accuracy_col: str) -> pd.DataFrame:
    """Per group: accuracy (checked constant) and population variance of recall (NaN if any NaN)."""
    work = frame[keys].copy()
    work["acc"] = frame[accuracy_col].to_numpy(np.float64)
    work["recall"] = frame[recall_col].to_numpy(np.float64)
    work["recall_nan"] = np.isnan(work["recall"].to_numpy())
    grouped = work.groupby(keys, dropna=False)
    stats = grouped.agg(
        acc_min=("acc", "min"),
        acc_max=("acc", "max"),
        acc=("acc", "first"),
        acc_count=("acc", "count"),
        size=("acc", "size"),
        n_nan_recall=("recall_nan", "sum"),
    )
    stats["recall_variance"] = grouped["recall"].var(ddof=0)
    stats.loc[stats["n_nan_recall"] > 0, "recall_variance"] = np.nan
    # accuracy must be one number per model: all equal, or all NaN
    all_nan = stats["acc_count"] == 0
    consistent = all_nan | ((stats["acc_min"] == stats["acc_max"]) & (stats["acc_count"] == stats["size"]))
    if not consistent.all():
        raise ValueError(
            f"{accuracy_col} differs between rows of one model: "
            + _describe(stats.index[~consistent].to_frame(index=False))
        )
    stats.loc[all_nan, "acc"] = np.nan
    return stats


def alpha_table(recall: pd.DataFrame) -> pd.DataFrame:
    """The alpha table: one row per pruned model (dataset, model, method, ratio, seed) (section 5).

    Each non-dense row group of the recall table is matched by class to the dense rows with the same
    (dataset, model, seed). Columns: dataset, model, method, ratio, seed, alpha (α_t(m), section 5),
    alpha_reason ("" when alpha is defined, else why it is NaN; see :func:`alpha_slope`), accuracy
    (A_t), accuracy_dense (A), recall_variance and recall_variance_dense (appendix F, population
    variance of per-class recall, see :func:`recall_variance`).

    Raises ValueError naming the keys when a pruned model has no dense rows, when classes do not
    match between a pruned model and its dense model, or on duplicate rows.
    """
    merged = pair_with_dense(recall)
    if merged.empty:
        return pd.DataFrame({c: pd.Series(dtype=_ALPHA_DTYPES[c]) for c in ALPHA_COLUMNS})
    x = merged["bbar_before"].to_numpy(np.float64)
    y = merged["bbar_after"].to_numpy(np.float64)
    work = merged[MODEL_KEY].copy()
    work["xx"] = x * x
    work["xy"] = x * y
    work["nan_x"] = ~np.isfinite(x)
    work["nan_y"] = ~np.isfinite(y)
    grouped = work.groupby(MODEL_KEY, dropna=False)
    sums = grouped.agg(
        n=("xx", "size"),
        sxx=("xx", "sum"),  # NaN terms are skipped here but flagged by nan_x / nan_y
        sxy=("xy", "sum"),
        nan_x=("nan_x", "sum"),
        nan_y=("nan_y", "sum"),
    )
    after = _group_stats(merged, MODEL_KEY, "recall", "accuracy")
    before = _group_stats(merged, MODEL_KEY, "recall_dense", "accuracy_dense")
    alpha, reason = alpha_from_sums(
        sums["n"].to_numpy(),
        sums["sxx"].to_numpy(np.float64),
        sums["sxy"].to_numpy(np.float64),
        sums["nan_x"].to_numpy(),
        sums["nan_y"].to_numpy(),
        before["acc"].to_numpy(np.float64),
        after["acc"].to_numpy(np.float64),
    )
    out = sums.index.to_frame(index=False)
    out["alpha"] = alpha
    out["alpha_reason"] = pd.array(reason.astype(object), dtype="str")
    out["accuracy"] = after["acc"].to_numpy(np.float64)
    out["accuracy_dense"] = before["acc"].to_numpy(np.float64)
    out["recall_variance"] = after["recall_variance"].to_numpy(np.float64)
    out["recall_variance_dense"] = before["recall_variance"].to_numpy(np.float64)
    out = out.astype(_ALPHA_DTYPES)[ALPHA_COLUMNS]
    return out.sort_values(MODEL_KEY, kind="stable").reset_index(drop=True)


_ALPHA_DTYPES = {
    "dataset": "str",
    "model": "str",
    "method": "str",
    "ratio": np.float64,
    "seed": np.int64,
    "alpha": np.float64,
    "alpha_reason": "str",
    "accuracy": np.float64,
    "accuracy_dense": np.float64,
    "recall_variance": np.float64,
    "recall_variance_dense": np.float64,
}
