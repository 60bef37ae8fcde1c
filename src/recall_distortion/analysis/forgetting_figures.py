"""Beyond α, the figures: PIE images, the confusion change and Tran et al.'s recall-change view.

- :func:`pie_images`     the most frequent PIE (Hooker et al. 2019, section 3) of each class, pooled
                         over the family's methods and ratios, from the prepared test images
- :func:`confusion_map`  heatmap of the mean confusion change (pruned - dense, row-normalized) per
                         group at the family's highest ratio
- :func:`recall_change_plot`  each class's recall change against its dense recall, pooled over seeds,
                         rows the groups and columns the ratios (Tran et al., NeurIPS 2022)

:func:`write_forgetting_figure` draws one planned figure (``layout.forgetting_plan``) and saves it
with :func:`.figures.save` (PNG + PDF).
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from recall_distortion.analysis import forgetting, layout
from recall_distortion.analysis.figures import _theme, save
from recall_distortion.analysis.layout import ratio_label
from recall_distortion.analysis.pie import frequent_pie

log = logging.getLogger(__name__)

#: At most this many classes (those with the most PIE) per (dataset, model) in the image grid.
MAX_IMAGE_CLASSES = 10
EXPERIMENT = ["dataset", "model"]


def _wrap(text: str, width: float) -> str:
    return "\n".join(textwrap.wrap(text, width=int(width * 13)))


def _experiment_label(dataset: str, model: str) -> str:
    return f"{layout.dataset_label(dataset)} @ {layout.model_label(model)}"


def pie_grid(pie_rows: pd.DataFrame, per_class: int) -> pd.DataFrame:
    """The images to show: :func:`.pie.frequent_pie` pooled per (dataset, model) over methods and
    ratios, keeping the :data:`MAX_IMAGE_CLASSES` classes with the most PIE cells of each."""
    top = frequent_pie(pie_rows, per_class, by=EXPERIMENT)
    if top.empty:
        return top
    weight = top.groupby(EXPERIMENT + ["class"])["n_cells"].transform("sum")
    ranked = top.assign(weight=weight).sort_values(EXPERIMENT + ["weight", "class"], ascending=[True, True, False, True])
    keep = ranked.drop_duplicates(EXPERIMENT + ["class"]).groupby(EXPERIMENT, sort=False).head(MAX_IMAGE_CLASSES)
    top = top.merge(keep[EXPERIMENT + ["class"]], on=EXPERIMENT + ["class"])
    return top.sort_values(EXPERIMENT + ["class", "rank"], kind="stable").reset_index(drop=True)


def pixels(images: np.ndarray, examples) -> pd.DataFrame:
    """Long pixel table of the ``examples`` of uint8 (N, C, H, W) ``images`` (C = 1 grey, 3 RGB):
    ``example``, ``x``, ``y`` (row 0 on top: y = -row) and the pixel's ``colour`` as #rrggbb."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 (N, 1 or 3, H, W) images, got {images.dtype} {images.shape}")
    examples = np.asarray(examples, dtype=np.int64)
    chosen = images[examples]  # (n, C, H, W)
    if chosen.shape[1] == 1:
        chosen = np.repeat(chosen, 3, axis=1)
    n, _, h, w = chosen.shape
    rgb = chosen.transpose(0, 2, 3, 1).reshape(-1, 3).astype(np.int64)
    colour = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]
    return pd.DataFrame({
        "example": np.repeat(examples, h * w),
        "x": np.tile(np.tile(np.arange(w), h), n),
        "y": -np.tile(np.repeat(np.arange(h), w), n),
        "colour": colour,
    })


def _empty(message: str, title: str):
    from plotnine import aes, annotate, ggplot, labs, theme_void

    return ggplot(pd.DataFrame({"x": [0.0], "y": [0.0]}), aes("x", "y")) + annotate(
        "text", x=0, y=0, label=message, size=9) + labs(title=title) + theme_void()


