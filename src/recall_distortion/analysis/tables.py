"""Every table of the paper, built from the alpha table, written as CSV, Markdown, LaTeX and HTML.

Each builder returns a long DataFrame with documented columns (the CSV, full precision); a
:class:`Table` adds the paper-style wide view (p-values as ``<0.001`` / three decimals) that
:mod:`.render` writes to Markdown, LaTeX (booktabs) and HTML, with the paper's table number (from
the planned :class:`~recall_distortion.analysis.layout.Output`) in the title.

Long data of each kind of table:

- ``alpha_ci``             99% CI of E[α] per cell with its ``<``/``>``/``?`` mark (section 6.2),
                           :func:`.cells.alpha_ci`
- ``ratio_tests``, ``between_tests``, ``method_pairs``  Tables 1-9 (section 7), :mod:`.hypotheses`
- :func:`dense_accuracy`   Table 10: mean accuracy before pruning (Appendix D)
- :func:`recall_variance_table`  Table 11: mean recall variance before / after pruning (Appendix F)
- :func:`tradeoff_data`    data of Figure 13: mean accuracy and α with standard errors (Appendix E)
- :func:`modern_data`      Tables 12 and 13: mean accuracy and α with the 99% CI of E[α] per LTH level
                           or structured ratio, and the achieved ratio (Appendix H)

Every number keeps every model. A cell whose models collapsed (:mod:`recall_distortion.collapse`, config
``collapse``) is marked :data:`.cells.COLLAPSED_MARK` after its value in the display (alpha_ci, Tables 10
and 11, the data of Figure 13, and every test that involves it), with note lines saying how many
of its models collapsed; the CSVs carry the counts and flags as columns.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recall_distortion import collapse
from recall_distortion.analysis import cells, hypotheses, layout, render, stats
from recall_distortion.analysis.cells import COLLAPSED_MARK
from recall_distortion.analysis.layout import Output, dataset_label, method_label, model_label, ratio_label
from recall_distortion.atomic import write_text
from recall_distortion.columns import DENSE, DENSE_KEY, MODEL_KEY, SERIES_KEY

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# Appendix tables


DENSE_ACCURACY_COLUMNS = SERIES_KEY + ["n", "accuracy_dense"]


def dense_accuracy(alpha: pd.DataFrame, study_groups: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Table 10 (Appendix D): mean accuracy before pruning of the models used for each method.

    Columns: dataset, model, method, n (seeds), accuracy_dense (mean over seeds).
    """
    dense = cells.per_seed(alpha, "accuracy_dense")
    out = []
    for dataset, model, method in study_groups:
        accuracy = cells.rows(dense, dataset, model, method)["accuracy_dense"].dropna()
        out.append([dataset, model, method, int(accuracy.size), float(accuracy.mean())])
    return pd.DataFrame(out, columns=DENSE_ACCURACY_COLUMNS)


RECALL_VARIANCE_COLUMNS = SERIES_KEY + ["stage", "ratio", "n", "recall_variance", "above_before"]


def recall_variance_table(alpha: pd.DataFrame, study_cells: list[cells.Cell]) -> pd.DataFrame:
    """Table 11 (Appendix F): mean recall variance before pruning and after each ratio.

    Long columns :data:`RECALL_VARIANCE_COLUMNS`: stage ``before`` (ratio 1.0, the dense models) or
    ``after``, n (seeds with a value), recall_variance (mean over seeds), above_before (after >
    before: bold in the paper).
    """
    dense = cells.per_seed(alpha, "recall_variance_dense")
    out = []
    for (dataset, model, method), series in itertools.groupby(study_cells, key=lambda cell: cell[:3]):
        before = cells.rows(dense, dataset, model, method)["recall_variance_dense"].dropna()
        b = float(before.mean())
        out.append([dataset, model, method, "before", 1.0, int(before.size), b, False])
        for *_, ratio in series:
            after = cells.rows(alpha, dataset, model, method, ratio)["recall_variance"].dropna()
            v = float(after.mean())
            out.append([dataset, model, method, "after", float(ratio), int(after.size), v, bool(v > b)])
    return pd.DataFrame(out, columns=RECALL_VARIANCE_COLUMNS)


TRADEOFF_COLUMNS = SERIES_KEY + ["label", "ratio", "n_accuracy", "accuracy_mean", "accuracy_se",
                    "n_alpha", "n_nan", "alpha_mean", "alpha_se", "n_collapsed", "collapsed"]


