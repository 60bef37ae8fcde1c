"""Tests for recall_distortion.analysis.confusion: mean row-normalized confusion matrices of hand-made
populations, their change under pruning and the classes that absorb the added errors."""

from __future__ import annotations

import numpy as np
import pytest

from recall_distortion.analysis.confusion import (
    NOTE_NO_DENSE,
    NOTE_NO_NEW_ERRORS,
    confusion_change,
    error_absorption,
    mean_confusion,
)
from tests.analysis.handmade import predictions_table

LABELS = [0, 0, 0, 0, 1, 1, 2, 2]
DENSE = [[0, 0, 0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 1, 2, 2]]
PRUNED = [[0, 0, 1, 1, 1, 1, 1, 2], [0, 2, 1, 1, 1, 0, 2, 2]]
# mean over the two seeds of the row-normalized matrices (rows: true class)
MEAN_DENSE = [[7 / 8, 1 / 8, 0], [0, 1, 0], [0, 0, 1]]
MEAN_PRUNED = [[3 / 8, 1 / 2, 1 / 8], [1 / 4, 3 / 4, 0], [0, 1 / 4, 3 / 4]]


def _matrix(mean, method):
    return mean.loc[mean["method"] == method].sort_values(["true", "predicted"])["rate"].to_numpy().reshape(3, 3)


def test_mean_confusion_by_hand():
    mean = mean_confusion(predictions_table({("dense", 1): DENSE, ("mp", 2): PRUNED}, LABELS))
    np.testing.assert_allclose(_matrix(mean, "dense"), MEAN_DENSE)
    np.testing.assert_allclose(_matrix(mean, "mp"), MEAN_PRUNED)
    assert (mean["n_models"] == 2).all()
    # the diagonal is the mean recall; rows sum to 1
    assert mean.groupby(["method", "true"])["rate"].sum().tolist() == pytest.approx([1.0] * 6)


def test_change_and_absorbed_errors():
    change = confusion_change(mean_confusion(predictions_table({("dense", 1): DENSE, ("mp", 2): PRUNED}, LABELS)))
    np.testing.assert_allclose(change["change"].to_numpy().reshape(3, 3), np.subtract(MEAN_PRUNED, MEAN_DENSE))
    assert (change["n_dense"] == 2).all() and (change["n_pruned"] == 2).all()
    absorbed = error_absorption(change)
    # change [[-1/2, 3/8, 1/8], [1/4, -1/4, 0], [0, 1/4, -1/4]]: positive off-diagonal column sums
    np.testing.assert_allclose(absorbed["absorbed"], [1 / 4, 3 / 8 + 1 / 4, 1 / 8])
    np.testing.assert_allclose(absorbed["share"], [1 / 4, 5 / 8, 1 / 8])
    assert absorbed["rank"].tolist() == [2, 1, 3] and (absorbed["note"] == "").all()


def test_absent_class_row_is_nan_and_notes():
    mean = mean_confusion(predictions_table({("dense", 1): DENSE, ("mp", 2): DENSE}, LABELS), {"digits": 4})
    assert mean.loc[mean["true"] == 3, "rate"].isna().all()
    absorbed = error_absorption(confusion_change(mean))
    assert (absorbed["note"] == NOTE_NO_NEW_ERRORS).all() and absorbed["share"].isna().all()
    absorbed = error_absorption(confusion_change(mean_confusion(predictions_table({("mp", 2): PRUNED}, LABELS))))
    assert (absorbed["note"] == NOTE_NO_DENSE).all() and absorbed["absorbed"].isna().all()