def pie_images(pie_rows: pd.DataFrame, images: dict[str, np.ndarray], family: dict, per_class: int):
    """Grid of the most frequent PIE of each class: one row per (dataset, model) and class, ``per_class``
    images by frequency; each panel names the example, its class, the dense and pruned modal predictions
    and in how many of the family's cells it is a PIE. ``images``: dataset -> test images (N, C, H, W).
    Returns ``(plot, (width, height))``."""
    from plotnine import aes, coord_equal, element_blank, element_text, facet_wrap, geom_raster, ggplot, labs
    from plotnine import scale_fill_identity, theme, theme_void

    n_cells = len(forgetting.family_cells(family))
    grid = pie_grid(pie_rows, per_class)
    title = (f"Most frequent PIE (Hooker et al. 2019) per class, family {family['name']}: each panel is a test "
             f"image (#index, true class), the modal prediction of the dense and of the pruned models, and in how "
             f"many of the family's {n_cells} (method, ratio) cells it is a PIE")
    if grid.empty:
        width = 6.0
        return _empty(f"No PIE in family {family['name']}: pruned and dense populations agree on every test image",
                      _wrap(title, width)), (width, 2.0)
    several = grid[EXPERIMENT].drop_duplicates().shape[0] > 1
    grid["panel"] = [
        (f"{_experiment_label(d, m)}\n" if several else "") + f"#{e} class {c}\ndense {a} → pruned {b}, {k}/{n_cells}"
        for d, m, e, c, a, b, k in zip(grid["dataset"], grid["model"], grid["example"], grid["class"],
                                       grid["modal_dense"], grid["modal_pruned"], grid["n_cells"])
    ]
    frames = []
    for (dataset, model), sub in grid.groupby(EXPERIMENT, sort=False):
        if dataset not in images:
            raise ValueError(f"no test images of dataset {dataset!r} given")
        frames.append(pixels(images[dataset], sub["example"]).merge(sub[["example", "panel"]], on="example"))
    data = pd.concat(frames, ignore_index=True)
    # one row per class: a class with fewer than per_class PIE is padded with empty, unlabelled panels
    # (zero-width spaces of different lengths keep the padding levels distinct)
    panels = []
    for _, sub in grid.groupby(EXPERIMENT + ["class"], sort=False):
        panels += list(sub["panel"]) + ["\u200b" * (len(panels) + i + 1) for i in range(per_class - len(sub))]
    data["panel"] = pd.Categorical(data["panel"], categories=panels)
    rows = grid.groupby(EXPERIMENT + ["class"], sort=False).ngroups
    width, height = 0.6 + 1.45 * per_class, 0.9 + (1.5 if several else 1.35) * rows
    plot = (
        ggplot(data, aes("x", "y", fill="colour"))
        + geom_raster()
        + scale_fill_identity()
        + facet_wrap("panel", ncol=per_class, drop=False)
        + coord_equal()
        + labs(title=_wrap(title, width))
        + theme_void(base_size=8)
        + theme(strip_text=element_text(size=6.5), plot_title=element_text(size=8), axis_text=element_blank())
    )
    return plot, (width, height)