def tradeoff_data(alpha: pd.DataFrame, family: dict, *, max_collapsed_share: float) -> pd.DataFrame:
    """Data of Figure 13 (Appendix E): mean accuracy and mean α with standard errors per ratio.

    One row per group and ratio (columns :data:`TRADEOFF_COLUMNS`), ratio 1.0 first: the accuracy
    before pruning, and α = 1 (no pruning, no intensification; se 0). ``n_collapsed`` models of the
    cell collapsed; ``collapsed``: the cell is flagged (:func:`.cells.alpha_ci`).
    """
    dense_accuracy = cells.per_seed(alpha, "accuracy_dense")
    family_cells = [(*g.key, r) for g in layout.groups(family) for r in layout.sorted_ratios(family)]
    state = cells.alpha_ci(alpha, family_cells, max_collapsed_share=max_collapsed_share)
    out = []
    for g in layout.groups(family):
        dense = cells.rows(dense_accuracy, *g.key)["accuracy_dense"].dropna()
        n = int(dense.size)
        out.append(
            [*g.key, g.label, 1.0, n, float(dense.mean()), stats.standard_error(dense), n, 0, 1.0, 0.0, 0, False]
        )
        for ratio in layout.sorted_ratios(family):
            sel = cells.rows(alpha, *g.key, ratio)
            acc, a = sel["accuracy"].dropna(), sel["alpha"]
            n_collapsed, flagged = cells.rows(state, *g.key, ratio)[["n_collapsed", "collapsed"]].iloc[0]
            out.append(
                [*g.key, g.label, float(ratio), int(acc.size), float(acc.mean()), stats.standard_error(acc),
                 int(a.notna().sum()), int(a.isna().sum()), float(a.mean()), stats.standard_error(a),
                 int(n_collapsed), bool(flagged)]
            )
    return pd.DataFrame(out, columns=TRADEOFF_COLUMNS)


MODERN_COLUMNS = SERIES_KEY + ["label", "level", "ratio", "achieved_ratio", "n", "accuracy_mean", "alpha_mean",
                                "ci_low", "ci_high", "mark", "n_nan", "n_collapsed", "collapsed"]


def achieved_ratios(recall: pd.DataFrame) -> pd.DataFrame:
    """Achieved pruning ratio of every pruned model (section 4): its dense model's parameters / its nonzero
    parameters. Structured pruning removes parameters, one-shot and LTH pruning zero them; both count here.
    Columns: MODEL_KEY + ["achieved_ratio"]."""
    models = recall.drop_duplicates(MODEL_KEY)[MODEL_KEY + ["params_total", "params_nonzero"]]
    dense = models[models["method"] == DENSE][DENSE_KEY + ["params_total"]].rename(columns={"params_total": "dense"})
    pruned = models[models["method"] != DENSE].merge(dense, on=DENSE_KEY, how="left")
    return pruned.assign(achieved_ratio=pruned["dense"] / pruned["params_nonzero"])[MODEL_KEY + ["achieved_ratio"]]


def modern_data(alpha: pd.DataFrame, recall: pd.DataFrame, family: dict, *, max_collapsed_share: float) -> pd.DataFrame:
    """Tables 12 and 13 (Appendix H): per group and ratio, mean accuracy, mean α, its 99% CI and mark.

    Columns :data:`MODERN_COLUMNS`; first row of each group: the dense model (level 0, ratio 1, α
    undefined: the paper's "–"). ``level``: the LTH level (kind iterative; ratio = level_ratio(level)),
    else NaN. ``ratio``: the family's ratio (for kind structured its label, ``proportions_for``);
    ``achieved_ratio``: mean over models of :func:`achieved_ratios`. Statistics from :func:`.cells.alpha_ci`.
    """
    dense_accuracy = cells.per_seed(alpha, "accuracy_dense")
    ratios = layout.sorted_ratios(family)
    family_cells = [(*g.key, r) for g in layout.groups(family) for r in ratios]
    ci = cells.alpha_ci(alpha, family_cells, max_collapsed_share=max_collapsed_share)
    achieved = achieved_ratios(recall)
    iterative = family["kind"] == "iterative"
    out = []
    for g in layout.groups(family):
        dense = cells.rows(dense_accuracy, *g.key)["accuracy_dense"].dropna()
        out.append([*g.key, g.label, 0 if iterative else np.nan, 1.0, 1.0, int(dense.size), float(dense.mean()),
                    np.nan, np.nan, np.nan, "", 0, 0, False])
        for level, ratio in enumerate(ratios, start=1):
            row = cells.rows(ci, *g.key, ratio).iloc[0]
            models = cells.rows(achieved, *g.key, ratio)["achieved_ratio"]
            out.append([*g.key, g.label, level if iterative else np.nan, float(ratio), float(models.mean()),
                        int(row["n"]), float(row["accuracy_mean"]), float(row["mean"]), float(row["ci_low"]),
                        float(row["ci_high"]), row["mark"], int(row["n_nan"]), int(row["n_collapsed"]),
                        bool(row["collapsed"])])
    return pd.DataFrame(out, columns=MODERN_COLUMNS)


