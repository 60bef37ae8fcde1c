"""The summary's section beyond α: its numbers on hand-made studies, and notes instead of crashes."""

from __future__ import annotations

import pandas as pd

from recall_distortion.analysis.forgetting_summary import HEADING, beyond_alpha
from recall_distortion.analysis.summary import build_summary
from tests.analysis.forgetting_cases import FAMILY, hand_predictions, hand_recall, hurt_recall

ANALYSIS = {"noise_floor_draws": 50, "noise_floor_seed": 0}


def test_section_quotes_pie_share_absorbing_classes_and_disparity():
    text = "\n".join(beyond_alpha(hand_recall(), hand_predictions(), [FAMILY], ANALYSIS))
    assert text.startswith(HEADING)
    assert "on average 50.0% of the test set per cell" in text
    assert "the pruned models 25.0% against 100.0%" in text
    assert "37.5% added; absorbed by class 1 (66.7%), class 0 (33.3%)" in text
    assert "worst class 1.000 → 0.500" in text  # dense always right; pruned class 0 at 0.5 in both seeds
    assert "Not computed" in text  # a dense model right on every image has every B̄ = 0: α undefined


def test_section_names_the_hurt_class_and_the_link_to_E_I():
    recall = hurt_recall()
    predictions = hand_predictions()  # only read for PIE and confusion
    text = "\n".join(beyond_alpha(recall, predictions, [FAMILY], ANALYSIS))
    assert "hurts at least one class in 1 of 1 cells and helps one in 1" in text
    assert "most often hurt: class 0 (1 cells)" in text
    assert "E[I_t^c]" in text
    assert "in 0 of 1 cells the test-set noise alone is at least the observed spread" in text
    assert "shifts a cell's mean α rather than its spread across seeds" in text


def test_one_seed_gives_notes_not_a_crash():
    recall = hurt_recall()
    one = recall[recall["seed"] == 0]
    text = "\n".join(beyond_alpha(one, hand_predictions(), [FAMILY], ANALYSIS))
    assert "No class could be tested" in text
    assert "Noise floor of α" in text and "Not computed" in text


def test_no_covered_family_and_the_section_inside_the_summary(alpha):
    tradeoff = dict(FAMILY, kind="tradeoff")
    assert beyond_alpha(pd.DataFrame(), pd.DataFrame(), [tradeoff], ANALYSIS)[-1].startswith("No family of kind")
    summary = build_summary(alpha, [tradeoff], beyond=[HEADING, "", "text"], max_collapsed_share=0.0)
    assert summary.index(HEADING) < summary.index("## Tables and figures not produced")
