"""The paper's figures with plotnine, saved as PNG and PDF atomically.

- :func:`boxplot`         Figures 1-4: α(m) across models m at each ratio t, one panel per group, a
                          dashed line at 1 and the CI mark on each ratio label (``"10>"``) (6.2)
- :func:`scatter_matrix`  Figures 5-8: B̄^c(m) before (x) vs B̄_t^c(m) after (y), rows ratios,
                          columns groups; per panel the no-intercept fit with α̂, r² and Ā (6.2)
- :func:`ci_plot`         Figures 9-12: 99% CI of E[α_t] at each t per group (Appendix C)
- :func:`tradeoff_plot`   Figure 13: mean accuracy and mean α with standard errors vs ratio, two
                          stacked panels per group whose y axes are centred on the dense accuracy and
                          on α = 1 (dashed lines), since plotnine has no secondary axis (Appendix E)

:func:`write_figure` draws one figure the plan (:mod:`.layout`) lists (one Snakemake job per figure).
NaN α are not drawn; they are counted in ``alpha_ci`` and the summary.

Collapsed cells (:mod:`recall_distortion.collapse`; ``max_collapsed_share`` from the config's
``collapse`` block) stay in every figure, marked: grey, and ``†`` on their ratio label (``"50>†"``).
Their α can be an order of magnitude off (-10 where the others are near 1), so Figures 1-4 and 9-12
show the y range of the un-collapsed cells (:func:`readable_range`) and say in each panel how many
values lie outside it; Figures 5-8 give every panel its own scales.
"""

from __future__ import annotations

import logging
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from recall_distortion.analysis import layout, stats
from recall_distortion.analysis.cells import COLLAPSED_MARK
from recall_distortion.analysis.layout import Output, ratio_key, ratio_label
from recall_distortion.atomic import atomic_path
from recall_distortion.columns import DENSE, SERIES_KEY

log = logging.getLogger(__name__)

MARK_COLOURS = {">": "#c0392b", "<": "#2471a3", "?": "#7f8c8d", "n/a": "#000000"}
COLLAPSED = f"collapsed {COLLAPSED_MARK}"  # legend entry of collapsed cells
COLLAPSED_COLOUR = "#a6a6a6"  # their points and CIs (grey)
COLLAPSED_FILL = "#d9d9d9"  # their boxes and scatter panels
MARGIN = 0.08  # share of the readable range added above and below it
ACCURACY_COLOUR = "#1f77b4"  # the paper's blue curve (Appendix E)
ALPHA_COLOUR = "#ff7f0e"  # the paper's orange curve
PANELS = ("mean accuracy", "mean α")  # Figure 13, top and bottom
DPI = 150


def _theme():
    from plotnine import element_text, theme, theme_bw

    return theme_bw(base_size=9) + theme(plot_title=element_text(size=9), strip_text=element_text(size=8))


def _in_groups(frame: pd.DataFrame, groups: list[layout.Group], ratios=None) -> np.ndarray:
    """Rows of ``frame`` in the groups (and, if given, at the ratios)."""
    keep = pd.MultiIndex.from_frame(frame[SERIES_KEY]).isin([g.key for g in groups])
    if ratios is not None:
        keep &= np.isin([ratio_key(r) for r in frame["ratio"]], [ratio_key(r) for r in ratios])
    return np.asarray(keep, dtype=bool)


def _labelled(frame: pd.DataFrame, groups: list[layout.Group]) -> pd.Categorical:
    """The group label of each row, ordered as the family lists its groups (facet order)."""
    labels = {g.key: g.label for g in groups}
    keys = zip(frame["dataset"], frame["model"], frame["method"])
    return pd.Categorical([labels[k] for k in keys], categories=[g.label for g in groups])


def _cis(alpha: pd.DataFrame, family: dict, method: str | None, share: float) -> pd.DataFrame:
    """alpha_ci of the family's cells with ``label``, ``rk`` and the x label ``"<ratio><mark>"`` (then ``†``
    if the cell collapsed)."""
    from recall_distortion.analysis.cells import alpha_ci

    groups = layout.groups(family, method)
    ci = alpha_ci(alpha, [(*g.key, r) for g in groups for r in layout.sorted_ratios(family)], max_collapsed_share=share)
    ci["label"] = _labelled(ci, groups)
    ci["rk"] = [ratio_key(r) for r in ci["ratio"]]
    ci["xlab"] = [
        f"{ratio_label(r)}{m}{COLLAPSED_MARK if c else ''}" for r, m, c in zip(ci["ratio"], ci["mark"], ci["collapsed"])
    ]
    order = list(dict.fromkeys(ci.sort_values("ratio", kind="stable")["xlab"]))
    ci["xlab"] = pd.Categorical(ci["xlab"], categories=order)
    return ci


