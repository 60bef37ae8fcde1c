"""Noise floor of α: how much of its spread across seeds test-set sampling alone would produce.

α_t(m) (paper section 5) is computed from per-class recalls R^c measured on a finite test set: class
c has ``support`` test images, of which the model gets k^c right. Were the test set drawn again, k^c
would vary like binomial(support, R^c). This module redraws every model's per-class correct counts --
dense and pruned alike, each model once per draw, so a dense model's draw is shared by every model
pruned from it -- recomputes recall, accuracy, B̄ and α with :mod:`recall_distortion.metrics`, and
compares per cell (dataset, model, method, ratio) the spread of α that this sampling noise makes with
the spread observed across seeds (section 6.2's CIs of E[α] rest on the latter). Digits has 36 test
images per class: there the floor is high.

:func:`noise_floor` columns (:data:`NOISE_COLUMNS`), one row per pruned cell:

=======================  ===========================================================================
``n``                    seeds with a defined α
``alpha_mean``           mean α over those seeds
``alpha_sd``             observed standard deviation of α over seeds (ddof 1; NaN for one seed)
``alpha_sd_resampled``   per draw, the standard deviation over seeds of the resampled α, averaged over
                         draws: the spread the study would show with both seed and test-set variation
``alpha_sd_noise``       sqrt of the mean over seeds of each model's variance of α over draws: the
                         spread test-set sampling alone would give if every seed had the same model
``draws``                number of binomial draws
``note``                 one seed, resampled α undefined in some draws (e.g. a resampled accuracy of 0)
=======================  ===========================================================================

A model with recall 1 (or 0) for every class has no sampling noise: binomial(s, 1) = s. A dense
model whose draw gives every class recall 1 has every B̄ = 0 and an undefined α in that draw (the
note counts such draws; they are left out).

Reading the numbers: every seed is evaluated on the *same* test images, so in the study itself the
test-set noise is shared between seeds rather than independent. It moves a cell's mean α more than
it widens the spread across seeds, and the CI of E[α] (section 6.2), built from that spread, does
not contain it. ``alpha_sd_noise`` at or above ``alpha_sd`` (as on digits, 36 images per class) says
that one test set cannot resolve differences of α of that size between models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.columns import CELL_KEY, DENSE, DENSE_KEY, MODEL_KEY, require_columns
from recall_distortion.metrics import alpha_from_sums, normalized_recall_balance

NOISE_COLUMNS = CELL_KEY + ["n", "alpha_mean", "alpha_sd", "alpha_sd_resampled", "alpha_sd_noise", "draws", "note"]
DRAWS = 200

NOTE_ONE_SEED = "one seed: no spread across seeds"


def _correct_counts(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Support and correct predictions k^c = R^c * support per row (0 where recall is NaN)."""
    support = frame["support"].to_numpy(np.int64)
    recall = frame["recall"].to_numpy(np.float64)
    correct = np.where(np.isfinite(recall), recall * support, 0.0)
    if np.abs(correct - np.round(correct)).max(initial=0.0) > 1e-6:
        raise ValueError("recall * support is not a whole number of test images for some rows")
    return support, np.round(correct).astype(np.int64)