# --------------------------------------------------------------------------------------------------
# Paper-style tables


@dataclass
class Table:
    """A table ready to write: the CSV frame and its titled, formatted wide view."""

    output: Output
    title: str  # plain text / Markdown, starts with "Table <n>:" when the paper numbers it
    title_tex: str  # LaTeX caption text (without the number)
    data: pd.DataFrame  # written to CSV at full precision
    display: pd.DataFrame  # strings; index = first column, index.name its header
    notes: list[str] = field(default_factory=list)
    bold: pd.DataFrame | None = None  # same shape as display: cells to set in bold
    number_label: str | None = None  # "Table 4" / "Data of Figure 13" / None


def _marked(text: str, collapsed: bool) -> str:
    """``text`` followed by the collapsed mark when its cell collapsed."""
    return f"{text}{COLLAPSED_MARK}" if collapsed else text


def _collapse_rule(max_collapsed_share: float) -> str:
    """The note line that explains the mark (recall_distortion.collapse)."""
    who = (
        "at least one of its models"
        if max_collapsed_share == 0
        else f"more than {max_collapsed_share:.0%} of its models"
    )
    return (
        f"{COLLAPSED_MARK} collapsed cell: {who} kept less than collapse.min_retained (default 0.5) of the dense "
        "model's accuracy above chance (recall_distortion.collapse); its numbers keep every model, but the summary "
        "draws no verdict from it."
    )


def _collapse_notes(state: pd.DataFrame, max_collapsed_share: float) -> list[str]:
    """The rule line and one line per collapsed cell of ``state`` (CELL_KEY + collapse columns); none if none."""
    flagged = state[state["collapsed"]]
    if flagged.empty:
        return []
    lines = [
        f"{COLLAPSED_MARK} {_group_label(r.dataset, r.model, r.method)}, t = {ratio_label(r.ratio)}: "
        f"{collapse.describe(r)}"
        for r in flagged.itertuples()
    ]
    return [_collapse_rule(max_collapsed_share)] + lines


def _pvalue_display(long: pd.DataFrame, header: str, max_collapsed_share: float) -> tuple[pd.DataFrame, list[str]]:
    rows = list(dict.fromkeys(long["row"]))
    cols = list(dict.fromkeys(long["column"]))
    shown = long.assign(text=[_marked(stats.format_p(p), c) for p, c in zip(long["p_bonferroni"], long["collapsed"])])
    display = shown.pivot(index="row", columns="column", values="text").reindex(index=rows, columns=cols).fillna("")
    display.index.name = header
    display.columns.name = None
    notes = [f"{r['row']}, {r['column']}: {r['note']}" for _, r in long.iterrows() if r["note"]]
    multipliers = ", ".join(str(v) for v in sorted(set(long["bonferroni_factor"])))
    notes.insert(0, f"Bonferroni multiplier m = {multipliers} (untested rows count; n/a = not tested).")
    if long["collapsed"].any():
        notes.append(
            f"{_collapse_rule(max_collapsed_share)} Marked: the test involves a collapsed cell (counts: alpha_ci)."
        )
    return display, notes


def _dimension(family: dict) -> tuple[str, str]:
    """(symbol, words) of what a family varies besides t: M architecture, D dataset, P algorithm."""
    return {
        "model": ("M", "architecture"),
        "dataset": ("D", "dataset"),
        "method": ("P", "pruning algorithm"),
        "tradeoff": ("P", "setting"),
        "iterative": ("P", "pruning algorithm"),
        "structured": ("P", "pruning algorithm"),
    }[family["kind"]]