def _what(family: dict, method: str | None) -> str:
    """'within each P' / 'within each M for P = MP' (the paper's caption wording)."""
    sym = {"method": "P", "model": "M", "dataset": "D"}.get(family["kind"], "P")
    text = f"within each {sym}"
    if method is not None:
        text += f" for P = {layout.method_label(method)}"
    exps = family["experiments"]
    if family["kind"] == "method" and len(exps) == 1:
        text += f" ({layout.dataset_label(exps[0]['dataset'])} @ {layout.model_label(exps[0]['model'])})"
    return text


def figure_size(kind: str, family: dict, method: str | None) -> tuple[float, float]:
    """(width, height) in inches of a figure: panels grow with the groups (and ratios)."""
    n = len(layout.groups(family, method))
    rows = -(-n // 5)  # at most 5 panels per row
    if kind == "boxplot":
        return max(5.0, 1.6 + 1.9 * min(n, 5)), 0.6 + 2.8 * rows
    if kind == "ci_plot":
        return max(5.0, 2.2 + 1.9 * min(n, 5)), 0.6 + 2.8 * rows
    if kind == "scatter":
        return max(5.0, 1.0 + 2.3 * n), 1.4 + 2.0 * len(family["ratios"])
    if kind in ("tradeoff", "modern"):
        return max(5.0, 1.0 + 2.8 * n), 5.8
    raise ValueError(f"unknown figure kind {kind!r}")


def _title(number: int | None, text: str, kind: str, family: dict, method: str | None) -> str:
    """'Figure <n>: text', wrapped to the figure's width."""
    width = figure_size(kind, family, method)[0]
    text = f"Figure {number}: {text}" if number else text
    return "\n".join(textwrap.wrap(text, width=int(width * 13)))


def readable_range(values, collapsed) -> tuple[float, float]:
    """The y range of a figure of α: the finite ``values`` of un-collapsed cells and 1, plus a margin.

    ``collapsed`` flags each value's cell. When every cell collapsed, the range of all values. A
    collapsed cell's α can be -10 where the others lie near 1 (recall_distortion.collapse): a range
    that holds it would flatten the un-collapsed cells into a line.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    keep = finite & ~np.asarray(collapsed, dtype=bool)
    chosen = values[keep] if keep.any() else values[finite]
    low = min(float(chosen.min()), stats.REFERENCE) if chosen.size else stats.REFERENCE
    high = max(float(chosen.max()), stats.REFERENCE) if chosen.size else stats.REFERENCE
    pad = MARGIN * (high - low) if high > low else 0.1
    return low - pad, high + pad


def _outside_text(frame: pd.DataFrame, outside: np.ndarray, what: str, window: tuple[float, float]) -> pd.DataFrame:
    """Per panel (``label``) with values outside the y range: its text and position (top left)."""
    counts = pd.Series(outside, index=frame.index).groupby(frame["label"], observed=True).agg(["sum", "size"])
    counts = counts[counts["sum"] > 0].reset_index()
    first = frame.assign(code=frame["xlab"].cat.codes).groupby("label", observed=True)["code"].min()
    counts["text"] = [f"{int(k)} of {int(n)} {what} outside the y range" for k, n in zip(counts["sum"], counts["size"])]
    counts["x"] = pd.Categorical(
        [frame["xlab"].cat.categories[first[label]] for label in counts["label"]],
        categories=frame["xlab"].cat.categories,
    )
    counts["y"] = window[1]
    return counts


def _off_range(ci: pd.DataFrame, window: tuple[float, float]):
    """Text layers at the bottom and top edge of each panel for the cells whose mean α lies beyond the
    y range: ``"-2.61 ↓"``, so that a cell drawn wholly outside is still seen."""
    from plotnine import aes, geom_label

    pad = 0.02 * (window[1] - window[0])
    layers = []
    for side, edge, va, arrow in ((ci["mean"] < window[0], window[0] + pad, "bottom", "↓"),
                                  (ci["mean"] > window[1], window[1] - pad, "top", "↑")):
        off = ci[side.to_numpy()].assign(y=edge)
        off["text"] = [f"{m:.2f} {arrow}" for m in off["mean"]]
        layers.append(geom_label(data=off, mapping=aes("xlab", "y", label="text"), va=va, size=6, colour="#555555",
                                 fill="white", label_size=0, inherit_aes=False))  # readable over a box
    return layers


def _clip_caption(n_outside: int, noun: str, window: tuple[float, float], any_collapsed: bool) -> str:
    """What the title says about the y range: nothing when no cell collapsed and nothing lies beyond it."""
    if not any_collapsed and n_outside == 0:
        return ""
    nouns = noun if n_outside == 1 else f"{noun}s"
    return (
        f"; y axis [{window[0]:.2f}, {window[1]:.2f}] holds the cells that did not collapse ({n_outside} {nouns} "
        f"outside it; arrows: cell means beyond it); {COLLAPSED_MARK}/grey: collapsed cell"
    )


def boxplot(alpha: pd.DataFrame, family: dict, method: str | None = None, number: int | None = None, *,
            max_collapsed_share: float):
    """Figures 1-4 (section 6.2): boxplots of α_t(m) across m at each t, one panel per group.

    Ratio labels carry the mark of the cell's 99% CI (``<`` below 1, ``>`` above, ``?`` overlaps) and
    ``†`` for a collapsed cell, whose box is grey. The y axis shows :func:`readable_range` of the α
    values; each panel with α beyond it says how many (the boxes are computed from every value).
    """
    from plotnine import (aes, coord_cartesian, facet_wrap, geom_blank, geom_boxplot, geom_hline, geom_text, ggplot,
                          labs, scale_fill_manual)

    groups = layout.groups(family, method)
    ci = _cis(alpha, family, method, max_collapsed_share)
    data = alpha.loc[_in_groups(alpha, groups, family["ratios"]), SERIES_KEY + ["ratio", "seed", "alpha"]]
    data = data[data["alpha"].notna()].assign(rk=lambda f: [ratio_key(r) for r in f["ratio"]])
    data = data.merge(ci[SERIES_KEY + ["rk", "label", "xlab", "collapsed"]], on=SERIES_KEY + ["rk"])  # cell's flag
    data["cell"] = np.where(data["collapsed"], COLLAPSED, "")
    window = readable_range(data["alpha"], data["collapsed"])
    outside = ((data["alpha"] < window[0]) | (data["alpha"] > window[1])).to_numpy()
    notes = _outside_text(data, outside, "α", window)
    what = f"Boxplots of α(m) across m at each t {_what(family, method)}; label marks: 99% CI of E[α] below (<), "
    what += "above (>) or overlapping (?) 1" + _clip_caption(int(outside.sum()), "α value", window, ci["collapsed"].any())
    return (
        ggplot(data, aes("xlab", "alpha"))
        + geom_blank(data=ci, mapping=aes("xlab", "mean"))  # every ratio label, even without α
        + geom_hline(yintercept=stats.REFERENCE, linetype="dashed", colour="grey")
        + geom_boxplot(aes(fill="cell"), outlier_size=0.8, width=0.6, show_legend=False)
        + geom_text(data=notes, mapping=aes("x", "y", label="text"), ha="left", va="top", size=6, inherit_aes=False)
        + _off_range(ci, window)
        + scale_fill_manual(values={"": "white", COLLAPSED: COLLAPSED_FILL})
        + facet_wrap("label", ncol=min(len(groups), 5), scales="free_x")
        + coord_cartesian(ylim=window)
        + labs(x="pruning ratio t", y="α", title=_title(number, what, "boxplot", family, method))
        + _theme()
    )


def ci_plot(alpha: pd.DataFrame, family: dict, method: str | None = None, number: int | None = None, *,
            max_collapsed_share: float):
    """Figures 9-12 (Appendix C): the 99% t-based CI of E[α_t] at each t, one panel per group.

    Collapsed cells are grey with ``†`` on their ratio label; the y axis shows :func:`readable_range`
    of the CIs' bounds, and each panel with a CI beyond it says how many.
    """
    from plotnine import (aes, coord_cartesian, facet_wrap, geom_errorbar, geom_hline, geom_point, geom_text, ggplot,
                          labs, scale_colour_manual)

    groups = layout.groups(family, method)
    ci = _cis(alpha, family, method, max_collapsed_share)
    ci["CI vs 1"] = [COLLAPSED if c else (m or "n/a") for m, c in zip(ci["mark"], ci["collapsed"])]
    colours = {**MARK_COLOURS, COLLAPSED: COLLAPSED_COLOUR}
    present = [k for k in colours if k in set(ci["CI vs 1"])]
    finite = ci[np.isfinite(ci["ci_low"]) & np.isfinite(ci["ci_high"])]
    bounds = np.concatenate([ci[c].to_numpy(np.float64) for c in ("ci_low", "ci_high", "mean")])
    window = readable_range(bounds, np.tile(ci["collapsed"].to_numpy(), 3))
    outside = ((ci["ci_low"] < window[0]) | (ci["ci_high"] > window[1])).to_numpy()
    notes = _outside_text(ci, outside, "CIs", window)
    what = f"99% confidence intervals for E[α_t] at each t {_what(family, method)}"
    what += _clip_caption(int(outside.sum()), "CI", window, ci["collapsed"].any())
    return (
        ggplot(ci, aes("xlab", "mean", colour="CI vs 1"))
        + geom_hline(yintercept=stats.REFERENCE, linetype="dashed", colour="grey")
        + geom_errorbar(data=finite, mapping=aes(ymin="ci_low", ymax="ci_high"), width=0.3)
        + geom_point(size=1.5)
        + geom_text(data=notes, mapping=aes("x", "y", label="text"), ha="left", va="top", size=6, inherit_aes=False)
        + _off_range(ci, window)
        + facet_wrap("label", ncol=min(len(groups), 5), scales="free_x")
        + coord_cartesian(ylim=window)
        + scale_colour_manual(values=colours, breaks=present)
        + labs(x="pruning ratio t", y="E[α_t] (99% CI)", title=_title(number, what, "ci_plot", family, method))
        + _theme()
    )


def scatter_data(recall: pd.DataFrame, family: dict, method: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(points, fits) of a scatter matrix (section 6.2).

    points: :func:`recall_distortion.metrics.scatter_points` of the family's cells with ``label`` and
    ``t`` (facet labels); non-finite points are left out. fits: per panel α̂ and r² of the
    no-intercept regression (:func:`recall_distortion.metrics.pooled_alpha`), Ā the mean accuracy
    after pruning across m, and the annotation's text and position (top left of the panel).
    """
    from recall_distortion.metrics import pooled_alpha, scatter_points

    groups = layout.groups(family, method)
    ratios = layout.sorted_ratios(family)
    t_levels = [f"t = {ratio_label(r)}" for r in ratios]

    def facets(frame):
        frame = frame[_in_groups(frame, groups, ratios)].copy()
        frame["label"] = _labelled(frame, groups)
        frame["t"] = pd.Categorical([f"t = {ratio_label(r)}" for r in frame["ratio"]], categories=t_levels)
        return frame

    is_dense = (recall["method"] == DENSE).to_numpy()
    experiments = pd.MultiIndex.from_frame(recall[["dataset", "model"]]).isin([g.key[:2] for g in groups])
    subset = recall[(is_dense & experiments) | _in_groups(recall, groups)]
    points = facets(scatter_points(subset))
    points = points[np.isfinite(points["bbar_before"]) & np.isfinite(points["bbar_after"])]
    pruned = subset[subset["method"] != DENSE]
    accuracy = facets(pruned.groupby(SERIES_KEY + ["ratio", "seed"], sort=False)["accuracy"].first().reset_index())
    mean_accuracy = accuracy.groupby(["label", "t"], observed=True)["accuracy"].mean()
    rows = []
    for (label, t), panel in points.groupby(["label", "t"], observed=True, sort=False):
        alpha_hat, r2 = pooled_alpha(panel["bbar_before"].to_numpy(), panel["bbar_after"].to_numpy())
        acc = float(mean_accuracy.get((label, t), np.nan))
        text = f"$\\hat{{\\alpha}}$={alpha_hat:.3f}\n$r^2$={r2:.3f}\n$\\bar{{A}}$={acc:.3f}"
        x, y = panel["bbar_before"].min(), panel["bbar_after"].max()  # every panel has its own scales: top left
        rows.append([label, t, alpha_hat, r2, acc, 0.0, x, y, text])
    fits = pd.DataFrame(rows, columns=["label", "t", "alpha_hat", "r2", "accuracy", "intercept", "x", "y", "text"])
    fits["label"] = pd.Categorical(fits["label"], categories=[g.label for g in groups])
    fits["t"] = pd.Categorical(fits["t"], categories=t_levels)
    return points, fits


def _panels(frame: pd.DataFrame, groups: list[layout.Group], t_levels: list[str]) -> pd.Categorical:
    """Scatter panel of each row, ``"t = 50\\n<group label>"``: row-major, one row per ratio."""
    levels = [f"{t}\n{g.label}" for t in t_levels for g in groups]
    return pd.Categorical([f"{t}\n{label}" for t, label in zip(frame["t"], frame["label"])], categories=levels)


def scatter_matrix(recall: pd.DataFrame, alpha: pd.DataFrame, family: dict, method: str | None = None,
                   number: int | None = None, *, max_collapsed_share: float):
    """Figures 5-8 (section 6.2): B̄^c(m) (x) vs B̄_t^c(m) (y), rows t, columns the groups.

    Each point is one class c of one model m; each panel has one regression line through the origin
    (slope α̂ over all m together), and the annotations α̂, r² and Ā (mean accuracy across m). Every
    panel has its own scales (a collapsed model's B̄_t of C - 1 and -1 would flatten the others), so
    the grid is a wrap with a ``t = ... / group`` strip per panel. A collapsed cell's panel
    (``alpha``'s collapse marks) is grey and its annotation ends with ``collapsed: n/N``.
    """
    from plotnine import (
        aes,
        facet_wrap,
        geom_abline,
        geom_point,
        geom_rect,
        geom_text,
        ggplot,
        labs,
        scale_colour_manual,
    )

    groups = layout.groups(family, method)
    points, fits = scatter_data(recall, family, method)
    ci = _cis(alpha, family, method, max_collapsed_share)
    ci["t"] = pd.Categorical([f"t = {ratio_label(r)}" for r in ci["ratio"]], categories=fits["t"].cat.categories)
    fits = fits.merge(ci[["label", "t", "n_collapsed", "n_models", "collapsed"]], on=["label", "t"], how="left")
    fits["collapsed"] = fits["collapsed"].fillna(False).astype(bool)
    fits["text"] = [
        f"{text}\ncollapsed: {k}/{n}" if k > 0 else text
        for text, k, n in zip(fits["text"], fits["n_collapsed"], fits["n_models"])
    ]
    t_levels = list(fits["t"].cat.categories)
    for frame in (points, fits):
        frame["panel"] = _panels(frame, groups, t_levels)
    flagged = set(fits.loc[fits["collapsed"], "panel"])  # their strips end with the mark
    strips = {p: f"{p} {COLLAPSED_MARK}" if p in flagged else p for p in fits["panel"].cat.categories}
    for frame in (points, fits):
        frame["panel"] = frame["panel"].cat.rename_categories(strips)
    grey = fits.loc[fits["collapsed"], ["panel"]]
    # a layer whose aesthetics are all constants draws one rectangle even without rows: none then
    shade = [] if grey.empty else [
        geom_rect(data=grey, mapping=aes(xmin=-np.inf, xmax=np.inf, ymin=-np.inf, ymax=np.inf), fill=COLLAPSED_FILL,
                  inherit_aes=False)
    ]
    points = points.merge(fits[["panel", "collapsed"]], on="panel", how="left")
    points["cell"] = np.where(points["collapsed"].fillna(False).astype(bool), COLLAPSED, "")
    fitted = fits[np.isfinite(fits["alpha_hat"])]
    what = r"$\bar{B}^c(m)$ before (x) vs $\bar{B}^c_t(m)$ after pruning (y), rows t, "
    what += f"{_what(family, method)}; one point per class c and model m; every panel has its own scales"
    if flagged:
        what += f"; grey {COLLAPSED_MARK}: collapsed cell (models collapsed / models)"
    return (
        ggplot(points, aes("bbar_before", "bbar_after"))
        + shade
        + geom_point(aes(colour="cell"), size=0.8, alpha=0.5, show_legend=False)
        + geom_abline(data=fitted, mapping=aes(slope="alpha_hat", intercept="intercept"), colour="#c0392b")
        + geom_text(data=fits, mapping=aes("x", "y", label="text"), ha="left", va="top", size=6)
        + scale_colour_manual(values={"": "black", COLLAPSED: "#7f7f7f"})
        + facet_wrap("panel", ncol=len(groups), scales="free")
        + labs(
            x=r"$\bar{B}^c(m)$ before pruning",
            y=r"$\bar{B}^c_t(m)$ after pruning",
            title=_title(number, what, "scatter", family, method),
        )
        + _theme()
    )


def tradeoff_points(alpha: pd.DataFrame, family: dict, *, max_collapsed_share: float) -> pd.DataFrame:
    """Figure 13's points: per group, panel (:data:`PANELS`) and ratio: mean, se, the centre line and
    whether the cell collapsed."""
    from recall_distortion.analysis.tables import tradeoff_data

    data = tradeoff_data(alpha, family, max_collapsed_share=max_collapsed_share)
    dense = data[data["ratio"] == 1.0].set_index("label")["accuracy_mean"]
    accuracy = data.assign(panel=PANELS[0], mean=data["accuracy_mean"], se=data["accuracy_se"])
    accuracy["centre"] = dense.reindex(data["label"]).to_numpy()
    intensification = data.assign(panel=PANELS[1], mean=data["alpha_mean"], se=data["alpha_se"], centre=stats.REFERENCE)
    columns = ["label", "panel", "ratio", "mean", "se", "centre", "collapsed"]
    return pd.concat([accuracy[columns], intensification[columns]], ignore_index=True)


def tradeoff_plot(alpha: pd.DataFrame, family: dict, number: int | None = 13, *, max_collapsed_share: float,
                  log_ratio: bool = False):
    """Figure 13 (Appendix E): mean accuracy and mean α with standard errors vs pruning ratio.

    Also the figure of an Appendix H family (Tables 12 and 13 drawn), with ``log_ratio``: the ratio axis
    on a log scale, where LTH's levels (1.25^ℓ) are evenly spaced.

    Ratio 1 is the model before pruning (its accuracy; α = 1). Per group two stacked panels share the
    ratio axis: accuracy (blue) on top, α (orange) below; each y axis is centred on its reference (the
    accuracy before pruning, α = 1) with a dashed line there, so that -- as in the paper's twin-axis
    plot -- accuracy above its line while α is below its line shows accuracy going up as
    intensification goes down. A collapsed cell's points are grey and marked ``†``.
    """
    from plotnine import (
        aes,
        facet_wrap,
        geom_blank,
        geom_errorbar,
        geom_hline,
        geom_line,
        geom_point,
        geom_text,
        ggplot,
        labs,
        scale_colour_manual,
        scale_x_continuous,
        scale_x_log10,
        theme,
        element_text,
    )

    data = tradeoff_points(alpha, family, max_collapsed_share=max_collapsed_share)
    labels = [g.label for g in layout.groups(family)]
    facets = [f"{label}\n{panel}" for panel in PANELS for label in labels]  # accuracy row, then α row
    data["facet"] = pd.Categorical([f"{a}\n{b}" for a, b in zip(data["label"], data["panel"])], categories=facets)
    se = data["se"].fillna(0.0)
    data["dev"] = np.maximum((data["mean"] - se - data["centre"]).abs(), (data["mean"] + se - data["centre"]).abs())
    bounds, centres = [], []
    for facet, sub in data.groupby("facet", observed=True, sort=False):
        dev = float(np.nanmax(sub["dev"])) if np.isfinite(sub["dev"]).any() else 0.0
        dev = 1.1 * dev if dev > 0 else 0.01
        centre = float(sub["centre"].iloc[0])
        bounds += [(facet, 1.0, centre - dev), (facet, 1.0, centre + dev)]  # symmetric axis around the centre
        centres.append((facet, centre))
    bounds = pd.DataFrame(bounds, columns=["facet", "ratio", "mean"])
    centres = pd.DataFrame(centres, columns=["facet", "centre"])
    for frame in (bounds, centres):
        frame["facet"] = pd.Categorical(frame["facet"], categories=facets)
    ratios = [1.0] + layout.sorted_ratios(family)
    what = "Mean accuracy (top) and mean α (bottom) ± standard error vs pruning ratio; dashed: accuracy before "
    what += "pruning / α = 1"
    if log_ratio:
        what = f"Table {layout.MODERN_TABLE_NUMBERS[family['kind']]} drawn (Appendix H). {what}; log ratio axis"
    marked = data[data["collapsed"]]
    if not marked.empty:
        what += f"; grey {COLLAPSED_MARK}: collapsed cell"
    return (
        ggplot(data, aes("ratio", "mean", colour="panel"))
        + geom_blank(data=bounds, mapping=aes("ratio", "mean"), inherit_aes=False)
        + geom_hline(data=centres, mapping=aes(yintercept="centre"), linetype="dashed", colour="grey")
        + geom_errorbar(aes(ymin="mean - se", ymax="mean + se"), width=0.03 if log_ratio else 0.15)  # log10 units
        + geom_line()
        + geom_point(size=1.5)
        + geom_point(data=marked, size=2.5, colour=COLLAPSED_COLOUR)
        + geom_text(data=marked, label=COLLAPSED_MARK, colour="black", size=9, nudge_x=0.02 if log_ratio else 0.6,
                    va="bottom")
        + facet_wrap("facet", ncol=len(labels), scales="free_y")
        + scale_colour_manual(values=dict(zip(PANELS, (ACCURACY_COLOUR, ALPHA_COLOUR))))
        + (scale_x_log10 if log_ratio else scale_x_continuous)(
            breaks=ratios, labels=[ratio_label(round(r, 2)) for r in ratios])
        + labs(x="pruning ratio t (1 = before pruning)", y="", colour="")
        + labs(title=_title(number, what, "tradeoff", family, None))
        + theme(axis_text_x=element_text(rotation=90 if len(ratios) > 8 else 0))
        + _theme()
        + theme(legend_position="bottom")
    )


def save(plot, stem: str, directory: str | Path, width: float, height: float) -> list[Path]:
    """Save ``<directory>/<stem>.png`` and ``.pdf`` atomically (never a half-written file)."""
    directory = Path(directory)
    paths = []
    for fmt in layout.FIGURE_FORMATS:
        path = directory / f"{stem}.{fmt}"
        with atomic_path(path) as tmp, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plot.save(tmp, format=fmt, width=width, height=height, units="in", dpi=DPI, verbose=False, limitsize=False)
        for w in caught:
            log.info("%s: %s", path.name, w.message)
        paths.append(path)
    return paths


def draw(output: Output, alpha: pd.DataFrame, recall: pd.DataFrame, family: dict, *, max_collapsed_share: float):
    """The plot of one planned figure; ``max_collapsed_share`` (config ``collapse``) says which cells to mark."""
    share = {"max_collapsed_share": max_collapsed_share}
    if output.kind == "boxplot":
        return boxplot(alpha, family, output.method, output.number, **share)
    if output.kind == "ci_plot":
        return ci_plot(alpha, family, output.method, output.number, **share)
    if output.kind == "scatter":
        return scatter_matrix(recall, alpha, family, output.method, output.number, **share)
    if output.kind == "tradeoff":
        return tradeoff_plot(alpha, family, output.number, **share)
    if output.kind == "modern":
        return tradeoff_plot(alpha, family, output.number, **share, log_ratio=True)
    raise ValueError(f"{output.stem}: unknown figure kind {output.kind!r}")


def write_figure(
    alpha: pd.DataFrame,
    recall: pd.DataFrame,
    family: dict,
    stem: str,
    directory: str | Path,
    *,
    max_collapsed_share: float,
) -> list[Path]:
    """Draw one planned figure of ``family`` (by file stem) and save ``<directory>/<stem>.{png,pdf}``."""
    import matplotlib

    matplotlib.use("Agg")
    outputs = {o.stem: o for o in layout.analysis_plan([family]).figures[family["name"]]}
    if stem not in outputs:
        raise ValueError(f"family '{family['name']}' plans no figure {stem!r}; it plans {sorted(outputs)}")
    output = outputs[stem]
    log.info("drawing %s", stem)
    width, height = figure_size(output.kind, family, output.method)
    plot = draw(output, alpha, recall, family, max_collapsed_share=max_collapsed_share)
    return save(plot, stem, directory, width, height)