def _segment_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums over consecutive row segments (one model each) starting at ``starts``, per draw."""
    return np.add.reduceat(values, starts, axis=0)


def resampled_alpha(recall: pd.DataFrame, *, draws: int = DRAWS, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """α of every pruned model from its observed counts and from ``draws`` binomial redraws.

    Returns ``(keys, alpha)``: ``keys`` the pruned models (MODEL_KEY, sorted), ``alpha[m, 0]`` the
    observed α_t(m) (equal to :func:`recall_distortion.metrics.alpha_table`'s) and ``alpha[m, 1:]`` the
    resampled ones, NaN where undefined. ``seed`` seeds the numpy Generator.
    """
    require_columns(recall, MODEL_KEY + ["class", "support", "recall"], "recall")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    frame = recall[MODEL_KEY + ["class", "support", "recall"]].sort_values(MODEL_KEY + ["class"], kind="stable")
    frame = frame.reset_index(drop=True)
    support, correct = _correct_counts(frame)
    rng = np.random.default_rng(seed)
    p = np.where(support > 0, correct / np.maximum(support, 1), 0.0)
    counts = np.column_stack([correct, rng.binomial(support[:, None], p[:, None], size=(support.size, draws))])

    model = frame.groupby(MODEL_KEY, sort=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, model[1:] != model[:-1]])
    accuracy = _segment_sum(counts, starts) / _segment_sum(support, starts)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = counts / np.where(support > 0, support, np.nan)[:, None]
    bbar = normalized_recall_balance(rates, accuracy[model])

    rows = frame.assign(row=np.arange(len(frame)))
    dense = rows.loc[rows["method"] == DENSE, DENSE_KEY + ["class", "row"]]
    pruned = rows[rows["method"] != DENSE].merge(
        dense, on=DENSE_KEY + ["class"], how="left", suffixes=("", "_dense"), validate="m:1"
    )
    if pruned["row_dense"].isna().any():
        missing = pruned.loc[pruned["row_dense"].isna(), MODEL_KEY + ["class"]].drop_duplicates().head(5)
        raise ValueError(f"pruned models without matching dense rows: {missing.to_dict('records')}")
    after = pruned["row"].to_numpy()
    before = pruned["row_dense"].to_numpy(np.int64)
    x, y = bbar[before], bbar[after]
    finite_x, finite_y = np.isfinite(x), np.isfinite(y)
    pruned_model = model[after]
    pruned_starts = np.flatnonzero(np.r_[True, pruned_model[1:] != pruned_model[:-1]])
    alpha, _ = alpha_from_sums(
        np.diff(np.r_[pruned_starts, len(pruned)])[:, None],
        _segment_sum(np.where(finite_x, x * x, 0.0), pruned_starts),
        _segment_sum(np.where(finite_x & finite_y, x * y, 0.0), pruned_starts),
        _segment_sum((~finite_x).astype(np.int64), pruned_starts),
        _segment_sum((~finite_y).astype(np.int64), pruned_starts),
        accuracy[model[before[pruned_starts]]],
        accuracy[pruned_model[pruned_starts]],
    )
    keys = pruned.loc[pruned_starts, MODEL_KEY].reset_index(drop=True)
    return keys, alpha


def noise_floor(recall: pd.DataFrame, *, draws: int = DRAWS, seed: int = 0) -> pd.DataFrame:
    """Per pruned cell: observed spread of α over seeds next to its binomial noise floor.

    Columns in the module docstring; ``draws`` binomial redraws with numpy Generator ``seed``.
    """
    keys, alpha = resampled_alpha(recall, draws=draws, seed=seed)
    rows = []
    for key, index in keys.groupby(CELL_KEY, sort=True).indices.items():
        observed = alpha[index, 0]
        observed = observed[np.isfinite(observed)]
        resampled = alpha[index, 1:]
        notes = [NOTE_ONE_SEED] if observed.size < 2 else []
        undefined = int(np.sum(~np.isfinite(resampled)))
        if undefined:
            notes.append(f"{undefined} of {resampled.size} resampled α undefined, left out")
        with np.errstate(invalid="ignore", divide="ignore"):
            per_draw = [_sd(resampled[:, d]) for d in range(draws)]
            per_model = [_sd(resampled[m]) for m in range(len(index))]
        rows.append((
            *key, observed.size,
            float(observed.mean()) if observed.size else np.nan,
            _sd(observed), _nanmean(per_draw), float(np.sqrt(_nanmean(np.square(per_model)))),
            draws, "; ".join(notes),
        ))
    return pd.DataFrame(rows, columns=NOISE_COLUMNS)


def _sd(values: np.ndarray) -> float:
    """Sample standard deviation (ddof 1) of the finite values; NaN for fewer than 2."""
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1)) if values.size >= 2 else np.nan


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(values[np.isfinite(values)].mean()) if np.isfinite(values).any() else np.nan
