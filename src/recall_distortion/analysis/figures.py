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
"""

from __future__ import annotations

import logging
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from recall_distortion.analysis import layout, stats
from recall_distortion.analysis.layout import Output, ratio_key, ratio_label
from recall_distortion.atomic import atomic_path
from recall_distortion.columns import DENSE, SERIES_KEY

log = logging.getLogger(__name__)

MARK_COLOURS = {">": "#c0392b", "<": "#2471a3", "?": "#7f8c8d", "n/a": "#000000"}
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


def _cis(alpha: pd.DataFrame, family: dict, method: str | None) -> pd.DataFrame:
    """alpha_ci of the family's cells with ``label``, ``rk`` and the x label ``"<ratio><mark>"``."""
    from recall_distortion.analysis.cells import alpha_ci

    groups = layout.groups(family, method)
    ci = alpha_ci(alpha, [(*g.key, r) for g in groups for r in layout.sorted_ratios(family)])
    ci["label"] = _labelled(ci, groups)
    ci["rk"] = [ratio_key(r) for r in ci["ratio"]]
    ci["xlab"] = [f"{ratio_label(r)}{m}" for r, m in zip(ci["ratio"], ci["mark"])]
    order = list(dict.fromkeys(ci.sort_values("ratio", kind="stable")["xlab"]))
    ci["xlab"] = pd.Categorical(ci["xlab"], categories=order)
    return ci


def _what(family: dict, method: str | None) -> str:
    """'within each P' / 'within each M for P = MP' (the paper's caption wording)."""
    sym = {"method": "P", "model": "M", "dataset": "D", "tradeoff": "P"}[family["kind"]]
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
    if kind == "tradeoff":
        return max(5.0, 1.0 + 2.8 * n), 5.8
    raise ValueError(f"unknown figure kind {kind!r}")


def _title(number: int | None, text: str, kind: str, family: dict, method: str | None) -> str:
    """'Figure <n>: text', wrapped to the figure's width."""
    width = figure_size(kind, family, method)[0]
    text = f"Figure {number}: {text}" if number else text
    return "\n".join(textwrap.wrap(text, width=int(width * 13)))


def boxplot(alpha: pd.DataFrame, family: dict, method: str | None = None, number: int | None = None):
    """Figures 1-4 (section 6.2): boxplots of α_t(m) across m at each t, one panel per group.

    Ratio labels carry the mark of the cell's 99% CI (``<`` below 1, ``>`` above, ``?`` overlaps).
    """
    from plotnine import aes, facet_wrap, geom_blank, geom_boxplot, geom_hline, ggplot, labs

    groups = layout.groups(family, method)
    ci = _cis(alpha, family, method)
    data = alpha[_in_groups(alpha, groups, family["ratios"])]
    data = data[data["alpha"].notna()].assign(rk=lambda f: [ratio_key(r) for r in f["ratio"]])
    data = data.merge(ci[SERIES_KEY + ["rk", "label", "xlab"]], on=SERIES_KEY + ["rk"])
    what = f"Boxplots of α(m) across m at each t {_what(family, method)}; label marks: 99% CI of E[α] below (<), "
    what += "above (>) or overlapping (?) 1"
    return (
        ggplot(data, aes("xlab", "alpha"))
        + geom_blank(data=ci, mapping=aes("xlab", "mean"))  # every ratio label, even without α
        + geom_hline(yintercept=stats.REFERENCE, linetype="dashed", colour="grey")
        + geom_boxplot(outlier_size=0.8, width=0.6)
        + facet_wrap("label", ncol=min(len(groups), 5), scales="free_x")
        + labs(x="pruning ratio t", y="α", title=_title(number, what, "boxplot", family, method))
        + _theme()
    )