def _context(family: dict, method: str | None) -> tuple[str, str]:
    """(' using CIFAR-10 and MP', tex) -- what is constant in a family's table."""
    exps = family["experiments"]
    datasets = list(dict.fromkeys(dataset_label(e["dataset"]) for e in exps))
    models = list(dict.fromkeys(model_label(e["model"]) for e in exps))
    parts = []
    if family["kind"] == "method":
        if len(exps) == 1:
            text = f" on {datasets[0]} at {models[0]}"
            return text, text
        return "", ""
    if family["kind"] == "model" and len(datasets) == 1:
        parts.append(datasets[0])
    if family["kind"] == "dataset" and len(models) == 1:
        parts.append(models[0])
    if method is not None:
        parts.append(method_label(method))
    text = f" using {' and '.join(parts)}" if parts else ""
    return text, text


def _numbered(out: Output, title: str, title_tex: str, data, display, notes, bold=None) -> Table:
    """A table the paper numbers: its title starts with "Table <the planned number>:"."""
    label = f"Table {out.number}"
    return Table(out, f"{label}: {title}", title_tex, data, display, notes, bold, label)


def _ratio_tests_table(out: Output, alpha, family, share: float) -> Table:
    long = hypotheses.ratio_tests(alpha, family, out.method, out.number, max_collapsed_share=share)
    sym, words = _dimension(family)
    ctx, ctx_tex = _context(family, out.method)
    display, notes = _pvalue_display(long, "Ratios", share)
    title = (
        f"p-values for paired-samples t-tests of H0: E[α_ti^{sym}] ≥ E[α_ti+1^{sym}] vs. Ha: E[α_ti^{sym}] < "
        f"E[α_ti+1^{sym}] within each {words} {sym}, for consecutive ratios t_i < t_i+1{ctx}, "
        "Bonferroni-corrected by column."
    )
    title_tex = (
        rf"$p$-values for paired-samples t-tests of $H_0 : \mathbb{{E}}[\alpha_{{t_i}}^{{{sym}}}] \geq "
        rf"\mathbb{{E}}[\alpha_{{t_{{i+1}}}}^{{{sym}}}]$ vs.\ $H_a : \mathbb{{E}}[\alpha_{{t_i}}^{{{sym}}}] < "
        rf"\mathbb{{E}}[\alpha_{{t_{{i+1}}}}^{{{sym}}}]$ within each {words} ${sym}$, for consecutive ratios "
        rf"$t_i < t_{{i+1}}${render.tex_escape(ctx_tex)}, Bonferroni-corrected by column."
    )
    return _numbered(out, title, title_tex, long, display, notes)


def _between_tests_table(out: Output, alpha, family, share: float) -> Table:
    long = hypotheses.between_tests(alpha, family, out.method, out.number, max_collapsed_share=share)
    ctx, ctx_tex = _context(family, out.method)
    if family["kind"] == "model":
        sym, rel, nrel, header = "M", ">", "≤", "Models"
        what = "consecutive architectures (M_i, M_i+1) in listed order"
        what_tex = r"consecutive architectures $(M_i, M_{i+1})$ in listed order"
        a, b, a_tex, b_tex = "M_i", "M_i+1", "M_i", "M_{i+1}"
    else:
        sym, rel, nrel, header = "D", "<", "≥", "Datasets"
        what = "dataset pairs (D_i, D_j)"
        what_tex = r"dataset pairs $(D_i, D_j)$"
        a, b, a_tex, b_tex = "D_i", "D_j", "D_i", "D_j"
    del sym
    display, notes = _pvalue_display(long, header, share)
    title = (
        "p-values for independent-samples (Student, pooled variance) t-tests of "
        f"H0: E[α_t^{a}] {nrel} E[α_t^{b}] vs. "
        f"Ha: E[α_t^{a}] {rel} E[α_t^{b}] within each ratio t, for {what}{ctx}, Bonferroni-corrected by column."
    )
    rel_tex, nrel_tex = ("<", r"\geq") if rel == "<" else (">", r"\leq")
    title_tex = (
        r"$p$-values for independent-samples (Student, pooled variance) t-tests of "
        rf"$H_0 : \mathbb{{E}}[\alpha_t^{{{a_tex}}}] "
        rf"{nrel_tex} \mathbb{{E}}[\alpha_t^{{{b_tex}}}]$ vs.\ $H_a : \mathbb{{E}}[\alpha_t^{{{a_tex}}}] {rel_tex} "
        rf"\mathbb{{E}}[\alpha_t^{{{b_tex}}}]$ within each ratio $t$, for {what_tex}{render.tex_escape(ctx_tex)}, "
        "Bonferroni-corrected by column."
    )
    return _numbered(out, title, title_tex, long, display, notes)