def confusion_map(analyses: forgetting.StudyAnalyses, family: dict):
    """Heatmap of the mean confusion change (pruned - dense) at the family's highest ratio, one panel per
    group: rows the true class, columns the predicted class; red where pruned models predict the cell
    more often, blue less (the diagonal is the change of recall). Returns ``(plot, (width, height))``."""
    from plotnine import aes, coord_equal, element_text, facet_wrap, geom_tile, ggplot, labs
    from plotnine import scale_fill_gradient2, scale_x_continuous, scale_y_reverse, theme

    cells = forgetting.highest_ratio_cells(family)
    data = forgetting.in_cells(analyses.change, cells)
    top = ratio_label(max(layout.sorted_ratios(family)))
    n = len(cells)
    ncol = min(n, 4)
    width, height = 1.4 + 2.6 * ncol, 1.5 + 2.6 * -(-n // ncol)
    title = (f"Mean confusion change (pruned - dense, rows normalized by true class, averaged over seeds) at t = {top}, "
             f"family {family['name']}: red = predicted more often after pruning, blue = less")
    if data.empty:
        return _empty(f"No predictions for family {family['name']} at t = {top}", _wrap(title, width)), (width, 2.0)
    data["group_label"] = pd.Categorical(data["group_label"], categories=list(dict.fromkeys(cells["group_label"])))
    k = int(max(data["true"].max(), data["predicted"].max())) + 1
    step = 1 if k <= 20 else 10
    breaks = list(range(0, k, step))
    limit = float(np.nanmax(np.abs(data["change"]))) if np.isfinite(data["change"]).any() else 1.0
    plot = (
        ggplot(data, aes("predicted", "true", fill="change"))
        + geom_tile()
        + scale_fill_gradient2(low="#2471a3", mid="#ffffff", high="#c0392b", midpoint=0,
                               limits=(-max(limit, 1e-9), max(limit, 1e-9)), name="change")
        + scale_x_continuous(breaks=breaks, expand=(0, 0))
        + scale_y_reverse(breaks=breaks, expand=(0, 0))
        + facet_wrap("group_label", ncol=ncol)
        + coord_equal()
        + labs(x="predicted class", y="true class", title=_wrap(title, width))
        + _theme()
        + theme(axis_text=element_text(size=6))
    )
    return plot, (width, height)


def recall_change_plot(analyses: forgetting.StudyAnalyses, family: dict):
    """Tran et al.'s view: each class's recall change after pruning (y) against its recall before (x),
    one point per class and seed, rows the groups, columns the ratios; each panel names Spearman's ρ.
    Returns ``(plot, (width, height))``."""
    from plotnine import aes, facet_grid, geom_hline, geom_point, geom_text, ggplot, labs

    cells = forgetting.family_cells(family)
    points = forgetting.in_cells(analyses.recall_change, cells).dropna(subset=["recall_dense", "change"])
    labels = list(dict.fromkeys(cells["group_label"]))
    t_levels = [f"t = {ratio_label(r)}" for r in layout.sorted_ratios(family)]
    width = max(5.0, 1.2 + 2.2 * len(t_levels))
    height = 1.4 + 1.9 * len(labels)
    title = (f"Per-class recall change after pruning vs recall before (Tran et al. 2022), family {family['name']}: "
             "one point per class and seed; ρ: Spearman correlation (ρ > 0: better classes lose less)")
    if points.empty:
        return _empty(f"No recall rows for family {family['name']}", _wrap(title, width)), (width, 2.0)
    rich = forgetting.disparity_data(analyses, family)

    def facets(frame):
        frame = frame.copy()
        frame["group_label"] = pd.Categorical(frame["group_label"], categories=labels)
        frame["t"] = pd.Categorical([f"t = {ratio_label(r)}" for r in frame["ratio"]], categories=t_levels)
        return frame

    points = facets(points)
    rich = facets(rich)
    rich["text"] = [f"ρ = {r:+.2f}" if np.isfinite(r) else "ρ n/a" for r in rich["rho"]]
    rich["x"] = float(points["recall_dense"].min())
    rich["y"] = float(points["change"].min())
    plot = (
        ggplot(points, aes("recall_dense", "change"))
        + geom_hline(yintercept=0, linetype="dashed", colour="grey")
        + geom_point(size=1.0, alpha=0.5, colour="#1f77b4")
        + geom_text(data=rich, mapping=aes("x", "y", label="text"), ha="left", va="bottom", size=6.5)
        + facet_grid(rows="group_label", cols="t")
        + labs(x="recall before pruning (dense model)", y="recall after - before", title=_wrap(title, width))
        + _theme()
    )
    return plot, (width, height)


def load_test_images(paths) -> dict[str, np.ndarray]:
    """``{dataset: x_test}`` from prepared ``data/<dataset>.npz`` files (uint8, N x C x H x W)."""
    out = {}
    for path in paths:
        with np.load(path) as arrays:
            out[Path(path).stem] = arrays["x_test"]
    return out


def write_forgetting_figure(recall: pd.DataFrame, predictions: pd.DataFrame, images: dict[str, np.ndarray],
                            family: dict, stem: str, directory, *, per_class: int) -> list[Path]:
    """Draw one planned figure beyond α of ``family`` (by stem) and save ``<directory>/<stem>.{png,pdf}``."""
    import matplotlib

    matplotlib.use("Agg")
    outputs = {o.stem: o for o in layout.forgetting_plan(family) if o.directory == "figures"}
    if stem not in outputs:
        raise ValueError(f"family '{family['name']}' plans no figure {stem!r} beyond α; it plans {sorted(outputs)}")
    kind = outputs[stem].kind
    log.info("drawing %s", stem)
    analyses = forgetting.StudyAnalyses(recall, predictions)
    if kind == "pie_images":
        rows = forgetting.in_cells(analyses.pie, forgetting.family_cells(family))
        plot, size = pie_images(rows, images, family, per_class)
    else:
        plot, size = (confusion_map if kind == "confusion_map" else recall_change_plot)(analyses, family)
    return save(plot, stem, directory, *size)
