"""When a pruned model no longer carries the signal that α measures, and which cells that leaves unjudged.

α compares each class's normalized recall balance before and after pruning (section 5). A pruned
model that has collapsed -- it predicts one or two classes for every image -- has B̄_t = C - 1 for the
class it falls back on and -1 for the others: its α says which class that was, not whether pruning
widened the gaps between classes, and it swings between large positive and negative values (α of
5.5 and -10.9 on average with 99% CIs as wide as [-24, 13] in the old default study's 50x cells,
whose models kept 0.25-0.30 of accuracy against 0.97 dense). The paper avoided such models by
design: its ratios were chosen "aiming for good accuracy" (section 6.1), and it sets random pruning
apart because its accuracies were "below any usable threshold" (Appendix Table 11: RP's recall
variance 0.15 vs 0.004 dense).

Model rule. The share of the dense model's accuracy *above chance* that the pruned model keeps,

    retained = (A_t - 1/C) / (A - 1/C),

is 1 for a pruned model as accurate as its dense model and 0 for one at chance. A model has
collapsed when ``retained < min_retained`` (default 0.5), or when the dense model itself is not above
chance (retained undefined). Measuring from chance keeps the rule meaningful for any number of
classes C (CIFAR-100's dense ResNet-56 reaches 0.67, chance 0.01). The default 0.5 lies far from both
sides of the data: every pruned model the paper reports with MP, GP, UP, LTH or CHIP keeps >= 0.75
(lowest: LTH level 20, 0.669 vs 0.855 dense, Table 12), while the collapsed models above keep
0.17-0.23.

Cell rule. A cell (dataset, model, method, ratio) is *collapsed* -- no verdict is drawn from it --
when more than ``max_collapsed_share`` of its models collapsed (default 0: any). One collapsed model's
α is typically an order of magnitude off (-10 where the others are near 1) and moves a 30-seed mean
by about 0.4, more than the effects studied (|α - 1| of 0.05-0.9 in the paper's Figures 1-4). The
paper's statistics (Tables 1-11, the CIs) keep every model: the rule only adds counts beside them
and keeps verdicts off cells it flags.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.columns import CELL_KEY, DENSE, DENSE_KEY

#: Defaults of the config's ``collapse`` block (workflow/schemas/config.schema.yaml holds them too).
MIN_RETAINED = 0.5
MAX_COLLAPSED_SHARE = 0.0

#: Columns :func:`cell_collapse` returns besides the cell key.
CELL_COLUMNS = ["n_models", "n_collapsed", "accuracy_mean", "accuracy_dense_mean", "retained_mean", "collapsed"]


def accuracy_retained(accuracy, accuracy_dense, num_classes):
    """(A_t - 1/C) / (A - 1/C), elementwise; NaN where the dense model is not above chance."""
    chance = 1.0 / np.asarray(num_classes, dtype=np.float64)
    above = np.asarray(accuracy_dense, dtype=np.float64) - chance
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(above > 0, (np.asarray(accuracy, dtype=np.float64) - chance) / above, np.nan)


def mark_collapsed(alpha: pd.DataFrame, recall: pd.DataFrame, min_retained: float = MIN_RETAINED) -> pd.DataFrame:
    """The alpha table with ``accuracy_retained`` and ``collapsed`` (bool) per pruned model.

    ``recall`` is the recall table the alpha table was computed from: the number of classes C of each
    (dataset, model, seed) is the number of class rows of its dense model.
    """
    if not 0.0 <= min_retained <= 1.0:
        raise ValueError(f"min_retained must be in [0, 1], got {min_retained}")
    classes = recall[recall["method"] == DENSE].groupby(DENSE_KEY, sort=False).size().rename("num_classes")
    merged = alpha.merge(classes.reset_index(), on=DENSE_KEY, how="left", validate="m:1")
    retained = accuracy_retained(merged["accuracy"], merged["accuracy_dense"], merged["num_classes"])
    out = alpha.copy()
    out["accuracy_retained"] = retained
    out["collapsed"] = ~(retained >= min_retained)  # NaN (dense at chance) counts as collapsed
    return out


def cell_collapse(alpha: pd.DataFrame, max_collapsed_share: float = MAX_COLLAPSED_SHARE) -> pd.DataFrame:
    """Per cell: models, collapsed models, mean accuracy after and before pruning, mean retained share,
    and ``collapsed`` -- True when more than ``max_collapsed_share`` of the cell's models collapsed.

    ``alpha`` is an alpha table marked by :func:`mark_collapsed`. Columns: CELL_KEY + :data:`CELL_COLUMNS`.
    """
    if not 0.0 <= max_collapsed_share < 1.0:
        raise ValueError(f"max_collapsed_share must be in [0, 1), got {max_collapsed_share}")
    cells = alpha.groupby(CELL_KEY, sort=False).agg(
        n_models=("seed", "size"),
        n_collapsed=("collapsed", "sum"),
        accuracy_mean=("accuracy", "mean"),
        accuracy_dense_mean=("accuracy_dense", "mean"),
        retained_mean=("accuracy_retained", "mean"),
    ).reset_index()
    cells["n_collapsed"] = cells["n_collapsed"].astype("int64")
    cells["collapsed"] = cells["n_collapsed"] > max_collapsed_share * cells["n_models"]
    return cells[CELL_KEY + CELL_COLUMNS]


def describe(cell) -> str:
    """Why a cell could not be judged, e.g. ``27 of 30 models collapsed (mean accuracy 0.27 vs 0.97 dense)``."""
    return (f"{cell.n_collapsed} of {cell.n_models} models collapsed (mean accuracy {cell.accuracy_mean:.2f} "
            f"vs {cell.accuracy_dense_mean:.2f} dense)")