def _method_pairs_table(out: Output, alpha, family, share: float) -> Table:
    long = hypotheses.method_pair_tests(alpha, family, out.number, max_collapsed_share=share)
    ctx, ctx_tex = _context(family, None)
    if family["kind"] == "method":
        header, where, where_tex = "Methods", "within each ratio t", "within each ratio $t$"
        scope = "Bonferroni-corrected by column."
    else:
        sym, words = _dimension(family)
        header = "Rate"
        where, where_tex = f"within each ratio t and {words} {sym}", f"within each ratio $t$ and {words} ${sym}$"
        scope = (
            f"Unlike the other tables, these p-values are Bonferroni-corrected for all {len(long)} comparisons at once."
        )
    method_pairs = itertools.combinations(family["methods"], 2)
    pairs = ", ".join(f"({method_label(a)}, {method_label(b)})" for a, b in method_pairs)
    display, notes = _pvalue_display(long, header, share)
    title = (
        "p-values for paired-samples t-tests of H0: E[α_t^P_i] = E[α_t^P_j] vs. Ha: E[α_t^P_i] ≠ E[α_t^P_j] "
        f"{where}, "
        f"for the algorithm pairs (P_i, P_j) = {pairs}{ctx}. {scope}"
    )
    title_tex = (
        r"$p$-values for paired-samples t-tests of "
        r"$H_0 : \mathbb{E}[\alpha_t^{P_i}] = \mathbb{E}[\alpha_t^{P_j}]$ vs.\ "
        r"$H_a : \mathbb{E}[\alpha_t^{P_i}] \neq \mathbb{E}[\alpha_t^{P_j}]$ "
        rf"{where_tex}, for the algorithm pairs "
        rf"$(P_i, P_j)$ = {render.tex_escape(pairs)}{render.tex_escape(ctx_tex)}. {render.tex_escape(scope)}"
    )
    return _numbered(out, title, title_tex, long, display, notes)


def _group_label(dataset: str, model: str, method: str) -> str:
    return f"{dataset_label(dataset)} @ {model_label(model)} → {method_label(method)}"


def _group_labels(data: pd.DataFrame) -> list[str]:
    return [_group_label(*series) for series in zip(data["dataset"], data["model"], data["method"])]


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.{digits}f}"


def _alpha_ci_table(out: Output, alpha, families, share: float) -> Table:
    study_cells = layout.study_cells(families)
    data = cells.alpha_ci(alpha, study_cells, max_collapsed_share=share)
    nan = cells.nan_alpha(alpha, study_cells)
    display = pd.DataFrame(
        {
            "Ratio": [ratio_label(r) for r in data["ratio"]],
            "n": [str(v) for v in data["n"]],
            "Mean α": [_marked(_fmt(x), c) for x, c in zip(data["mean"], data["collapsed"])],
            "99% CI": [f"[{_fmt(lo)}, {_fmt(hi)}]" for lo, hi in zip(data["ci_low"], data["ci_high"])],
            "Mark": [v if v else "n/a" for v in data["mark"]],
            "NaN α": [str(v) for v in data["n_nan"]],
            "Collapsed": [f"{k}/{n}" for k, n in zip(data["n_collapsed"], data["n_models"])],
            "Accuracy (dense)": [
                f"{_fmt(a)} ({_fmt(d)})" for a, d in zip(data["accuracy_mean"], data["accuracy_dense_mean"])
            ],
        },
        index=pd.Index(_group_labels(data), name="Cell"),
    )
    notes = ["Marks: < CI below 1 (de-intensification), > CI above 1 (intensification), ? CI overlaps 1."]
    notes.append(
        "Collapsed: models of the cell that collapsed / models; accuracy after (before) pruning, mean over models."
    )
    notes += [
        f"{_group_label(r.dataset, r.model, r.method)}, t = {ratio_label(r.ratio)}: {r.count} NaN α ({r.alpha_reason})"
        for r in nan.itertuples()
    ]
    notes += _collapse_notes(data, share)
    title = (
        "99% t-based confidence intervals for E[α_t] in every (dataset, model, method, ratio) cell of the study "
        "(section 6.2, Appendix C, Figures 9-12); NaN α are counted, not used."
    )
    title_tex = (
        r"99\% t-based confidence intervals for $\mathbb{E}[\alpha_t]$ in every (dataset, model, method, ratio) cell "
        r"of the study (section 6.2, Appendix C, Figures 9--12); NaN $\alpha$ are counted, not used."
    )
    return Table(out, title, title_tex, data, display, notes)


