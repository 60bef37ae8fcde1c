"""Tests for recall_distortion.analysis.pie: PIE (Hooker et al. 2019, section 3) of hand-made
populations whose modal predictions, PIE sets and accuracies are worked out in the comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recall_distortion.analysis.pie import (
    NOTE_NO_DENSE,
    NOTE_NO_PIE,
    NOTE_ONE_MODEL,
    frequent_pie,
    pie_by_class,
    pie_summary,
    pie_table,
)
from tests.analysis.handmade import predictions_table

LABELS = [0, 0, 1, 1, 2, 2, 0, 0]
# Dense modal prediction [0, 0, 1, 1, 2, 0, 0, 0]: example 1 votes (0, 1, 0) -> 0; example 5 votes
# (2, 0, 1), a three-way tie -> the lowest class, 0. Right: [1, 2/3, 1, 2/3, 1, 1/3, 1, 1].
DENSE = [[0, 0, 1, 1, 2, 2, 0, 0], [0, 1, 1, 1, 2, 0, 0, 0], [0, 0, 1, 2, 2, 1, 0, 0]]
# MP at 2: modal [0, 1, 1, 0, 2, 2, 2, 1] -> PIE {1, 3, 5, 6, 7}; right [2/3, 0, 1, 0, 2/3, 1, 1/3, 0].
MP2 = [[0, 1, 1, 0, 2, 2, 2, 1], [0, 1, 1, 0, 1, 2, 2, 1], [1, 1, 1, 2, 2, 2, 0, 1]]
# MP at 4: modal [0, 1, 1, 1, 2, 2, 0, 1] -> PIE {1, 5, 7}; right at 1, 5, 7: 1/3, 1, 0.
MP4 = [[0, 1, 1, 1, 2, 2, 0, 1], [0, 1, 1, 1, 2, 2, 0, 1], [0, 0, 1, 1, 2, 2, 0, 1]]
POPULATIONS = {
    ("dense", 1): DENSE, ("mp", 2): MP2, ("mp", 4): MP4,
    ("mp", 10): DENSE,  # the dense models again: no PIE
    ("rp", 2): DENSE[:1],  # one model: differs from the dense mode at example 5 only
}


@pytest.fixture(scope="module")
def pie():
    return pie_table(predictions_table(POPULATIONS, LABELS))


def _cell(frame, method, ratio):
    return frame[(frame["method"] == method) & (frame["ratio"] == ratio)].reset_index(drop=True)


def test_modal_predictions_and_pie_sets(pie):
    assert sorted(set(zip(pie["method"], pie["ratio"]))) == [("mp", 2.0), ("mp", 4.0), ("mp", 10.0), ("rp", 2.0)]
    mp2 = _cell(pie, "mp", 2.0)
    assert mp2["modal_dense"].tolist() == [0, 0, 1, 1, 2, 0, 0, 0]
    assert mp2["modal_pruned"].tolist() == [0, 1, 1, 0, 2, 2, 2, 1]
    assert mp2.index[mp2["pie"]].tolist() == [1, 3, 5, 6, 7]
    np.testing.assert_allclose(mp2["correct_dense"], [1, 2 / 3, 1, 2 / 3, 1, 1 / 3, 1, 1])
    np.testing.assert_allclose(mp2["correct_pruned"], [2 / 3, 0, 1, 0, 2 / 3, 1, 1 / 3, 0])
    assert (mp2[["n_dense", "n_pruned"]] == 3).all().all()
    assert _cell(pie, "mp", 4.0).index[_cell(pie, "mp", 4.0)["pie"]].tolist() == [1, 5, 7]
    assert not _cell(pie, "mp", 10.0)["pie"].any()
    assert _cell(pie, "rp", 2.0).index[_cell(pie, "rp", 2.0)["pie"]].tolist() == [5]


def test_accuracy_on_pie_and_notes(pie):
    summary = pie_summary(pie)
    mp2 = _cell(summary, "mp", 2.0).iloc[0]
    assert (mp2["n_examples"], mp2["n_pie"], mp2["pie_fraction"]) == (8, 5, 5 / 8)
    # dense on PIE {1, 3, 5, 6, 7}: (2/3 + 2/3 + 1/3 + 1 + 1) / 5; on {0, 2, 4}: 1
    assert mp2["accuracy_dense_pie"] == pytest.approx(11 / 15)
    assert mp2["accuracy_dense_non_pie"] == pytest.approx(1.0)
    # pruned on PIE: (0 + 0 + 1 + 1/3 + 0) / 5; on the rest: (2/3 + 1 + 2/3) / 3
    assert mp2["accuracy_pruned_pie"] == pytest.approx(4 / 15)
    assert mp2["accuracy_pruned_non_pie"] == pytest.approx(7 / 9)
    assert mp2["note"] == ""
    no_pie = _cell(summary, "mp", 10.0).iloc[0]
    assert no_pie["note"] == NOTE_NO_PIE and np.isnan(no_pie["accuracy_pruned_pie"])
    assert _cell(summary, "rp", 2.0).iloc[0]["note"] == NOTE_ONE_MODEL


def test_pie_per_class(pie):
    mp2 = _cell(pie_by_class(pie), "mp", 2.0)
    assert mp2["class"].tolist() == [0, 1, 2]
    assert mp2["support"].tolist() == [4, 2, 2]
    assert mp2["n_pie"].tolist() == [3, 1, 1]  # class 0: examples 1, 6, 7
    np.testing.assert_allclose(mp2["pie_fraction"], [3 / 4, 1 / 2, 1 / 2])
    np.testing.assert_allclose(mp2["pie_share"], [3 / 5, 1 / 5, 1 / 5])
    assert _cell(pie_by_class(pie), "mp", 10.0)["pie_share"].isna().all()


def test_most_frequent_pie_per_class(pie):
    top = frequent_pie(pie, per_class=2)
    mp0 = top[(top["method"] == "mp") & (top["class"] == 0)]
    # class 0 in the MP series: 7 is a PIE at t = 2 and 4, wrong for every pruned model (error 1);
    # 1 at t = 2 and 4 with error (1 + 2/3) / 2; 6 at t = 2 only -> cut by per_class = 2
    assert mp0["example"].tolist() == [7, 1] and mp0["rank"].tolist() == [1, 2]
    assert mp0["n_cells"].tolist() == [2, 2]
    np.testing.assert_allclose(mp0["error_pruned"], [1.0, 5 / 6])
    assert mp0["modal_pruned"].tolist() == [1, 1] and mp0["modal_dense"].tolist() == [0, 0]
    mp2 = top[(top["method"] == "mp") & (top["class"] == 2)]
    assert mp2["example"].tolist() == [5] and mp2["n_cells"].tolist() == [2]
    per_cell = frequent_pie(pie, per_class=5, by=["dataset", "model", "method", "ratio"])
    assert sorted(per_cell.loc[per_cell["ratio"] == 2.0].query("method == 'mp'")["example"]) == [1, 3, 5, 6, 7]


def test_no_dense_population_gives_a_note():
    table = predictions_table({("mp", 2): MP2}, LABELS)
    pie = pie_table(table)
    assert not pie["pie"].any() and (pie["modal_dense"] == -1).all()
    assert pie_summary(pie)["note"].tolist() == [NOTE_NO_DENSE]


def test_inconsistent_inputs_raise():
    table = predictions_table(POPULATIONS, LABELS)
    wrong = table.copy()
    wrong.loc[0, "label"] = 2
    with pytest.raises(ValueError, match="different labels"):
        pie_table(wrong)
    with pytest.raises(ValueError, match="every test example once"):
        pie_table(table.drop(index=3))
    with pytest.raises(ValueError, match="lacks"):
        pie_table(table.drop(columns="predicted"))
    assert pie_table(table[table["method"] == "dense"]).empty
    assert isinstance(pie_summary(pie_table(table[table["method"] == "dense"])), pd.DataFrame)
