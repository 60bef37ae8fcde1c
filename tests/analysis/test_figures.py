"""Every planned figure is written as a non-empty PNG and PDF, also with a collapsed cell; the scatter fit
recovers planted α; the α figures show the un-collapsed cells' range and count what lies outside it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from recall_distortion.analysis import figures, layout
from recall_distortion.collapse import mark_collapsed
from tests.analysis.synthetic import FAMILIES as STUDY, collapse_cell, make_alpha, make_recall, planted_alpha

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


COLLAPSED = ("cifar10", "resnet56", "mp", 20.0)  # every model predicts one class
MP50 = ("cifar10", "resnet56", "mp", 50.0)


@pytest.fixture(scope="module")
def data():
    from recall_distortion.metrics import alpha_table

    recall = make_recall(FAMILIES, seeds=3, classes=4, collapsed={COLLAPSED})
    return mark_collapsed(alpha_table(recall), recall), recall


@pytest.fixture(scope="module")
def collapsed_study():
    """The planted study of tests.analysis.synthetic with 27 of 30 MP models collapsed at t = 50 (α in -10..5)."""
    return collapse_cell(make_alpha(), MP50, 27)


def test_every_planned_figure_is_written(data, tmp_path):
    alpha, recall = data
    written = []
    for family in FAMILIES:
        for output in layout.analysis_plan([family]).figures[family["name"]]:
            written += figures.write_figure(alpha, recall, family, output.stem, tmp_path, max_collapsed_share=0.0)
    expected = {p.split("/")[-1] for paths in layout.expected_outputs(FAMILIES)["figures"].values() for p in paths}
    assert {p.name for p in written} == expected == {p.name for p in tmp_path.iterdir()}
    for path in written:
        head = path.read_bytes()[:8]
        assert path.stat().st_size > 1000
        assert head.startswith(b"\x89PNG") if path.suffix == ".png" else head.startswith(b"%PDF")


def test_scatter_fit_recovers_planted_alpha(data):
    _, recall = data
    points, fits = figures.scatter_data(recall, FAMILIES[1], "up")
    assert len(points) == 2 * 2 * 3 * 4  # models x ratios x seeds x classes
    up20 = fits[(fits.label == "ResNet-56") & (fits.t == "t = 20")].iloc[0]
    assert up20.alpha_hat == pytest.approx(planted_alpha("cifar10", "resnet56", "up", 20), abs=0.05)
    assert up20.r2 > 0.99 and "\\hat{\\alpha}" in up20.text
    assert up20.accuracy == pytest.approx(0.90 - 0.01 * np.log2(20))


def test_scatter_panels_have_free_scales_and_the_collapsed_one_is_grey(data):
    alpha, recall = data
    plot = figures.scatter_matrix(recall, alpha, FAMILIES[0], number=5, max_collapsed_share=0.0)
    assert type(plot.facet).__name__ == "facet_wrap" and plot.facet.free == {"x": True, "y": True}
    texts = next(layer.geom.data for layer in plot.layers if layer.geom.data is not None and "text" in layer.geom.data)
    grey = next(layer.geom.data for layer in plot.layers if type(layer.geom).__name__ == "geom_rect")
    assert list(grey.panel.astype(str)) == ["t = 20\nMP †"]
    by_panel = dict(zip(texts.panel.astype(str), texts.text))
    assert by_panel["t = 20\nMP †"].endswith("collapsed: 3/3") and "collapsed" not in by_panel["t = 20\nRP"]
    assert plot.data.loc[plot.data.panel == "t = 20\nMP †", "cell"].eq(figures.COLLAPSED).all()
    # one model predicting class k (recall 1) and one other (0.2): accuracy 0.3, B̄_t of 1/0.3 - 1 and 0.2/0.3 - 1
    after = plot.data.loc[plot.data.panel == "t = 20\nMP †", "bbar_after"]
    np.testing.assert_allclose(sorted(set(np.round(after, 12))), [-1.0, 0.2 / 0.3 - 1, 1 / 0.3 - 1])
    clean = figures.scatter_matrix(recall, alpha, FAMILIES[1], "up", number=8, max_collapsed_share=0.0)
    assert not any(type(layer.geom).__name__ == "geom_rect" for layer in clean.layers)  # no grey panel


def test_boxplot_ratio_labels_carry_the_ci_mark_and_the_collapse(data):
    alpha, _ = data
    ci = figures._cis(alpha, FAMILIES[1], "up", 0.0)
    assert set(ci.xlab.astype(str)) == {"2<", "20>"}
    ci = figures._cis(alpha, FAMILIES[0], None, 0.0)
    assert set(ci.loc[ci.collapsed, "xlab"].astype(str)) == {"20?†"} and ci.collapsed.sum() == 1


def _window(values) -> tuple[float, float]:
    """The un-collapsed values and 1, widened by 8% of their span on each side (the hand rule)."""
    low, high = min(np.min(values), 1.0), max(np.max(values), 1.0)
    return low - 0.08 * (high - low), high + 0.08 * (high - low)


def test_boxplot_clips_to_the_cells_that_did_not_collapse(collapsed_study):
    family = STUDY[0]  # MP, GP, UP, RP at t = 2 ... 50 on CIFAR-10 @ ResNet-56
    plot = figures.boxplot(collapsed_study, family, number=1, max_collapsed_share=0.0)
    fam = collapsed_study[(collapsed_study.dataset == "cifar10") & (collapsed_study.model == "resnet56")
                          & collapsed_study.method.isin(family["methods"])]
    in_mp50 = (fam.method == "mp") & (fam.ratio == 50)
    low, high = _window(fam.loc[~in_mp50, "alpha"])
    assert plot.coordinates.limits.y == pytest.approx((low, high), abs=1e-12)
    assert collapsed_study.loc[collapsed_study.collapsed, "alpha"].min() < low  # the collapsed cell reaches beyond
    outside = int(((fam.alpha < low) | (fam.alpha > high)).sum())
    notes = next(
        layer.geom.data
        for layer in plot.layers
        if layer.geom.data is not None and {"text", "label"} <= set(layer.geom.data)
    )
    assert notes[["label", "text"]].astype(str).values.tolist() == [["MP", f"{outside} of 150 α outside the y range"]]
    assert f"({outside} α values outside it" in plot.labels.title.replace("\n", " ")
    assert set(plot.data.loc[plot.data.collapsed, "xlab"].astype(str)) == {"50<†"}
    mean = fam.loc[in_mp50, "alpha"].mean()
    arrows = [layer.geom.data for layer in plot.layers if type(layer.geom).__name__ == "geom_label"]
    assert [a.text.tolist() for a in arrows] == ([[f"{mean:.2f} ↓"], []] if mean < low else [[], [f"{mean:.2f} ↑"]])


def test_ci_plot_clips_to_the_cis_of_the_cells_that_did_not_collapse(collapsed_study):
    family = STUDY[0]
    plot = figures.ci_plot(collapsed_study, family, number=9, max_collapsed_share=0.0)
    bounds = []
    for method in family["methods"]:
        for ratio in family["ratios"]:
            if (method, ratio) == ("mp", 50):
                continue
            x = collapsed_study[(collapsed_study.dataset == "cifar10") & (collapsed_study.model == "resnet56")
                                & (collapsed_study.method == method) & (collapsed_study.ratio == ratio)].alpha
            bounds += list(_t_interval(x.to_numpy()))
    assert plot.coordinates.limits.y == pytest.approx(_window(bounds), abs=1e-9)
    colours = dict(zip(plot.data.xlab.astype(str) + "/" + plot.data.label.astype(str), plot.data["CI vs 1"]))
    assert colours["50<†/MP"] == figures.COLLAPSED and colours["50>/GP"] == ">"


def _t_interval(x):
    return sps.t.interval(0.99, len(x) - 1, loc=x.mean(), scale=sps.sem(x))


def test_readable_range_falls_back_to_every_value_when_every_cell_collapsed():
    assert figures.readable_range([-10.0, 5.0, np.nan], [True, True, True]) == pytest.approx((-11.2, 6.2))
    assert figures.readable_range([0.9, 0.95, -10.0], [False, False, True]) == pytest.approx((0.9 - 0.008, 1.008))
