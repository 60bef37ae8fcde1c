"""Every planned figure is written as a non-empty PNG and PDF; the scatter fit recovers planted α."""

from __future__ import annotations

import numpy as np
import pytest

from recall_distortion.analysis import figures, layout
from tests.analysis.synthetic import make_recall, planted_alpha

FAMILIES = [
    {"name": "methods", "kind": "method", "experiments": [{"dataset": "cifar10", "model": "resnet56"}],
     "methods": ["mp", "rp"], "ratios": [2, 20]},
    {"name": "sizes", "kind": "model",
     "experiments": [{"dataset": "cifar10", "model": "resnet20"}, {"dataset": "cifar10", "model": "resnet56"}],
     "methods": ["mp", "up"], "ratios": [2, 20]},
    {"name": "tasks", "kind": "dataset",
     "experiments": [{"dataset": "mnist", "model": "lenet5"}, {"dataset": "cifar10", "model": "resnet56"}],
     "methods": ["mp"], "ratios": [2, 20]},
    {"name": "tradeoff", "kind": "tradeoff", "experiments": [{"dataset": "cifar10", "model": "resnet56"}],
     "methods": ["mp"], "ratios": [2, 4, 6]},
]


@pytest.fixture(scope="module")
def data():
    from recall_distortion.metrics import alpha_table

    recall = make_recall(FAMILIES, seeds=3, classes=4)
    return alpha_table(recall), recall


def test_every_planned_figure_is_written(data, tmp_path):
    alpha, recall = data
    written = []
    for family in FAMILIES:
        for output in layout.analysis_plan([family]).figures[family["name"]]:
            written += figures.write_figure(alpha, recall, family, output.stem, tmp_path)
    expected = {p.split("/")[-1] for paths in layout.expected_outputs(FAMILIES)["figures"].values() for p in paths}
    assert {p.name for p in written} == expected == {p.name for p in tmp_path.iterdir()}
    for path in written:
        head = path.read_bytes()[:8]
        assert path.stat().st_size > 1000
        assert head.startswith(b"\x89PNG") if path.suffix == ".png" else head.startswith(b"%PDF")


def test_scatter_fit_recovers_planted_alpha(data):
    _, recall = data
    points, fits = figures.scatter_data(recall, FAMILIES[0])
    assert len(points) == 2 * 2 * 3 * 4  # methods x ratios x seeds x classes
    mp20 = fits[(fits.label == "MP") & (fits.t == "t = 20")].iloc[0]
    assert mp20.alpha_hat == pytest.approx(planted_alpha("cifar10", "resnet56", "mp", 20), abs=0.05)
    assert mp20.r2 > 0.99 and "\\hat{\\alpha}" in mp20.text
    assert mp20.accuracy == pytest.approx(0.90 - 0.01 * np.log2(20))


def test_boxplot_ratio_labels_carry_the_ci_mark(data):
    alpha, _ = data
    ci = figures._cis(alpha, FAMILIES[1], "mp")
    assert set(ci.xlab.astype(str)) == {"2<", "20>"}