def _study_state(alpha, families, share: float) -> pd.DataFrame:
    """Collapse counts of every cell of the study (CELL_KEY + collapse columns)."""
    return cells.alpha_ci(alpha, layout.study_cells(families), max_collapsed_share=share)


def _with_noise_floor(table: Table, recall: pd.DataFrame, study_cells: list[cells.Cell], analysis: dict) -> Table:
    """``alpha_ci`` with the noise floor of α beside its observed spread over seeds (:mod:`.noise_floor`):
    how much of that spread binomial resampling of the test set alone would give."""
    floor = cells.noise_floor_columns(recall, study_cells, analysis["noise_floor_draws"], analysis["noise_floor_seed"])
    table.data = pd.concat([table.data.reset_index(drop=True), floor], axis=1)

    def fmt(x):
        return "n/a" if not np.isfinite(x) else f"{x:.3f}"

    table.display = table.display.assign(
        **{"SD α": [fmt(x) for x in floor["alpha_sd"]], "SD α, test noise": [fmt(x) for x in floor["alpha_sd_noise"]]}
    )
    table.notes.append(
        f"SD α: spread of α over seeds; SD α, test noise: the spread that redrawing each model's per-class correct "
        f"counts from binomial(support, recall) alone gives ({analysis['noise_floor_draws']} draws). Every seed is "
        "tested on the same images, so that noise shifts a cell's mean α rather than widening its spread; at or "
        "above SD α, one test set cannot resolve differences of α of that size between models."
    )
    return table


def _dense_accuracy_table(out: Output, alpha, families, share: float) -> Table:
    data = dense_accuracy(alpha, layout.study_groups(families))
    state = _study_state(alpha, families, share)
    flagged = state[state["collapsed"]].groupby(SERIES_KEY, sort=False)["ratio"].apply(list)
    data["collapsed_ratios"] = [
        ", ".join(ratio_label(r) for r in flagged.get(tuple(k), [])) for k in data[SERIES_KEY].itertuples(index=False)
    ]
    display = pd.DataFrame(
        {
            "Dataset": [dataset_label(d) for d in data["dataset"]],
            "Pruning Algorithm": [method_label(p) for p in data["method"]],
            "Accuracy": [_marked(_fmt(a), bool(c)) for a, c in zip(data["accuracy_dense"], data["collapsed_ratios"])],
            "Seeds": [str(v) for v in data["n"]],
        },
        index=pd.Index([model_label(m) for m in data["model"]], name="Model"),
    )
    notes = [
        f"{COLLAPSED_MARK} {_group_label(r.dataset, r.model, r.method)}: collapsed at t = {r.collapsed_ratios} "
        "(see alpha_ci)"
        for r in data.itertuples()
        if r.collapsed_ratios
    ]
    if notes:
        notes.insert(0, _collapse_rule(share))
    title = "Mean accuracy before pruning of the models used for each set of experiments."
    return _numbered(out, title, title, data, display, notes)