def ci_plot(alpha: pd.DataFrame, family: dict, method: str | None = None, number: int | None = None):
    """Figures 9-12 (Appendix C): the 99% t-based CI of E[α_t] at each t, one panel per group."""
    from plotnine import aes, facet_wrap, geom_errorbar, geom_hline, geom_point, ggplot, labs, scale_colour_manual

    groups = layout.groups(family, method)
    ci = _cis(alpha, family, method)
    ci["CI vs 1"] = [m if m else "n/a" for m in ci["mark"]]
    present = [k for k in MARK_COLOURS if k in set(ci["CI vs 1"])]
    finite = ci[np.isfinite(ci["ci_low"]) & np.isfinite(ci["ci_high"])]
    what = f"99% confidence intervals for E[α_t] at each t {_what(family, method)}"
    return (
        ggplot(ci, aes("xlab", "mean", colour="CI vs 1"))
        + geom_hline(yintercept=stats.REFERENCE, linetype="dashed", colour="grey")
        + geom_errorbar(data=finite, mapping=aes(ymin="ci_low", ymax="ci_high"), width=0.3)
        + geom_point(size=1.5)
        + facet_wrap("label", ncol=min(len(groups), 5), scales="free_x")
        + scale_colour_manual(values=MARK_COLOURS, breaks=present)
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
        x, y = panel["bbar_before"].min(), panel["bbar_after"].max()
        rows.append([label, t, alpha_hat, r2, acc, 0.0, x, y, text])
    fits = pd.DataFrame(rows, columns=["label", "t", "alpha_hat", "r2", "accuracy", "intercept", "x", "y", "text"])
    if not fits.empty:
        # facet_grid shares x within a column and y within a row: the text goes to the top left
        fits["x"] = fits.groupby("label", observed=True)["x"].transform("min")
        fits["y"] = fits.groupby("t", observed=True)["y"].transform("max")
        fits["label"] = pd.Categorical(fits["label"], categories=[g.label for g in groups])
        fits["t"] = pd.Categorical(fits["t"], categories=t_levels)
    return points, fits


def scatter_matrix(recall: pd.DataFrame, family: dict, method: str | None = None, number: int | None = None):
    """Figures 5-8 (section 6.2): B̄^c(m) (x) vs B̄_t^c(m) (y), rows t, columns the groups.

    Each point is one class c of one model m; each panel has one regression line through the origin
    (slope α̂ over all m together), and the annotations α̂, r² and Ā (mean accuracy across m).
    """
    from plotnine import aes, facet_grid, geom_abline, geom_point, geom_text, ggplot, labs

    points, fits = scatter_data(recall, family, method)
    fitted = fits[np.isfinite(fits["alpha_hat"])] if not fits.empty else fits
    what = r"$\bar{B}^c(m)$ before (x) vs $\bar{B}^c_t(m)$ after pruning (y), rows t, "
    what += f"{_what(family, method)}; one point per class c and model m"
    return (
        ggplot(points, aes("bbar_before", "bbar_after"))
        + geom_point(size=0.8, alpha=0.5)
        + geom_abline(data=fitted, mapping=aes(slope="alpha_hat", intercept="intercept"), colour="#c0392b")
        + geom_text(data=fits, mapping=aes("x", "y", label="text"), ha="left", va="top", size=6)
        + facet_grid(rows="t", cols="label", scales="free")
        + labs(
            x=r"$\bar{B}^c(m)$ before pruning",
            y=r"$\bar{B}^c_t(m)$ after pruning",
            title=_title(number, what, "scatter", family, method),
        )
        + _theme()
    )


def tradeoff_points(alpha: pd.DataFrame, family: dict) -> pd.DataFrame:
    """Figure 13's points: per group, panel (:data:`PANELS`) and ratio: mean, se and the centre line."""
    from recall_distortion.analysis.tables import tradeoff_data

    data = tradeoff_data(alpha, family)
    dense = data[data["ratio"] == 1.0].set_index("label")["accuracy_mean"]
    accuracy = data.assign(panel=PANELS[0], mean=data["accuracy_mean"], se=data["accuracy_se"])
    accuracy["centre"] = dense.reindex(data["label"]).to_numpy()
    intensification = data.assign(panel=PANELS[1], mean=data["alpha_mean"], se=data["alpha_se"], centre=stats.REFERENCE)
    columns = ["label", "panel", "ratio", "mean", "se", "centre"]
    return pd.concat([accuracy[columns], intensification[columns]], ignore_index=True)


def tradeoff_plot(alpha: pd.DataFrame, family: dict, number: int | None = 13):
    """Figure 13 (Appendix E): mean accuracy and mean α with standard errors vs pruning ratio.

    Ratio 1 is the model before pruning (its accuracy; α = 1). Per group two stacked panels share the
    ratio axis: accuracy (blue) on top, α (orange) below; each y axis is centred on its reference (the
    accuracy before pruning, α = 1) with a dashed line there, so that -- as in the paper's twin-axis
    plot -- accuracy above its line while α is below its line shows accuracy going up as
    intensification goes down.
    """
    from plotnine import (
        aes,
        facet_wrap,
        geom_blank,
        geom_errorbar,
        geom_hline,
        geom_line,
        geom_point,
        ggplot,
        labs,
        scale_colour_manual,
        scale_x_continuous,
        theme,
    )

    data = tradeoff_points(alpha, family)
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
    return (
        ggplot(data, aes("ratio", "mean", colour="panel"))
        + geom_blank(data=bounds, mapping=aes("ratio", "mean"), inherit_aes=False)
        + geom_hline(data=centres, mapping=aes(yintercept="centre"), linetype="dashed", colour="grey")
        + geom_errorbar(aes(ymin="mean - se", ymax="mean + se"), width=0.15)
        + geom_line()
        + geom_point(size=1.5)
        + facet_wrap("facet", ncol=len(labels), scales="free_y")
        + scale_colour_manual(values=dict(zip(PANELS, (ACCURACY_COLOUR, ALPHA_COLOUR))))
        + scale_x_continuous(breaks=ratios, labels=[ratio_label(r) for r in ratios])
        + labs(x="pruning ratio t (1 = before pruning)", y="", colour="")
        + labs(title=_title(number, what, "tradeoff", family, None))
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


def draw(output: Output, alpha: pd.DataFrame, recall: pd.DataFrame, family: dict):
    """The plot of one planned figure."""
    if output.kind == "boxplot":
        return boxplot(alpha, family, output.method, output.number)
    if output.kind == "ci_plot":
        return ci_plot(alpha, family, output.method, output.number)
    if output.kind == "scatter":
        return scatter_matrix(recall, family, output.method, output.number)
    if output.kind == "tradeoff":
        return tradeoff_plot(alpha, family, output.number)
    raise ValueError(f"{output.stem}: unknown figure kind {output.kind!r}")


def write_figure(alpha: pd.DataFrame, recall: pd.DataFrame, family: dict, stem: str, directory: str | Path) -> list[Path]:
    """Draw one planned figure of ``family`` (by file stem) and save ``<directory>/<stem>.{png,pdf}``."""
    import matplotlib

    matplotlib.use("Agg")
    outputs = {o.stem: o for o in layout.analysis_plan([family]).figures[family["name"]]}
    if stem not in outputs:
        raise ValueError(f"family '{family['name']}' plans no figure {stem!r}; it plans {sorted(outputs)}")
    output = outputs[stem]
    log.info("drawing %s", stem)
    width, height = figure_size(output.kind, family, output.method)
    return save(draw(output, alpha, recall, family), stem, directory, width, height)

