"""Pruning-identified exemplars (PIE) of Hooker et al. 2019, section 3.

Hooker et al. ("What do compressed deep neural networks forget?", arXiv 1911.05248, section 3) train
a population of dense models and a population of pruned models and call a test image a PIE when the
modal (most frequent) prediction of the pruned population differs from that of the dense population.
Here the dense population of a cell (dataset, model, method, ratio) is every dense model of its
(dataset, model) -- one per seed -- and the pruned population the cell's models. A tie between
classes for the most frequent prediction goes to the **lowest class label** (Hooker et al. do not say).

Everything reads the predictions table of :mod:`recall_distortion.evaluation` (one row per model and
test example). Every model must have predicted every test example of its dataset exactly once.

:func:`pie_table` columns, one row per (cell, test example), PIE or not:

================  =======  ====================================================================
column            dtype    meaning
================  =======  ====================================================================
dataset .. ratio  (key)    the cell (:data:`recall_distortion.columns.CELL_KEY`), method != dense
``example``       int64    index in the test split
``label``         int64    true class
``n_dense``       int64    models in the dense population (0: no dense model, no PIE)
``n_pruned``      int64    models in the pruned population (the cell's seeds)
``modal_dense``   int64    modal prediction of the dense population (-1 when it is empty)
``modal_pruned``  int64    modal prediction of the pruned population
``pie``           bool     modal_dense != modal_pruned (False when there is no dense model)
``correct_dense``  float64 fraction of the dense models that predict ``label`` (NaN: none)
``correct_pruned`` float64 fraction of the pruned models that predict ``label``
================  =======  ====================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.columns import CELL_KEY, DENSE, MODEL_KEY, SERIES_KEY, require_columns

PIE_COLUMNS = CELL_KEY + [
    "example", "label", "n_dense", "n_pruned", "modal_dense", "modal_pruned", "pie", "correct_dense", "correct_pruned",
]
SUMMARY_COLUMNS = CELL_KEY + [
    "n_dense", "n_pruned", "n_examples", "n_pie", "pie_fraction",
    "accuracy_dense_pie", "accuracy_dense_non_pie", "accuracy_pruned_pie", "accuracy_pruned_non_pie", "note",
]
BY_CLASS_COLUMNS = CELL_KEY + ["class", "support", "n_pie", "pie_fraction", "pie_share"]

NOTE_NO_DENSE = "no dense models: no PIE"
NOTE_NO_PIE = "no PIE examples"
NOTE_ONE_MODEL = "a population of one model: its modal prediction is that model's prediction"


def _votes(rows: pd.DataFrame, n: int, k: int) -> tuple[int, np.ndarray]:
    """Number of models and votes[example, class] = models of ``rows`` predicting that class."""
    models = rows.groupby(MODEL_KEY, observed=True).ngroups
    votes = np.bincount(
        rows["example"].to_numpy(np.int64) * k + rows["predicted"].to_numpy(np.int64), minlength=n * k
    ).reshape(n, k)
    if not (votes.sum(axis=1) == models).all():
        raise ValueError(
            f"models of {rows[CELL_KEY].iloc[0].to_dict()} do not each predict every test example once"
        )
    return models, votes


def _labels(part: pd.DataFrame) -> np.ndarray:
    """The true class of every test example of one dataset; raises when models disagree on one."""
    example = part["example"].to_numpy(np.int64)
    label = part["label"].to_numpy(np.int64)
    if example.min() < 0:
        raise ValueError("negative example index")
    labels = np.full(example.max() + 1, -1, dtype=np.int64)
    labels[example] = label
    if (labels[example] != label).any():
        raise ValueError(f"{part['dataset'].iloc[0]}: one test example has different labels in different models")
    return labels


def pie_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per (pruned cell, test example): modal predictions of both populations and PIE flag.

    Columns in the module docstring (Hooker et al. 2019, section 3). Sorted by cell and example.
    """
    require_columns(predictions, MODEL_KEY + ["example", "label", "predicted"], "predictions")
    parts = []
    for dataset, data in predictions.groupby("dataset", observed=True, sort=True):
        labels = _labels(data)
        n = labels.size
        k = 1 + int(max(labels.max(), data["predicted"].max()))
        for model, family in data.groupby("model", observed=True, sort=True):
            is_dense = (family["method"] == DENSE).to_numpy()
            if is_dense.any():
                n_dense, dense_votes = _votes(family[is_dense], n, k)
                modal_dense = dense_votes.argmax(axis=1)  # argmax: first (lowest) class on ties
                correct_dense = dense_votes[np.arange(n), labels] / n_dense
            else:
                n_dense, modal_dense, correct_dense = 0, np.full(n, -1), np.full(n, np.nan)
            for (method, ratio), cell in family[~is_dense].groupby(["method", "ratio"], observed=True, sort=True):
                n_pruned, votes = _votes(cell, n, k)
                modal_pruned = votes.argmax(axis=1)
                parts.append(
                    pd.DataFrame(
                        {
                            "dataset": dataset, "model": model, "method": method, "ratio": float(ratio),
                            "example": np.arange(n, dtype=np.int64), "label": labels,
                            "n_dense": n_dense, "n_pruned": n_pruned,
                            "modal_dense": modal_dense.astype(np.int64), "modal_pruned": modal_pruned.astype(np.int64),
                            "pie": (modal_dense != modal_pruned) & (n_dense > 0),
                            "correct_dense": correct_dense, "correct_pruned": votes[np.arange(n), labels] / n_pruned,
                        }
                    )
                )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PIE_COLUMNS})
    table = pd.concat(parts, ignore_index=True).astype({"dataset": "str", "model": "str", "method": "str"})
    return table[PIE_COLUMNS]


