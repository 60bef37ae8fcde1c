"""The tables beyond α on hand-made studies: PIE, class tests, error absorption and disparity numbers
checked against hand computations and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from recall_distortion.analysis import forgetting, layout
from recall_distortion.analysis.stats import format_p
from tests.analysis.forgetting_cases import (
    DENSE_RECALL, FAMILY, PRUNED_RECALL, balances, hand_predictions, hand_recall, hurt_recall,
)


def planned(kind: str, family=FAMILY) -> layout.Output:
    return next(o for o in layout.forgetting_plan(family) if o.kind == kind)


@pytest.fixture
def analyses():
    return forgetting.StudyAnalyses(hand_recall(), hand_predictions())


def test_pie_table_counts_the_known_pie_and_both_populations_accuracy(analyses):
    table = forgetting.pie_table(planned("pie_table"), analyses, FAMILY)
    row = table.display.iloc[0]
    assert table.display.index.tolist() == ["MP"] and row["Ratio"] == "2"
    assert row["PIE"] == "2 (50.0%)"  # examples 1 and 3
    assert row["Most PIE (class: n, share)"] == "0: 1 (50.0%), 1: 1 (50.0%)"
    assert row["Dense acc. PIE / rest"] == "1.000 / 1.000"
    # pruned: example 1 right 0 of 2 times, example 3 once of 2 -> 0.25; examples 0 and 2 always right
    assert row["Pruned acc. PIE / rest"] == "0.250 / 1.000"
    assert table.data[["class", "class_n_pie"]].to_numpy().tolist() == [[0, 1], [1, 1]]


def test_absorption_table_names_the_classes_that_take_the_new_errors(analyses):
    # mean pruned rates: class 0 -> [0.5, 0.5], class 1 -> [0.25, 0.75]; dense is the identity, so class 1
    # absorbs 0.5 and class 0 absorbs 0.25 of the 0.75 added (0.375 per class)
    table = forgetting.absorption_table(planned("absorption"), analyses, FAMILY)
    row = table.display.iloc[0]
    assert row["Added errors"] == "37.5%"
    assert row["Absorbed by (class: rate, share)"] == "1: 0.500 (66.7%), 0: 0.250 (33.3%)"
    assert table.data.set_index("class")["absorbed"].to_dict() == pytest.approx({0: 0.25, 1: 0.5})


def test_class_tests_table_reports_the_hurt_and_helped_class_with_bonferroni_p():
    analyses = forgetting.StudyAnalyses(hurt_recall(), None)
    table = forgetting.class_tests_table(planned("class_tests"), analyses, FAMILY)
    dense, pruned = balances(DENSE_RECALL), balances(PRUNED_RECALL)
    expected = {}
    for c in (0, 1):
        p = scipy_stats.ttest_ind(pruned[c], dense[c], equal_var=False).pvalue
        expected[c] = f"{c} ({format_p(min(1.0, 2 * p))}, {pruned[c].mean() - dense[c].mean():+.3f})"
    row = table.display.iloc[0]
    assert row["Tested"] == "2 of 2"
    assert row["Hurt (p, ΔB)"] == expected[0]  # B of class 0: 0 -> -0.25
    assert row["Helped (p, ΔB)"] == expected[1]  # B of class 1: 0 -> +0.25
    assert "E[I_t^c]" in table.notes[0]


def test_class_tests_table_notes_a_population_of_one_seed():
    recall = hurt_recall()
    analyses = forgetting.StudyAnalyses(recall[recall["seed"] == 0], None)
    table = forgetting.class_tests_table(planned("class_tests"), analyses, FAMILY)
    assert table.display.iloc[0]["Tested"] == "0 of 2"
    assert any("fewer than 2 models" in note for note in table.notes)


def test_disparity_table_averages_worst_class_gap_and_drop_over_seeds():
    analyses = forgetting.StudyAnalyses(hurt_recall(), None)
    table = forgetting.disparity_table(planned("disparity"), analyses, FAMILY)
    row = table.display.iloc[0]
    assert row["Worst-class recall (dense → pruned)"] == "0.800 → 0.350"
    assert row["Max - min gap (dense → pruned)"] == "0.100 → 0.500"
    assert row["Largest drop"] == "0.500"  # class 0: 0.6, 0.4, 0.6, 0.4
    before = np.r_[DENSE_RECALL[0], DENSE_RECALL[1]]
    change = np.r_[PRUNED_RECALL[0], PRUNED_RECALL[1]] - before
    rho = scipy_stats.spearmanr(before, change)
    assert table.data["rho"].iloc[0] == pytest.approx(rho.statistic)
    assert table.data["p"].iloc[0] == pytest.approx(rho.pvalue)


def test_cells_missing_from_the_study_get_a_note_not_a_crash(analyses):
    family = dict(FAMILY, ratios=[2, 4])  # the study has no t = 4
    for kind in forgetting.BUILDERS:
        table = forgetting.BUILDERS[kind](planned(kind, family), analyses, family)
        assert table.display.loc[table.display["Ratio"] == "4"].iloc[0].drop("Ratio").eq("n/a").all(), kind
        assert any("t = 4: no" in note for note in table.notes), kind


def test_write_forgetting_tables_writes_every_planned_table_in_four_formats(tmp_path):
    paths = forgetting.write_forgetting_tables(hand_recall(), hand_predictions(), [FAMILY], tmp_path)
    expected = {f.split("/")[-1] for f in layout.expected_outputs([FAMILY])["forgetting"] if f.startswith("tables/")}
    assert {p.name for p in paths} == expected and len(expected) == 4 * 4
    assert all(p.stat().st_size > 0 for p in paths)
    csv = pd.read_csv(tmp_path / "pie_hand.csv")
    assert csv["n_pie"].tolist() == [2, 2]
