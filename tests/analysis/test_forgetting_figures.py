"""The figures beyond α: pixel tables of grey and RGB images, the PIE grid, and every planned figure
written (a family without PIE gets a figure saying so)."""

from __future__ import annotations

import numpy as np

from recall_distortion.analysis import forgetting, layout
from recall_distortion.analysis.forgetting_figures import pie_grid, pixels, write_forgetting_figure
from tests.analysis.forgetting_cases import FAMILY, hand_predictions, hand_recall

IMAGES = {"digits": np.arange(4 * 1 * 2 * 3, dtype=np.uint8).reshape(4, 1, 2, 3) * 10}


def test_pixels_of_grey_and_rgb_images():
    grey = pixels(IMAGES["digits"], [2])
    # image 2, row 0 (y = 0) then row 1 (y = -1), three columns each
    assert grey["colour"].tolist() == [f"#{v:02x}{v:02x}{v:02x}" for v in (120, 130, 140, 150, 160, 170)]
    assert grey["y"].tolist() == [0, 0, 0, -1, -1, -1] and grey["x"].tolist() == [0, 1, 2, 0, 1, 2]
    rgb = np.zeros((1, 3, 1, 2), dtype=np.uint8)
    rgb[0, 0, 0, 1], rgb[0, 2, 0, 0] = 255, 16
    assert pixels(rgb, [0])["colour"].tolist() == ["#000010", "#ff0000"]


def test_pie_grid_lists_the_known_pie_by_class():
    analyses = forgetting.StudyAnalyses(hand_recall(), hand_predictions())
    grid = pie_grid(forgetting.in_cells(analyses.pie, forgetting.family_cells(FAMILY)), per_class=5)
    assert grid[["class", "rank", "example", "modal_dense", "modal_pruned"]].to_numpy().tolist() == [
        [0, 1, 1, 0, 1], [1, 1, 3, 1, 0]]


def test_every_planned_figure_is_written(tmp_path):
    written = []
    for output in layout.forgetting_plan(FAMILY):
        if output.directory == "figures":
            written += write_forgetting_figure(hand_recall(), hand_predictions(), IMAGES, FAMILY, output.stem,
                                               tmp_path, per_class=2)
    assert {p.name for p in written} == {
        f"{stem}_hand.{ext}" for stem in ("pie_images", "confusion", "recall_change") for ext in ("png", "pdf")}
    assert all(p.stat().st_size > 0 for p in written)


def test_a_family_without_pie_gets_a_figure_that_says_so(tmp_path):
    agree = {("dense", 1.0): [[0, 0, 1, 1]] * 2, ("mp", 2.0): [[0, 0, 1, 1]] * 2}
    paths = write_forgetting_figure(hand_recall(agree), hand_predictions(agree), IMAGES, FAMILY, "pie_images_hand",
                                    tmp_path, per_class=2)
    assert [p.name for p in paths] == ["pie_images_hand.png", "pie_images_hand.pdf"]