def _recall_variance_table(out: Output, alpha, families, share: float) -> Table:
    data = recall_variance_table(alpha, layout.study_cells(families))
    state = _study_state(alpha, families, share)
    after = data.assign(rk=[layout.ratio_key(r) for r in data["ratio"]], stage_after=data["stage"] == "after")
    state_keyed = state.assign(rk=[layout.ratio_key(r) for r in state["ratio"]])[SERIES_KEY + ["rk", "collapsed"]]
    merged = after.merge(state_keyed, on=SERIES_KEY + ["rk"], how="left")
    data["collapsed"] = (merged["collapsed"].fillna(False).astype(bool) & merged["stage_after"]).to_numpy()
    data = data.assign(label=_group_labels(data))
    data["column"] = [
        "Before" if stage == "before" else f"Ratio {ratio_label(r)}" for stage, r in zip(data["stage"], data["ratio"])
    ]
    cols = ["Before"] + [f"Ratio {ratio_label(r)}" for r in sorted(set(data.loc[data["stage"] == "after", "ratio"]))]
    rows = list(dict.fromkeys(data["label"]))
    values = data.pivot(index="label", columns="column", values="recall_variance").reindex(index=rows, columns=cols)
    bold = data.pivot(index="label", columns="column", values="above_before").reindex(index=rows, columns=cols)
    flags = data.pivot(index="label", columns="column", values="collapsed").reindex(index=rows, columns=cols)
    display = values.map(lambda v: "" if not np.isfinite(v) else f"{v:.4f}")
    display = display.where(~flags.fillna(False).astype(bool), display + COLLAPSED_MARK)
    display.index.name, display.columns.name = "Model", None
    bold = bold.fillna(False).astype(bool)
    data = data.drop(columns=["label", "column"])
    notes = ["Bold: mean recall variance after pruning greater than before pruning."] + _collapse_notes(state, share)
    title = "Mean recall variance for each model and pruning ratio considered."
    return _numbered(out, title, title, data, display, notes, bold)


def _tradeoff_table(out: Output, alpha, family, share: float) -> Table:
    data = tradeoff_data(alpha, family, max_collapsed_share=share)

    def pm(mean, se, digits=3):
        if not np.isfinite(mean):
            return "n/a"
        return f"{mean:.{digits}f}" + ("" if not np.isfinite(se) else f" ± {se:.{digits}f}")

    display = pd.DataFrame(
        {
            "Ratio": [ratio_label(r) for r in data["ratio"]],
            "Accuracy (± SE)": [pm(a, s) for a, s in zip(data["accuracy_mean"], data["accuracy_se"])],
            "α (± SE)": [
                _marked(pm(a, s), c) for a, s, c in zip(data["alpha_mean"], data["alpha_se"], data["collapsed"])
            ],
            "n": [str(v) for v in data["n_alpha"]],
            "NaN α": [str(v) for v in data["n_nan"]],
        },
        index=pd.Index(list(data["label"]), name="Setting"),
    )
    notes = ["Ratio 1: the model before pruning; its α is 1 by definition (no pruning, no intensification)."]
    if data["collapsed"].any():
        notes.append(f"{_collapse_rule(share)} Counts: alpha_ci.")
    title = (
        "Data of Figure 13: mean accuracy and mean intensification α with their standard errors at each pruning "
        "ratio (Appendix E)."
    )
    title_tex = (
        r"Data of Figure 13: mean accuracy and mean intensification $\alpha$ with their standard errors at each "
        r"pruning ratio (Appendix E)."
    )
    return Table(out, title, title_tex, data, display, notes, number_label="Data of Figure 13")


def _modern_table(out: Output, alpha, family, share: float, recall: pd.DataFrame) -> Table:
    data = modern_data(alpha, recall, family, max_collapsed_share=share)
    iterative = family["kind"] == "iterative"
    dense = data["ratio"] == 1.0
    columns = {
        "Pruning ratio": [ratio_label(round(r, 2)) for r in data["ratio"]],
        "Achieved ratio": [f"{r:.2f}" for r in data["achieved_ratio"]],
        "Accuracy": [_fmt(a) for a in data["accuracy_mean"]],
        "Intensification": ["–" if d else _marked(_fmt(a), c) for a, c, d in zip(data["alpha_mean"], data["collapsed"], dense)],
        "99% CI of E[α]": ["" if d else f"[{_fmt(lo)}, {_fmt(hi)}]" for lo, hi, d in zip(data["ci_low"], data["ci_high"], dense)],
        "Mark": ["" if d else (m or "n/a") for m, d in zip(data["mark"], dense)],
        "n": [str(v) for v in data["n"]],
    }
    if iterative:
        columns.pop("Achieved ratio")  # level_ratio to one weight (iterative.next_level_masks); kept in the CSV
    first = [str(int(v)) for v in data["level"]] if iterative else list(columns.pop("Pruning ratio"))
    labels = list(dict.fromkeys(data["label"]))
    if len(labels) > 1:
        first = [f"{label}: {value}" for label, value in zip(data["label"], first)]
    display = pd.DataFrame(columns, index=pd.Index(first, name="Level" if iterative else "Pruning ratio"))
    notes = ["Ratio 1 (level 0): the dense model; its intensification is undefined (–).",
             "Marks: < 99% CI of E[α] below 1 (de-intensification), > above 1 (intensification), ? overlaps 1."]
    if not iterative:
        notes.append("Pruning ratio: the family's label (1.75 and 3.33: CHIP's ResNet-56 settings on the inner "
                     "convolutions; other labels: the 3.33 setting scaled to reach at least the label); achieved "
                     "ratio: dense parameters / pruned parameters, mean over models.")
    if data["collapsed"].any():
        notes.append(f"{_collapse_rule(share)} Counts: alpha_ci.")
    what = ("each level and corresponding pruning ratio when using the LTH method (iterative magnitude pruning "
            "with rewinding)" if iterative else "each pruning ratio when using structured channel pruning")
    context, _ = _context({**family, "kind": "method"}, None)
    title = f"Results for accuracy and intensification at {what}{context} (Appendix H)."
    return _numbered(out, title, render.tex_escape(title), data, display, notes)


