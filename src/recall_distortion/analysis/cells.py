"""Per-cell access to the alpha table and the 99% CIs of E[α] per cell (section 6.2).

A *cell* is one (dataset, model, method, ratio) of the study (:data:`recall_distortion.columns.CELL_KEY`);
its α values, one per model m (seed), estimate E[α_t]. Tables, figures and the summary read cells
through this module:

- :func:`cell_values`  α per cell, indexed by seed, NaN kept (the hypothesis tests pair by seed)
- :func:`values`       one cell of :func:`cell_values` (empty when the study has no such row)
- :func:`rows`         the rows of one (dataset, model, method) series -- and ratio -- of a table
- :func:`per_seed`     one value of a dense-model column per series and seed
- :func:`alpha_ci`     99% t-based CI of E[α] per cell with its ``<``/``>``/``?`` mark (section 6.2)
- :func:`nan_alpha`    seeds with NaN α per cell and reason (counted, never dropped silently)
- :func:`collapse_state`, :func:`collapsed_cells`  how many models of each cell collapsed and which
                       cells are flagged (:mod:`recall_distortion.collapse`): shown beside the
                       statistics (a :data:`COLLAPSED_MARK`), never removed from them
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion import collapse
from recall_distortion.analysis import stats
from recall_distortion.analysis.layout import ratio_key
from recall_distortion.columns import CELL_KEY, MODEL_KEY, SERIES_KEY

ALPHA_CI_COLUMNS = CELL_KEY + ["n", "mean", "ci_low", "ci_high", "mark", "n_nan"] + collapse.CELL_COLUMNS
NAN_COLUMNS = CELL_KEY + ["alpha_reason", "count"]

Cell = tuple[str, str, str, float]  # (dataset, model, method, ratio)

#: Set after a collapsed cell's value in the tables and on its ratio label in the figures.
COLLAPSED_MARK = "†"


def cell_values(alpha: pd.DataFrame) -> dict[tuple, pd.Series]:
    """α per cell: ``{(dataset, model, method, ratio_key): Series(alpha, index=seed)}``, NaN kept.

    Raises ValueError on duplicate (dataset, model, method, ratio, seed) rows.
    """
    frame = alpha[MODEL_KEY + ["alpha"]].copy()
    frame["rk"] = [ratio_key(r) for r in frame["ratio"]]
    dup = frame.duplicated(SERIES_KEY + ["rk", "seed"], keep=False)
    if dup.any():
        raise ValueError(f"alpha table has duplicate rows: {frame.loc[dup, MODEL_KEY].head().to_dict('records')}")
    out = {}
    for key, sub in frame.groupby(SERIES_KEY + ["rk"], sort=False):
        out[key] = pd.Series(sub["alpha"].to_numpy(np.float64), index=sub["seed"].to_numpy(), name="alpha")
    return out


def values(cells: dict, dataset: str, model: str, method: str, ratio: float) -> pd.Series:
    """α of one cell of :func:`cell_values` by seed; an empty Series when the alpha table has none."""
    return cells.get((dataset, model, method, ratio_key(ratio)), pd.Series(dtype=np.float64, name="alpha"))


def rows(frame: pd.DataFrame, dataset: str, model: str, method: str, ratio: float | None = None) -> pd.DataFrame:
    """Rows of one (dataset, model, method) -- and ratio, if given -- of a table with those columns."""
    keep = (frame["dataset"] == dataset) & (frame["model"] == model) & (frame["method"] == method)
    if ratio is not None:
        keep &= np.isclose(frame["ratio"].to_numpy(np.float64), float(ratio), rtol=0, atol=1e-9)
    return frame[keep]


def per_seed(alpha: pd.DataFrame, column: str) -> pd.DataFrame:
    """One value of a dense-model column per (dataset, model, method, seed) (same for every ratio)."""
    return alpha.groupby(SERIES_KEY + ["seed"], sort=False)[column].mean().reset_index()


def collapse_state(alpha: pd.DataFrame, max_collapsed_share: float) -> pd.DataFrame:
    """:func:`recall_distortion.collapse.cell_collapse` per cell, keyed by SERIES_KEY + ``rk`` (ratio key).

    Raises ValueError when the alpha table was not marked by
    :func:`recall_distortion.collapse.mark_collapsed` (the aggregate stage does).
    """
    missing = [c for c in ("accuracy_retained", "collapsed") if c not in alpha.columns]
    if missing:
        raise ValueError(
            f"alpha table has no column(s) {missing}: it was not marked by recall_distortion.collapse.mark_collapsed "
            "(re-run the aggregate stage)"
        )
    state = collapse.cell_collapse(alpha, max_collapsed_share)
    state["rk"] = [ratio_key(r) for r in state["ratio"]]
    return state.drop(columns="ratio")


def collapsed_cells(alpha: pd.DataFrame, max_collapsed_share: float) -> frozenset:
    """The collapsed cells ``(dataset, model, method, ratio_key)``: shown, but no verdict is drawn from them."""
    state = collapse_state(alpha, max_collapsed_share)
    return frozenset(map(tuple, state.loc[state["collapsed"], SERIES_KEY + ["rk"]].itertuples(index=False)))


def alpha_ci(
    alpha: pd.DataFrame, cells: list[Cell], confidence: float = stats.CONFIDENCE, *, max_collapsed_share: float
) -> pd.DataFrame:
    """99% t-based CI of E[α] for each (dataset, model, method, ratio) cell, with its mark (6.2).

    Columns :data:`ALPHA_CI_COLUMNS`: ``n`` non-NaN α used, ``mean``, ``ci_low``, ``ci_high``, ``mark``
    (``<`` CI below 1, ``>`` above, ``?`` overlaps, ``""`` undefined: fewer than 2 values), and
    ``n_nan`` the number of seeds whose α is NaN (reasons: :func:`nan_alpha`); then, beside the
    statistics (which keep every model), :data:`recall_distortion.collapse.CELL_COLUMNS`: ``n_models``,
    ``n_collapsed``, the mean accuracy after and before pruning, the mean retained share of accuracy
    above chance and ``collapsed`` (more than ``max_collapsed_share`` of the models collapsed).
    """
    by_cell = cell_values(alpha)
    state = collapse_state(alpha, max_collapsed_share).set_index(SERIES_KEY + ["rk"])
    out = []
    for dataset, model, method, ratio in cells:
        cell = values(by_cell, dataset, model, method, ratio)
        ci = stats.mean_ci(cell.to_numpy(), confidence)
        key = (dataset, model, method, ratio_key(ratio))
        collapsed = (
            state.loc[key].to_dict() if key in state.index else {"n_models": 0, "n_collapsed": 0, "collapsed": False}
        )
        out.append(
            {
                "dataset": dataset,
                "model": model,
                "method": method,
                "ratio": float(ratio),
                "n": ci.n,
                "mean": ci.mean,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "mark": stats.ci_mark(ci.low, ci.high),
                "n_nan": int(cell.isna().sum()),
                **collapsed,
            }
        )
    frame = pd.DataFrame(out, columns=ALPHA_CI_COLUMNS)
    types = {"n": "int64", "n_nan": "int64", "ratio": "float64", "n_models": "int64", "n_collapsed": "int64"}
    return frame.astype({**types, "collapsed": "bool"})


def nan_alpha(alpha: pd.DataFrame, cells: list[Cell]) -> pd.DataFrame:
    """Seeds with NaN α per cell and reason (columns :data:`NAN_COLUMNS`); empty when none."""
    wanted = {(dataset, model, method, ratio_key(ratio)) for dataset, model, method, ratio in cells}
    nan = alpha[alpha["alpha"].isna()].copy()
    if nan.empty:
        return pd.DataFrame(columns=NAN_COLUMNS)
    nan["rk"] = [ratio_key(r) for r in nan["ratio"]]
    nan = nan[[k in wanted for k in zip(nan["dataset"], nan["model"], nan["method"], nan["rk"])]]
    reason = nan["alpha_reason"].fillna("").astype(str).replace("", "no reason given")
    out = nan.assign(alpha_reason=reason).groupby(CELL_KEY + ["alpha_reason"], sort=False).size()
    return out.rename("count").reset_index()[NAN_COLUMNS]


NOISE_FLOOR_COLUMNS = ["alpha_sd", "alpha_sd_noise", "alpha_sd_resampled", "noise_draws", "noise_note"]


def noise_floor_columns(recall: pd.DataFrame, cells: list[Cell], draws: int, seed: int) -> pd.DataFrame:
    """The noise floor of α (:mod:`.noise_floor`) next to its observed spread, one row per cell in
    ``cells``' order: columns to set beside :func:`alpha_ci`'s.

    ``alpha_sd`` is the observed standard deviation of α over seeds, ``alpha_sd_noise`` the spread
    binomial test-set resampling alone gives one model, ``alpha_sd_resampled`` the spread over seeds
    with both; ``noise_draws`` the number of redraws (numpy Generator ``seed``), ``noise_note`` why a
    value is missing. A cell without pruned rows in ``recall`` gets NaN and a note.
    """
    from recall_distortion.analysis.noise_floor import noise_floor

    floor = noise_floor(recall, draws=draws, seed=seed)
    by_cell = {(d, m, p, ratio_key(r)): row for d, m, p, r, row in zip(
        floor["dataset"], floor["model"], floor["method"], floor["ratio"], floor.itertuples())}
    out = []
    for dataset, model, method, ratio in cells:
        row = by_cell.get((dataset, model, method, ratio_key(ratio)))
        if row is None:
            out.append([np.nan, np.nan, np.nan, draws, "no models in the recall table"])
        else:
            out.append([row.alpha_sd, row.alpha_sd_noise, row.alpha_sd_resampled, draws, row.note])
    return pd.DataFrame(out, columns=NOISE_FLOOR_COLUMNS).astype({"noise_draws": "int64"})