def pie_summary(pie: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the PIE set's size and the accuracy of dense and pruned models on PIE vs non-PIE.

    Hooker et al. 2019 (section 3) report that both populations do worse on PIE than on the rest of
    the test set. ``accuracy_*`` is the mean over the population's models and the examples of that
    subset (every model predicts every example). Columns :data:`SUMMARY_COLUMNS`; ``note`` says when
    a cell has no dense model or no PIE (accuracies on PIE NaN) or a population of one model.
    """
    require_columns(pie, PIE_COLUMNS, "PIE")
    rows = []
    for key, cell in pie.groupby(CELL_KEY, sort=True):
        is_pie = cell["pie"].to_numpy(bool)
        row = dict(zip(CELL_KEY, key))
        row.update(
            n_dense=int(cell["n_dense"].iloc[0]), n_pruned=int(cell["n_pruned"].iloc[0]),
            n_examples=len(cell), n_pie=int(is_pie.sum()), pie_fraction=float(is_pie.mean()),
        )
        for population in ("dense", "pruned"):
            correct = cell[f"correct_{population}"].to_numpy(np.float64)
            row[f"accuracy_{population}_pie"] = float(correct[is_pie].mean()) if is_pie.any() else np.nan
            row[f"accuracy_{population}_non_pie"] = float(correct[~is_pie].mean()) if (~is_pie).any() else np.nan
        notes = [NOTE_NO_DENSE] if row["n_dense"] == 0 else ([NOTE_NO_PIE] if not is_pie.any() else [])
        if row["n_pruned"] == 1 or row["n_dense"] == 1:
            notes.append(NOTE_ONE_MODEL)
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def pie_by_class(pie: pd.DataFrame) -> pd.DataFrame:
    """Per cell and true class: support, number of PIE, their fraction of the class
    (``pie_fraction``) and the class's share of the cell's PIE (``pie_share``, NaN without PIE)."""
    require_columns(pie, PIE_COLUMNS, "PIE")
    out = (
        pie.groupby(CELL_KEY + ["label"], sort=True)
        .agg(support=("pie", "size"), n_pie=("pie", "sum"))
        .reset_index()
        .rename(columns={"label": "class"})
    )
    out["n_pie"] = out["n_pie"].astype(np.int64)
    out["pie_fraction"] = out["n_pie"] / out["support"]
    total = out.groupby(CELL_KEY)["n_pie"].transform("sum")
    out["pie_share"] = np.where(total > 0, out["n_pie"] / total.where(total > 0, 1), np.nan)
    return out[BY_CLASS_COLUMNS]


def frequent_pie(pie: pd.DataFrame, per_class: int = 5, by=SERIES_KEY) -> pd.DataFrame:
    """The ``per_class`` most frequent PIE of each true class per group ``by`` (for an image grid).

    Frequency is the number of the group's cells (by default the ratios of a (dataset, model,
    method) series) in which the example is a PIE; ties go to the example that more pruned models
    get wrong (mean over those cells), then to the lower example index. Columns: ``by``, class, rank
    (1 = most frequent), example, n_cells, error_pruned, modal_dense and modal_pruned (of the
    example's PIE cell with the largest ratio). Empty when the group has no PIE.
    """
    require_columns(pie, PIE_COLUMNS, "PIE")
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    by = list(by)
    hits = pie[pie["pie"]].sort_values("ratio", kind="stable")
    hits = hits.assign(error_pruned=1.0 - hits["correct_pruned"]).rename(columns={"label": "class"})
    grouped = hits.groupby(by + ["class", "example"], sort=False)
    out = grouped.agg(
        n_cells=("pie", "size"), error_pruned=("error_pruned", "mean"),
        modal_dense=("modal_dense", "last"), modal_pruned=("modal_pruned", "last"),
    ).reset_index()
    out = out.sort_values(by + ["class", "n_cells", "error_pruned", "example"],
                          ascending=[True] * (len(by) + 1) + [False, False, True], kind="stable")
    out = out.groupby(by + ["class"], sort=False).head(per_class)
    out.insert(len(by) + 1, "rank", out.groupby(by + ["class"], sort=False).cumcount() + 1)
    return out.reset_index(drop=True)