def build_table(
    output: Output, alpha: pd.DataFrame, families: list[dict], recall: pd.DataFrame | None = None,
    analysis: dict | None = None, *, max_collapsed_share: float,
) -> Table:
    """The :class:`Table` of one planned output (see :func:`recall_distortion.analysis.layout.analysis_plan`);
    ``max_collapsed_share`` is the config's ``collapse.max_collapsed_share`` (which cells are marked).

    With the ``recall`` table and the config's ``analysis`` block, ``alpha_ci`` gains the noise floor.
    """
    if output.kind == "alpha_ci" and recall is not None:
        table = build_table(output, alpha, families, max_collapsed_share=max_collapsed_share)
        return _with_noise_floor(table, recall, layout.study_cells(families), analysis)
    family = next((f for f in families if f["name"] == output.family), None)
    builders = {
        "ratio_tests": _ratio_tests_table,
        "between_tests": _between_tests_table,
        "method_pairs": _method_pairs_table,
        "tradeoff_table": _tradeoff_table,
    }
    if output.kind in builders:
        return builders[output.kind](output, alpha, family, max_collapsed_share)
    if output.kind == "modern_table":
        if recall is None:
            raise ValueError(f"{output.stem} needs the recall table (achieved ratios)")
        return _modern_table(output, alpha, family, max_collapsed_share, recall)
    study_builders = {
        "alpha_ci": _alpha_ci_table,
        "dense_accuracy": _dense_accuracy_table,
        "recall_variance": _recall_variance_table,
    }
    return study_builders[output.kind](output, alpha, families, max_collapsed_share)


def build_tables(alpha: pd.DataFrame, families: list[dict], recall=None, analysis=None, *,
                 max_collapsed_share: float) -> list[Table]:
    """Every table of the study's plan, in plan order (``recall``, ``analysis``: :func:`build_table`)."""
    return [build_table(o, alpha, families, recall, analysis, max_collapsed_share=max_collapsed_share)
            for o in layout.analysis_plan(families).tables]


# --------------------------------------------------------------------------------------------------
# Writers


def write_table(table: Table, directory: str | Path) -> list[Path]:
    """Write ``<directory>/<stem>.{csv,md,tex,html}`` atomically; returns the paths."""
    directory = Path(directory)
    paths = []
    for fmt in layout.TABLE_FORMATS:
        path = directory / f"{table.output.stem}.{fmt}"
        if fmt == "csv":
            text = table.data.to_csv(index=False, float_format="%.17g")
        else:
            text = {"md": render.to_markdown, "tex": render.to_latex, "html": render.to_html}[fmt](table)
        write_text(text, path)
        paths.append(path)
    return paths


def write_tables(alpha: pd.DataFrame, families: list[dict], directory: str | Path, recall=None, analysis=None, *,
                 max_collapsed_share: float) -> list[Path]:
    """Build and write every table of the study into ``directory`` (``results/<study>/tables``)."""
    paths = []
    for table in build_tables(alpha, families, recall, analysis, max_collapsed_share=max_collapsed_share):
        log.info("writing %s", table.output.stem)
        paths += write_table(table, directory)
    return paths
